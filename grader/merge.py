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
        roster = {s.id for s in gb.students if s.first_name or s.last_name or s.email}
        late = gradebook.late_penalties(course)
        for r in results:
            if roster and r.student not in roster:
                r.findings.append(f"{r.student} is not on the roster: add them to students.csv "
                                  "and import it (make roster)")
                if r.status == GRADED:
                    r.status, r.reason = REVIEW, "not on the roster"
            folder = course.root / "autograded" / r.student / r.assignment
            old_answers = _answers(folder)
            try:
                existing = gb.find_submission(r.assignment, r.student)
            except gradebook.MissingEntry:
                existing = None
            for kind in ("autograded", "feedback"):
                shutil.rmtree(course.root / kind / r.student / r.assignment, ignore_errors=True)
            if r.status == FAILED:
                if existing is not None and _has_manual_work(existing):
                    for nb in existing.notebooks:
                        for grade in nb.grades:
                            grade.auto_score = None
                            grade.needs_manual_grade = True
                    gb.db.commit()
                    r.findings.append("the manual grades of an earlier grading are kept; its "
                                      "autograded scores were cleared")
                elif existing is not None:
                    gb.remove_submission(r.assignment, r.student)
                continue
            job_dir = Path(r.job_dir)
            new_answers = _answers(job_dir / "autograded" / r.student / r.assignment)
            gb.update_or_create_student(r.student)
            sub = gb.update_or_create_submission(r.assignment, r.student,
                                                 timestamp=r.timestamp or None)
            with gradebook.open_gradebook(job_dir / "gradebook.db") as job_gb:
                job_sub = job_gb.find_submission(r.assignment, r.student)
                for job_nb in job_sub.notebooks:
                    changed = old_answers.get(job_nb.name) != new_answers.get(job_nb.name)
                    for job_grade in job_nb.grades:
                        try:
                            grade = gb.find_grade(job_grade.name, job_nb.name, r.assignment,
                                                  r.student)
                        except gradebook.MissingEntry:
                            r.findings.append(f"{job_nb.name}/{job_grade.name}: not in the "
                                              "course gradebook (run make release)")
                            continue
                        before = grade.auto_score
                        grade.auto_score = job_grade.auto_score
                        if grade.manual_score is not None:
                            grade.needs_manual_grade = (changed or before != job_grade.auto_score)
                        else:
                            grade.needs_manual_grade = job_grade.needs_manual_grade
                    for job_comment in job_nb.comments:
                        try:
                            comment = gb.find_comment(job_comment.name, job_nb.name,
                                                      r.assignment, r.student)
                        except gradebook.MissingEntry:
                            continue
                        comment.auto_comment = job_comment.auto_comment
            gb.db.commit()
            gb.db.expire_all()
            for nb in sub.notebooks:
                nb.late_submission_penalty = late(r.student, nb, sub.total_seconds_late)
            gb.db.commit()
            for kind in ("autograded", "feedback"):
                src = job_dir / kind / r.student / r.assignment
                if r.job_dir and src.is_dir():
                    dest = course.root / kind / r.student / r.assignment
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    # symlinks=True: a link the student's code left behind is copied as a link,
                    # never followed with the grader's rights.
                    shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns(
                        ".kernel-connection.json", ".ipynb_checkpoints"))


def _has_manual_work(submission) -> bool:
    """Whether a person graded or commented any part of ``submission`` in the formgrader."""
    for nb in submission.notebooks:
        if any(g.manual_score is not None or g.extra_credit for g in nb.grades):
            return True
        if any(c.manual_comment for c in nb.comments):
            return True
    return False


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
