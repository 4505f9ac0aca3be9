"""``python -m grader run --scheduler``: the same grading on a real Dask cluster on loopback.

The test starts a ``dask scheduler`` and two ``dask worker`` processes (127.0.0.1 only), grades the
fixture quiz's class once locally and once on the cluster, and compares: the same grades.csv, the
same gradebook, the same feedback. Then a worker is killed in the middle of a run (every submission
still comes back exactly once), and a scheduler that is not there gives a clear error, exit code 2,
and writes nothing.
"""

from __future__ import annotations

import copy
import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from coursekit import BIN

pytestmark = [pytest.mark.grading, pytest.mark.filterwarnings("ignore:.*not in session")]

FIXTURE = Path(__file__).parent / "fixtures" / "course"
RIGHT = {"add": "def add(a, b):\n    return a + b",
         "square": "def square(x):\n    return np.asarray(x) ** 2",
         "mean": "def mean(x):\n    return float(np.sum(x)) / len(x)"}
CLASS = {
    "honest": RIGHT,
    "partial": {**RIGHT, "square": "def square(x):\n    return x"},
    "wrong-add": {**RIGHT, "add": "def add(a, b):\n    return a * b"},
    "cheat": {**RIGHT, "square": "def square(x):\n    return x\nnp.allclose = lambda *a, **k: True"},
    "broken": None,  # not JSON
}


def _env():
    # Dask's nanny starts workers as daemonic processes, which may not have children; the grading
    # pipeline forks its workers, so the course's Dask workers run with daemon = False.
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", MPLBACKEND="Agg",
                DASK_DISTRIBUTED__WORKER__DAEMON="False", PYTHONUNBUFFERED="1")


