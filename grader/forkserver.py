"""The grading workers' fork server: a fresh interpreter that imports the grading code once and
forks one worker per job (:class:`Workers`).

It knows nothing of grading: a worker calls the function it is given. It is a plain subprocess,
so any process may start it, a daemonic one too (a Dask worker under its nanny).
"""

from __future__ import annotations

import json
import os
import pickle
import selectors
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import NoReturn

# What the fork server imports (and warms up, grader._preload) once, for every worker it forks.
WORKER_PRELOAD = ("grader", "nbgrader.apps", "nbgrader.api", "grader.job", "grader.pool",
                  "grader._preload")


@dataclass
class Worker:
    """One grading worker of :class:`Workers`: its pid (also its process group and session) and,
    once it ended, its exit code (negative: the signal that killed it, ``None``: unknown, the fork
    server was lost)."""

    key: int
    pid: int | None = None
    exitcode: int | None = None
    ended: bool = False

    @property
    def alive(self) -> bool:
        return not self.ended


class Workers:
    """A fork server for the grading workers, started as a fresh interpreter.

    It imports nbgrader and warms up once (:data:`WORKER_PRELOAD`), then forks one worker per job,
    so each worker starts warm and clean: never a fork of the caller, whose threads and event-loop
    state a child must not inherit. It is a plain subprocess, so any process may start it, a
    daemonic one too (a Dask worker under its nanny, or any ``LocalCluster`` worker, which may not
    start ``multiprocessing`` children).

    Protocol, over a socket pair (pickled messages of :mod:`multiprocessing.connection`): the caller
    sends ``("start", key, payload)``, ``payload`` the pickle of ``(function, args)``; the server
    forks a worker, the leader of a session of its own, which calls ``function(*args)``, and answers
    ``("started", key, pid)``, then ``("exited", key, exitcode)`` when the worker ends. When the
    caller's end closes (the run is over, or the caller died), the server kills every worker still
    running and exits: no worker outlives the run that started it.
    """

    def __init__(self, preload: tuple[str, ...] = WORKER_PRELOAD):
        mine, theirs = socket.socketpair()
        code = ("import json, sys; sys.path[:] = json.loads(sys.argv[2]); "
                "from grader.forkserver import serve_workers; "
                "serve_workers(int(sys.argv[1]), sys.argv[3:]); "
                # its workers are killed and reaped: exit without the interpreter's teardown of
                # nbgrader and the rest (about 0.3 s at the end of every grading run)
                "sys.stdout.flush(); sys.stderr.flush(); import os; os._exit(0)")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code, str(theirs.fileno()), json.dumps(sys.path), *preload],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            theirs.close()
        self.conn = Connection(mine.detach())
        self.workers: dict[int, Worker] = {}
        self._keys = 0

    def start(self, target, *args) -> Worker:
        """Fork a worker that calls ``target(*args)`` (both pickled: module-level functions and
        plain data); return it once it runs."""

        worker = Worker(self._keys)
        self._keys += 1
        self.workers[worker.key] = worker
        if self.conn is None:
            worker.ended = True
            return worker
        try:
            self.conn.send(("start", worker.key, pickle.dumps((target, args))))
            while worker.pid is None and self.conn is not None:
                self._handle(self.conn.recv())
        except (OSError, EOFError):
            self._lost()
        return worker

    def wait(self, timeout: float) -> None:
        """Take in what the server says within ``timeout`` seconds (sleep if it is gone)."""
        if self.conn is None:
            time.sleep(timeout)
            return
        try:
            ready = self.conn.poll(timeout)
            while ready:
                self._handle(self.conn.recv())
                ready = self.conn.poll(0)
        except (OSError, EOFError):
            self._lost()

    def join(self, worker: Worker, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for ``worker`` to end."""
        deadline = time.monotonic() + timeout
        while worker.alive and time.monotonic() < deadline:
            self.wait(max(0.0, min(0.05, deadline - time.monotonic())))

    def close(self) -> None:
        """Stop the server; it kills any worker still running."""

        if self.conn is not None:
            self.conn.close()
            self.conn = None
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _handle(self, message) -> None:
        kind, key, value = message
        worker = self.workers[key]
        if kind == "started":
            worker.pid = value
        else:
            worker.exitcode, worker.ended = value, True
            del self.workers[key]

    def _lost(self) -> None:
        """The server is gone, and its workers with it."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        for worker in self.workers.values():
            worker.ended = True
        self.workers.clear()


def serve_workers(fd: int, preload: list[str]) -> None:
    """The fork server of :class:`Workers` (a fresh interpreter; ``fd`` is its end of the socket
    pair). Single-threaded, so forking it is safe."""

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is the caller's to handle
    for name in preload:
        try:
            __import__(name)
        except ImportError:
            pass
    conn = Connection(fd)
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ, None)
    children: dict[int, tuple[int, int]] = {}  # pid -> (key, pidfd)
    try:
        while True:
            for key, _ in sel.select():
                if key.data is None:  # a request, or the caller's end closed
                    try:
                        _, ident, payload = conn.recv()
                    except (EOFError, OSError):
                        return
                    pid = os.fork()
                    if pid == 0:
                        _worker_main(payload, [fd, sel.fileno(),
                                               *(pidfd for _, pidfd in children.values())])
                    try:  # the child does the same: its group exists before anyone hears its pid
                        os.setpgid(pid, pid)
                    except OSError:  # it has already ended, or made the group itself
                        pass
                    pidfd = os.pidfd_open(pid)
                    children[pid] = (ident, pidfd)
                    sel.register(pidfd, selectors.EVENT_READ, pid)
                    conn.send(("started", ident, pid))
                else:  # a worker ended
                    pid = key.data
                    ident, pidfd = children.pop(pid)
                    sel.unregister(pidfd)
                    os.close(pidfd)
                    _, status = os.waitpid(pid, 0)
                    conn.send(("exited", ident, os.waitstatus_to_exitcode(status)))
    except (BrokenPipeError, ConnectionResetError):
        return  # the caller died
    finally:
        for pid in children:
            for kill in (os.killpg, os.kill):  # its group, and itself if it made none yet
                try:
                    kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        for pid in children:  # reaped here: no zombie is left for init
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def run_child(body: Callable[[], object]) -> NoReturn:
    """End a freshly forked child with ``body``'s outcome, never returning into the parent's code.

    The exit code is 0 when ``body`` returns, a ``SystemExit``'s code, or 1 with the traceback on
    stderr (which the parent reports) when it raises; output is flushed before ``os._exit``. Used by
    the workers forked here and by the kernels the zygote forks.
    """
    code = 1
    try:
        body()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - the parent reports a child that ends without a result
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _worker_main(payload: bytes, inherited: list[int]) -> NoReturn:
    """In a worker just forked by :func:`serve_workers`: a process group of its own, then the job
    (never returns)."""

    def job() -> None:
        for fd in inherited:
            os.close(fd)
        os.setpgid(0, 0)  # one process group to kill if the job overruns (the server sets it too)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        target, args = pickle.loads(payload)  # sent by the grading run itself, never by a student
        target(*args)

    run_child(job)


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
