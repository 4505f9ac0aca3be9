"""``python -m grader run --scheduler``: the same grading on a real Dask cluster on loopback.

The test starts a ``dask scheduler`` and two ``dask worker`` processes (127.0.0.1 only) as a user
would, with Dask's defaults (each worker a daemonic process under its nanny), grades the fixture
quiz's class once locally and once on the cluster, and compares: the same grades.csv, the same
gradebook, the same feedback. A ``LocalCluster()`` with its default arguments (daemonic workers too)
gives the same grades.csv. Then a worker is killed in the middle of a run (every submission still
comes back exactly once, and none of its grading processes outlives it), and a scheduler that is
not there gives a clear error, exit code 2, and writes nothing.
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
    "cheat": {**RIGHT,
              "square": "def square(x):\n    return x\nnp.allclose = lambda *a, **k: True"},
    "broken": None,  # not JSON
}


def _env():
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", MPLBACKEND="Agg",
               PYTHONUNBUFFERED="1")
    env.pop("DASK_DISTRIBUTED__WORKER__DAEMON", None)  # Dask's default: daemonic workers
    return env


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
                                      self.address.rsplit(":", 1)[1], "--no-dashboard"],
                                     "scheduler")
        self.workers = [self.start_worker(f"w{i}") for i in range(workers)]
        self.wait_for(workers)

    def _start(self, args, name):
        with open(self.folder / f"{name}.log", "w") as log:  # the Dask process keeps its own copy
            proc = subprocess.Popen([str(BIN / "dask"), *args], env=_env(), stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def start_worker(self, name):
        # `dask worker ADDRESS` as a user types it: a nanny runs the worker as a daemonic process.
        return self._start(["worker", self.address, "--nthreads", "1", "--no-dashboard",
                            "--name", name, "--host", "127.0.0.1"], name)

    def wait_for(self, n, timeout=120):
        from distributed import Client

        with Client(self.address, timeout=timeout, set_as_default=False) as client:
            client.wait_for_workers(n, timeout=timeout)
            assert _daemonic(client), "the workers are not Dask's default (daemonic) ones"

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


def _daemonic(client) -> bool:
    """Whether every worker of ``client``'s cluster is a daemonic process (which may not start
    multiprocessing children)."""
    import multiprocessing

    return all(client.run(lambda: multiprocessing.current_process().daemon).values())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("dask"))
    yield c
    c.close()


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The class graded on this machine, the yardstick."""
    course = _course(tmp_path_factory.mktemp("local"))
    proc = _grade(course, "--workers", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return course


@pytest.fixture(scope="module")
def both(tmp_path_factory, cluster, local):
    remote = _course(tmp_path_factory.mktemp("remote"))
    proc = _grade(remote, "--scheduler", cluster.address)
    assert proc.returncode == 0, proc.stdout + proc.stderr + cluster.log("w0") + cluster.log("w1")
    return local, remote, proc.stdout


def _same_grades(local: Path, remote: Path) -> None:
    mine, theirs = _rows(local / "grades.csv"), _rows(remote / "grades.csv")
    assert [r["student"] for r in mine] == sorted(CLASS)
    assert mine == theirs
    status = {r["student"]: r["status"] for r in theirs}
    assert status["honest"] == "graded" and status["broken"] == "failed"
    assert status["cheat"] == "needs review"  # caught by the hidden checks, on a worker too
    assert {r["student"]: r["score"] for r in theirs}["partial"] == "3"


def test_the_cluster_gives_the_same_grades_csv(both):
    local, remote, stdout = both
    assert "Dask cluster" in stdout
    _same_grades(local, remote)


def test_a_default_local_cluster_gives_the_same_grades_csv(tmp_path, local):
    """``LocalCluster()`` as its documentation starts it: daemonic workers under nannies."""
    from distributed import Client, LocalCluster

    course = _course(tmp_path / "course")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in _env().items():  # the workers' environment is this process's
            mp.setenv(name, value)
        mp.delenv("DASK_DISTRIBUTED__WORKER__DAEMON", raising=False)
        with LocalCluster() as cluster, Client(cluster, set_as_default=False) as client:
            assert _daemonic(client)
            proc = _grade(course, "--scheduler", cluster.scheduler_address)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Dask cluster" in proc.stdout
    _same_grades(local, course)


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
    """Kill a worker as it grades: every submission comes back once, graded or failed with why."""
    course = _course(tmp_path / "course")
    proc = subprocess.Popen([sys.executable, "-m", "grader", "run", "--course", str(course),
                             "--no-progress", "--timeout", "10", "--scheduler", cluster.address],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim = cluster.workers[0]
    deadline = time.monotonic() + 120
    grading = []
    while time.monotonic() < deadline and not grading:  # until the victim grades (under its nanny)
        grading = _grading_processes(victim.pid)
        time.sleep(0.2)
    time.sleep(0.5)  # the fork server, the zygote, the first jobs and their kernels
    grading += [p for p in _grading_processes(victim.pid) if p not in grading]
    os.killpg(victim.pid, signal.SIGKILL)  # the nanny and its worker, as when a machine is lost
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, out + err
    assert grading, "the killed worker never started grading"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _running(grading):
        time.sleep(0.2)
    assert not _running(grading), "a grading process outlived its Dask worker"
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


def _grading_processes(pid: int) -> list:
    """The processes of the grading pipeline among ``pid``'s descendants."""
    import psutil

    found = []
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return found
    for p in children:
        try:
            if "grader" in " ".join(p.cmdline()):
                found.append(p)
        except psutil.Error:
            pass
    return found


def _running(procs) -> list:
    import psutil

    alive = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.Error:
            pass
    return alive


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


def test_the_feedback_service_grades_on_the_cluster_as_on_this_machine(tmp_path, cluster, local):
    """``python -m grader serve --scheduler``: each submission sent to the cluster as it arrives;
    the scores are the local batch's, the cheat is still caught, the broken one gets its reason."""
    import json
    import sqlite3

    course = _course(tmp_path / "course")
    inbound = course / "exchange" / "ann-course" / "inbound"
    inbound.mkdir(parents=True)
    for folder in sorted((course / "submitted").iterdir()):
        dest = inbound / f"{folder.name}+quiz+2026-11-20 10:00:00.000000 UTC+ab12"
        shutil.copytree(folder / "quiz", dest)
        (dest / "submission_secret.txt").write_text(f"secret-{folder.name}")
    proc = subprocess.run([sys.executable, "-m", "grader", "serve", "--course", str(course),
                           "--scheduler", cluster.address, "--once", "--min-interval", "0",
                           "--timeout", "10"], env=_env(), capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr + cluster.log("w0")
    db = sqlite3.connect(course / ".feedback-service" / "queue.sqlite")
    results = {s: json.loads(r) for s, r in db.execute("SELECT student, result FROM submissions")}
    db.close()
    batch = {r["student"]: r for r in _rows(local / "grades.csv")}
    assert set(results) == set(CLASS)
    for student, result in results.items():
        assert result["status"] == batch[student]["status"], (student, result, batch[student])
        if result["status"] != "failed":
            assert result["score"] == float(batch[student]["raw_score"]), (student, result)
    assert "not valid notebook JSON" in results["broken"]["reason"]
