"""Check a submission against its release before grading, and repair what nbgrader cannot take.

nbgrader trusts the notebook it is given: a duplicated ``grade_id`` aborts a whole batch, a deleted
test cell silently drops points, and code in a solution cell can change what later test cells do.
:func:`check_submission` reads the submitted notebook, compares it with the release cell by cell, and
returns a *repaired* notebook (the release's locked and test cells restored, each ``grade_id`` once,
missing cells put back) together with the findings; :func:`scan_code` lists what honest answers never
need. A submission with findings is still graded, and marked for review.
"""

from __future__ import annotations

import ast
import copy
import json
from dataclasses import dataclass

import nbformat


@dataclass(frozen=True)
class Finding:
    """Something a reviewer should look at: where, and why."""

    cell: str
    reason: str

    def __str__(self) -> str:
        return f"{self.cell}: {self.reason}"


class SubmissionUnreadable(Exception):
    """The submission cannot be graded at all (not a notebook, not JSON, missing)."""


SUSPICIOUS_MODULES = {
    "os": "operating-system access", "sys": "interpreter internals", "subprocess": "a subprocess",
    "ctypes": "raw memory access", "importlib": "import machinery", "builtins": "the builtins",
    "shutil": "file operations", "socket": "network access", "sqlite3": "database access",
    "signal": "signal handlers", "multiprocessing": "other processes", "threading": "threads",
    "inspect": "introspection of the tests", "gc": "the garbage collector", "pathlib": "file access",
    "io": "file access", "atexit": "exit hooks", "pty": "a terminal", "resource": "resource limits",
}
SUSPICIOUS_CALLS = {
    "get_ipython": "IPython hooks", "exec": "dynamic code", "eval": "dynamic code",
    "compile": "dynamic code", "open": "file access", "__import__": "dynamic imports",
    "globals": "rebinding globals", "exit": "leaving the kernel", "quit": "leaving the kernel",
    "setattr": "rebinding attributes", "breakpoint": "the debugger",
}
PROTECTED_NAMES = {"np", "numpy", "torch", "math", "assert_allclose", "isclose", "allclose",
                   "print", "len", "abs", "float", "int", "range", "isinstance", "AssertionError",
                   "Exception", "quiet", "strict", "__builtins__"}


def scan_code(source: str, cell: str) -> list[Finding]:
    """Flag constructs in a student's code cell that an honest answer never needs."""
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    magics = [ln for ln in source.splitlines() if ln.lstrip().startswith(("%", "!"))]
    found = [Finding(cell, f"IPython magic or shell command {ln.strip()[:40]!r}") for ln in magics]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return found  # nbgrader reports the syntax error as a failing cell; nothing to scan
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                root = name.split(".")[0]
                if root in SUSPICIOUS_MODULES:
                    found.append(Finding(cell, f"imports {name} ({SUSPICIOUS_MODULES[root]})"))
        elif isinstance(node, ast.Call):
            fn = node.func
            name = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else ""
            if name in SUSPICIOUS_CALLS:
                found.append(Finding(cell, f"calls {name}() ({SUSPICIOUS_CALLS[name]})"))
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute):
                    base = target.value
                    while isinstance(base, ast.Attribute):
                        base = base.value
                    if isinstance(base, ast.Name) and base.id in PROTECTED_NAMES | {"sys", "os"}:
                        found.append(Finding(cell, f"rebinds {ast.unparse(target)} (a library "
                                                   "function the tests rely on)"))
                elif isinstance(target, ast.Name) and target.id in PROTECTED_NAMES:
                    found.append(Finding(cell, f"rebinds {target.id}, which the tests rely on"))
        elif isinstance(node, ast.Name) and node.id == "__builtins__":
            found.append(Finding(cell, "touches __builtins__"))
        elif isinstance(node, ast.Global):
            pass
    unique = []
    for f in found:
        if f not in unique:
            unique.append(f)
    return unique


