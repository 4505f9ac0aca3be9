"""What a grading kernel can reach: no network, none of the grader's processes, no private files.

Two levels:

* sandbox level: a sandboxed process (the hidden checks' process, and a real IPython kernel talked
  to by jupyter_client over Unix sockets) started both ways the grader starts them (forked from the
  zygote, and from scratch) tries to reach out and reports what it got;
* grading level: a small course whose submissions try the same is graded with
  ``python -m grader run``, once as the user running the tests (root in CI) and once as a fresh
  unprivileged user (created with ``useradd``, removed after), so the unprivileged mode (user
  namespaces) is shown to hold too.

Every check compares with what the same code gets outside the sandbox, so a sandbox that stopped
isolating would fail here.
"""

from __future__ import annotations

import csv
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from grader import probes, sandbox

FIXTURE = Path(__file__).parent / "fixtures" / "course"
CHECKOUT = Path(__file__).resolve().parents[2]  # `python -m grader` runs from here
ROOT = os.geteuid() == 0
ISOLATED = sandbox.mode()[0] in ("root", "user namespaces")
needs_isolation = pytest.mark.skipif(not ISOLATED, reason=f"this machine gives no namespaces: "
                                                          f"{sandbox.mode()[1]}")

# Run inside the sandbox: what the code can reach, as JSON-able values. PORT, HOST_IP, SECRETS,
# VICTIM, SIGNAL, WRITE_TARGET and UNMASK are filled in (outside, as a baseline, it only checks that
# the victim exists, writes nowhere and unmounts nothing).
REACH = """
import json, os, signal, socket
R = {}
for name, address in (("loopback", "127.0.0.1"), ("host", HOST_IP)):
    if address:
        try:
            socket.create_connection((address, PORT), timeout=3).close()
            R[name] = "connected"
        except OSError as exc:
            R[name] = type(exc).__name__
try:
    with socket.socket() as own:
        own.bind(("127.0.0.1", 0))
        own.listen()
        socket.create_connection(own.getsockname(), timeout=3).close()
    R["own loopback"] = "works"
except OSError as exc:
    R["own loopback"] = type(exc).__name__
for path in SECRETS:
    try:
        with open(path, "rb") as fh:
            R[path] = "read %d bytes" % len(fh.read())
    except OSError as exc:
        R[path] = type(exc).__name__
R["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
try:
    os.kill(VICTIM, SIGNAL)
    R["kill"] = "reached"
except OSError as exc:
    R["kill"] = type(exc).__name__
try:
    with open(WRITE_TARGET, "w") as fh:
        fh.write("overwritten by a submission")
    R["write"] = "written"
except OSError as exc:
    R["write"] = type(exc).__name__


def unmask():
    # Unmount what hides the secrets, as this process and from a new user namespace of a forked
    # child (which has every capability there); 1 if a secret could be read afterwards.
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    def attempt():
        for path in SECRETS:
            folder = os.path.dirname(path)
            while folder not in ("/", ""):
                libc.umount2(folder.encode(), 2)  # MNT_DETACH
                folder = os.path.dirname(folder)
        for path in SECRETS:
            try:
                open(path, "rb").close()
                return 1
            except OSError:
                pass
        return 0
    found = attempt()
    child = os.fork()
    if child == 0:
        code = 0
        try:
            if libc.unshare(0x10000000 | 0x20000) == 0:  # CLONE_NEWUSER | CLONE_NEWNS
                code = attempt()
        finally:
            os._exit(code)
    return max(found, os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]))


R["unmasked"] = unmask() if UNMASK else 0
"""


def _host_ip() -> str | None:
    """This machine's address on its default route (no packet is sent), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))
            address = sock.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


class Listener:
    """A TCP port the test listens on (all addresses), to see whether anything connected to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def connections(self) -> int:
        n = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return n
            conn.close()
            n += 1

    def close(self):
        self.sock.close()


def reach_code(port: int, secrets: list[str], victim: int, write_target: Path, *,
               baseline: bool = False) -> str:
    """The probing code; ``baseline``: as run outside, where it only checks that the victim exists
    and writes nowhere."""
    return (f"PORT = {port}\nHOST_IP = {_host_ip()!r}\nSECRETS = {secrets!r}\nVICTIM = {victim}\n"
            f"SIGNAL = {0 if baseline else int(signal.SIGKILL)}\nUNMASK = {not baseline}\n"
            f"WRITE_TARGET = {'/nonexistent/x' if baseline else str(write_target)!r}\n" + REACH)


