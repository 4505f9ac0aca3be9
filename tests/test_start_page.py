"""The start page links every lecture and every exercise, and every link it has resolves."""

from __future__ import annotations

import re
from urllib.parse import unquote

import nbformat
from coursekit import REPO

START = REPO / "lectures" / "00_start_here.ipynb"
LINK = re.compile(r"\]\(([^)#\s]+\.ipynb)\)")


def _links() -> list[str]:
    nb = nbformat.read(START, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return [unquote(m) for m in LINK.findall(text)]


def test_every_link_resolves():
    broken = [link for link in _links() if not (START.parent / link).resolve().is_file()]
    assert not broken, f"the start page links notebooks that do not exist: {broken}"


def test_every_lecture_and_exercise_is_linked():
    linked = {(START.parent / link).resolve() for link in _links()}
    lectures = {p.resolve() for p in (REPO / "lectures").glob("*.ipynb") if p != START}
    exercises = {p.resolve() for p in (REPO / "exercises").glob("*/*.ipynb")}
    missing = sorted(str(p.relative_to(REPO)) for p in (lectures | exercises) - linked)
    assert not missing, f"the start page does not link {missing}"
