"""Serve a throwaway copy of the course with `make lab`, as a student starts it; stop it cleanly.

Used by the server tests (tests/test_lab_server.py) and the browser tests (tests/e2e/). The copy
keeps the repository's own gradebook, submissions and notebooks untouched. JupyterLab is started
through the Makefile target with the running interpreter's virtual environment (never reinstalling
it), on a free port of 127.0.0.1 with a token; afterwards its whole process group is stopped and the
tests assert that no process of it is left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)

# Instructor state and local clutter that a fresh clone does not have.
TOP_LEVEL_SKIP = {".venv", ".git", "gradebook.db", "gradebook.db-journal", "submitted",
                  "autograded", "feedback", "release", "exchange", "grades.csv", ".nbgrader.log",
                  "test-artifacts", ".pytest_cache", ".hypothesis", ".ruff_cache", "build"}
ANYWHERE_SKIP = {"__pycache__", ".ipynb_checkpoints"}


def copy_course(dest: Path) -> Path:
    """Copy the repository to ``dest`` as a fresh clone has it (no venv, no grading state)."""

    def ignore(folder, names):
        skip = {n for n in names if n in ANYWHERE_SKIP or n.endswith(".egg-info")}
        if Path(folder) == REPO:
            skip |= TOP_LEVEL_SKIP & set(names)
        return skip

    shutil.copytree(REPO, dest, ignore=ignore, symlinks=True)
    return dest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def leftovers(marker: str) -> list[str]:
    """PIDs of processes whose command line contains ``marker`` (this process excluded)."""
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True,
                         check=False).stdout.split()
    return [pid for pid in out if pid != str(os.getpid())]


def stop_group(proc: subprocess.Popen, marker: str, what: str) -> None:
    """SIGTERM the process group of ``proc``; wait until nothing matching ``marker`` is left."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    deadline = time.monotonic() + 15  # jupyter shuts its kernels and extensions down first
    while leftovers(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = leftovers(marker)
    assert not left, f"{what} left processes behind: {left}"


@contextmanager
def serve_lab(course: Path, state: Path, token: str, settings: dict | None = None,
              env: dict | None = None):
    """Run `make lab` in ``course``; yield ``(base_url, proc)`` once the server answers.

    ``state`` receives the server's log, runtime files, workspaces and the JupyterLab user
    ``settings`` ({settings file name: values}). The environment is the caller's (or ``env``)
    without ``MPLBACKEND``, which the test run sets and a student's shell does not.
    """
    for name, values in (settings or {}).items():
        path = state / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port = free_port()
    log = state / "lab.log"
    env = dict(env or os.environ, JUPYTER_RUNTIME_DIR=str(state / "runtime"))
    env.pop("MPLBACKEND", None)
    lab_args = (f"--no-browser --IdentityProvider.token={token} "
                f"--LabApp.user_settings_dir={state / 'settings'} "
                f"--LabApp.workspaces_dir={state / 'workspaces'}")
    # -o: the shared environment is taken as installed, whatever the copy's file times say.
    with open(log, "w") as out:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "-C", str(course), "-o", str(VENV / ".installed"),
             "lab", f"VENV={VENV}", f"PORT={port}", f"LAB_ARGS={lab_args}"],
            cwd=course, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"make lab did not come up:\n{log.read_text()}") from None
                time.sleep(0.3)
        yield base, proc
    finally:
        stop_group(proc, f"IdentityProvider.token={token}", "make lab")