def _outside(code: str) -> dict:
    """The same code run plainly, as a baseline: it must reach what the sandbox keeps away."""
    namespace: dict = {}
    exec(compile(code, "<outside>", "exec"), namespace)  # noqa: S102 - the test's own code
    return namespace["R"]


def _write_target(folder: Path) -> Path:
    """A file anyone may write, in a folder the sandbox shows (the interpreter's): only the
    sandbox's read-only mounts can keep a submission from changing it."""
    path = folder / f".isolation-{uuid.uuid4().hex[:8]}"
    path.write_text("untouched")
    os.chmod(path, 0o666)
    return path


def _check_isolated(inside: dict, outside: dict, listener: Listener, victim, secrets,
                    write_target: Path, before: str) -> None:
    assert outside["loopback"] == "connected", "baseline: the test's port must be reachable"
    assert outside["kill"] == "reached", "baseline: the test's process must be reachable"
    assert inside["loopback"] in ("ConnectionRefusedError",), (
        f"the sandbox reached the test's port on 127.0.0.1: {inside}")
    if "host" in outside:
        assert inside["host"] != "connected", f"the sandbox reached the host's address: {inside}"
    assert inside["own loopback"] == "works", f"the sandbox's own 127.0.0.1 must work: {inside}"
    assert listener.connections() == 0, "the test's listener received a connection from the sandbox"
    for path in secrets:
        assert outside[path].startswith("read"), f"baseline: {path} must be readable outside"
        assert not inside[path].startswith("read"), f"the sandbox read {path}: {inside[path]}"
    assert inside["unmasked"] == 0, "unmounting the masks showed a secret"
    assert victim.pid not in inside["pids"], (
        f"the sandbox sees the test's process: {inside['pids']}")
    assert len(inside["pids"]) <= 3, f"the sandbox sees other processes: {inside['pids']}"
    assert inside["kill"] == "ProcessLookupError", f"signal to the test's process: {inside['kill']}"
    assert victim.poll() is None, "the sandbox killed a process outside it"
    assert inside["write"] != "written" and write_target.read_text() == before, (
        f"the sandbox wrote outside its folders: {inside['write']}")


# ---------------------------------------------------------------------------------------------
# sandbox level


@pytest.fixture()
def victim():
    """A process of the grader's user (or of the sandbox uid, as root) for the sandbox to aim at."""
    proc = subprocess.Popen(["sleep", "300"])
    yield proc
    proc.kill()
    proc.wait()


def _secrets(work: Path) -> list[str]:
    """Files the kernel must not read: the course code's hidden tests, another job's submission,
    a file of the grader's home."""
    other = work / "job-other-student" / "submitted"
    other.mkdir(parents=True, exist_ok=True)
    (other / "answers.ipynb").write_text("another student's work")
    secrets = [str(other / "answers.ipynb")]
    solutions = sorted(Path(sandbox.CODE_ROOTS[0], "solutions").glob("*/*.ipynb"))
    secrets += [str(solutions[0])] if solutions else []
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    mine = [p for p in (home / ".bashrc", home / ".profile", home / ".gitconfig") if p.is_file()]
    secrets += [str(mine[0])] if mine else []
    return secrets


@needs_isolation
@pytest.mark.parametrize("via", ["zygote", "direct"])
def test_hidden_checks_reach_no_network_process_or_private_file(zygote, victim, via):
    listener = Listener()
    write_target = _write_target(Path(sys.prefix))
    try:
        secrets = _secrets(zygote["work"])
        code = reach_code(listener.port, secrets, victim.pid, write_target)
        outside = _outside(reach_code(listener.port, secrets, victim.pid, write_target,
                                      baseline=True))
        listener.connections()  # the baseline's own connections
        nb = v4.new_notebook(cells=[v4.new_code_cell(
            code + "\ndef f():\n    return [0]\njson.dump(R, open('reach.json', 'w'))")])
        job = Path(tempfile.mkdtemp(dir=zygote["work"], prefix="job-"))
        slot = sandbox.Slot(zygote["slot"], timeout=30,
                            zygote=zygote["socket"] if via == "zygote" else None)
        (result,) = probes.run(nb, [{"call": "f", "args": []}], job / "probe", slot)
        log = job / "kernel.log"
        assert "value" in result, f"{result}: {log.read_text() if log.exists() else ''}"
        inside = json.loads((job / "probe" / "reach.json").read_text())
        _check_isolated(inside, outside, listener, victim, secrets, write_target, "untouched")
        assert inside["pids"] == [1], "the hidden checks run as process 1 of their own namespace"
    finally:
        listener.close()
        write_target.unlink()


