"""The asserts in the lecture notebooks test something: none is true by construction.

A notebook's ``assert`` is what turns a printed number into a check (README, "Notebook policy"), so
an assert that cannot fail gives false confidence: ``assert 0.56 + 0.54 + 0.65 == 1.75`` re-adds the
slide's own numbers, and ``lam = 10.0`` followed by ``assert lam == 10.0`` checks an assignment.

:func:`trivial_asserts` reads a notebook's code cells with :mod:`ast`, in order, and flags an assert

* whose operands are all literals (constants, containers of constants, arithmetic, comparisons and
  pure built-in, ``math`` or NumPy calls on them), or names that were bound to such a literal
  expression and not rebound since (in the same cell or an earlier one);
* that compares an expression with itself (``x == x``, ``x <= x``).

Names bound inside a loop, ``if``, ``with`` or ``try`` block may or may not hold the literal after
the block, so they count as unknown there; a function body is checked with the names it sees, and
its own bindings stay inside it. The checker errs on the side of accepting: only asserts that cannot
depend on anything the notebook computes are flagged. It cannot see meaning: an assert that compares
two computed values which were made equal on purpose (a slope chosen so that two curves meet, then a
check that they meet) passes it, so that still takes a reader.

Only the lectures are checked: an nbgrader test in ``solutions/`` rightly checks a student's answer
that the solution writes as a literal (``rho_star = 0.5``).
"""

from __future__ import annotations

import ast

import nbformat
import pytest
from coursekit import REPO

LECTURES = sorted((REPO / "lectures").glob("*.ipynb"))

#: Built-ins that compute a value from their arguments alone.
PURE_BUILTINS = frozenset({
    "abs", "all", "any", "bool", "complex", "divmod", "float", "frozenset", "int", "len", "list",
    "max", "min", "pow", "range", "repr", "reversed", "round", "set", "sorted", "str", "sum",
    "tuple",
})
#: Functions of those modules that read state, files or random numbers: not fixed by their
#: arguments.
IMPURE_ATTRIBUTES = frozenset({"random", "load", "loadtxt", "genfromtxt", "fromfile", "memmap",
                               "empty", "empty_like", "seterr", "geterr"})
#: Calls that only read their arguments (a name passed to any other call may be changed by it).
READ_ONLY_CALLS = frozenset({"print", "zip", "enumerate", "isinstance", "type", "id", "hash",
                             "format", "iter", "display", "repr"})
#: Methods that change their object in place (lists, dicts, sets, NumPy arrays).
MUTATING_METHODS = frozenset({
    "append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse", "update",
    "setdefault", "popitem", "add", "discard", "difference_update", "intersection_update",
    "symmetric_difference_update", "fill", "resize", "put", "itemset", "setflags", "partition",
})
#: Modules whose functions on literal arguments give a value fixed in advance.
PURE_MODULES = frozenset({"math", "np", "numpy", "cmath"})

_SELF_COMPARISONS = (ast.Eq, ast.Is, ast.LtE, ast.GtE)
_COMPOUND = (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try, ast.Match)


