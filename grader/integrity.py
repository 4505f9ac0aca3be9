"""Check a submission against its release before grading, and repair what nbgrader cannot take.

nbgrader trusts the notebook it is given: a duplicated ``grade_id`` aborts a whole batch, a deleted
test cell silently drops points, and code in a solution cell can change what later test cells do.
:func:`check_submission` reads the submitted notebook, compares it with the release cell by cell,
and returns a *repaired* notebook (the release's locked and test cells restored, each ``grade_id``
once, missing cells put back) together with the findings; :func:`scan_code` lists what honest
answers never need. A submission with findings is still graded, and marked for review.

One module of about 400 lines on purpose: the cell-by-cell comparison, the repair and the code scan
share the release's view of the notebook, and an answer is judged by all three together.
"""

from __future__ import annotations

import ast
import builtins
import copy
import json
from dataclasses import dataclass

import nbformat

from . import cells


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
    "inspect": "introspection of the tests", "gc": "the garbage collector",
    "pathlib": "file access", "io": "file access", "atexit": "exit hooks", "pty": "a terminal",
    "resource": "resource limits", "IPython": "IPython internals", "ipykernel": "the kernel",
    "unittest": "mocking (unittest.mock)",
    "pickle": "deserialisation", "marshal": "code objects", "types": "code objects",
}
SUSPICIOUS_CALLS = {
    "get_ipython": "IPython hooks", "exec": "dynamic code", "eval": "dynamic code",
    "compile": "dynamic code", "open": "file access", "__import__": "dynamic imports",
    "globals": "rebinding globals", "exit": "leaving the kernel", "quit": "leaving the kernel",
    "setattr": "rebinding attributes", "delattr": "rebinding attributes",
    "breakpoint": "the debugger",
    "fork": "a new process", "forkpty": "a new process", "system": "a shell command",
    "popen": "a shell command", "Popen": "a subprocess", "_exit": "leaving the kernel",
    "kill": "signalling processes", "killpg": "signalling processes", "setsid": "a new session",
    "import_module": "dynamic imports", "reload": "re-importing modules",
    "CDLL": "raw memory access",
    "register_magic_function": "IPython hooks", "set_custom_exc": "IPython hooks",
}
# Names whose rebinding at the top level of a notebook changes what later test cells do.
PROTECTED_NAMES = ({"np", "numpy", "torch", "math", "assert_allclose", "assert_array_equal",
                    "assert_array_almost_equal", "assert_almost_equal", "assert_equal",
                    "isclose", "allclose", "array_equal", "testing", "__builtins__", "get_ipython",
                    "In", "Out"} | {n for n in dir(builtins) if not n.startswith("_")})
# Module names whose attributes must not be rebound (``np.allclose = ...``).
PROTECTED_MODULES = {"np", "numpy", "torch", "math", "builtins", "sys", "os", "testing", "npt",
                     "nnlib", "IPython", "__builtins__"}
# Attributes honest answers never read: the way into other frames, globals and the builtins.
DUNDER_ATTRS = {"__builtins__", "__globals__", "__code__", "__closure__", "__subclasses__",
                "__dict__", "__import__", "__loader__", "__spec__", "__getattribute__", "__bases__",
                "__mro__", "__self__", "__func__", "f_globals", "f_locals", "f_back", "gi_frame"}
# IPython's history: the source of earlier cells (hidden tests included) and their outputs.
HISTORY_NAMES = {"In", "Out", "_ih", "_oh", "_dh", "_i", "_ii", "_iii"}


