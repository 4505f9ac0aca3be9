"""The merge alone (grader/merge.py): a job's result into a hand-made course gradebook.

Each test builds nbgrader's gradebook for a one-notebook assignment (two grade cells, a solution
cell's comment), hands ``merge`` results as the jobs send them (``Result.cells`` and a job folder
with ``autograded/`` and ``feedback/``), and reads back with nbgrader's own API what the formgrader
would show: scores, comments, manual grades, flags and late penalties.
"""

from __future__ import annotations

import nbformat
import pytest
from nbformat import v4
from nbgrader.api import Gradebook, MissingEntry

from grader.course import Course, nbgrader_config
from grader.late import PerDayLatePenalty
from grader.merge import merge
from grader.types import FAILED, GRADED, REVIEW, Result

pytestmark = pytest.mark.filterwarnings("ignore:.*not in session")

DUE = "2026-12-01 12:00:00"


@pytest.fixture
def course(tmp_path):
    root = tmp_path / "course"
    root.mkdir()
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        gb.add_assignment("hw", duedate=DUE)
        gb.add_notebook("nb", "hw")
        gb.add_grade_cell("q1", "nb", "hw", max_score=2, cell_type="code")
        gb.add_grade_cell("q2", "nb", "hw", max_score=3, cell_type="code")
        gb.add_solution_cell("a2", "nb", "hw")
        gb.add_task_cell("t3", "nb", "hw", max_score=1, cell_type="markdown")
        gb.add_student("ann", first_name="Ann", last_name="A")
        gb.add_student("bob", first_name="Bob", last_name="B")
    return Course(root)


def _job(tmp_path, student: str, q1: float, q2: float, answer: str = "x = 1",
         stamp: str = "2026-11-30 12:00:00 UTC", name: str = "job") -> Result:
    """A graded job's result: its scores as the job's gradebook held them, its notebook with
    ``answer`` in the solution cell, a feedback page."""
    job_dir = tmp_path / f"{name}-{student}"
    auto = job_dir / "autograded" / student / "hw"
    auto.mkdir(parents=True)
    cell = v4.new_code_cell(answer)
    cell.metadata["nbgrader"] = {"grade_id": "a2", "solution": True, "grade": False}
    nbformat.write(v4.new_notebook(cells=[cell]), auto / "nb.ipynb")
    page = job_dir / "feedback" / student / "hw"
    page.mkdir(parents=True)
    (page / "nb.html").write_text(f"<p>{name}</p>")
    cells = {"grades": [["nb", "q1", q1, False], ["nb", "q2", q2, False]],
             "comments": [["nb", "a2", "No comment."]]}
    return Result(student, "hw", GRADED, job_dir=str(job_dir), timestamp=stamp, cells=cells)


def _grades(course: Course, student: str) -> dict:
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        sub = gb.find_submission("hw", student)
        nb = sub.notebooks[0]
        return {"grades": {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade)
                           for g in nb.grades if g.name != "t3"},
                "comment": gb.find_comment("a2", "nb", "hw", student).auto_comment,
                "score": sub.score, "penalty": nb.late_submission_penalty,
                "late": sub.total_seconds_late}


def test_a_new_submission_gets_the_jobs_scores_comments_and_files(course, tmp_path):
    """Every grade and comment the job wrote reaches the course gradebook, with its folders."""
    merge([_job(tmp_path, "ann", 2.0, 1.5)], course)
    got = _grades(course, "ann")
    assert got["grades"] == {"q1": (2.0, None, False), "q2": (1.5, None, False)}
    assert got["score"] == 3.5 and got["comment"] == "No comment."
    assert got["penalty"] is None and got["late"] == 0, "on time, yet a late penalty was set"
    assert (course.root / "autograded" / "ann" / "hw" / "nb.ipynb").is_file()
    assert (course.root / "feedback" / "ann" / "hw" / "nb.html").read_text() == "<p>job</p>"


def test_the_late_penalty_is_the_plugins_on_the_new_score(course, tmp_path):
    """A late submission's penalty is the course plugin's, computed on the score just merged (not
    on the score the gradebook held before)."""
    merge([_job(tmp_path, "bob", 0.0, 0.0, stamp="2026-12-03 13:00:00 UTC")], course)
    merge([_job(tmp_path, "bob", 2.0, 3.0, stamp="2026-12-03 13:00:00 UTC", name="again")],
          course)
    got = _grades(course, "bob")
    plugin = PerDayLatePenalty(config=nbgrader_config(course.root))
    expected = plugin.late_submission_penalty("bob", 5.0, got["late"])
    assert got["late"] == pytest.approx(2 * 86400 + 3600)
    assert expected > 0 and got["penalty"] == pytest.approx(expected)


