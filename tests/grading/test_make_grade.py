"""`make grade`'s pipeline on the real course: bundled samples, bad input, nothing lost.

Runs ``python -m grader run`` on a temporary copy of the course with the first assignment's bundled
samples plus a student whose notebook is not JSON and one whose notebook is missing: the two are
reported as failed with their reasons, everyone else gets exactly the score recorded in
``samples/expected/``, and a later run that grades only a newcomer loses nobody's grade.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coursekit import REPO, assignment_names

pytestmark = pytest.mark.grading


def _run(course: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run([sys.executable, "-m", "grader", "run", "--course", str(course),
                           "--workers", "2", "--no-progress", *extra], env=env,
                          capture_output=True, text=True, timeout=600)


def _rows(path: Path) -> dict:
    with open(path, newline="") as fh:
        return {(r["student"], r["assignment"]): r for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    assignment = assignment_names()[0]
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
    os.chmod(root, 0o755)
    samples = REPO / "samples" / "submitted"
    for student in samples.iterdir():
        if (student / assignment).is_dir():
            shutil.copytree(student / assignment, root / "submitted" / student.name / assignment)
    (root / "submitted" / "broken-json" / assignment).mkdir(parents=True)
    for nb in (REPO / "exercises" / assignment).glob("*.ipynb"):
        (root / "submitted" / "broken-json" / assignment / nb.name).write_text("{ not json")
    (root / "submitted" / "no-notebook" / assignment).mkdir(parents=True)
    proc = _run(root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root, assignment, proc.stdout


def test_releases_are_regenerated(course):
    root, assignment, _ = course
    generated = sorted(p.name for p in (root / "exercises" / assignment).glob("*.ipynb"))
    assert generated == sorted(p.name for p in (REPO / "exercises" / assignment).glob("*.ipynb"))


def test_bad_submissions_fail_with_a_reason_and_never_score_zero(course):
    root, assignment, _ = course
    rows = _rows(root / "grades.csv")
    broken = rows[("broken-json", assignment)]
    missing = rows[("no-notebook", assignment)]
    assert broken["status"] == "failed" and "not valid notebook JSON" in broken["reason"]
    assert missing["status"] == "failed" and "missing" in missing["reason"]
    assert broken["score"] == "" and missing["score"] == ""


def test_everyone_else_gets_the_recorded_scores(course):
    root, assignment, stdout = course
    expected = json.loads((REPO / "samples" / "expected" / f"{assignment}.json").read_text())
    rows = _rows(root / "grades.csv")
    for student, grades in expected.items():
        row = rows[(student, assignment)]
        assert row["status"] == "graded", row
        assert float(row["score"]) == pytest.approx(sum(grades.values())), row
        assert student in stdout  # the printed table
        html = root / "feedback" / student / assignment
        assert any(html.glob("*.html")), f"no feedback for {student}"


def test_a_later_run_loses_no_earlier_grade(course):
    root, assignment, _ = course
    from nbgrader.api import Gradebook

    db = f"sqlite:///{root / 'gradebook.db'}"
    with Gradebook(db) as gb:
        before = {s.student.id: s.score for s in gb.assignment_submissions(assignment)}
    newcomer = root / "late" / "newcomer" / assignment
    newcomer.mkdir(parents=True)
    (newcomer / "x.ipynb").write_text("{}")
    proc = _run(root, "--submitted", str(root / "late"), "--no-release", "--csv",
                str(root / "late.csv"))
    assert proc.returncode == 0, proc.stderr
    with Gradebook(db) as gb:
        after = {s.student.id: s.score for s in gb.assignment_submissions(assignment)}
    assert after == before and before
