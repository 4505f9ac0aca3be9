"""What kind of cell a notebook cell is to nbgrader, and which of its lines are IPython syntax.

One place for the rules the integrity check, the hidden checks, the feedback and the merge share:

- a *test* cell is graded and is not an answer (``grade`` without ``solution``): its code is the
  instructor's, restored from the release and never run by the hidden checks;
- an *answer* cell is one the student writes in (``solution``), or a written task (``task``);
- a *graded* cell counts towards the score or holds an answer (``grade`` or ``solution``): a
  submission whose graded cells changed is a changed submission;
- a *magic* line is IPython syntax (``%magic``, ``!shell``), which plain Python cannot parse.
"""

from __future__ import annotations

MAGIC_PREFIXES = ("%", "!")


def nbgrader(cell) -> dict:
    """The cell's nbgrader metadata (empty for a cell nbgrader does not know)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_id(cell) -> str | None:
    return nbgrader(cell).get("grade_id")


def is_test(cell) -> bool:
    meta = nbgrader(cell)
    return bool(meta.get("grade")) and not meta.get("solution")


def is_answer(cell) -> bool:
    meta = nbgrader(cell)
    return bool(meta.get("solution")) or bool(meta.get("task"))


def is_graded(cell) -> bool:
    meta = nbgrader(cell)
    return bool(meta.get("solution")) or bool(meta.get("grade"))


def is_magic(line: str) -> bool:
    """Whether ``line`` is an IPython magic or shell escape."""
    return line.lstrip().startswith(MAGIC_PREFIXES)


def magic_lines(source: str) -> list[str]:
    return [ln for ln in source.splitlines() if is_magic(ln)]


def without_magics(source: str, *, keep_lines: bool = False) -> str:
    """``source`` as plain Python: magic lines dropped, or blanked with ``keep_lines`` (so that
    line numbers still match the cell's)."""
    lines = source.splitlines()
    if keep_lines:
        return "\n".join("" if is_magic(ln) else ln for ln in lines)
    return "\n".join(ln for ln in lines if not is_magic(ln))
