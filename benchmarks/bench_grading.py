"""Throughput of the grading pipeline against plain, sequential ``nbgrader autograde``.

Both grade the same N submissions of the fixture quiz (tests/grading/fixtures) in fresh courses,
measured in the same run; the script prints the wall-clock times, the ratios, and whether every
student got the same score from both. The pipeline also renders feedback, so plain nbgrader is timed
twice: ``autograde`` alone, and ``autograde`` + ``generate_feedback`` (the same products).

    .venv/bin/python benchmarks/bench_grading.py            # 50 submissions, 2 workers
    .venv/bin/python benchmarks/bench_grading.py --n 20 --workers 2
"""

from __future__ import annotations

import argparse
import copy
import csv
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
    {"add": "def add(a, b):\n    return a + b", "square": "def square(x):\n    return np.asarray(x) ** 2",
     "mean": "def mean(x):\n    return float(np.sum(x)) / len(x)"},
    {"add": "def add(a, b):\n    return a + b", "square": "def square(x):\n    return x",
     "mean": "def mean(x):\n    return float(np.mean(x))"},
    {"add": "def add(a, b):\n    return a - b", "square": "def square(x):\n    return np.square(x)",
     "mean": "def mean(x):\n    return sum(x)"},
]


def env():
    return dict(os.environ, PATH=f"{Path(PYTHON).parent}{os.pathsep}{os.environ['PATH']}")


def make_course(root: Path, n: int) -> None:
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


def plain(root: Path) -> tuple[float, float, dict]:
    start = time.perf_counter()
    subprocess.run([PYTHON, "-m", "nbgrader", "autograde", "quiz", "--force"], cwd=root,
                   env=env(), check=True, capture_output=True)
    autograde = time.perf_counter() - start
    subprocess.run([PYTHON, "-m", "nbgrader", "generate_feedback", "quiz", "--force"],
                   cwd=root, env=env(), check=True, capture_output=True)
    seconds = time.perf_counter() - start
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return autograde, seconds, {s.student.id: float(s.score)
                                    for s in gb.assignment_submissions("quiz")}


def pipeline(root: Path, workers: int) -> tuple[float, dict]:
    start = time.perf_counter()
    subprocess.run([PYTHON, "-m", "grader", "run", "--course", str(root), "--workers",
                    str(workers), "--no-release", "--no-progress"], cwd=REPO, env=env(), check=True,
                   capture_output=True)
    seconds = time.perf_counter() - start
    with open(root / "grades.csv", newline="") as fh:
        return seconds, {r["student"]: float(r["score"]) if r["score"] else None
                         for r in csv.DictReader(fh)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "plain", Path(tmp) / "pipeline"
        make_course(a, args.n)
        make_course(b, args.n)
        t_auto, t_plain, s_plain = plain(a)
        t_pipe, s_pipe = pipeline(b, args.workers)
    agree = s_plain == s_pipe
    print(f"{args.n} submissions, {os.cpu_count()} cores")
    print(f"plain nbgrader autograde (sequential):                {t_auto:7.1f} s")
    print(f"plain nbgrader autograde + generate_feedback:         {t_plain:7.1f} s")
    print(f"grader pipeline ({args.workers} workers, sandboxed, with feedback): {t_pipe:7.1f} s")
    print(f"throughput ratio vs autograde + feedback: {t_plain / t_pipe:.2f}x")
    print(f"throughput ratio vs autograde alone:      {t_auto / t_pipe:.2f}x")
    print(f"scores agree for every student: {agree}")
    if not agree:
        diff = {k: (s_plain.get(k), s_pipe.get(k)) for k in s_plain if s_plain.get(k) != s_pipe.get(k)}
        print(f"disagreements (plain, pipeline): {diff}")


if __name__ == "__main__":
    main()
