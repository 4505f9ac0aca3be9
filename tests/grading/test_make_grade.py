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

pytestmark = [pytest.mark.grading, pytest.mark.filterwarnings("ignore:.*not in session")]


def _run(course: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run([sys.executable, "-m", "grader", "run", "--course", str(course),
                           "--workers", "2", "--no-progress", *extra], env=env,
                          capture_output=True, text=True, timeout=600, check=False)


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
    # A folder for an assignment the course does not have (closed, or misspelt).
    closed = root / "submitted" / "sample-overflow" / "00_closed"
    closed.mkdir(parents=True)
    (closed / "x.ipynb").write_text("{}")
    # A timestamp that is not a time.
    first = min(p for p in (root / "submitted").iterdir() if p.name.startswith("sample-"))
    (first / assignment / "timestamp.txt").write_text("yesterday, roughly")
    # A roster without one of the students, and a manual grade entered before any autograding.
    from nbgrader.api import Gradebook

    from grader.course import api_for

    api_for(root).generate_assignment(assignment, force=True)
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for student in sorted(p.name for p in (root / "submitted").iterdir()):
            if student != OFF_ROSTER:
                gb.update_or_create_student(student, first_name="F", last_name=student.upper())
        gb.add_submission(assignment, MANUAL_FIRST)
        grade = gb.find_submission(assignment, MANUAL_FIRST).notebooks[0].grades[0]
        grade.manual_score = 0.5
        gb.db.commit()
        manual = (grade.name, grade.notebook.name)
    proc = _run(root, "--timings", str(root.parent / f"{root.name}-timings.json"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root, assignment, proc.stdout, first.name, manual


OFF_ROSTER = "sample-overflow"
MANUAL_FIRST = "sample-partial"
# Samples the integrity scan flags for a person to look at (their scores stand).
FLAGGED = {"sample-nnlib-import": "which this assignment forbids"}


def test_releases_are_regenerated(course):
    root, assignment, *_ = course
    generated = sorted(p.name for p in (root / "exercises" / assignment).glob("*.ipynb"))
    assert generated == sorted(p.name for p in (REPO / "exercises" / assignment).glob("*.ipynb"))


def test_every_graded_job_carries_the_seconds_of_each_stage(course):
    """The profile of bench_grading.py: each graded job's result holds a timing for every stage,
    none negative, together no more than the job's own wall time; the run's parts are timed too."""
    from grader.job import STAGES

    root, assignment, *_ = course
    data = json.loads((root.parent / f"{root.name}-timings.json").read_text())
    graded = [j for j in data["jobs"] if j["status"] != "failed"]
    assert graded, "no graded job in the run"
    for j in graded:
        assert set(j["timings"]) == set(STAGES), (j["student"], sorted(j["timings"]))
        assert all(t >= 0 for t in j["timings"].values()), (j["student"], j["timings"])
        assert sum(j["timings"].values()) <= j["seconds"], (j["student"], j["timings"])
        # a graded job started its sandboxed kernel: the hook that times it was in place
        assert j["timings"]["kernel start"] > 0, (j["student"], j["timings"])
    assert set(data["run"]) == {"jobs", "merge", "alongside", "report"}
    assert all(t >= 0 for t in data["run"].values()), data["run"]


def test_bad_submissions_fail_with_a_reason_and_never_score_zero(course):
    root, assignment, *_ = course
    rows = _rows(root / "grades.csv")
    broken = rows[("broken-json", assignment)]
    missing = rows[("no-notebook", assignment)]
    assert broken["status"] == "failed" and "not valid notebook JSON" in broken["reason"]
    assert missing["status"] == "failed" and "missing" in missing["reason"]
    assert broken["score"] == "" and missing["score"] == ""


def test_everyone_else_gets_the_recorded_scores(course):
    root, assignment, stdout, *_ = course
    expected = json.loads((REPO / "samples" / "expected" / f"{assignment}.json").read_text())
    rows = _rows(root / "grades.csv")
    for student, grades in expected.items():
        row = rows[(student, assignment)]
        if student in (OFF_ROSTER, course[3]):
            assert row["status"] == "needs review", row
        elif student in FLAGGED:
            assert row["status"] == "needs review" and FLAGGED[student] in row["findings"], row
        elif student != MANUAL_FIRST:
            assert row["status"] in ("graded", "needs manual grading"), (
                f"{student}: {row['status']}, {row['reason']}; findings: {row['findings']}")
        if student == MANUAL_FIRST:
            continue  # one of its grades is the manual one, see below
        assert float(row["score"]) == pytest.approx(sum(grades.values())), row
        assert student in stdout  # the printed table
        html = root / "feedback" / student / assignment
        assert any(html.glob("*.html")), f"no feedback for {student}"


def test_a_later_run_loses_no_earlier_grade(course):
    root, assignment, *_ = course
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


def test_a_folder_for_no_assignment_is_reported(course):
    root, *_ = course
    row = _rows(root / "grades.csv")[("sample-overflow", "00_closed")]
    assert row["status"] == "failed" and "no assignment '00_closed'" in row["reason"]
    assert row["score"] == ""


def test_a_student_off_the_roster_is_graded_and_flagged(course):
    root, assignment, *_ = course
    row = _rows(root / "grades.csv")[(OFF_ROSTER, assignment)]
    assert row["score"] != "" and "not on the roster" in row["findings"]
    other = _rows(root / "grades.csv")[("sample-partial", assignment)]
    assert other["last_name"] == "SAMPLE-PARTIAL" and "roster" not in other["findings"]


def test_an_unreadable_timestamp_is_a_finding_not_a_crash(course):
    root, assignment, _, first, _ = course
    row = _rows(root / "grades.csv")[(first, assignment)]
    assert row["score"] != "" and "timestamp.txt holds no valid time" in row["findings"]
    assert row["seconds_late"] == "0" and row["timestamp"] == ""


def test_a_manual_grade_entered_before_autograding_is_kept(course):
    """nbgrader keeps a manual score through autograding and flags it for another look."""
    root, assignment, _, _, (grade_id, notebook) = course
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        grade = gb.find_grade(grade_id, notebook, assignment, MANUAL_FIRST)
        assert grade.manual_score == 0.5 and grade.auto_score is not None
        assert grade.needs_manual_grade
        score = gb.find_submission(assignment, MANUAL_FIRST).score
    row = _rows(root / "grades.csv")[(MANUAL_FIRST, assignment)]
    assert float(row["raw_score"]) == pytest.approx(score)
    assert "need manual grading" in row["reason"]


def test_a_job_is_seeded_only_with_what_a_person_entered(course, tmp_path):
    """read_prior: a graded submission with nothing entered by a person gives its job nothing to
    seed (None); a manual grade, or an extension, is handed to the job."""
    from nbgrader.api import Gradebook

    from grader import gradebook
    from grader.course import Course
    from grader.types import Job

    root, assignment, *_ = course
    shutil.copy(root / "gradebook.db", tmp_path / "gradebook.db")
    copy = Course(tmp_path)
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        others = [s.student.id for s in gb.find_assignment(assignment).submissions
                  if s.student.id != MANUAL_FIRST]
    plain, manual = gradebook.read_prior(copy, [Job(others[0], assignment, tmp_path),
                                                Job(MANUAL_FIRST, assignment, tmp_path)])
    assert plain is None, f"nothing was entered for {others[0]}, yet its job is seeded: {plain}"
    assert manual is not None and manual["grades"], manual
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        gb.grant_extension(assignment, others[0], hours=24)
    (extended,) = gradebook.read_prior(copy, [Job(others[0], assignment, tmp_path)])
    assert extended is not None and extended["extension"] is not None


def test_no_release_in_a_fresh_clone_records_the_assignment_and_loses_nothing(tmp_path):
    """A fresh clone has the sources and the committed releases but no gradebook.db: grading with
    --no-release records the assignment as nbgrader's generate_assignment would, then grades."""
    assignment = assignment_names()[0]
    expected = json.loads((REPO / "samples" / "expected" / f"{assignment}.json").read_text())
    students = ["sample-partial", "sample-unusual-correct"]
    root = tmp_path / "clone"
    shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
    shutil.copytree(REPO / "exercises" / assignment, root / "exercises" / assignment)
    os.chmod(root, 0o755)
    for student in students:
        shutil.copytree(REPO / "samples" / "submitted" / student / assignment,
                        root / "submitted" / student / assignment)
    release = {p.name: p.read_bytes() for p in (root / "exercises" / assignment).iterdir()}
    proc = _run(root, "--no-release")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert f"The gradebook did not know {assignment}" in proc.stdout
    rows = _rows(root / "grades.csv")
    for student in students:
        row = rows[(student, assignment)]
        assert row["status"] in ("graded", "needs manual grading"), row
        assert float(row["score"]) == pytest.approx(sum(expected[student].values())), row
    now = {p.name: p.read_bytes() for p in (root / "exercises" / assignment).iterdir()}
    assert now == release, "--no-release changed the committed release"
    from nbgrader.api import Gradebook

    released = {}
    for nb in sorted((root / "exercises" / assignment).glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        released[nb.stem] = sorted(c["metadata"]["nbgrader"]["grade_id"] for c in cells
                                   if c["metadata"].get("nbgrader", {}).get("grade"))
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        recorded = {nb.name: sorted(c.name for c in nb.grade_cells)
                    for nb in gb.find_assignment(assignment).notebooks}
        graded = sorted(s.student.id for s in gb.assignment_submissions(assignment))
    assert recorded == released
    assert graded == students
