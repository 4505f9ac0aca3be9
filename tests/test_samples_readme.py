"""samples/README.md describes every sample submission, and only those, with its expected score.

The table has one row per (sample, assignment) folder of ``samples/submitted/``: a sample missing
from it, or a row naming a folder that does not exist, fails; so does a score that is not the sum of
the sample's points in ``samples/expected/<assignment>.json`` or a maximum that is not the sum of
the assignment's autograded points in ``solutions/<assignment>/``.
"""

from __future__ import annotations

import json
import re

import pytest
from coursekit import REPO

SAMPLES = REPO / "samples"
README = SAMPLES / "README.md"
COLUMNS = ["Sample", "Assignment", "Mistake", "Class", "Caught by", "Autograded score"]
CHECKS = ("visible test", "hidden test", "clean-room probe", "integrity scan", "nothing to catch")
SCORE = re.compile(r"^(\d+(?:\.\d+)?) / (\d+(?:\.\d+)?)$")


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row (a ``|`` escaped as ``\\|`` stays in its cell)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _table() -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the README's table of samples."""
    lines = README.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and _cells(line)[:1] == ["Sample"]:
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append(_cells(row))
            return _cells(line), rows
    pytest.fail(f"{README.relative_to(REPO)} has no table whose first column is 'Sample'")


def _folders() -> set[tuple[str, str]]:
    return {(d.parent.name, d.name) for d in (SAMPLES / "submitted").glob("*/*") if d.is_dir()}


def _max_points(assignment: str) -> float:
    """The sum of the assignment's autograded points (test cells of its source notebooks)."""
    total = 0.0
    for path in sorted((REPO / "solutions" / assignment).glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution"):
                total += float(meta.get("points", 0))
    return total


def _key(row: list[str]) -> tuple[str, str]:
    return row[0].strip("`"), row[1].strip("`")


def test_table_has_the_expected_columns():
    header, rows = _table()
    assert header == COLUMNS, f"the samples table's columns must be {COLUMNS}, got {header}"
    bad = [row for row in rows if len(row) != len(COLUMNS) or not all(row)]
    assert not bad, f"rows with a missing or empty cell (an unescaped | splits a cell): {bad}"


def test_every_sample_folder_has_exactly_one_row():
    _, rows = _table()
    keys = [_key(row) for row in rows]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    assert not repeated, f"samples/README.md lists these (sample, assignment) twice: {repeated}"
    missing = sorted(_folders() - set(keys))
    assert not missing, f"samples/README.md has no row for these sample folders: {missing}"
    unknown = sorted(set(keys) - _folders())
    assert not unknown, (f"samples/README.md describes samples that samples/submitted/ does not "
                         f"hold: {unknown}")


def test_every_row_names_the_checks_that_catch_it():
    _, rows = _table()
    vague = [_key(row) for row in rows if not any(check in row[4] for check in CHECKS)]
    assert not vague, f"the 'Caught by' cell must name one of {CHECKS}: {vague}"


def test_scores_are_the_sums_in_samples_expected():
    _, rows = _table()
    wrong = []
    for row in rows:
        student, assignment = _key(row)
        match = SCORE.match(row[5])
        if not match:
            wrong.append(f"{student}/{assignment}: score {row[5]!r} is not 'points / maximum'")
            continue
        expected_file = SAMPLES / "expected" / f"{assignment}.json"
        expected = json.loads(expected_file.read_text()) if expected_file.exists() else {}
        if student not in expected:
            wrong.append(f"{student}/{assignment}: not in samples/expected/{assignment}.json")
            continue
        want = (sum(expected[student].values()), _max_points(assignment))
        got = (float(match.group(1)), float(match.group(2)))
        if got != pytest.approx(want):
            wrong.append(f"{student}/{assignment}: the table says {row[5]}, samples/expected and "
                         f"the solution say {want[0]:g} / {want[1]:g}")
    assert not wrong, "samples/README.md disagrees with samples/expected:\n" + "\n".join(wrong)
