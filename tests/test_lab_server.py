"""`make lab` serves JupyterLab on 127.0.0.1 with nbgrader's extensions answering.

The server is started exactly as a student starts it (the Makefile target), in a fresh copy of the
course (no gradebook, no exchange: what a clone has), on a free port with a token, and its whole
process group is stopped afterwards (tests/labkit.py).
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from labkit import copy_course, serve_lab

TOKEN = "course-test-token"


def _get(url: str, timeout: float = 60.0):
    # The first formgrader request creates the gradebook and scans the assignments: not instant.
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, resp.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return copy_course(tmp_path_factory.mktemp("lab-course") / "course")


@pytest.fixture(scope="module")
def lab(course, tmp_path_factory):
    with serve_lab(course, tmp_path_factory.mktemp("lab"), TOKEN) as (base, proc):
        _lab_procs[base] = proc
        yield base


_lab_procs: dict = {}


def test_lab_page_answers_on_loopback(lab):
    status, body = _get(f"{lab}/lab?token={TOKEN}")
    assert status == 200 and "JupyterLab" in body


def test_nbgrader_lab_extension_is_enabled(lab):
    _, body = _get(f"{lab}/lab/api/extensions?token={TOKEN}")
    names = {ext["name"] for ext in json.loads(body)}
    assert "jupyter-nbgrader" in names, f"nbgrader's lab extension is not served: {sorted(names)}"
    assert "jupyter-widgets-jupyterlab-manager" in names, "ipywidgets' lab extension is missing"


def test_formgrader_sees_the_course_assignments(lab, course):
    _, body = _get(f"{lab}/formgrader/api/assignments?token={TOKEN}")
    names = {a["name"] for a in json.loads(body)}
    expected = {p.name for p in (course / "solutions").iterdir() if p.is_dir()}
    assert expected <= names, f"formgrader lists {sorted(names)}, the course has {sorted(expected)}"


def test_assignment_list_answers_for_the_course(lab):
    status, body = _get(f"{lab}/assignments?course_id=ann-course&token={TOKEN}")
    assert status == 200 and json.loads(body)["success"], body



def test_lab_kernels_are_not_forced_to_a_headless_backend(lab):
    """Kernels inherit the server's environment: MPLBACKEND=Agg there would hide every figure."""
    import psutil

    servers = [p for p in psutil.Process(_lab_procs[lab].pid).children(recursive=True)
               if any("jupyter" in part for part in p.cmdline()[:2])]
    assert servers, "no jupyter process under make lab"
    backend = servers[0].environ().get("MPLBACKEND")
    assert backend in (None, "", "module://matplotlib_inline.backend_inline"), (
        f"make lab starts JupyterLab with MPLBACKEND={backend!r}: students would see no plots")
