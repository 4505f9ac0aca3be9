"""Kernels forked from the zygote (grader.zygote) are as sandboxed and as fresh as started ones.

Each test runs the hidden-check process (the cheapest sandboxed process the grader starts) through
the zygote, with a tiny notebook whose code reports what it sees.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from nbformat import v4

from grader import probes, sandbox
from grader import zygote as zygote_mod

ROOT = os.geteuid() == 0


def _report(zygote, code: str, *, socket_path: str | None = "zygote"):
    """Run ``code`` in a sandboxed probe process; return the value of ``f()`` it defines."""
    nb = v4.new_notebook(cells=[v4.new_code_cell(code)])
    job = Path(tempfile.mkdtemp(dir=zygote["work"], prefix="job-"))
    socket_path = zygote["socket"] if socket_path == "zygote" else socket_path
    slot = sandbox.Slot(zygote["slot"], timeout=20, zygote=socket_path)
    (result,) = probes.run(nb, [{"call": "f", "args": []}], job / "probe", slot)
    assert "value" in result, f"the probe failed: {result}; log: {_log(job)}"
    return result["value"]


def _log(job: Path) -> str:
    log = job / "kernel.log"
    return log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"


def test_each_fork_draws_fresh_random_numbers(zygote):
    """Forks share the zygote's memory: without reseeding, every student would draw the same."""
    code = ("import random\nimport numpy as np\nimport torch\n"
            "R = [random.random(), float(np.random.rand()), float(torch.rand(1))]\n"
            "def f():\n    return R")
    first, second = _report(zygote, code), _report(zygote, code)
    assert first[0] != second[0], "random's state was inherited from the zygote"
    assert first[1] != second[1], "NumPy's global generator was inherited from the zygote"
    assert first[2] != second[2], "PyTorch's global generator was inherited from the zygote"


def test_the_fork_holds_no_socket_of_the_zygote(zygote):
    """The zygote's listening socket and other stubs' connections are closed in the kernel."""
    code = ("import os\nN = 0\nfor n in os.listdir('/proc/self/fd'):\n    try:\n"
            "        N += os.readlink(f'/proc/self/fd/{n}').startswith('socket:')\n"
            "    except OSError:\n        pass\ndef f():\n    return [N]")
    assert _report(zygote, code) == [0]


def test_the_fork_runs_in_its_own_folder_with_it_on_the_path(zygote):
    code = ("import os, sys\nOK = [float(os.getcwd() == sys.path[0]), "
            "float(os.getcwd().endswith('/probe'))]\ndef f():\n    return OK")
    assert _report(zygote, code) == [1.0, 1.0]


@pytest.mark.skipif(not ROOT, reason="the sandbox's uid needs root")
def test_the_fork_runs_as_the_slot_uid_with_the_limits(zygote):
    code = ("import os, resource\nU = [os.getuid(), os.geteuid(), len(os.getgroups()),\n"
            "     resource.getrlimit(resource.RLIMIT_AS)[0]]\ndef f():\n    return U")
    uid = sandbox.uid_for_worker(zygote["slot"])
    assert _report(zygote, code) == [uid, uid, 0, sandbox.Limits().memory_bytes]


def test_a_missing_zygote_falls_back_to_starting_the_process(zygote):
    """A zygote that is gone costs time, never a result.

    (Whether the process is a fork shows in what it has imported: the zygote imported ipykernel, a
    hidden-check process started from scratch does not; its parent is outside its PID namespace.)
    """
    code = "import sys\nP = [float('ipykernel.kernelapp' in sys.modules)]\ndef f():\n    return P"
    (forked,) = _report(zygote, code, socket_path=str(zygote["work"] / "no-such-socket"))
    assert forked == 0.0, "the process must not have come from the zygote"
    (forked,) = _report(zygote, code)
    assert forked == 1.0, "with the zygote running, the process is its fork"


