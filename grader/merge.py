"""The merge: each job's outcome into the course's gradebook, ``autograded/`` and ``feedback/``,
once per submission, after every job of the run is in."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from . import cells, gradebook
from .course import Course
from .types import FAILED, GRADED, REVIEW, Result


def merge(results: list[Result], course: Course) -> None:
    """Put each job's outcome into the course: gradebook, ``autograded/`` and ``feedback/``.

    What nbgrader users rely on is kept: the submission's timestamp (and so its lateness, with any
    extension granted), the late penalty of the course's plugin, and everything a person entered in
    the formgrader (manual scores, comments, extra credit). A regrade replaces the autograder's
    part. A manual score is flagged for another look (``needs_manual_grade``) when the answers of
    its notebook or its autograded score changed since, as nbgrader does; an unchanged submission
    keeps its manual grades as they were. A failed job leaves no stale autograder score: the
    submission is removed, or, when a person already graded parts of it, its autograded scores are
    cleared and flagged for manual grading so the manual work is not lost.
    """
    with gradebook.open_gradebook(course.root / "gradebook.db") as gb:
        students = {s.id: s for s in gb.students}
        roster = {sid for sid, s in students.items() if s.first_name or s.last_name or s.email}
        late = gradebook.late_penalties(course)
        for r in results:
            if roster and r.student not in roster:
                r.findings.append(f"{r.student} is not on the roster: add them to students.csv "
                                  "and import it (make roster)")
                if r.status == GRADED:
                    r.status, r.reason = REVIEW, "not on the roster"
            if r.status != FAILED and r.cells is None:
                r.status = FAILED
                r.reason = "the job sent back no grades (a worker of another grader version?)"
            if r.status == FAILED:
                _merge_failed(gb, r)
                for kind in ("autograded", "feedback"):
                    shutil.rmtree(course.root / kind / r.student / r.assignment,
                                  ignore_errors=True)
                continue
            if r.student not in students:
                students[r.student] = gb.update_or_create_student(r.student)
            sub = gb.update_or_create_submission(r.assignment, r.student,
                                                 timestamp=r.timestamp or None)
            # fetched after update_or_create_submission, whose commit expires what was loaded
            grades, comments = gradebook.submission_cells(gb, r.assignment, r.student)
            changed = _changed_notebooks(course, r, grades)
            for nb, cell, auto_score, needs_manual_grade in r.cells["grades"]:
                grade = grades.get((nb, cell))
                if grade is None:
                    r.findings.append(f"{nb}/{cell}: not in the course gradebook (run make "
                                      "release)")
                    continue
                before = grade.auto_score
                grade.auto_score = auto_score
                if grade.manual_score is not None:
                    grade.needs_manual_grade = nb in changed or before != auto_score
                else:
                    grade.needs_manual_grade = needs_manual_grade
            for nb, cell, text in r.cells["comments"]:
                if (nb, cell) in comments:
                    comments[(nb, cell)].auto_comment = text
            # the notebooks' scores (SQL column properties) read again with the new grades, even
            # if nbgrader's update above left them loaded
            gb.db.flush()
            for nb in sub.notebooks:
                gb.db.expire(nb)
                nb.late_submission_penalty = late(r.student, nb, sub.total_seconds_late)
            gb.db.commit()
            for kind in ("autograded", "feedback"):
                dest = course.root / kind / r.student / r.assignment
                shutil.rmtree(dest, ignore_errors=True)
                src = Path(r.job_dir) / kind / r.student / r.assignment
                if r.job_dir and src.is_dir():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    # symlinks=True: a link the student's code left behind is copied as a link,
                    # never followed with the grader's rights.
                    shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns(
                        ".kernel-connection.json", ".ipynb_checkpoints"))


def _merge_failed(gb, r: Result) -> None:
    """A failed job leaves no stale autograder score: its submission is removed, or, when a person
    already graded parts of it, its autograded scores are cleared and flagged for manual grading."""
    try:
        gb.find_submission(r.assignment, r.student)
    except gradebook.MissingEntry:
        return
    grades, comments = gradebook.submission_cells(gb, r.assignment, r.student)
    if _has_manual_work(grades, comments):
        for grade in grades.values():
            grade.auto_score = None
            grade.needs_manual_grade = True
        gb.db.commit()
        r.findings.append("the manual grades of an earlier grading are kept; its autograded "
                          "scores were cleared")
    else:
        gb.remove_submission(r.assignment, r.student)


def _changed_notebooks(course: Course, r: Result, grades: dict) -> set[str]:
    """The notebooks whose answers differ from the ones graded before (in ``autograded/``), among
    those with a manual grade; only these need reading, and a regrade flags their manual grades
    for another look."""
    manual = {nb for (nb, _), grade in grades.items() if grade.manual_score is not None}
    if not manual:
        return set()
    old = _answers(course.root / "autograded" / r.student / r.assignment)
    new = _answers(Path(r.job_dir) / "autograded" / r.student / r.assignment)
    return {nb for nb in manual if old.get(nb) != new.get(nb)}


def _has_manual_work(grades: dict, comments: dict) -> bool:
    """Whether a person graded or commented any part of a submission in the formgrader, given its
    rows (:func:`grader.gradebook.submission_cells`)."""
    return (any(g.manual_score is not None or g.extra_credit for g in grades.values())
            or any(c.manual_comment for c in comments.values()))


def _answers(folder: Path) -> dict:
    """notebook name -> the sources of its answer and grade cells, to tell a changed submission."""

    out = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.ipynb")):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001, S112 - an unreadable old copy counts as changed
            continue
        out[path.stem] = [(cells.grade_id(c), c.source) for c in nb.cells if cells.is_graded(c)]
    return out
