"""The class roster (``make roster``): ``students.csv`` as ``nbgrader db student import`` reads."""

from __future__ import annotations

import csv
import subprocess

import pytest
from coursekit import REPO, make_course, nbgrader

pytestmark = pytest.mark.filterwarnings("ignore:.*not in session")


def _roster():
    with open(REPO / "students.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_the_example_roster_lists_every_sample_student_once():
    rows = _roster()
    ids = [r["id"] for r in rows]
    samples = sorted(p.name for p in (REPO / "samples" / "submitted").iterdir() if p.is_dir())
    assert sorted(ids) == samples, "students.csv must list exactly the sample students"
    assert len(set(ids)) == len(ids)
    for r in rows:
        assert r["first_name"] and r["last_name"] and "@" in r["email"], r


def test_make_roster_runs_nbgraders_import():
    out = subprocess.run(["make", "-n", "roster"], cwd=REPO, capture_output=True, text=True,
                         check=False)
    assert "nbgrader db student import students.csv" in out.stdout, out.stdout + out.stderr


def test_the_import_fills_the_gradebook(tmp_path):
    from nbgrader.api import Gradebook

    course = make_course(tmp_path / "course", [])
    nbgrader(course, "db", "student", "import", str(REPO / "students.csv"))
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        got = {s.id: (s.first_name, s.last_name, s.email) for s in gb.students}
    assert got == {r["id"]: (r["first_name"], r["last_name"], r["email"]) for r in _roster()}
