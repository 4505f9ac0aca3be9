"""Start grading kernels by forking a process that has imported them already.

A grading kernel spends most of its start-up importing ipykernel and NumPy (about 0.6 s of CPU,
as much as the rest of a small notebook's grading). The zygote imports them once per grading run;
each kernel (and each run of the hidden checks) is then a fork of it that enters the sandbox
(:func:`grader.kernel_launcher.enter`: own namespaces, hidden folders, limits, own uid) and
runs ``ipykernel_launcher`` (or :mod:`grader.probe_runner`) in place, as ``python -m`` would.

Processes and protocol:

* ``python -m grader.zygote serve SOCKET`` (root when grading as root) listens on a Unix socket in
  a folder only its owner can enter. It is single-threaded, so forking it is safe. Started by
  :func:`start`, its standard input is a pipe from the grading run: when that closes (the run is
  over, or its process died), the zygote kills the kernels it forked and exits.
* The kernelspec runs ``python -I -S grader/zygote.py kernel SOCKET CONFIG ARGS...`` (the *stub*,
  standard library only, so it starts without site-packages). The stub sends one JSON line
  ``{"config": ..., "argv": [...]}``; the zygote forks and answers ``{"pid": N}``, and
  ``{"exit": CODE}`` when that child ends. The stub stays in the kernel's place for jupyter_client:
  it forwards interrupt and termination signals to the child and exits with the child's code. When
  the stub dies (jupyter_client kills it), the zygote kills the child, so no kernel outlives its
  stub.
* The hidden checks (:mod:`grader.probes`) need no process in their place: the grading job makes
  the same request itself (:func:`run`) and waits for the exit line, or closes the connection when
  their time is up, which has the zygote kill them.
* If the zygote cannot be reached, the stub starts the kernel the direct way instead
  (:mod:`grader.kernel_launcher` from scratch), and :func:`run` says so (the probes then start the
  direct way), so a lost zygote costs time, never a grade.

Fairness: a forked kernel gets fresh random seeds (``random``, NumPy's and PyTorch's global
generators), its own working folder at ``sys.path[0]`` and the environment of
:func:`grader.kernel_launcher.kernel_env`, as a freshly started kernel would.

Imports are made inside the functions, on purpose: the stub (``grader/zygote.py kernel``) is
started for every kernel and must stay a bare interpreter, and the zygote's own imports
(:func:`preload`) are what every forked kernel inherits, so they are chosen one by one.
"""

from __future__ import annotations

import importlib
import json
import os
import selectors
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

# Third-party modules the zygote may import for its forks, besides the kernel's own (see preload()):
# each only for a grading run whose assignments import its package (see preloads_for()).
PRELOAD = ("torch", "torch.nn", "torch.nn.functional", "scipy.special")
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1,
             signal.SIGUSR2)


# ---------------------------------------------------------------------------------------------
# the stub (runs as the kernel's process for jupyter_client)