class _Scanner(ast.NodeVisitor):
    """Collect findings, knowing whether a name is bound at the notebook's top level."""

    def __init__(self, cell: str, forbidden: frozenset = frozenset(),
                 test_data: frozenset = frozenset(), top_level_data_ok: bool = False):
        self.cell = cell
        self.forbidden = forbidden
        self.test_data = test_data
        self.top_level_data_ok = top_level_data_ok  # an extra cell may look at the test set
        self.found: list[Finding] = []
        self.depth = 0  # inside a function or class body when > 0
        self.globals: set[str] = set()
        self.locals: set[str] = set()  # parameters and local variables of the enclosing functions

    def add(self, reason: str) -> None:
        self.found.append(Finding(self.cell, reason))

    def _binds(self, name: str, how: str) -> None:
        if name in PROTECTED_NAMES and (self.depth == 0 or name in self.globals):
            self.add(f"{how} {name}, which the tests rely on")

    def _target(self, target, how="rebinds") -> None:
        if isinstance(target, ast.Name):
            self._binds(target.id, how)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._target(elt, how)
        elif isinstance(target, ast.Starred):
            self._target(target.value, how)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            base = target.value
            while isinstance(base, (ast.Attribute, ast.Subscript)):
                base = base.value
            if isinstance(base, ast.Name) and base.id in PROTECTED_MODULES:
                self.add(f"{how} {ast.unparse(target)} (a library function the tests rely on)")

    def _scope(self, node, name: str | None) -> None:
        if name is not None:
            self._binds(name, "redefines")
        for deco in getattr(node, "decorator_list", []):
            self.visit(deco)
        saved, saved_locals = self.globals, self.locals
        self.depth += 1
        self.globals = set()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            bound = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
            bound |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
            body = node.body if isinstance(node.body, list) else [node.body]
            bound |= {n.id for stmt in body for n in ast.walk(stmt)
                      if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            self.locals = self.locals | bound
        for child in (node.body if isinstance(node.body, list) else [node.body]):
            self.visit(child)
        self.depth -= 1
        self.globals, self.locals = saved, saved_locals

    def visit_FunctionDef(self, node):
        self._scope(node, node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self._scope(node, node.name)

    def visit_Lambda(self, node):
        self._scope(node, None)

    def visit_Global(self, node):
        self.globals.update(node.names)

    def visit_Import(self, node):
        for alias in node.names:
            root = alias.name.split(".")[0]
            if root in self.forbidden:
                self.add(f"imports {alias.name}, which this assignment forbids")
            if root in SUSPICIOUS_MODULES:
                self.add(f"imports {alias.name} ({SUSPICIOUS_MODULES[root]})")
            bound = alias.asname or root
            if bound in PROTECTED_NAMES and alias.name.split(".")[0] != bound and not (
                    bound == "np" and alias.name == "numpy"):
                self._binds(bound, "rebinds")

    def visit_ImportFrom(self, node):
        module = node.module or ""
        root = module.split(".")[0]
        if root in self.forbidden:
            self.add(f"imports from {module}, which this assignment forbids")
        if root in SUSPICIOUS_MODULES:
            self.add(f"imports from {module} ({SUSPICIOUS_MODULES[root]})")
        for alias in node.names:
            if alias.name == "*":
                self.add(f"imports * from {module} (may rebind names the tests use)")
            elif (alias.asname or alias.name) != alias.name:
                self._binds(alias.asname, "rebinds")

    def visit_Call(self, node):
        fn = node.func
        name = (fn.id if isinstance(fn, ast.Name)
                else fn.attr if isinstance(fn, ast.Attribute) else "")
        if name in SUSPICIOUS_CALLS:
            self.add(f"calls {name}() ({SUSPICIOUS_CALLS[name]})")
        self.generic_visit(node)

    def visit_Assign(self, node):
        for target in node.targets:
            self._target(target)
        self.visit(node.value)

    def visit_AugAssign(self, node):
        self._target(node.target)
        self.visit(node.value)

    def visit_AnnAssign(self, node):
        self._target(node.target)
        if node.value is not None:
            self.visit(node.value)

    def visit_NamedExpr(self, node):
        self._target(node.target)
        self.visit(node.value)

    def visit_Delete(self, node):
        for target in node.targets:
            self._target(target, "deletes")

    def visit_For(self, node):
        self._target(node.target)
        self.generic_visit(node)

    def visit_With(self, node):
        for item in node.items:
            if item.optional_vars is not None:
                self._target(item.optional_vars)
        self.generic_visit(node)

    def visit_Attribute(self, node):
        if node.attr in DUNDER_ATTRS:
            self.add(f"reads .{node.attr} (a way into the interpreter's internals)")
        self.generic_visit(node)

    def _reads_test_data(self, name: str) -> None:
        if (name in self.test_data and name not in self.locals
                and (self.depth > 0 or not self.top_level_data_ok)):
            where = "in a function an answer can call" if self.top_level_data_ok else "in an answer"
            self.add(f"reads {name} {where} (the test data, which the tests judge on)")

    def visit_Constant(self, node):
        if isinstance(node.value, str):  # globals()["y_test"], getattr(module, "y_test")
            self._reads_test_data(node.value)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            self._reads_test_data(node.id)
        if node.id == "__builtins__":
            self.add("touches __builtins__")
        elif node.id in HISTORY_NAMES and isinstance(node.ctx, ast.Load):
            self.add(f"reads {node.id} (IPython's history of earlier cells)")


def forbidden_imports(release: nbformat.NotebookNode) -> frozenset:
    """Top-level modules an assignment forbids, declared in its source notebook's metadata::

        "metadata": {"grading": {"forbidden_imports": ["nnlib", "torch"]}}

    (nbgrader keeps notebook metadata, so the release shows the students the same list.)
    """
    names = release.get("metadata", {}).get("grading", {}).get("forbidden_imports", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"metadata.grading.forbidden_imports must be a list of module names, "
                         f"got {names!r}")
    return frozenset(n.split(".")[0] for n in names)


def test_data_names(release: nbformat.NotebookNode) -> frozenset:
    """Names of the data the tests judge on, which answers must not read, declared in the source
    notebook's metadata::

        "metadata": {"grading": {"test_data": ["X_test", "y_test"]}}

    An answer cell that reads one of them is flagged; the student's own extra cells may look at
    them at the top level (printing a test accuracy), but not inside a function an answer can call.
    """
    names = release.get("metadata", {}).get("grading", {}).get("test_data", [])
    if not isinstance(names, list) or not all(isinstance(n, str) and n.isidentifier()
                                              for n in names):
        raise ValueError(f"metadata.grading.test_data must be a list of variable names, "
                         f"got {names!r}")
    return frozenset(names)


def scan_code(source: str, cell: str, forbidden: frozenset = frozenset(),
              test_data: frozenset = frozenset(), *, extra: bool = False) -> list[Finding]:
    """Flag constructs in a student's code cell that an honest answer never needs.

    Parameters
    ----------
    source : str
        The cell's code (IPython magics and shell escapes are reported, not parsed).
    cell : str
        How findings name the cell (its ``grade_id``, or ``extra cell <id>``).
    forbidden : frozenset of str, optional
        Modules the assignment forbids (see :func:`forbidden_imports`).
    test_data : frozenset of str, optional
        Variables holding the data the tests judge on (see :func:`test_data_names`).
    extra : bool, default False
        The cell is the student's own (not an answer cell): reading ``test_data`` at its top level
        is scratch work, not a finding.

    Returns
    -------
    list of Finding
        Each construct once, in the order found.
    """
    found = [Finding(cell, f"IPython magic or shell command {ln.strip()[:40]!r}")
             for ln in cells.magic_lines(source)]
    code = cells.without_magics(source, keep_lines=True)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return found  # nbgrader reports the syntax error as a failing cell; nothing to scan
    scanner = _Scanner(cell, frozenset(forbidden), frozenset(test_data), top_level_data_ok=extra)
    scanner.visit(tree)
    unique: list[Finding] = []
    for f in found + scanner.found:
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
    except Exception as exc:  # noqa: BLE001 - nbformat raises several kinds
        raise SubmissionUnreadable(f"{path.name} is not a valid notebook "
                                   f"({str(exc)[:200]})") from None
    return nb


def _checksum(cell) -> str | None:
    """nbgrader's checksum of a cell (source, type and grading metadata), or None if not
    computable."""
    # On purpose here: ``import nbgrader`` loads its server extensions (about 2 s), which checking a
    # notebook (python -m grader check, the sample tests) never needs.
    from nbgrader.utils import compute_checksum

    try:
        return compute_checksum(cell)
    except Exception:  # noqa: BLE001 - malformed metadata: the metadata comparison reports it
        return None


def check_submission(submitted: nbformat.NotebookNode, release: nbformat.NotebookNode):
    """Compare ``submitted`` with ``release``; return (repaired notebook, findings).

    The repaired notebook keeps the student's answer cells and their own extra cells, restores every
    other release cell (read-only and test cells) to the release's text and metadata, drops
    duplicated or unknown nbgrader cells (keeping their code as plain cells), and re-inserts cells
    the student deleted.
    """
    forbidden = forbidden_imports(release)
    test_data = test_data_names(release)
    findings: list[Finding] = []
    release_cells = {cells.grade_id(c): c for c in release.cells if cells.grade_id(c)}
    seen: set[str] = set()
    out = []
    for index, cell in enumerate(submitted.cells):
        gid = cells.grade_id(cell)
        label = gid or cell.get("id") or f"cell {index}"
        if gid is None:
            if cell.cell_type == "code":
                findings.extend(scan_code(cell.source, f"extra cell {label}", forbidden,
                                          test_data, extra=True))
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
        if cells.is_answer(original):
            kept = copy.deepcopy(cell)
            kept.metadata["nbgrader"] = copy.deepcopy(original.metadata["nbgrader"])
            if kept.cell_type != original.cell_type:
                findings.append(Finding(gid, f"answer cell changed from {original.cell_type} to "
                                             f"{kept.cell_type}"))
                kept = nbformat.from_dict({**kept, "cell_type": original.cell_type})
            if kept.cell_type == "code":
                findings.extend(scan_code(kept.source, gid, forbidden, test_data))
            out.append(kept)
        else:
            expected = original.metadata.get("nbgrader", {}).get("checksum")
            if (cell.source != original.source or cell.cell_type != original.cell_type
                    or (expected and _checksum(cell) != expected)):
                findings.append(Finding(gid, "a locked cell was edited: its source or checksum "
                                             "differs from the release (the release's cell was "
                                             "restored)"))
            if cell.get("metadata", {}).get("nbgrader") != original.metadata.get("nbgrader"):
                findings.append(Finding(gid, "nbgrader metadata was changed (restored)"))
            restored = copy.deepcopy(original)
            if restored.cell_type == "code":
                restored.outputs, restored.execution_count = [], None
            out.append(restored)
    # Re-insert deleted cells after the release cell that precedes them.
    for pos, original in enumerate(release.cells):
        gid = cells.grade_id(original)
        if gid and gid not in seen:
            findings.append(Finding(gid, "the cell was deleted (restored from the release)"))
            prev = next((cells.grade_id(c) for c in reversed(release.cells[:pos])
                         if cells.grade_id(c) in seen), None)
            where = next((i + 1 for i, c in enumerate(out)
                          if prev and cells.grade_id(c) == prev), 0)
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