def _course(root: Path) -> Path:
    shutil.copytree(FIXTURE / "solutions", root / "solutions")
    os.chmod(root, 0o755)
    from grader.course import api_for

    api_for(root).generate_assignment("quiz", force=True)
    nb = nbformat.read(root / "exercises" / "quiz" / "quiz.ipynb", as_version=4)
    for student, answers in CLASS.items():
        folder = root / "submitted" / student / "quiz"
        folder.mkdir(parents=True)
        (folder / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")
        if answers is None:
            (folder / "quiz.ipynb").write_text("{ not json")
            continue
        mine = copy.deepcopy(nb)
        for cell in mine.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers:
                cell.source = answers[gid]
        nbformat.write(mine, folder / "quiz.ipynb")
    return root


def _grade(course: Path, *extra: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", "run", "--course", str(course),
                           "--no-progress", "--timeout", "10", *extra], env=_env(),
                          capture_output=True, text=True, timeout=timeout, check=False)


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return sorted(csv.DictReader(fh), key=lambda r: (r["student"], r["assignment"]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A scheduler and workers on 127.0.0.1, as processes of their own."""

    def __init__(self, folder: Path, workers: int = 2):
        self.folder = folder
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        self.procs = []
        self.scheduler = self._start(["scheduler", "--host", "127.0.0.1", "--port",
                                      self.address.rsplit(":", 1)[1], "--no-dashboard"], "scheduler")
        self.workers = [self.start_worker(f"w{i}") for i in range(workers)]
        self.wait_for(workers)

    def _start(self, args, name):
        log = open(self.folder / f"{name}.log", "w")  # noqa: SIM115 - the Dask process writes it
        proc = subprocess.Popen([str(BIN / "dask"), *args], env=_env(), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def start_worker(self, name):
        return self._start(["worker", self.address, "--nthreads", "1", "--no-nanny",
                            "--no-dashboard", "--name", name, "--host", "127.0.0.1"], name)

    def wait_for(self, n, timeout=120):
        from distributed import Client

        with Client(self.address, timeout=timeout, set_as_default=False) as client:
            client.wait_for_workers(n, timeout=timeout)

    def log(self, name):
        return (self.folder / f"{name}.log").read_text(errors="replace")[-3000:]

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("dask"))
    yield c
    c.close()


@pytest.fixture(scope="module")
def both(tmp_path_factory, cluster):
    local = _course(tmp_path_factory.mktemp("local"))
    remote = _course(tmp_path_factory.mktemp("remote"))
    proc_local = _grade(local, "--workers", "2")
    assert proc_local.returncode == 0, proc_local.stdout + proc_local.stderr
    proc = _grade(remote, "--scheduler", cluster.address)
    assert proc.returncode == 0, proc.stdout + proc.stderr + cluster.log("w0") + cluster.log("w1")
    return local, remote, proc.stdout


def test_the_cluster_gives_the_same_grades_csv(both):
    local, remote, stdout = both
    assert "Dask cluster" in stdout
    mine, theirs = _rows(local / "grades.csv"), _rows(remote / "grades.csv")
    assert [r["student"] for r in mine] == sorted(CLASS)
    assert mine == theirs
    status = {r["student"]: r["status"] for r in theirs}
    assert status["honest"] == "graded" and status["broken"] == "failed"
    assert status["cheat"] == "needs review"  # caught by the hidden checks, on a worker too
    assert {r["student"]: r["score"] for r in theirs}["partial"] == "3"


def test_the_gradebook_and_feedback_agree(both):
    local, remote, _ = both
    from coursekit import scores

    assert scores(local, "quiz") == scores(remote, "quiz")
    for student in ("honest", "partial", "wrong-add"):
        a = (local / "feedback" / student / "quiz" / "quiz.html").read_text()
        b = (remote / "feedback" / student / "quiz" / "quiz.html").read_text()
        assert a == b, f"feedback of {student} differs"
        assert (remote / "feedback" / student / "quiz" / "timestamp.txt").exists()
        assert (remote / "autograded" / student / "quiz" / "quiz.ipynb").exists()


def test_a_worker_killed_mid_run_loses_no_submission(tmp_path, cluster):
    """Kill a worker while it grades: every submission comes back once, graded or failed with why."""
    course = _course(tmp_path / "course")
    proc = subprocess.Popen([sys.executable, "-m", "grader", "run", "--course", str(course),
                             "--no-progress", "--timeout", "10", "--scheduler", cluster.address],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim = cluster.workers[0]
    deadline = time.monotonic() + 120
    import psutil

    while time.monotonic() < deadline:  # wait until the victim is grading (it has children)
        try:
            if psutil.Process(victim.pid).children(recursive=True):
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    os.killpg(victim.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, out + err
    rows = _rows(course / "grades.csv")
    assert sorted(r["student"] for r in rows) == sorted(CLASS), "a submission was lost or doubled"
    for r in rows:
        assert r["status"] in ("graded", "needs review", "failed"), r
        if r["status"] == "failed":
            assert r["reason"], r
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        subs = [s.student.id for s in gb.assignment_submissions("quiz")]
    assert len(subs) == len(set(subs))
    graded = {r["student"] for r in rows if r["status"] != "failed"}
    assert graded == set(subs), "the gradebook and grades.csv disagree"
    cluster.workers[0] = cluster.start_worker("w0-again")
    cluster.wait_for(2)


def test_no_scheduler_is_a_clear_error_and_writes_nothing(tmp_path):
    course = _course(tmp_path / "course")
    before = sorted(p.relative_to(course) for p in course.rglob("*"))
    proc = _grade(course, "--scheduler", f"tcp://127.0.0.1:{_free_port()}", timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no Dask scheduler answered at tcp://127.0.0.1:" in proc.stderr
    assert "nothing was graded or written" in proc.stderr
    after = sorted(p.relative_to(course) for p in course.rglob("*"))
    assert after == before, "a failed connection wrote into the course"


def test_a_bad_address_is_named():
    from grader.distributed import connect

    with pytest.raises(ValueError, match="scheduler must be an address"):
        connect("  ")
