"""Throughput of the grading pipeline against plain nbgrader and against the floor.

All grade the same N submissions in fresh courses, measured in the same run; the script prints the
wall-clock times, the ratios, and whether every student got the same score everywhere.

- plain, sequential ``nbgrader autograde`` (and ``autograde`` + ``generate_feedback``, the same
  products as the pipeline);
- the floor: the same graded notebooks (the instructor's, hidden tests included) executed one after
  the other in ONE warm kernel with nothing else (nbclient), the least any autograder must spend;
- the pipeline with 1 and with 2 local workers, and on a 2-worker Dask cluster on loopback.

It reports the pipeline's time per submission with one worker as a multiple of the floor (targets:
at most 4x for the fixture quiz, 3x for 01_activations, 2x for 06_mlp; the long-run goal 1.5x), and
the speed-up of 2 workers over 1 (target: at least 1.85x on 2 cores), each met or missed, that
speed-up split as Amdahl would (the jobs alone against the rest of the run, which more workers
cannot shorten), and where
the 1-worker run's time per submission goes: each job's stages as its worker timed them
(``python -m grader run --timings``, see ``grader.job.STAGES``), the executor and the merge, and the
rest of the command, as the mean seconds per submission and their share of the whole.

    .venv/bin/python benchmarks/bench_grading.py                   # fixture quiz, 50 submissions
    .venv/bin/python benchmarks/bench_grading.py --n 20 --workers 2
    .venv/bin/python benchmarks/bench_grading.py --assignment 01_activations --n 12   # real one
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
# absolute, so that subprocesses started from another folder find it (PATH=.venv/bin:... gives a
# relative sys.executable); not resolved, so that it stays the venv's interpreter
PYTHON = os.path.abspath(sys.executable)
FIXTURE = REPO / "tests" / "grading" / "fixtures" / "course"
ANSWERS = [
    {"add": "def add(a, b):\n    return a + b",
     "square": "def square(x):\n    return np.asarray(x) ** 2",
     "mean": "def mean(x):\n    return float(np.sum(x)) / len(x)"},
    {"add": "def add(a, b):\n    return a + b", "square": "def square(x):\n    return x",
     "mean": "def mean(x):\n    return float(np.mean(x))"},
    {"add": "def add(a, b):\n    return a - b", "square": "def square(x):\n    return np.square(x)",
     "mean": "def mean(x):\n    return sum(x)"},
]


# Targets of the pipeline's time per submission with 1 worker, as a multiple of the floor (the
# long-run goal is 1.5x everywhere), and of 2 workers' speed-up over 1.
FLOOR_TARGETS = {"quiz": 4.0, "01_activations": 3.0, "06_mlp": 2.0}
FLOOR_GOAL = 1.5
SCALING_TARGET = 1.85


def verdict(ok: bool) -> str:
    return "met" if ok else "missed"


def env():
    return dict(os.environ, PATH=f"{Path(PYTHON).parent}{os.pathsep}{os.environ['PATH']}")


def make_course(root: Path, n: int, assignment: str = "quiz") -> None:
    if assignment != "quiz":
        return make_real_course(root, n, assignment)
    shutil.copytree(FIXTURE / "solutions", root / "solutions")
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nload_subconfig({str(REPO / 'grader_config.py')!r})\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///' + {str(root / 'gradebook.db')!r}\n")
    subprocess.run([PYTHON, "-m", "nbgrader", "generate_assignment", "quiz", "--force"],
                   cwd=root, env=env(), check=True, capture_output=True)
    release = nbformat.read(root / "exercises" / "quiz" / "quiz.ipynb", as_version=4)
    for i in range(n):
        nb = copy.deepcopy(release)
        answers = ANSWERS[i % len(ANSWERS)]
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers:
                cell.source = answers[gid]
        dest = root / "submitted" / f"student{i:03d}" / "quiz"
        dest.mkdir(parents=True)
        nbformat.write(nb, dest / "quiz.ipynb")


def make_real_course(root: Path, n: int, assignment: str) -> None:
    """A course of one real assignment whose N students are copies of the bundled samples."""
    shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nload_subconfig({str(REPO / 'grader_config.py')!r})\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///' + {str(root / 'gradebook.db')!r}\n")
    subprocess.run([PYTHON, "-m", "nbgrader", "generate_assignment", assignment, "--force"],
                   cwd=root, env=env(), check=True, capture_output=True)
    samples = sorted(p / assignment for p in (REPO / "samples" / "submitted").iterdir()
                     if (p / assignment).is_dir())
    if not samples:
        raise SystemExit(f"no bundled samples for {assignment}")
    for i in range(n):
        shutil.copytree(samples[i % len(samples)],
                        root / "submitted" / f"student{i:03d}" / assignment)


def plain(root: Path, assignment: str = "quiz") -> tuple[float, float, dict]:
    start = time.perf_counter()
    subprocess.run([PYTHON, "-m", "nbgrader", "autograde", assignment, "--force"], cwd=root,
                   env=env(), check=True, capture_output=True)
    autograde = time.perf_counter() - start
    subprocess.run([PYTHON, "-m", "nbgrader", "generate_feedback", assignment, "--force"],
                   cwd=root, env=env(), check=True, capture_output=True)
    seconds = time.perf_counter() - start
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return autograde, seconds, {s.student.id: float(s.score)
                                    for s in gb.assignment_submissions(assignment)}


def pipeline(root: Path, workers: int, scheduler: str | None = None) -> tuple[float, dict, dict]:
    """The pipeline's wall time, its scores, and the timings it recorded (``--timings``)."""
    start = time.perf_counter()
    extra = ["--scheduler", scheduler] if scheduler else ["--workers", str(workers)]
    timings = root.parent / f"{root.name}-timings.json"
    subprocess.run([PYTHON, "-m", "grader", "run", "--course", str(root), *extra,
                    "--no-release", "--no-progress", "--timings", str(timings)], cwd=REPO,
                   env=env(), check=True, capture_output=True)
    seconds = time.perf_counter() - start
    with open(root / "grades.csv", newline="") as fh:
        return seconds, {r["student"]: float(r["raw_score"]) if r["raw_score"] else None
                         for r in csv.DictReader(fh)}, json.loads(timings.read_text())


