"""`make lab` serves JupyterLab on 127.0.0.1 with nbgrader's extensions answering.

The server is started exactly as a student starts it (the Makefile target), on a free port with a
token, and its whole process group is stopped afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from coursekit import REPO

TOKEN = "course-test-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, resp.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("lab") / "lab.log"
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(log.parent / "runtime"))
    with open(log, "w") as out:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "lab", f"PORT={port}",
             f"LAB_ARGS=--no-browser --IdentityProvider.token={TOKEN}"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                _get(f"{base}/api/status?token={TOKEN}", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"make lab did not come up:\n{log.read_text()}")
                time.sleep(0.5)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        deadline = time.monotonic() + 15  # jupyter shuts its kernels and extensions down first
        while _leftovers() and time.monotonic() < deadline:
            time.sleep(0.2)
        left = _leftovers()
        assert not left, f"make lab left processes behind: {left}"


def _leftovers() -> list[str]:
    out = subprocess.run(["pgrep", "-f", f"IdentityProvider.token={TOKEN}"], capture_output=True,
                         text=True).stdout.split()
    return [pid for pid in out if pid != str(os.getpid())]


def test_lab_page_answers_on_loopback(lab):
    status, body = _get(f"{lab}/lab?token={TOKEN}")
    assert status == 200 and "JupyterLab" in body


def test_nbgrader_lab_extension_is_enabled(lab):
    _, body = _get(f"{lab}/lab/api/extensions?token={TOKEN}")
    names = {ext["name"] for ext in json.loads(body)}
    assert "jupyter-nbgrader" in names, f"nbgrader's lab extension is not served: {sorted(names)}"
    assert "jupyter-widgets-jupyterlab-manager" in names, "ipywidgets' lab extension is missing"


def test_formgrader_sees_the_course_assignments(lab):
    _, body = _get(f"{lab}/formgrader/api/assignments?token={TOKEN}")
    names = {a["name"] for a in json.loads(body)}
    expected = {p.name for p in (REPO / "solutions").iterdir() if p.is_dir()}
    assert expected <= names, f"formgrader lists {sorted(names)}, the course has {sorted(expected)}"


def test_assignment_list_answers_for_the_course(lab):
    status, body = _get(f"{lab}/assignments?course_id=ann-course&token={TOKEN}")
    assert status == 200 and json.loads(body)["success"], body