def test_a_manual_grade_is_flagged_only_when_the_answer_or_the_autograde_changed(course,
                                                                                 tmp_path):
    """nbgrader's rule: a regrade flags a person's score for another look when the notebook's
    answers or the autograded score changed; an unchanged submission keeps its manual grade as it
    was."""
    merge([_job(tmp_path, "ann", 2.0, 1.5)], course)
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        grade = gb.find_grade("q2", "nb", "hw", "ann")
        grade.manual_score, grade.needs_manual_grade = 3.0, False
        gb.db.commit()
    merge([_job(tmp_path, "ann", 2.0, 1.5, name="same")], course)
    assert _grades(course, "ann")["grades"]["q2"] == (1.5, 3.0, False)
    merge([_job(tmp_path, "ann", 2.0, 1.5, answer="x = 2", name="edited")], course)
    assert _grades(course, "ann")["grades"]["q2"] == (1.5, 3.0, True), "changed answer not flagged"
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        gb.find_grade("q2", "nb", "hw", "ann").needs_manual_grade = False
        gb.db.commit()
    merge([_job(tmp_path, "ann", 2.0, 0.0, answer="x = 2", name="rescored")], course)
    assert _grades(course, "ann")["grades"]["q2"] == (0.0, 3.0, True), "new autoscore not flagged"
    assert _grades(course, "ann")["score"] == 5.0, "the manual score counts, not the autoscore"


def test_a_failed_regrade_keeps_manual_work_and_clears_the_autograders(course, tmp_path):
    merge([_job(tmp_path, "ann", 2.0, 1.5)], course)
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        gb.find_grade("q1", "nb", "hw", "ann").manual_score = 1.0
        gb.db.commit()
    failed = Result("ann", "hw", FAILED, reason="the kernel died")
    merge([failed], course)
    got = _grades(course, "ann")
    assert got["grades"] == {"q1": (None, 1.0, True), "q2": (None, None, True)}
    assert any("manual grades of an earlier grading are kept" in f for f in failed.findings)
    assert not (course.root / "autograded" / "ann" / "hw").exists()
    assert not (course.root / "feedback" / "ann" / "hw").exists()


def test_a_failed_regrade_without_manual_work_leaves_no_stale_score(course, tmp_path):
    merge([_job(tmp_path, "bob", 2.0, 3.0)], course)
    merge([Result("bob", "hw", FAILED, reason="the kernel died")], course)
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb, \
            pytest.raises(MissingEntry):
        gb.find_submission("hw", "bob")
    assert not (course.root / "feedback" / "bob" / "hw").exists()


def test_a_graded_result_without_its_grades_fails_instead_of_scoring_zero(course, tmp_path):
    """A result whose job sent back no grades (a worker of another version) is a failure with
    its reason: merging it would write a submission with no autograded score."""
    result = _job(tmp_path, "ann", 2.0, 1.5)
    result.cells = None
    merge([result], course)
    assert result.status == FAILED and "no grades" in result.reason
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb, \
            pytest.raises(MissingEntry):
        gb.find_submission("hw", "ann")


def test_a_grade_the_course_does_not_know_is_a_finding(course, tmp_path):
    """A job graded against another release (a cell the course gradebook lacks) says so."""
    result = _job(tmp_path, "ann", 2.0, 1.5)
    result.cells["grades"].append(["nb", "q9", 1.0, False])
    merge([result], course)
    assert "nb/q9: not in the course gradebook (run make release)" in result.findings
    assert _grades(course, "ann")["score"] == 3.5


def test_a_student_off_the_roster_is_kept_and_flagged(course, tmp_path):
    result = _job(tmp_path, "cyd", 1.0, 1.0)
    merge([result], course)
    assert result.status == REVIEW and "not on the roster" in result.findings[0]
    assert _grades(course, "cyd")["score"] == 2.0


def test_a_submissions_rows_are_the_ones_nbgrader_finds(course, tmp_path):
    """submission_cells, the merge's one query per table, gives every grade (of a grade or a task
    cell) and every comment (of a solution or a task cell) that find_grade and find_comment give,
    and nothing else; nothing for a submission that does not exist."""
    from grader import gradebook

    merge([_job(tmp_path, "ann", 2.0, 1.5), _job(tmp_path, "bob", 0.0, 3.0)], course)
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        grades, comments = gradebook.submission_cells(gb, "hw", "ann")
        assert set(grades) == {("nb", "q1"), ("nb", "q2"), ("nb", "t3")}
        assert set(comments) == {("nb", "a2"), ("nb", "t3")}
        for (nb, cell), grade in grades.items():
            assert grade.id == gb.find_grade(cell, nb, "hw", "ann").id
        for (nb, cell), comment in comments.items():
            assert comment.id == gb.find_comment(cell, nb, "hw", "ann").id
        assert gradebook.submission_cells(gb, "hw", "cyd") == ({}, {})