def profile(wall: float, timings: dict) -> list[tuple[str, float]]:
    """Where a run's ``wall`` seconds went, per submission: (part, mean seconds per submission).

    The parts add up to ``wall`` divided by the number of submissions: each stage of a job (mean
    over the jobs), the job's time outside its stages, the executor's time outside the jobs (fork
    server, zygote, template course, reference probes, starting and reaping the workers; with one
    worker only), the merge (the similarity check runs beside it), the report, and the rest of the
    command (interpreter start, imports).
    """
    from grader.job import STAGES

    jobs, run = timings["jobs"], timings["run"]
    n = len(jobs)
    rows = [(name, sum(j["timings"].get(name, 0.0) for j in jobs) / n) for name in STAGES]
    in_jobs = sum(j["seconds"] for j in jobs)
    rows.append(("the job outside its stages", (in_jobs - sum(t for _, t in rows) * n) / n))
    rows.append(("executor outside the jobs", (run["jobs"] - in_jobs) / n))
    rows.append(("merge", run["merge"] / n))
    rows.append(("report (statuses, read-back, grades.csv)", run["report"] / n))
    rows.append(("command start, imports, similarity, rest",
                 (wall - run["jobs"] - run["merge"] - run["report"]) / n))
    return rows


def floor(root: Path) -> float:
    """The graded notebooks of ``root/autograded`` executed in one warm kernel, nothing else."""
    from nbclient import NotebookClient

    paths = sorted((root / "autograded").glob("*/*/*.ipynb"))
    first = nbformat.read(paths[0], as_version=4)
    client = NotebookClient(first, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(paths[0].parent)}})
    with client.setup_kernel():
        client.execute_cell(nbformat.v4.new_code_cell("import numpy"), 0)  # warm: imported once
        start = time.perf_counter()
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            client.nb = nb
            client.execute_cell(nbformat.v4.new_code_cell(
                f"%reset -f\nimport os; os.chdir({str(path.parent)!r})"), 0)
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
        return time.perf_counter() - start