def _request(sock_path: str, config: str, args: list[str]):
    """Ask the zygote at ``sock_path`` to fork a sandboxed process for ``config`` and ``args``;
    return the connection, its reader and the child's pid, or None when the zygote cannot be
    reached. The child lives as long as the connection stays open."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(sock_path)
        conn.sendall(json.dumps({"config": config, "argv": args}).encode() + b"\n")
        reader = conn.makefile("rb")
        return conn, reader, json.loads(reader.readline())["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        conn.close()
        return None


def stub(sock_path: str, config: str, args: list[str]) -> int:
    """Have the zygote fork a kernel for ``config``; stand in for it until it exits."""
    answer = _request(sock_path, config, args)
    if answer is None:  # the slow way, but the same sandbox: grader.kernel_launcher.direct_argv
        argv = [sys.executable, "-m", "grader.kernel_launcher", config, *args]
        os.execvp(argv[0], argv)
    conn, reader, pid = answer  # conn stays open as long as the kernel may live

    def forward(signum, frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in FORWARDED:
        signal.signal(signum, forward)
    while True:
        try:
            line = reader.readline()
            break
        except InterruptedError:  # a forwarded signal; keep waiting
            continue
    conn.close()
    try:
        return int(json.loads(line)["exit"])
    except (ValueError, KeyError, TypeError):
        return 1  # the zygote went away: the kernel went with it


def run(sock_path: str, config: str, args: list[str], timeout: float) -> int | None:
    """Fork a sandboxed process for ``config`` and ``args`` (``["--probe"]``: the hidden checks)
    from the zygote at ``sock_path`` and wait for it, as the stub would but without a process of its
    own. Returns its exit code, or None when the zygote cannot be reached (start it the direct way
    then); raises ``TimeoutError`` after ``timeout`` seconds, when the zygote has killed it."""
    answer = _request(sock_path, config, args)
    if answer is None:
        return None
    conn, reader, _ = answer
    try:
        conn.settimeout(max(timeout, 0.001))
        line = reader.readline()
    except TimeoutError:
        raise TimeoutError(f"the sandboxed process ran past {timeout:g} s") from None
    except OSError:
        line = b""
    finally:
        conn.close()  # the zygote kills the child if it still runs
    try:
        return int(json.loads(line)["exit"])
    except (ValueError, KeyError, TypeError):
        return 1  # the zygote went away: the child went with it


# ---------------------------------------------------------------------------------------------
# the zygote


def preloads_for(folders) -> tuple[str, ...]:
    """The modules of :data:`PRELOAD` whose package the files in ``folders`` (the sources of the
    assignments being graded: notebooks, probes, modules) import.

    The zygote imports them once for every fork; one an assignment never imports would only make
    each fork, and the zygote's own start, slower (PyTorch: 0.85 s of the start, and each fork
    copies its page tables). Only a matter of speed: a kernel imports what was not preloaded itself.
    """
    import re

    pattern = re.compile(r"\b(?:import|from)\s+(" + "|".join(
        sorted({re.escape(m.split(".")[0]) for m in PRELOAD})) + r")\b")
    found: set[str] = set()
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            if path.suffix in (".ipynb", ".py", ".json") and path.is_file():
                found.update(pattern.findall(path.read_text(errors="replace")))
    return tuple(m for m in PRELOAD if m.split(".")[0] in found)


def preload(modules: tuple[str, ...] = PRELOAD) -> None:
    """Import what every kernel and probe imports, once (``modules``: see :func:`preloads_for`)."""
    # Besides the kernel's own modules, what a kernel imports as it starts, before any cell: the
    # modules of its history and of %debug, and its debugger (ipykernel.debugger imports debugpy,
    # about 0.06 s of every kernel's start).
    import pdb  # noqa: F401
    import sqlite3  # noqa: F401

    import ipykernel.ipkernel
    import ipykernel.kernelapp
    import ipykernel_launcher  # noqa: F401

    try:
        import ipykernel.debugger  # noqa: F401
    except ImportError:
        pass

    from grader import forkserver, kernel_launcher, probe_runner

    del forkserver, kernel_launcher, probe_runner

    try:  # numpy.random too: every fork reseeds it (_fresh_process_state), about 0.02 s to import
        import numpy.random  # noqa: F401
    except ImportError:
        pass
    # What the course's tests import as their reference, paid here once per grading run instead of
    # in every kernel and probe: PyTorch (torch.autograd; about 0.85 s) and SciPy's special
    # functions (about 0.14 s). Neither import starts a thread; every fork reseeds PyTorch's
    # generator, as a fresh process gets a random seed.
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def _run_child(request: dict) -> None:
    """In the forked child: enter the sandbox and become the kernel (never returns)."""
    from grader.forkserver import run_child  # the child's exit, shared with the grading workers

    def kernel() -> None:
        # the zygote's own handlers and wakeup pipe are not the kernel's
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.closerange(3, 1 << 16)  # the zygote's socket and the other stubs' connections
        from grader import kernel_launcher

        env, probe = kernel_launcher.enter([request["config"], *request["argv"]])
        os.environ.clear()
        os.environ.update(env)
        _fresh_process_state(os.getcwd())
        if probe:
            from grader import probe_runner

            sys.argv = [probe_runner.__file__]
            probe_runner.main()
        else:  # as `python -m ipykernel_launcher ARGS` would
            import runpy

            sys.argv = ["ipykernel_launcher", *kernel_launcher.KERNEL_ARGV[2:]]
            runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)

    run_child(kernel)


def _fresh_process_state(workdir: str) -> None:
    """What a new interpreter would have and a fork does not: fresh seeds, its folder on the
    path."""
    import random

    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.seed()
    sys.path[0] = workdir
    from grader import patches

    patches.unblock_rfc3987_syntax()  # blocked for the grader's own speed, not the student's
    sys.stdout = open(1, "w", closefd=False, buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False, buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
    if os.environ.get("PYTHONFAULTHANDLER"):  # read at start-up only, so a fork must ask for it
        import faulthandler

        faulthandler.enable()


def serve(sock_path: str, modules: tuple[str, ...] = PRELOAD) -> None:
    """Import ``modules`` (see :func:`preload`), then accept requests on ``sock_path`` until
    terminated."""
    preload(modules)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(64)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, ("accept", None))
    # The orphans of its forks come back to the zygote, to be reaped here: a sandboxed kernel is
    # process 1 of its PID namespace, the child of a fork of the zygote; when the job's end kills
    # both, the kernel would otherwise be left as a zombie for the system's init to reap, some time
    # after the grading run ended.
    adopted = _adopt_orphans()
    if adopted is not None:
        sel.register(adopted, selectors.EVENT_READ, ("orphan", None))
    if stat.S_ISFIFO(os.fstat(0).st_mode):  # started by start(): its end of the pipe is closed when
        sel.register(0, selectors.EVENT_READ, ("parent", None))  # the run ends or its process dies
    children: dict[int, tuple] = {}  # pid -> (stub connection, pidfd)
    try:
        while True:
            for key, _ in sel.select():
                kind, data = key.data
                if kind == "accept":
                    conn, _ = listener.accept()
                    sel.register(conn, selectors.EVENT_READ, ("request", bytearray()))
                elif kind == "request":
                    _on_request(key.fileobj, data, sel, children)
                elif kind == "stub":  # the stub closed its end (or died): end its kernel
                    try:
                        eof = not key.fileobj.recv(1)
                    except OSError:
                        eof = True
                    if eof:
                        sel.unregister(key.fileobj)
                        try:
                            os.kill(data, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                elif kind == "exit":
                    _on_exit(data, sel, children)
                elif kind == "orphan":  # SIGCHLD: maybe an adopted orphan ended
                    try:
                        os.read(adopted, 4096)
                    except BlockingIOError:
                        pass
                    _reap_orphans(children)
                elif kind == "parent" and not os.read(0, 4096):  # no grading run left to serve
                    return
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in children:  # reaped here: the zygote exits at once, and leaves no zombie behind
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        if adopted is not None:  # and the orphans their ends left to it
            _reap_orphans({}, kill=True)


def _adopt_orphans() -> int | None:
    """Make this process the reaper of its descendants' orphans (``PR_SET_CHILD_SUBREAPER``) and
    return the read end of a pipe that SIGCHLD wakes (``signal.set_wakeup_fd``); None where the
    system does not allow it (orphans then go to init, as before)."""
    import ctypes

    pr_set_child_subreaper = 36
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) != 0:
            return None
    except (OSError, AttributeError):
        return None
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that the wakeup fd is written
    signal.set_wakeup_fd(write)
    return read


def _reap_orphans(children: dict, kill: bool = False, wait: float = 2.0) -> None:
    """Reap the children of this process that it did not fork itself (not in ``children``: those
    are reaped through their pidfd) and have ended; with ``kill``, end them first and wait up to
    ``wait`` seconds for each."""
    try:
        with open(f"/proc/self/task/{os.getpid()}/children") as fh:
            pids = [int(p) for p in fh.read().split()]
    except (OSError, ValueError):
        return
    deadline = time.monotonic() + wait
    for pid in pids:
        if pid in children:
            continue
        if kill:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        while True:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done or not kill or time.monotonic() > deadline:
                break
            time.sleep(0.002)


def _on_request(conn, buffer: bytearray, sel, children) -> None:
    chunk = conn.recv(65536)
    if not chunk:
        sel.unregister(conn)
        conn.close()
        return
    buffer += chunk
    if b"\n" not in buffer:
        return
    sel.unregister(conn)
    try:
        request = json.loads(buffer.split(b"\n", 1)[0])
    except ValueError:
        request = None
    if not (isinstance(request, dict) and isinstance(request.get("config"), str)
            and isinstance(request.get("argv"), list)):
        conn.close()
        return
    pid = os.fork()
    if pid == 0:
        _run_child(request)
    pidfd = os.pidfd_open(pid)
    children[pid] = (conn, pidfd)
    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    sel.register(conn, selectors.EVENT_READ, ("stub", pid))
    sel.register(pidfd, selectors.EVENT_READ, ("exit", pid))


def _on_exit(pid: int, sel, children) -> None:
    conn, pidfd = children.pop(pid)
    sel.unregister(pidfd)
    os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    try:
        sel.unregister(conn)
    except (KeyError, ValueError):
        pass
    try:
        conn.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
    except OSError:
        pass
    conn.close()


# ---------------------------------------------------------------------------------------------
# for the grading run: start, wait for, stop


def start(work_root: Path, modules: tuple[str, ...] = PRELOAD):
    """Start :mod:`grader.zygote` with its socket in a folder only this user can enter, preloading
    ``modules`` (see :func:`preloads_for`)."""
    from grader.kernel_launcher import kernel_env

    folder = work_root / "zygote"
    folder.mkdir(mode=0o700)
    env = kernel_env(os.environ)
    env["PYTHONPATH"] = os.environ.get("GRADER_KERNEL_PYTHONPATH", "")  # as the kernelspec sets it
    log = open(folder / "zygote.log", "wb")  # noqa: SIM115 - the child keeps its own copy
    try:
        proc = subprocess.Popen([sys.executable, "-m", "grader.zygote", "serve",
                                 str(folder / "socket"), *modules], env=env,
                                stdin=subprocess.PIPE,
                                stdout=log, stderr=log, start_new_session=True)
    finally:
        log.close()
    proc.socket_path = str(folder / "socket")
    return proc


def wait_ready(proc, timeout: float = 30.0) -> str | None:
    """The zygote's socket once it listens, or None (kernels then start the direct way)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(proc.socket_path)
            return proc.socket_path
        except OSError:
            time.sleep(0.02)
        finally:
            probe.close()
    return None


def stop(proc) -> None:
    if proc.stdin is not None:
        proc.stdin.close()
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"] and len(argv) >= 2:
        try:
            # returns, or raises SystemExit (SIGTERM), once its kernels are killed
            serve(argv[1], tuple(argv[2:]))
        except SystemExit:
            pass
        # Without the interpreter's teardown (ipykernel, NumPy, debugpy: about 0.1 s that each
        # grading run waited for in stop()): nothing is left to flush or save.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    if argv[:1] == ["kernel"] and len(argv) >= 3:
        return stub(argv[1], argv[2], argv[3:])
    print("usage: python -m grader.zygote serve SOCKET [MODULE...] | "
          "kernel SOCKET CONFIG ARGS...",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
