"""The releases a run grades against, and the template course every job starts from.

:func:`generate_releases` regenerates ``exercises/`` with nbgrader (``make grade``);
:func:`record_assignments` records in the course gradebook the assignments it does not know yet;
:func:`build_template` makes the scratch course, without students, that each job copies.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from . import gradebook, patches
from .course import Course, api_for


def generate_releases(course: Course, assignments: list[str]) -> None:
    """Regenerate the student releases in ``exercises/`` (and the course gradebook's record of each
    assignment) from ``solutions/``, with nbgrader."""
    api = api_for(course.root)
    for a in assignments:
        out = api.generate_assignment(a, force=True)
        if not out["success"]:
            raise RuntimeError(f"nbgrader could not generate the release of {a}:\n"
                               f"{out.get('error', '')}")


def record_assignments(course: Course, assignments: list[str]) -> list[str]:
    """Record in the course gradebook each of ``assignments`` it does not know yet, with its
    notebooks and cells, as ``nbgrader generate_assignment`` does; return those recorded.

    A course folder without ``gradebook.db`` (a fresh clone) or whose gradebook never saw an
    assignment has no place for its grades: the merge would fail after every submission was graded.
    Graded with ``--no-release``, each job is graded against a release generated from
    ``solutions/`` (see :func:`build_template`), so the gradebook's record is generated the same
    way, in a scratch folder: ``exercises/`` is left as it is.
    """
    missing = gradebook.unknown_assignments(course, assignments)
    if not missing:
        return []
    patches.in_process_alembic()
    with tempfile.TemporaryDirectory(prefix="grader-record-") as tmp:
        scratch = Path(tmp)
        for a in missing:
            shutil.copytree(course.solutions / a, scratch / "solutions" / a)
        api = api_for(scratch, gradebook=course.root / "gradebook.db")
        for a in missing:
            out = api.generate_assignment(a, force=True)
            if not out["success"]:
                raise RuntimeError(f"nbgrader could not record {a} in the gradebook:\n"
                                   f"{out.get('error', '')}")
    return missing


def build_template(course: Course, work_root: Path, assignments: list[str], *,
                   released: bool = False) -> Path:
    """A scratch course whose gradebook knows every assignment and the due dates the instructor set
    (``nbgrader db assignment add A --duedate=...``) but no student, so that each job's autograde
    computes lateness and the late penalty as plain nbgrader would.

    With ``released`` (the course's releases and gradebook were regenerated in this run, see
    :func:`generate_releases`), it is made of those: nothing is generated twice. Otherwise the
    releases are generated here from the sources.
    """
    template = work_root / "template"
    template.mkdir(mode=0o700)
    if released:
        _template_from_release(course, template, assignments)
        return template
    for a in assignments:
        shutil.copytree(course.solutions / a, template / "solutions" / a)
    api = api_for(template)
    for a in assignments:
        result = api.generate_assignment(a, force=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader could not generate {a}:\n{result.get('error', '')}")
    due_dates = gradebook.read_due_dates(course, assignments)
    if due_dates:
        gradebook.set_due_dates(template / "gradebook.db", due_dates)
    return template


def _template_from_release(course: Course, template: Path, assignments: list[str]) -> None:
    """The course's fresh releases, and a copy of its gradebook without its students (their
    submissions, grades and comments): the assignments, their cells and due dates stay."""
    for a in assignments:
        shutil.copytree(course.exercises / a, template / "exercises" / a)
    gradebook.copy_without_students(course.root / "gradebook.db", template / "gradebook.db")