class Cluster:
    """A Dask scheduler and ``n`` one-thread workers on 127.0.0.1 for the length of a with block."""

    def __init__(self, n: int = 2):
        self.n, self.procs = n, []

    def __enter__(self):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{port}"
        dask = str(Path(PYTHON).parent / "dask")
        e = env()  # Dask's defaults: daemonic workers under their nanny, as users start them
        self.procs.append(subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port",
                                            str(port), "--no-dashboard"], env=e,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for _ in range(self.n):
            self.procs.append(subprocess.Popen([dask, "worker", self.address, "--nthreads", "1",
                                                "--no-dashboard", "--host",
                                                "127.0.0.1"], env=e, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(self.address, timeout=60, set_as_default=False) as c:
            c.wait_for_workers(self.n, timeout=120)
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--assignment", default="quiz",
                        help="quiz (the fixture) or a real assignment, "
                             "graded on copies of its samples")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask cluster run")
    args = parser.parse_args()
    a_name = args.assignment
    with tempfile.TemporaryDirectory() as tmp:
        courses = {k: Path(tmp) / k for k in ("plain", "one", "many", "dask")}
        for root in courses.values():
            make_course(root, args.n, a_name)
        t_auto, t_plain, s_plain = plain(courses["plain"], a_name)
        t_one, s_one, timings_one = pipeline(courses["one"], 1)
        t_many, s_many, timings_many = pipeline(courses["many"], args.workers)
        t_floor = floor(courses["one"])
        t_dask, s_dask = (None, None)
        if not args.no_dask:
            with Cluster(2) as cluster:
                t_dask, s_dask, _ = pipeline(courses["dask"], 2, cluster.address)
    n = args.n
    agree = s_plain == s_one == s_many and (s_dask is None or s_dask == s_plain)
    print(f"{n} submissions of {a_name}, {os.cpu_count()} cores, all measured in this run")
    print(f"plain nbgrader autograde (sequential):                 {t_auto:7.1f} s")
    print(f"plain nbgrader autograde + generate_feedback:          {t_plain:7.1f} s")
    print(f"floor: the graded notebooks in one warm kernel:        {t_floor:7.1f} s"
          f"  ({t_floor / n:.2f} s per submission)")
    print(f"pipeline, 1 worker:                                    {t_one:7.1f} s"
          f"  ({t_one / n:.2f} s per submission)")
    print(f"pipeline, {args.workers} workers:                                   {t_many:7.1f} s")
    if t_dask is not None:
        print(f"pipeline on a 2-worker Dask cluster (loopback):        {t_dask:7.1f} s")
    multiple, target = t_one / t_floor, FLOOR_TARGETS.get(a_name, FLOOR_GOAL)
    print(f"per-submission time, 1 worker, as a multiple of the floor: {multiple:.2f}x "
          f"(target <= {target:g}x: {verdict(multiple <= target)}; "
          f"long-run goal <= {FLOOR_GOAL:g}x: {verdict(multiple <= FLOOR_GOAL)})")
    print(f"{args.workers} workers against 1 worker:                      {t_one / t_many:.2f}x "
          f"(target >= {SCALING_TARGET:g}x: {verdict(t_one / t_many >= SCALING_TARGET)})")
    # Amdahl's split: what more workers can shorten (the executor, every job) and what they cannot
    # (interpreter, imports, releases, the merge, the report), both measured in the runs above
    jobs_one, jobs_many = timings_one["run"]["jobs"], timings_many["run"]["jobs"]
    print(f"  the jobs alone (the executor), {args.workers} against 1:           "
          f"{jobs_one / jobs_many:.2f}x ({jobs_one:.1f} s, {jobs_many:.1f} s); the rest of the "
          f"run, which workers cannot share: {t_one - jobs_one:.1f} s, {t_many - jobs_many:.1f} s")
    if t_dask is not None:
        print(f"2-worker Dask cluster against 1 local worker:       {t_one / t_dask:.2f}x")
    print(f"pipeline ({args.workers} workers) vs plain autograde + feedback:  "
          f"{t_plain / t_many:.2f}x")
    print(f"pipeline ({args.workers} workers) vs plain autograde alone:       "
          f"{t_auto / t_many:.2f}x")
    print(f"scores agree for every student everywhere: {agree}")
    print(f"\nwhere a submission's time goes (pipeline, 1 worker; the floor is "
          f"{t_floor / n:.3f} s):")
    print(f"  {'part':<42} {'s/submission':>12} {'share':>6}")
    for name, seconds in profile(t_one, timings_one):
        print(f"  {name:<42} {seconds:12.3f} {seconds / (t_one / n):6.1%}")
    print(f"  {'total':<42} {t_one / n:12.3f} {1:6.1%}")
    if not agree:
        runs = [s_plain, s_one, s_many] + ([s_dask] if s_dask is not None else [])
        diff = {k: tuple(run.get(k) for run in runs)
                for k in set().union(*runs) if len({run.get(k) for run in runs}) > 1}
        print(f"disagreements (plain, 1 worker, many, dask): {diff}")


if __name__ == "__main__":
    main()
