"""Grades into the university's LMS: Canvas's gradebook import CSV and Moodle's grade import CSV.

``python -m grader export --to canvas|moodle FILE`` (or, with nbgrader's own command,
``nbgrader export --exporter=grader.export.CanvasExporter --to=FILE``, and ``MoodleExporter``)
writes one row per student and one column per assignment:

- the score is the one ``grades.csv`` shows: from the course gradebook, manual grades included,
  after the late penalty (refreshed from today's scores, as ``make report`` does);
- a student without a submission, or whose grading failed, gets an empty cell, never 0 (both LMS
  leave an empty cell alone on import);
- the students come from the roster (``students.csv``: ``id,first_name,last_name,email``; optional
  columns ``section``, ``canvas_id``, ``sis_user_id``, ``sis_login_id``, ``id_number``), in its
  order; a student with grades who is not on the roster is added at the end and listed as a
  warning, never dropped.

Canvas (its documented gradebook import): the columns ``Student`` ("Last, First"), ``ID``,
``SIS User ID``, ``SIS Login ID``, ``Section``, then one per assignment, and a second row
``Points Possible`` with each assignment's maximum, as Canvas's own export writes it. Canvas matches
a row by ``ID`` (the roster's ``canvas_id``), ``SIS User ID`` or ``SIS Login ID`` (the roster's
``sis_login_id``, else the course's student id, which is the hub login).

Moodle (its grade import, "CSV file"): the columns ``First name``, ``Last name``, ``ID number``
(the roster's ``id_number``, else the course's student id), ``Email address``, then one per
assignment; on import, map "Email address" (or "ID number") to the user field of the same name and
each assignment column to its grade item.
"""

from __future__ import annotations

import csv
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.plugins import ExportPlugin
from traitlets import Unicode

from . import report
from .course import Course
from .gradebook import open_gradebook, refresh_late_penalties
from .types import FAILED

FORMATS = ("canvas", "moodle")
ROSTER_COLUMNS = ("id", "first_name", "last_name", "email")
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS = "    Points Possible"  # the second row of Canvas's own export
MOODLE_COLUMNS = ["First name", "Last name", "ID number", "Email address"]


@dataclass
class Grades:
    """What an export holds: the assignments (name -> maximum score), in order, and the score
    after the late penalty of every graded (student, assignment); None for a failed grading."""

    assignments: dict[str, float] = field(default_factory=dict)
    scores: dict[tuple[str, str], float | None] = field(default_factory=dict)
    # the gradebook's first name, last name and email of each student
    names: dict[str, tuple[str, str, str]] = field(default_factory=dict)


def read_roster(path: Path) -> list[dict]:
    """The roster's rows (``id,first_name,last_name,email`` and any optional column), in order.

    Raises
    ------
    ValueError
        When a required column is missing, or an id is empty or listed twice.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"roster: {path} does not exist (the class list, "
                         f"{','.join(ROSTER_COLUMNS)})")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ROSTER_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"roster: {path} lacks the column(s) {', '.join(missing)}; it needs "
                             f"{','.join(ROSTER_COLUMNS)}")
        rows = [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    seen = set()
    for number, row in enumerate(rows, start=2):
        if not row["id"]:
            raise ValueError(f"roster: {path} line {number} has no id")
        if row["id"] in seen:
            raise ValueError(f"roster: {path} lists {row['id']!r} twice")
        seen.add(row["id"])
    return rows


def read_grades(gb, status_rows: list[dict] = (), assignments: list[str] | None = None) -> Grades:
    """The scores of an open nbgrader ``Gradebook`` ``gb``, after the late penalty stored in it.

    ``status_rows`` are the grading statuses of :func:`grader.report.load_status`: a submission
    whose grading failed has no score. ``assignments`` limits the export (default: every one).
    """
    failed = {(r["student"], r["assignment"]) for r in status_rows if r.get("status") == FAILED}
    out = Grades()
    known = {a.name: a for a in gb.assignments}
    if assignments:
        unknown = [a for a in assignments if a not in known]
        if unknown:
            raise ValueError(f"assignment: no assignment {', '.join(unknown)} in the gradebook "
                             f"(it has {', '.join(sorted(known)) or 'none'})")
    for name in sorted(known):
        if assignments and name not in assignments:
            continue
        assignment = known[name]
        out.assignments[name] = float(assignment.max_score)
        for sub in assignment.submissions:
            key = (sub.student.id, name)
            if key in failed:
                out.scores[key] = None
                continue
            out.scores[key] = float(sub.score) - float(sub.late_submission_penalty or 0.0)
    for student in gb.students:
        out.names[student.id] = (student.first_name or "", student.last_name or "",
                                 student.email or "")
    return out


def _fmt(score):
    return "" if score is None else f"{score:g}"


def _people(roster: list[dict], grades: Grades) -> tuple[list[dict], list[str]]:
    """The roster, then every student with grades who is not on it (with a warning each)."""
    people = list(roster)
    on_roster = {r["id"] for r in roster}
    graded = sorted({s for s, _ in grades.scores} - on_roster)
    warnings = []
    for student in graded:
        first, last, email = grades.names.get(student, ("", "", ""))
        people.append({"id": student, "first_name": first, "last_name": last, "email": email})
        warnings.append(f"{student} has grades but is not on the roster: the row is written with "
                        "the course's id only; add them to students.csv, or match them by hand "
                        "in the LMS")
    return people, warnings


def canvas_rows(roster: list[dict], grades: Grades) -> tuple[list[list[str]], list[str]]:
    """Canvas's gradebook import: the header, the Points Possible row, one row per student."""
    people, warnings = _people(roster, grades)
    names = list(grades.assignments)
    rows = [CANVAS_COLUMNS + names,
            [CANVAS_POINTS, "", "", "", ""] + [_fmt(grades.assignments[a]) for a in names]]
    for p in people:
        name = ", ".join(x for x in (p.get("last_name", ""), p.get("first_name", "")) if x)
        rows.append([name or p["id"], p.get("canvas_id", ""), p.get("sis_user_id", ""),
                     p.get("sis_login_id") or p["id"], p.get("section", "")]
                    + [_fmt(grades.scores.get((p["id"], a))) for a in names])
    return rows, warnings


