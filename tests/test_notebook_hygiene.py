"""Every committed notebook is clean: the course's notebook policy, enforced.

Policy (see README, "Notebook policy"): notebooks are committed *without outputs*. A fresh run is
the truth; nbval runs every lecture and solution notebook in lax mode, and the notebooks assert the
numbers they reproduce, so a wrong number fails the suite instead of hiding in a stale output.
Stripped notebooks stay small, diff cleanly and carry no personal metadata.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from coursekit import REPO, assignment_names

LECTURES = sorted((REPO / "lectures").glob("*.ipynb"))
SOURCES = sorted((REPO / "solutions").glob("*/*.ipynb"))
RELEASES = sorted((REPO / "exercises").glob("*/*.ipynb"))
SAMPLES = sorted((REPO / "samples").glob("submitted/*/*/*.ipynb"))
ALL = LECTURES + SOURCES + RELEASES
ALLOWED_NB_METADATA = {"kernelspec", "language_info"}
# An assignment's own grading rules (grader/integrity.py), in its source and release only.
GRADING_KEYS = {"forbidden_imports", "test_data"}
ALLOWED_CELL_METADATA = {"nbgrader", "tags", "editable", "deletable", "jupyter", "slideshow",
                         "mystnb"}  # mystnb.image.alt: the figure's alt text on the site
ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def rel(p: Path) -> str:
    return str(p.relative_to(REPO))


def read(p: Path):
    return nbformat.read(p, as_version=4)


@pytest.mark.parametrize("path", ALL + SAMPLES, ids=rel)
def test_valid_notebook_with_stable_cell_ids(path):
    nb = read(path)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) >= (4, 5), f"{rel(path)}: nbformat 4.5+ stores cell ids"
    ids = [c.get("id") for c in nb.cells]
    assert all(i and ID.match(i) for i in ids), (
        f"{rel(path)}: every cell needs a readable id: {ids}")
    assert len(set(ids)) == len(ids), f"{rel(path)}: duplicated cell ids"


@pytest.mark.parametrize("path", ALL, ids=rel)
def test_no_outputs_and_no_personal_metadata(path):
    nb = read(path)
    allowed = ALLOWED_NB_METADATA | ({"grading"} if rel(path).split("/")[0] in
                                     ("solutions", "exercises") else set())
    extra = set(nb.metadata) - allowed
    assert not extra, f"{rel(path)}: notebook metadata {sorted(extra)} is personal or volatile"
    assert set(nb.metadata.get("grading", {})) <= GRADING_KEYS, (
        f"{rel(path)}: unknown grading metadata "
        f"{sorted(set(nb.metadata['grading']) - GRADING_KEYS)}")
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", f"{rel(path)}: kernel"
    for cell in nb.cells:
        assert not cell.get("outputs"), f"{rel(path)} cell {cell.id}: outputs are committed"
        assert cell.get("execution_count") is None, f"{rel(path)} cell {cell.id}: execution count"
        assert set(cell.metadata) <= ALLOWED_CELL_METADATA, (
            f"{rel(path)} cell {cell.id}: metadata {sorted(set(cell.metadata))}")


GLOBAL_RANDOM = re.compile(
    r"np\.random\.(rand|randn|normal|uniform|choice|shuffle|permutation|randint|random)\b"
    r"|torch\.(rand|randn|randint|randperm|normal)\b|default_rng\(\s*\)|nn\.(Linear|Conv|RNN|LSTM)")


@pytest.mark.parametrize("path", LECTURES + SOURCES, ids=rel)
def test_randomness_is_seeded(path):
    """Global random streams (NumPy's, torch's, layer initialisation) are seeded before use."""
    text = "\n".join(c.source for c in read(path).cells if c.cell_type == "code")
    if GLOBAL_RANDOM.search(text):
        assert re.search(r"seed_everything\(|manual_seed\(|np\.random\.seed\(", text), (
            f"{rel(path)} draws random numbers but never seeds them (nnlib.utils.seed_everything)")


@pytest.mark.parametrize("path", ALL, ids=rel)
def test_every_table_column_has_a_header(path):
    """A screen reader announces a cell by its column's header: an empty one (axe's
    empty-table-header) leaves the first column of a table unnamed."""
    empty = []
    for cell in read(path).cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        for i, line in enumerate(lines[:-1]):
            rule = re.match(r"^\s*\|[\s|:-]*-[\s|:-]*$", lines[i + 1])
            if line.lstrip().startswith("|") and rule:
                headers = [h.strip() for h in line.strip().strip("|").split("|")]
                if any(not h for h in headers):
                    empty.append(f"{cell.get('id')}: {line.strip()[:60]}")
    assert not empty, f"{rel(path)} has tables with an empty column header: {empty}"


@pytest.mark.parametrize("path", LECTURES, ids=rel)
def test_lectures_import_never_redefine_library_code(path):
    """A function a lecture defines must not shadow one that nnlib already provides."""
    import importlib
    import pkgutil

    import nnlib

    public = set()
    for mod in pkgutil.iter_modules(nnlib.__path__):
        if mod.name.startswith("_"):
            continue
        try:
            m = importlib.import_module(f"nnlib.{mod.name}")
        except ImportError:
            continue
        public |= {n for n in dir(m) if not n.startswith("_") and callable(getattr(m, n))}
    for cell in read(path).cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue  # IPython magics; nbval reports real syntax errors
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                assert node.name not in public, (
                    f"{rel(path)} cell {cell.id} redefines nnlib's {node.name}: import it instead")


def _grade_cells(nb):
    return [c for c in nb.cells if "nbgrader" in c.metadata]


@pytest.mark.parametrize("path", SOURCES + RELEASES, ids=rel)
def test_nbgrader_metadata(path):
    nb = read(path)
    cells = _grade_cells(nb)
    assert cells, f"{rel(path)} has no nbgrader cells"
    gids = [c.metadata.nbgrader["grade_id"] for c in cells]
    dup = {g for g in gids if gids.count(g) > 1}
    assert not dup, f"{rel(path)}: duplicated grade_id {sorted(dup)}"
    total = 0.0
    for c in cells:
        meta = c.metadata.nbgrader
        assert meta.get("schema_version") == 3, f"{rel(path)} {meta['grade_id']}: schema_version"
        if meta.get("grade") and not meta.get("solution"):
            assert c.cell_type == "code", f"{rel(path)} {meta['grade_id']}: test cell not code"
            assert meta.get("locked"), f"{rel(path)} {meta['grade_id']}: test cell not locked"
            first = c.source.lstrip().splitlines()[0] if c.source.strip() else ""
            assert first.startswith("# ") and len(first) > 20, (
                f"{rel(path)} {meta['grade_id']}: a test cell opens with a sentence saying what it "
                f"checks, got {first!r}")
        if meta.get("grade"):
            assert meta.get("points", 0) > 0, f"{rel(path)} {meta['grade_id']}: no points"
            total += float(meta["points"])
    header = nb.cells[0].source
    m = re.search(r"Total:\s*(\d+(?:\.\d+)?)\s*points", header)
    assert m, f"{rel(path)}: the first cell states the total as 'Total: N points'"
    assert float(m.group(1)) == total, (
        f"{rel(path)}: states {m.group(1)} points, cells sum to {total}")


@pytest.mark.parametrize("path", SOURCES, ids=rel)
def test_hidden_regions_only_where_grading_restores_them(path):
    """A hidden region sits in a test cell or a read-only cell (a written question's rubric).

    ``grader_config.py`` turns nbgrader's own check off (``ClearHiddenTests.enforce_metadata``) so
    that a read-only cell may hold a rubric. The release drops every hidden region, but autograde
    restores only locked cells from the gradebook: a region in an answer cell or an unlocked plain
    cell would silently vanish, a hidden test that never runs.
    """
    for cell in read(path).cells:
        begins = cell.source.count("BEGIN HIDDEN TESTS")
        if not begins and "END HIDDEN TESTS" not in cell.source:
            continue
        meta = cell.metadata.get("nbgrader", {})
        test_cell = meta.get("grade") and not meta.get("solution")
        read_only = meta.get("locked") and not meta.get("grade") and not meta.get("solution")
        assert test_cell or read_only, (
            f"{rel(path)} cell {cell.id}: a hidden region outside a test cell or a read-only cell "
            "is removed from the release and never restored when grading")
        assert begins == cell.source.count("END HIDDEN TESTS"), (
            f"{rel(path)} cell {cell.id}: unbalanced BEGIN/END HIDDEN TESTS")


@pytest.mark.parametrize("path", RELEASES, ids=rel)
def test_release_holds_no_solution_or_hidden_test(path):
    text = path.read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text, f"{rel(path)} leaks '{marker}' to students"


def test_every_assignment_has_a_release():
    released = sorted(p.name for p in (REPO / "exercises").iterdir() if p.is_dir())
    assert released == assignment_names(), "exercises/ and solutions/ hold different assignments"