def _module_root(node: ast.expr) -> str | None:
    """``np`` for ``np.linalg.norm``; None for a chain through a state-reading part
    (``np.random``)."""
    while isinstance(node, ast.Attribute):
        if node.attr in IMPURE_ATTRIBUTES:
            return None
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def is_literal(node: ast.AST | None, consts: set[str]) -> bool:
    """True when ``node``'s value is fixed by literals alone (and names bound to literals)."""
    if node is None:
        return True
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id in consts
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(is_literal(e, consts) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(is_literal(k, consts) and is_literal(v, consts)
                   for k, v in zip(node.keys, node.values, strict=True))
    if isinstance(node, ast.Starred):
        return is_literal(node.value, consts)
    if isinstance(node, ast.UnaryOp):
        return is_literal(node.operand, consts)
    if isinstance(node, ast.BinOp):
        return is_literal(node.left, consts) and is_literal(node.right, consts)
    if isinstance(node, ast.BoolOp):
        return all(is_literal(v, consts) for v in node.values)
    if isinstance(node, ast.Compare):
        return is_literal(node.left, consts) and all(
            is_literal(c, consts) for c in node.comparators)
    if isinstance(node, ast.IfExp):
        return all(is_literal(n, consts) for n in (node.test, node.body, node.orelse))
    if isinstance(node, ast.Subscript):
        return is_literal(node.value, consts) and is_literal(node.slice, consts)
    if isinstance(node, ast.Slice):
        return all(is_literal(n, consts) for n in (node.lower, node.upper, node.step))
    if isinstance(node, ast.JoinedStr):
        return all(is_literal(v, consts) for v in node.values)
    if isinstance(node, ast.FormattedValue):
        return is_literal(node.value, consts)
    if isinstance(node, ast.Attribute):  # a method of a literal, e.g. (0.5).as_integer_ratio
        return is_literal(node.value, consts)
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        inner = set(consts)
        for gen in node.generators:  # the loop variables run over a literal: they are literals
            if gen.is_async or not is_literal(gen.iter, inner):
                return False
            inner |= _bound_names(gen.target)
            if not all(is_literal(cond, inner) for cond in gen.ifs):
                return False
        if isinstance(node, ast.DictComp):
            return is_literal(node.key, inner) and is_literal(node.value, inner)
        return is_literal(node.elt, inner)
    if isinstance(node, ast.Call):
        f = node.func
        pure = ((isinstance(f, ast.Name) and f.id in PURE_BUILTINS and f.id not in consts)
                or (isinstance(f, ast.Attribute) and _module_root(f) in PURE_MODULES)
                or (isinstance(f, ast.Attribute) and is_literal(f.value, consts)))
        return pure and all(is_literal(a, consts) for a in node.args) \
            and all(is_literal(k.value, consts) for k in node.keywords)
    return False


def _why_trivial(test: ast.expr, consts: set[str]) -> str | None:
    if is_literal(test, consts):
        names = sorted({n.id for n in ast.walk(test) if isinstance(n, ast.Name) and n.id in consts})
        if names:
            return f"compares literals and names just assigned literals ({', '.join(names)})"
        return "all its operands are literals"
    for node in ast.walk(test):
        if (isinstance(node, ast.Compare) and len(node.ops) == 1
                and isinstance(node.ops[0], _SELF_COMPARISONS)
                and ast.dump(node.left) == ast.dump(node.comparators[0])):
            return "compares an expression with itself"
    return None


def _bound_names(target: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(target)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _all_bound_names(stmts) -> set[str]:
    """Every name a block can bind: assignments, loop targets, imports, definitions, walrus,
    ``as``."""
    names = set()
    for stmt in stmts:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.ExceptHandler) and node.name:
                names.add(node.name)
    return names


def _mutated_names(stmt: ast.AST, consts: set[str]) -> set[str]:
    """Names whose object ``stmt`` may change in place: ``x[i] = ...``, ``x.attr = ...``,
    ``x.append(...)`` (a mutating method), or ``x`` itself handed to a function that may keep or
    change it (anything but a pure or a read-only call such as ``print``)."""
    names = set()
    for node in ast.walk(stmt):
        if (isinstance(node, (ast.Subscript, ast.Attribute))
                and isinstance(node.ctx, (ast.Store, ast.Del))):
            names.add(_root_name(node))
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and (
                    f.attr in MUTATING_METHODS or f.attr.startswith("__")):
                names.add(_root_name(f))
            read_only = (isinstance(f, ast.Name) and f.id in PURE_BUILTINS | READ_ONLY_CALLS) or (
                isinstance(f, ast.Attribute) and _module_root(f) in PURE_MODULES
                and not any(k.arg == "out" for k in node.keywords))
            if not read_only:
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    arg = arg.value if isinstance(arg, ast.Starred) else arg
                    if isinstance(arg, ast.Name):
                        names.add(arg.id)
                    elif isinstance(arg, ast.Attribute):
                        # a bound method, e.g. callback=seen.append
                        names.add(_root_name(arg))
    return names - {None}


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _scan(stmts, consts: set[str], found: list, where: str) -> None:
    """Walk ``stmts`` in order, keeping ``consts`` (names bound to literals) up to date."""
    for stmt in stmts:
        if not isinstance(stmt, ast.Assert):
            consts -= _mutated_names(stmt, consts)
        if isinstance(stmt, ast.Assert):
            why = _why_trivial(stmt.test, consts)
            if why:
                found.append((where, stmt.lineno, why, ast.unparse(stmt)))
        elif isinstance(stmt, ast.Assign):
            names = set().union(*(_bound_names(t) for t in stmt.targets))
            simple = all(isinstance(t, ast.Name) for t in stmt.targets)
            if simple and is_literal(stmt.value, consts):
                consts |= names
            else:
                consts -= names
        elif isinstance(stmt, ast.AnnAssign):
            names = _bound_names(stmt.target)
            if isinstance(stmt.target, ast.Name) and stmt.value is not None \
                    and is_literal(stmt.value, consts):
                consts |= names
            else:
                consts -= names
        elif isinstance(stmt, ast.AugAssign):
            names = _bound_names(stmt.target)
            if not (isinstance(stmt.target, ast.Name) and stmt.target.id in consts
                    and is_literal(stmt.value, consts)):
                consts -= names
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            _scan(stmt.body, set(consts) - _params(stmt), found, where)
            consts.discard(stmt.name)
        elif isinstance(stmt, _COMPOUND):
            inner = set(consts)
            if isinstance(stmt, (ast.For, ast.AsyncFor)):
                inner -= _bound_names(stmt.target)
            if isinstance(stmt, (ast.With, ast.AsyncWith)):
                for item in stmt.items:
                    if item.optional_vars is not None:
                        inner -= _bound_names(item.optional_vars)
            for block in _blocks(stmt):
                if isinstance(stmt, ast.Try) and block is not stmt.body:
                    block_consts = set(consts) - _all_bound_names(stmt.body)
                else:
                    block_consts = set(inner)
                _scan(block, block_consts, found, where)
            consts -= _all_bound_names([stmt])
        else:
            consts -= _all_bound_names([stmt])


def _params(fn) -> set[str]:
    if isinstance(fn, ast.ClassDef):
        return set()
    a = fn.args
    every = a.posonlyargs + a.args + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x]
    return {p.arg for p in every}