def moodle_rows(roster: list[dict], grades: Grades) -> tuple[list[list[str]], list[str]]:
    """Moodle's grade import: the header and one row per student."""
    people, warnings = _people(roster, grades)
    names = list(grades.assignments)
    rows = [MOODLE_COLUMNS + names]
    for p in people:
        rows.append([p.get("first_name", ""), p.get("last_name", ""),
                     p.get("id_number") or p["id"], p.get("email", "")]
                    + [_fmt(grades.scores.get((p["id"], a))) for a in names])
        if not p.get("email") and not p.get("id_number"):
            warnings.append(f"{p['id']} has no email on the roster: Moodle can match them by "
                            "ID number only")
    return rows, warnings


def write_rows(rows: list[list[str]], path: Path) -> None:
    """Write a CSV file whole (UTF-8, comma-separated, as both LMS read it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    os.replace(tmp, path)


def export(course_root: Path, to: str, path: Path, *, roster: Path | None = None,
           assignments: list[str] | None = None) -> list[str]:
    """Write the course's grades for the LMS ``to`` (``canvas`` or ``moodle``) to ``path``.

    Late penalties are first recomputed from the gradebook's current scores (as ``make report``
    does). Returns the warnings (students not on the roster, ...).
    """
    if to not in FORMATS:
        raise ValueError(f"to: must be one of {', '.join(FORMATS)}, got {to!r}")
    course_root = Path(course_root)
    db = course_root / "gradebook.db"
    if not db.exists():
        raise ValueError(f"course: {course_root} has no gradebook.db; grade first (make grade)")
    people = read_roster(roster or course_root / "students.csv")
    refresh_late_penalties(Course(course_root))
    with open_gradebook(db) as gb:
        grades = read_grades(gb, report.load_status(course_root / report.STATUS_FILE),
                             assignments)
    rows, warnings = (canvas_rows if to == "canvas" else moodle_rows)(people, grades)
    write_rows(rows, path)
    return warnings


class _LMSExporter(ExportPlugin):
    """nbgrader's ``export`` with this course's rules (see the module's docstring)."""

    fmt = "canvas"
    roster = Unicode("students.csv", help="The class roster (id,first_name,last_name,email), "
                                          "relative to the course root.").tag(config=True)

    def export(self, gradebook) -> None:
        root = Path(getattr(getattr(self.parent, "coursedir", None), "root", None) or os.getcwd())
        roster = Path(self.roster) if os.path.isabs(self.roster) else root / self.roster
        grades = read_grades(gradebook, report.load_status(root / report.STATUS_FILE),
                             [str(a) for a in self.assignment] or None)
        if self.student:
            wanted = {str(s) for s in self.student}
            grades.scores = {k: v for k, v in grades.scores.items() if k[0] in wanted}
        people = [r for r in read_roster(roster) if not self.student or r["id"] in wanted]
        rows, warnings = (canvas_rows if self.fmt == "canvas" else moodle_rows)(people, grades)
        dest = self.to or f"grades-{self.fmt}.csv"
        write_rows(rows, dest)
        for w in warnings:
            self.log.warning(w)
        self.log.info("Wrote %s for %s (%d student(s))", dest, self.fmt, len(rows) - 1)


class CanvasExporter(_LMSExporter):
    """``nbgrader export --exporter=grader.export.CanvasExporter --to=FILE``: Canvas's gradebook
    import CSV. The late penalties are those stored in the gradebook (``make report`` refreshes
    them)."""

    fmt = "canvas"


class MoodleExporter(_LMSExporter):
    """``nbgrader export --exporter=grader.export.MoodleExporter --to=FILE``: Moodle's grade
    import CSV."""

    fmt = "moodle"


def main(course_root: Path, to: str, path: Path, roster: Path | None,
         assignments: list[str] | None) -> int:
    """``python -m grader export``: write the file, print the warnings; 2 on bad input."""
    try:
        warnings = export(course_root, to, path, roster=roster, assignments=assignments)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"Wrote {path} for {to} ({len(warnings)} warning(s)).")
    return 0