@needs_isolation
@pytest.mark.parametrize("via", ["zygote", "direct"])
def test_a_sandboxed_kernel_works_over_unix_sockets_and_is_cut_off(zygote, victim, via):
    """jupyter_client reaches the kernel through its ipc sockets across the network namespace,
    interrupts it and shuts it down; the kernel itself reaches nothing."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    listener = Listener()
    write_target = _write_target(Path(sys.prefix))
    job = Path(tempfile.mkdtemp(dir=zygote["work"], prefix="job-"))
    workdir = job / "work"
    spec_root = sandbox.prepare(job, workdir, sandbox.Slot(
        zygote["slot"], zygote=zygote["socket"] if via == "zygote" else None))
    km = KernelManager(kernel_name=sandbox.KERNEL_NAME,
                       kernel_spec_manager=KernelSpecManager(
                           kernel_dirs=[str(spec_root / "kernels")]),
                       transport="ipc", ip=str(job / "ipc" / "kernel"))
    km.start_kernel(cwd=str(workdir))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        secrets = _secrets(zygote["work"])
        code = reach_code(listener.port, secrets, victim.pid, write_target)
        outside = _outside(reach_code(listener.port, secrets, victim.pid, write_target,
                                      baseline=True))
        listener.connections()
        outputs = []
        reply = kc.execute_interactive(code + "\nprint(json.dumps(R))", timeout=60,
                                       output_hook=outputs.append)
        assert reply["content"]["status"] == "ok", reply["content"]
        text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
        _check_isolated(json.loads(text), outside, listener, victim, secrets, write_target,
                        "untouched")
        # an interrupt reaches the kernel (through the stub, the process outside its namespace)
        msg_id = kc.execute("import time\ntime.sleep(120)")
        time.sleep(1.0)
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=20)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["ename"] == "KeyboardInterrupt", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        listener.close()
        write_target.unlink()
    assert not km.is_alive()


@needs_isolation
@pytest.mark.parametrize("via", ["zygote", "direct"])
def test_terminating_the_kernels_process_ends_everything_it_started(zygote, via):
    """jupyter_client's SIGTERM ends the sandboxed process, although process 1 of a namespace
    ignores signals it does not catch, and with it the process it started."""
    job = Path(tempfile.mkdtemp(dir=zygote["work"], prefix="job-"))
    workdir = job / "probe"
    workdir.mkdir()
    code = ("import subprocess, time\nsubprocess.Popen(['sleep', '600'], start_new_session=True)\n"
            "open('started', 'w').close()\ntime.sleep(600)")
    (workdir / "probe-input.json").write_text(json.dumps({"code": [code], "timeout": 600,
                                                          "probes": []}))
    slot = sandbox.Slot(zygote["slot"], zygote=zygote["socket"] if via == "zygote" else None)
    sandbox.prepare(job, workdir, slot)
    argv = slot.argv(job / "sandbox.json", ["--probe"])
    proc = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not (workdir / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (workdir / "started").exists(), (job / "kernel.log").read_text()
        inside = _processes_in(workdir)
        assert len(inside) >= 2, "the sandboxed process and its process outside"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) != 0
        deadline = time.monotonic() + 5
        while _sleepers_of(inside) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _processes_in(workdir), "a process of the sandbox outlived SIGTERM"
        assert not _sleepers_of(inside), "the process the submission started outlived it"
    finally:
        proc.kill()
        proc.wait()


def _processes_in(workdir: Path) -> list:
    import psutil

    return [p for p in psutil.process_iter(["cwd", "status"])
            if p.info["cwd"] == str(workdir) and p.info["status"] != psutil.STATUS_ZOMBIE]


def _sleepers_of(processes) -> list:
    import psutil

    found = []
    for p in processes:
        try:
            found += [c for c in p.children(recursive=True) if c.status() != psutil.STATUS_ZOMBIE]
        except psutil.Error:
            continue
    return found


def test_the_mode_line_says_what_is_not_protected(monkeypatch):
    """Without namespaces the grader must say so, in one line, naming what is exposed."""
    monkeypatch.delenv(sandbox.MODE_ENV, raising=False)
    monkeypatch.setattr(sandbox, "is_root", lambda: False)
    monkeypatch.setattr(sandbox, "_namespaces_work", lambda kind: False)
    name, warning = sandbox.mode()
    assert name == "none" and "\n" not in warning
    for exposed in ("solutions/", "gradebook.db", "network", "processes"):
        assert exposed in warning, exposed
    monkeypatch.delenv(sandbox.MODE_ENV)
    monkeypatch.setattr(sandbox, "_namespaces_work", lambda kind: kind == "user")
    assert sandbox.mode() == ("user namespaces", None)


def test_the_namespaces_self_test_runs_here():
    """The self-test that decides the mode succeeds where namespaces work, and its answer is what
    this machine gives (root: as root; otherwise: through a user namespace)."""
    kind = "root" if ROOT else "user"
    ok = sandbox._namespaces_work(kind)
    try:
        probe = subprocess.run(["unshare", "--net", "--mount", "--pid", "--fork"]
                               + ([] if ROOT else ["--user", "--map-current-user"]) + ["true"],
                               check=False, capture_output=True, timeout=30)
        expected = probe.returncode == 0
    except FileNotFoundError:
        pytest.skip("util-linux's unshare is not installed to compare with")
    assert ok == expected, f"self-test says {ok}, unshare(1) says {expected}: {probe.stderr!r}"


# ---------------------------------------------------------------------------------------------
# grading level: python -m grader run, as root and as an unprivileged user


def _unprivileged_user():
    """A fresh system user (removed by the caller), or None without root and useradd."""
    if not ROOT or not shutil.which("useradd") or not shutil.which("runuser"):
        return None
    name = f"grtest{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                    "--shell", "/usr/sbin/nologin", name], check=True, capture_output=True)
    return name


def _python_for(user: str, where: Path) -> tuple[list[str] | None, str]:
    """A Python with the course's packages that ``user`` can run, and why not if there is none.

    The venv's interpreter may live where other users cannot enter (pyenv under /root): then a
    venv of the system's Python 3.11 is made, which reads the course venv's packages (those must be
    readable by all)."""
    def works(python):
        return subprocess.run(["runuser", "-u", user, "--", *python, "-c",
                               "import grader, nbgrader, numpy, ipykernel"],
                              check=False, capture_output=True, timeout=120).returncode == 0

    if works([sys.executable]):
        return [sys.executable], ""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(version, path="/usr/bin:/usr/local/bin")
    if not system:
        return None, f"{sys.executable} is not readable by other users and there is no {version}"
    site = [p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix)]
    venv = where / "venv"
    subprocess.run([system, "-m", "venv", "--without-pip", str(venv)], check=True)
    (venv / "lib" / version / "site-packages" / "course.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in site))
    python = [str(venv / "bin" / "python")]
    if works(python):
        return python, ""
    return None, (f"neither {sys.executable} nor {system} with {site} can import the course's "
                  f"packages as an unprivileged user (is the checkout readable by others?)")


STUDENTS = ("reach", "honest", "other-student")
RIGHT = {"add": "def add(a, b):\n    return a + b",  # as in test_adversarial.py
         "square": "def square(x):\n    return np.asarray(x) ** 2",
         "mean": "def mean(x):\n    return float(np.sum(x)) / len(x)"}


def _end_processes_of(uid: int) -> None:
    """Kill what the test's own user left running (by pid), so that the user can be removed."""
    import psutil

    for proc in psutil.process_iter(["uids"]):
        if proc.info["uids"] and proc.info["uids"].real == uid:
            try:
                proc.kill()
            except psutil.Error:
                pass


