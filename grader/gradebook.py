"""The course's and each job's nbgrader gradebook: the one module that opens one.

Everything else asks here: :func:`open_gradebook` (by path), what the course gradebook knows
(:func:`unknown_assignments`, :func:`read_due_dates`, :func:`read_prior`, :func:`submissions`), one
submission's grades and comments (:func:`submission_cells`), the
template's copy without students (:func:`copy_without_students`), the late penalties of the course's
plugin (:func:`late_penalties`, :func:`refresh_late_penalties`) and the read-back of the scores into
the results (:func:`read_back`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from nbgrader.api import (
    Assignment,
    BaseCell,
    Comment,
    Grade,
    Gradebook,
    MissingEntry,
    Notebook,
    SubmittedAssignment,
    SubmittedNotebook,
)
from nbgrader.preprocessors import AssignLatePenalties

from . import patches
from .course import Course, nbgrader_config
from .types import FAILED, GRADED, MANUAL, Job, Result

__all__ = ["MissingEntry", "open_gradebook"]


def open_gradebook(db: Path) -> Gradebook:
    """nbgrader's ``Gradebook`` of the SQLite file ``db`` (created when missing), for a with block.

    A new database is stamped with the schema's revision computed in this process
    (:func:`grader.patches.in_process_alembic`).
    """
    patches.in_process_alembic()
    return Gradebook(f"sqlite:///{db}")


def submission_cells(gb: Gradebook, assignment: str, student: str) -> tuple[dict, dict]:
    """The grades and the comments of ``student``'s submission of ``assignment`` in ``gb``.

    Returns ``{(notebook, cell name): Grade}`` and ``{(notebook, cell name): Comment}``, nbgrader's
    own rows (to read or change, then commit), each fetched in one query; both empty when there is
    no such submission. The same rows as ``gb.find_grade`` and ``gb.find_comment`` give (a grade of
    a grade or task cell, a comment of a solution or task cell), without a query per cell.
    """

    def rows(model):
        return (gb.db.query(model, Notebook.name, BaseCell.name)
                .join(BaseCell, BaseCell.id == model.cell_id)
                .join(SubmittedNotebook, SubmittedNotebook.id == model.notebook_id)
                .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
                .join(SubmittedAssignment,
                      SubmittedAssignment.id == SubmittedNotebook.assignment_id)
                .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
                .filter(Assignment.name == assignment, SubmittedAssignment.student_id == student))

    return ({(nb, cell): grade for grade, nb, cell in rows(Grade)},
            {(nb, cell): comment for comment, nb, cell in rows(Comment)})


def unknown_assignments(course: Course, assignments: list[str]) -> list[str]:
    """Those of ``assignments`` the course gradebook does not know (all of them without one)."""
    db = course.root / "gradebook.db"
    if not db.exists():
        return sorted(assignments)
    unknown = []
    with open_gradebook(db) as gb:
        for a in sorted(assignments):
            try:
                gb.find_assignment(a)
            except MissingEntry:
                unknown.append(a)
    return unknown


def read_due_dates(course: Course, assignments: list[str]) -> dict:
    """assignment -> due date (a naive UTC datetime), for those that have one in the gradebook."""
    db = course.root / "gradebook.db"
    if not db.exists():
        return {}
    due = {}
    with open_gradebook(db) as gb:
        for a in assignments:
            try:
                duedate = gb.find_assignment(a).duedate
            except MissingEntry:
                continue
            if duedate is not None:
                due[a] = duedate
    return due


def set_due_dates(db: Path, due_dates: dict) -> None:
    """Give each assignment of ``due_dates`` (assignment -> due date) its due date in ``db``."""
    with open_gradebook(db) as gb:
        for a, duedate in due_dates.items():
            gb.update_or_create_assignment(a, duedate=duedate)


def copy_without_students(source: Path, db: Path) -> None:
    """A copy ``db`` of the gradebook ``source`` without its students (their submissions, grades and
    comments): the assignments, their cells and due dates stay."""
    src, copy = sqlite3.connect(source), sqlite3.connect(db)
    try:
        src.backup(copy)  # consistent even while the formgrader writes
    finally:
        src.close()
        copy.close()
    with open_gradebook(db) as gb:
        patches.delete_students(gb)
    conn = sqlite3.connect(db)
    try:
        conn.execute("VACUUM")  # each job copies it: no free pages
    finally:
        conn.close()


def read_prior(course: Course, jobs: list[Job]) -> list[dict | None]:
    """What a person already entered for each job's submission: extension, manual grades, comments.

    Each job starts from this, so that the late penalty and the feedback it renders are the ones
    plain nbgrader would give against the course gradebook. ``None`` for a job whose submission has
    none of these (never graded, or graded with nothing entered by a person): its job has nothing
    to seed.
    """
    db = course.root / "gradebook.db"
    if not db.exists():
        return [None] * len(jobs)
    out = []
    with open_gradebook(db) as gb:
        for job in jobs:
            try:
                sub = gb.find_submission(job.assignment, job.student)
            except MissingEntry:
                out.append(None)
                continue
            prior = {
                "extension": sub.extension,
                "grades": {(nb.name, g.name): (g.manual_score, g.extra_credit)
                           for nb in sub.notebooks for g in nb.grades
                           if g.manual_score is not None or g.extra_credit},
                "comments": {(nb.name, c.name): c.manual_comment
                             for nb in sub.notebooks for c in nb.comments if c.manual_comment},
            }
            out.append(prior if any(prior.values()) else None)
    return out


def submissions(course: Course) -> list[tuple[str, str]]:
    """(student, assignment) of every submission in the course gradebook (none without one)."""
    db = course.root / "gradebook.db"
    if not db.exists():
        return []
    with open_gradebook(db) as gb:
        return [(sub.student.id, assignment.name)
                for assignment in gb.assignments for sub in assignment.submissions]


def late_penalties(course: Course):
    """``late(student, notebook, seconds_late)``: the penalty of the course's nbgrader plugin.

    The same plugin and clamping (0 <= penalty <= score) as nbgrader's ``AssignLatePenalties``,
    applied to the course gradebook's score, so that a manual grade counts as it does in nbgrader.
    """

    assigner = AssignLatePenalties(config=nbgrader_config(course.root))
    assigner.init_plugin()

    def late(student, notebook, seconds_late):
        if not seconds_late or seconds_late <= 0:
            return None
        value = assigner.plugin_inst.late_submission_penalty(student, notebook.score, seconds_late)
        return None if value is None else patches.clamp_late_penalty(assigner, notebook, value)

    return late


def refresh_late_penalties(course: Course) -> None:
    """Recompute every late penalty from the gradebook's current scores.

    nbgrader computes a penalty when it autogrades; a percentage of a score that a person has since
    raised or lowered in the formgrader would be stale. This applies the course's plugin to today's
    scores, exactly as a regrade (:func:`grader.merge.merge`) would.
    """
    db = course.root / "gradebook.db"
    if not db.exists():
        return
    late = late_penalties(course)
    with open_gradebook(db) as gb:
        for assignment in gb.assignments:
            for sub in assignment.submissions:
                for nb in sub.notebooks:
                    nb.late_submission_penalty = late(sub.student.id, nb, sub.total_seconds_late)
        gb.db.commit()


def read_back(results: list[Result], course: Course) -> None:
    """Fill each result from the course gradebook: what the formgrader shows is what we report.

    The score is after the late penalty (as ``nbgrader export`` computes it); a submission with a
    question no person has graded yet is ``needs manual grading``.
    """
    with open_gradebook(course.root / "gradebook.db") as gb:
        for r in results:
            try:
                student = gb.find_student(r.student)
                r.first_name, r.last_name = student.first_name or "", student.last_name or ""
            except MissingEntry:
                pass
            if r.status == FAILED:
                continue
            try:
                sub = gb.find_submission(r.assignment, r.student)
            except MissingEntry:
                continue
            r.raw_score = float(sub.score)
            r.late_penalty = float(sub.late_submission_penalty or 0.0)
            r.score = r.raw_score - r.late_penalty
            r.max_score = float(sub.max_score)
            r.seconds_late = float(sub.total_seconds_late)
            r.timestamp = sub.timestamp.isoformat(sep=" ") + " UTC" if sub.timestamp else ""
            pending = [f"{nb.name}/{g.name}" for nb in sub.notebooks for g in nb.grades
                       if g.needs_manual_grade]
            r.needs_manual_grade = bool(pending)
            if pending:
                note = f"{len(pending)} question(s) need manual grading: {', '.join(pending)}"
                if r.status == GRADED:
                    r.status, r.reason = MANUAL, note
                elif note not in r.reason:
                    r.reason = f"{r.reason}; {note}" if r.reason else note
            elif r.status == MANUAL:
                r.status, r.reason = GRADED, ""