def _blocks(stmt) -> list[list]:
    if isinstance(stmt, ast.Try):
        return [stmt.body, *(h.body for h in stmt.handlers), stmt.orelse, stmt.finalbody]
    if isinstance(stmt, ast.Match):
        return [case.body for case in stmt.cases]
    return [stmt.body, getattr(stmt, "orelse", [])]


def _python_source(cell_source: str) -> str:
    """The cell as plain Python: IPython magics (``%time``, ``!ls``) become function calls."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(cell_source)


def trivial_asserts(cells) -> list[tuple[str, int, str, str]]:
    """Trivially true asserts in a sequence of ``(cell_id, source)`` code cells, run in order.

    Returns
    -------
    list of (cell_id, line, reason, assert statement)
    """
    consts: set[str] = set()
    found: list = []
    for cell_id, source in cells:
        tree = ast.parse(_python_source(source))
        _scan(tree.body, consts, found, cell_id)
    return found


def notebook_code_cells(path):
    nb = nbformat.read(path, as_version=4)
    return [(c.get("id", str(i)), c.source)
            for i, c in enumerate(nb.cells) if c.cell_type == "code"]


# --------------------------------------------------------------------------------------------------
# the checker itself


@pytest.mark.parametrize("source", [
    "assert True",
    "assert 1 + 1 == 2",
    "assert round(0.56 + 0.54 + 0.65, 2) == 1.75",
    "assert abs((0.5621 - 0.56) + (0.5447 - 0.54) - 0.0068) < 1e-12",
    "assert np.isclose(-np.log(0.57), 0.5621, atol=1e-4)",
    "assert math.log(2) > 0 and [1, 2][0] == 1",
    "x = 0.5\nassert x == 0.5",
    "lam = 10.0\nother = 2 * lam\nassert other == 20.0",
    "total = sum([0.56, 0.54, 0.65])\nassert total > 1.7",
    "def check():\n    assert 2 > 1",
    "for i in range(3):\n    y = 4\n    assert y == 4",
    "value = f(1)\nassert value == value",
    ("slide = [(0.57, 0.56), (0.58, 0.54)]\nshown = np.array([s for _, s in slide])\n"
     "assert round(shown.sum(), 2) == 1.1"),
    "counts = {}\nn = len(counts)\nassert n == 0",
    "shown = [0.56, 0.54]\nprint(shown, sum(shown))\nassert round(sum(shown), 2) == 1.1",
])
def test_checker_flags_trivially_true_asserts(source):
    found = trivial_asserts([("cell", source)])
    assert len(found) == 1, found
    assert found[0][0] == "cell" and found[0][1] == source.count("\n") + 1


def test_checker_follows_names_across_cells_until_they_are_rebound():
    assert trivial_asserts([("a", "slope = 54.0"), ("b", "assert slope > 0")])[0][:2] == ("b", 1)
    rebound = [("a", "slope = 54.0"), ("b", "slope = fit(x)"), ("c", "assert slope > 0")]
    assert trivial_asserts(rebound) == []
    looped = [("a", "n = 3"), ("b", "for n in data:\n    pass"), ("c", "assert n == 3")]
    assert trivial_asserts(looped) == []
    assert trivial_asserts([("a", "k = 1\nif cond:\n    k = run()"), ("b", "assert k == 1")]) == []


@pytest.mark.parametrize("source", [
    "assert f(x) == 3",
    "x = compute()\nassert x > 0",
    "x = 1\nx = g(x)\nassert x == 1",
    "x = 1\nx += step()\nassert x > 1",
    "w = np.array([1.0, 2.0])\nassert L.nll_loss(logp, t, weight=w) > 0",
    "p = 0.57\nassert abs(L.nll_loss(np.log([[p, 1 - p]]), [0]) + np.log(p)) < 1e-12",
    "assert np.all(rate[I <= 1.5] == 0)",
    "def f(lam):\n    assert lam > 0",
    "lam = 2.0\ndef f(lam):\n    assert lam > 0",
    "import numpy as np\nassert np.pi > 3",
    "%time y = model(x)\nassert y.shape == (3,)",
    "with open(p) as fh:\n    line = fh.readline()\nassert line == 'x'",
    "try:\n    v = parse(s)\nexcept ValueError:\n    v = None\nassert v is None",
    "counts = {}\nfor i in (1, 2):\n    counts[i] = simulate(i)\nassert counts[1] < counts[2]",
    "seen = []\nrun(callback=seen.append)\nassert seen == []",
    "seen = []\nrecord(seen)\nassert len(seen) > 0",
    "xs = [3, 1]\nxs.sort()\nassert xs[0] == 1",
    "a = np.zeros(3)\nnp.add(a, 1, out=a)\nassert a[0] == 1",
    "a = np.zeros(3)\na.fill(2)\nassert a[0] == 2",
    ("state = np.random.get_state()\nrun()\n"
     "assert np.array_equal(state[1], np.random.get_state()[1])"),
    "assert np.random.rand() < 0.99",
    ("refused = False\ntry:\n    L.kl_div(x, y)\nexcept ValueError:\n"
     "    refused = True\nassert refused"),
])
def test_checker_accepts_asserts_that_test_something(source):
    assert trivial_asserts([("cell", source)]) == []


def test_checker_reports_the_cell_line_and_reason():
    source = "print(1)\nshown = [0.56, 0.54]\nassert round(sum(shown), 2) == 1.1"
    (where, line, why, code), = trivial_asserts([("iris", source)])
    assert (where, line, code) == ("iris", 3, "assert round(sum(shown), 2) == 1.1")
    assert "shown" in why


# --------------------------------------------------------------------------------------------------
# the lectures


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_lecture_has_no_trivially_true_asserts(path):
    found = trivial_asserts(notebook_code_cells(path))
    assert not found, f"lectures/{path.name} has asserts that cannot fail:\n" + "\n".join(
        f"  cell {cell} line {line}: {code}   ({why})" for cell, line, why, code in found)