@pytest.mark.grading
@pytest.mark.parametrize("who", ["this user", "unprivileged user"])
def test_graded_submissions_reach_no_network_process_or_private_file(who):
    """A submission that connects to a port the test listens on, reads the hidden tests, the
    gradebook and another student's work, lists /proc and signals a process of the grading user,
    and writes to the course code, graded by ``python -m grader run``."""
    user = _unprivileged_user() if who == "unprivileged user" else None
    if who == "unprivileged user" and user is None:
        pytest.skip("creating an unprivileged user needs root, useradd and runuser")
    where = Path(tempfile.mkdtemp(prefix="isolation-grading-", dir="/var/tmp"))
    os.chmod(where, 0o755)
    listener = Listener()
    victim = write_target = None
    try:
        python, reason = (_python_for(user, where) if user else ([sys.executable], ""))
        if python is None:
            pytest.skip(reason)
        course = where / "course"
        shutil.copytree(FIXTURE / "solutions", course / "solutions")
        home = where / "home"
        home.mkdir()
        ids = {}
        if user:
            entry = pwd.getpwnam(user)
            ids = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        victim = subprocess.Popen(["sleep", "600"], **ids)  # a process of the grading user
        prefix = ["runuser", "-u", user, "--"] if user else []
        env = {"PATH": f"{Path(python[0]).parent}:/usr/bin:/bin", "HOME": str(home),
               "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "LANG": "C.UTF-8"}
        run = [*prefix, "env", "-i", *[f"{k}={v}" for k, v in env.items()], *python, "-m",
               "grader"]
        if user:
            subprocess.run(["chown", "-R", f"{user}:", str(course), str(home)], check=True)
        subprocess.run([*run, "release", "--course", str(course)], check=True,
                       capture_output=True, cwd=CHECKOUT)
        release = nbformat.read(course / "exercises" / "quiz" / "quiz.ipynb", as_version=4)
        secrets = [str(course / "solutions" / "quiz" / "quiz.ipynb"), str(course / "gradebook.db"),
                   str(course / "submitted" / "other-student" / "quiz" / "quiz.ipynb")]
        # in the grading Python's own folder, which the kernel sees
        write_target = _write_target(Path(python[0]).parents[1] if user else Path(sys.prefix))
        code = reach_code(listener.port, secrets, victim.pid, write_target)
        for student in STUDENTS:
            nb = nbformat.from_dict(json.loads(json.dumps(release)))
            for cell in nb.cells:
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if grade_id in RIGHT:
                    cell.source = RIGHT[grade_id]
                if grade_id == "add" and student == "reach":
                    cell.source += "\n" + code + "\nprint('REACH:' + json.dumps(R))"
            folder = course / "submitted" / student / "quiz"
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / "quiz.ipynb")
        if user:
            subprocess.run(["chown", "-R", f"{user}:", str(course), str(home)], check=True)
        outside = _outside(reach_code(listener.port, secrets, victim.pid, write_target,
                                      baseline=True))
        listener.connections()
        if user:
            # util-linux's unshare(1) says independently whether this user may have namespaces
            can = subprocess.run([*prefix, "unshare", "--user", "--map-current-user", "--mount",
                                  "--net", "--pid", "--fork", "true"], check=False,
                                 capture_output=True, text=True)
            if can.returncode != 0:
                pytest.skip(f"unprivileged user namespaces are not available here: {can.stderr}")
        mode = subprocess.run([*run[:-2], "-c", ("from grader import sandbox; "
                                                  "print(sandbox.mode()[0])")],
                              check=False, capture_output=True, text=True, cwd=CHECKOUT)
        assert mode.stdout.strip() == ("root" if ROOT and not user else "user namespaces"), (
            f"the grader runs without namespaces: {mode.stdout} {mode.stderr}")
        proc = subprocess.run([*run, "run", "--course", str(course), "--workers", "2",
                               "--timeout", "20", "--no-release", "--no-progress"],
                              check=False, capture_output=True, text=True, timeout=600,
                              cwd=CHECKOUT)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        # the run says how it is isolated, and has nothing to warn about
        assert f"sandbox: {mode.stdout.strip()}." in proc.stdout, proc.stdout
        assert "WARNING" not in proc.stdout, proc.stdout
        with open(course / "grades.csv", newline="") as fh:
            rows = {r["student"]: r for r in csv.DictReader(fh)}
        assert rows["honest"]["status"] == "graded", f"{rows['honest']}\n{proc.stdout}"
        assert float(rows["honest"]["score"]) == 5, rows["honest"]
        assert rows["reach"]["status"] == "needs review", rows["reach"]  # it imports socket, os
        assert float(rows["reach"]["score"]) == 5, rows["reach"]
        graded = nbformat.read(course / "autograded" / "reach" / "quiz" / "quiz.ipynb",
                               as_version=4)
        printed = "".join(out.get("text", "") for cell in graded.cells
                          for out in cell.get("outputs", []))
        assert "REACH:" in printed, f"the submission's report is missing: {printed[:2000]}"
        inside = json.loads(printed.split("REACH:")[1].splitlines()[0])
        _check_isolated(inside, outside, listener, victim, secrets, write_target, "untouched")
    finally:
        if write_target is not None:
            write_target.unlink(missing_ok=True)
        listener.close()
        if victim is not None:
            victim.kill()
            victim.wait()
        if user:
            _end_processes_of(pwd.getpwnam(user).pw_uid)
            subprocess.run(["userdel", user], check=False, capture_output=True)
        shutil.rmtree(where, ignore_errors=True)