def test_killing_the_stub_kills_the_kernel(zygote, tmp_path):
    """jupyter_client ends a kernel by killing its process (the stub): the fork must end too."""
    job = Path(tempfile.mkdtemp(dir=zygote["work"], prefix="job-"))
    workdir = job / "probe"
    workdir.mkdir()
    (workdir / "probe-input.json").write_text(
        '{"code": ["import os, time\\nopen(\'pid\', \'w\').write(str(os.getpid()))\\n'
        'time.sleep(600)"], "timeout": 600, "probes": []}')
    slot = sandbox.Slot(zygote["slot"], zygote=zygote["socket"])
    sandbox.prepare(job, workdir, slot)
    argv = slot.argv(job / "sandbox.json", ["--probe"])
    stub = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (workdir / "pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        # the kernel as this process sees it (inside its PID namespace it is 1) and the process
        # that waits for it outside: every process working in its folder, but the stub
        pids = [p.pid for p in psutil.process_iter(["cwd"])
                if p.info["cwd"] == str(workdir) and p.pid != stub.pid]
        assert pids, "the kernel's processes were not found"
        stub.send_signal(signal.SIGKILL)
        stub.wait(5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(map(_alive, pids)):
            time.sleep(0.05)
        assert not any(map(_alive, pids)), "the kernel outlived its stub"
    finally:
        stub.kill()
        sandbox.kill_uid(sandbox.uid_for_worker(zygote["slot"]))


def test_the_stub_exits_with_the_kernels_exit_code(zygote):
    job = Path(tempfile.mkdtemp(dir=zygote["work"], prefix="job-"))
    workdir = job / "probe"
    workdir.mkdir()
    (workdir / "probe-input.json").write_text(
        '{"code": ["import os\\nos._exit(7)"], "timeout": 20, "probes": []}')
    slot = sandbox.Slot(zygote["slot"], zygote=zygote["socket"])
    sandbox.prepare(job, workdir, slot)
    argv = slot.argv(job / "sandbox.json", ["--probe"])
    probe = subprocess.run(argv, check=False, cwd=workdir, stdin=subprocess.DEVNULL, timeout=60)
    assert probe.returncode == 7


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_bad_requests_are_refused_without_harm(zygote):
    """A garbled request gets the connection closed; the zygote keeps serving."""
    import socket

    for payload in (b"not json\n", b'{"config": 3}\n', b"[1, 2]\n"):
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(zygote["socket"])
        conn.sendall(payload)
        conn.settimeout(10)
        assert conn.recv(100) == b"", f"{payload!r} was not refused"
        conn.close()
    assert _report(zygote, "def f():\n    return [1]") == [1.0]
    assert sys.executable  # the zygote stayed up for the report above


def test_the_fork_does_not_inherit_the_graders_import_block(zygote):
    """The grader blocks a slow optional import for itself (grader/__init__.py), not for kernels."""
    code = ("import sys\nB = [float('rfc3987_syntax' in sys.modules and "
            "sys.modules['rfc3987_syntax'] is None)]\ndef f():\n    return B")
    assert _report(zygote, code) == [0.0]


def test_the_grader_itself_skips_the_slow_optional_import():
    """In a grader process jsonschema still validates; it only skips the two IRI formats."""
    code = ("import grader, sys, jsonschema\n"
            "jsonschema.validate({'a': 1}, {'properties': {'a': {'type': 'integer'}}})\n"
            "print(sys.modules['rfc3987_syntax'] is None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True", out.stderr


def _probe_job(zygote, code: str):
    """A job folder whose probe input runs ``code``; returns (slot, config, workdir)."""
    import json

    job = Path(tempfile.mkdtemp(dir=zygote["work"], prefix="job-"))
    workdir = job / "probe"
    workdir.mkdir()
    (workdir / "probe-input.json").write_text(
        json.dumps({"code": [code], "timeout": 600, "probes": []}))
    slot = sandbox.Slot(zygote["slot"], zygote=zygote["socket"])
    sandbox.prepare(job, workdir, slot)
    return slot, str(job / "sandbox.json"), workdir


def test_the_job_asks_the_zygote_for_its_probe_process_itself(zygote, monkeypatch):
    """With a zygote, the hidden checks start no process of the job's own (no stub, no
    subprocess): the job's request is the stub's, and the answer is the fork's exit code."""
    def no_process(*args, **kwargs):
        raise AssertionError("a subprocess was started")

    monkeypatch.setattr(probes.subprocess, "run", no_process)
    code = "import sys\nP = [float('ipykernel.kernelapp' in sys.modules)]\ndef f():\n    return P"
    assert _report(zygote, code) == [1.0]
    slot, config, _ = _probe_job(zygote, "import os\nos._exit(7)")
    assert zygote_mod.run(slot.zygote, config, ["--probe"], timeout=60) == 7


def test_a_probe_past_its_time_is_killed_by_the_zygote(zygote):
    """run() gives up after its timeout and closes the connection: the zygote kills the process."""
    slot, config, workdir = _probe_job(
        zygote, "import os, time\nopen('pid', 'w').write(str(os.getpid()))\ntime.sleep(600)")
    with pytest.raises(TimeoutError):
        zygote_mod.run(slot.zygote, config, ["--probe"], timeout=3)
    try:
        assert (workdir / "pid").exists(), "the probe never ran"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _workers_in(workdir):
            time.sleep(0.05)
        assert not _workers_in(workdir), "the probe outlived its time"
    finally:
        sandbox.kill_uid(sandbox.uid_for_worker(zygote["slot"]))


def _workers_in(folder: Path) -> list[int]:
    """Live processes whose working folder is ``folder``."""
    found = []
    for p in psutil.process_iter(["cwd"]):
        if p.info["cwd"] == str(folder) and _alive(p.pid):
            found.append(p.pid)
    return found


def test_run_says_when_there_is_no_zygote(zygote):
    _, config, _ = _probe_job(zygote, "pass")
    assert zygote_mod.run(str(zygote["work"] / "no-such-socket"), config, ["--probe"], 10) is None


def test_the_zygote_stays_single_threaded_after_its_imports():
    """Forking is safe only from a process with one thread: what the zygote preloads (the
    kernel's debugger, PyTorch and SciPy among it) starts none, in Python or below it."""
    code = ("import os, threading\nfrom grader import zygote\nzygote.preload()\n"
            "import sys\nprint(threading.active_count(), len(os.listdir('/proc/self/task')),\n"
            "      'ipykernel.debugger' in sys.modules, 'torch' in sys.modules,\n"
            "      'scipy.special' in sys.modules)")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}  # as kernel_env()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env)
    assert out.stdout.split() == ["1", "1", "True", "True", "True"], out.stdout + out.stderr


@pytest.mark.parametrize("how", ["stop", "the run's end of the pipe closes"])
def test_no_fork_outlives_the_zygote(zygote, how):
    """However the zygote is ended (stop(): the pipe closed and SIGTERM; or only the pipe, when
    the grading run died), it kills what it forked before it exits, with code 0."""
    work = Path(tempfile.mkdtemp(dir=zygote["work"], prefix="own-"))
    own = zygote_mod.start(work)
    socket_path = zygote_mod.wait_ready(own)
    assert socket_path
    slot, config, workdir = _probe_job(
        zygote, "import os, time\nopen('pid', 'w').write(str(os.getpid()))\ntime.sleep(600)")
    answer = zygote_mod._request(socket_path, config, ["--probe"])
    assert answer is not None
    try:
        deadline = time.monotonic() + 20
        while not (workdir / "pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _workers_in(workdir), "the fork never ran"
        if how == "stop":
            zygote_mod.stop(own)
        else:
            own.stdin.close()
            own.wait(10)
        assert own.returncode == 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _workers_in(workdir):
            time.sleep(0.05)
        assert not _workers_in(workdir), "a fork outlived the zygote"
    finally:
        answer[0].close()
        if own.poll() is None:
            own.kill()
        sandbox.kill_uid(sandbox.uid_for_worker(zygote["slot"]))


def test_the_zygote_preloads_what_the_graded_assignments_import(tmp_path):
    """PyTorch and SciPy are preloaded for assignments whose sources import them, and only then:
    a run of an assignment without them starts its zygote (and forks it) without their cost."""
    solutions = Path(__file__).resolve().parents[2] / "solutions"
    quiz = Path(__file__).parent / "fixtures" / "course" / "solutions" / "quiz"
    assert zygote_mod.preloads_for([quiz]) == ()
    assert zygote_mod.preloads_for([solutions / "01_activations"]) == ("scipy.special",)
    torch = ("torch", "torch.nn", "torch.nn.functional")
    assert zygote_mod.preloads_for([solutions / "06_mlp"]) == torch
    assert zygote_mod.preloads_for([quiz, solutions / "06_mlp", solutions / "02_single_layer"]) \
        == zygote_mod.PRELOAD
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "a.ipynb").write_text('{"source": ["the word torch, imported nowhere"]}')
    assert zygote_mod.preloads_for([tmp_path / "a"]) == ()
    os.chmod(tmp_path, 0o711)
    for modules, loaded in (((), False), (torch, True)):
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        os.chmod(work, 0o711)
        proc = zygote_mod.start(work, modules)
        try:
            assert zygote_mod.wait_ready(proc), (work / "zygote" / "zygote.log").read_text()
            maps = Path(f"/proc/{proc.pid}/maps").read_text()
            assert ("libtorch" in maps) is loaded, f"preload {modules}: torch loaded {not loaded}"
        finally:
            zygote_mod.stop(proc)


@pytest.mark.skipif(not ROOT, reason="the sandbox's own uid, to kill it as a job does, needs root")
def test_the_zygote_reaps_the_orphans_its_forks_leave(zygote):
    """A sandboxed process is process 1 of its PID namespace, under a fork of the zygote; when a
    job's end kills both (kill_uid), the zygote adopts the orphan and reaps it: no zombie of a
    sandbox uid is ever left to the system's init (which reaps it only later, after the run)."""
    work = Path(tempfile.mkdtemp(dir=zygote["work"], prefix="own-"))
    own = zygote_mod.start(work, ())
    socket_path = zygote_mod.wait_ready(own)
    assert socket_path
    _, config, workdir = _probe_job(zygote, "import time\ntime.sleep(600)")
    answer = zygote_mod._request(socket_path, config, ["--probe"])
    assert answer is not None
    try:
        uid = sandbox.uid_for_worker(zygote["slot"])
        deadline = time.monotonic() + 20
        mine = []
        while len(mine) < 2 and time.monotonic() < deadline:  # the fork and its process 1
            mine = [p for p in psutil.process_iter(["uids"]) if p.info["uids"]
                    and p.info["uids"].real == uid]
            time.sleep(0.02)
        assert len(mine) >= 2, f"the sandboxed process never ran: {mine}"
        sandbox.kill_uid(uid, grace=0)
        orphaned_to_init, deadline = [], time.monotonic() + 5
        while time.monotonic() < deadline:
            left = []
            for p in mine:
                try:
                    if p.status() == psutil.STATUS_ZOMBIE and p.ppid() == 1:
                        orphaned_to_init.append(p.pid)
                    left.append(p)
                except psutil.NoSuchProcess:
                    pass
            if not left:
                break
            time.sleep(0.001)
        assert not orphaned_to_init, f"zombies left to init: {sorted(set(orphaned_to_init))}"
        assert not left, f"not reaped: {left}"
    finally:
        answer[0].close()
        zygote_mod.stop(own)