def read_notebook(path) -> nbformat.NotebookNode:
    """Read a submitted notebook or raise :class:`SubmissionUnreadable` with the reason."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        json.loads(text)
    except FileNotFoundError:
        raise SubmissionUnreadable(f"notebook {path.name} is missing from the submission") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SubmissionUnreadable(f"{path.name} is not valid notebook JSON ({exc})") from None
    try:
        nb = nbformat.reads(text, as_version=4)
        if nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
            raise ValueError("not an nbformat 4 notebook")
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several kinds
        raise SubmissionUnreadable(f"{path.name} is not a valid notebook ({str(exc)[:200]})") from None
    return nb


def _gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _is_answer(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("solution")) or bool(meta.get("task"))


def check_submission(submitted: nbformat.NotebookNode, release: nbformat.NotebookNode):
    """Compare ``submitted`` with ``release``; return (repaired notebook, findings).

    The repaired notebook keeps the student's answer cells and their own extra cells, restores every
    other release cell (read-only and test cells) to the release's text and metadata, drops
    duplicated or unknown nbgrader cells (keeping their code as plain cells), and re-inserts cells
    the student deleted.
    """
    findings: list[Finding] = []
    release_cells = {_gid(c): c for c in release.cells if _gid(c)}
    seen: set[str] = set()
    out = []
    for index, cell in enumerate(submitted.cells):
        gid = _gid(cell)
        label = gid or cell.get("id") or f"cell {index}"
        if gid is None:
            if cell.cell_type == "code":
                findings.extend(scan_code(cell.source, f"extra cell {label}"))
            out.append(cell)
            continue
        if gid in seen:
            findings.append(Finding(gid, "duplicated grade_id (the copy was not graded)"))
            continue
        if gid not in release_cells:
            findings.append(Finding(gid, "unknown grade_id (renamed or invented cell; its code was "
                                         "kept as a plain cell)"))
            plain = copy.deepcopy(cell)
            plain.metadata.pop("nbgrader", None)
            out.append(plain)
            continue
        seen.add(gid)
        original = release_cells[gid]
        if _is_answer(original):
            kept = copy.deepcopy(cell)
            kept.metadata["nbgrader"] = copy.deepcopy(original.metadata["nbgrader"])
            if kept.cell_type != original.cell_type:
                findings.append(Finding(gid, f"answer cell changed from {original.cell_type} to "
                                             f"{kept.cell_type}"))
                kept = nbformat.from_dict({**kept, "cell_type": original.cell_type})
            if kept.cell_type == "code":
                findings.extend(scan_code(kept.source, gid))
            out.append(kept)
        else:
            if cell.source != original.source or cell.cell_type != original.cell_type:
                findings.append(Finding(gid, "a locked cell was edited (the release's text was "
                                             "restored)"))
            if cell.get("metadata", {}).get("nbgrader") != original.metadata.get("nbgrader"):
                findings.append(Finding(gid, "nbgrader metadata was changed (restored)"))
            restored = copy.deepcopy(original)
            if restored.cell_type == "code":
                restored.outputs, restored.execution_count = [], None
            out.append(restored)
    # Re-insert deleted cells after the release cell that precedes them.
    for pos, original in enumerate(release.cells):
        gid = _gid(original)
        if gid and gid not in seen:
            findings.append(Finding(gid, "the cell was deleted (restored from the release)"))
            prev = next((_gid(c) for c in reversed(release.cells[:pos]) if _gid(c) in seen), None)
            where = next((i + 1 for i, c in enumerate(out) if prev and _gid(c) == prev), 0)
            out.insert(where, copy.deepcopy(original))
            seen.add(gid)
    repaired = copy.deepcopy(submitted)
    repaired.cells = out
    repaired.metadata = copy.deepcopy(release.metadata)
    ids: set[str] = set()
    for i, cell in enumerate(repaired.cells):  # cell ids must be present and unique
        if not cell.get("id") or cell["id"] in ids:
            cell["id"] = f"graded-{i}"
        ids.add(cell["id"])
    repaired.nbformat, repaired.nbformat_minor = 4, max(5, repaired.get("nbformat_minor", 5))
    return repaired, findings
