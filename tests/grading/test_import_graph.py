"""grader/'s imports form layers: no module imports one above its own layer, and none imports
itself through others (no circle), counting the imports inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GRADER = Path(__file__).resolve().parents[2] / "grader"

# Lowest first. A module may import modules of its own layer or of the layers below it.
LAYERS = [
    ("__init__", "patches", "cells", "late", "probe_runner", "kernel_launcher", "forkserver"),
    ("course",),
    ("sandbox", "zygote", "feedback", "integrity"),
    ("types", "probes", "similarity", "inbox", "pages", "prestart"),
    ("gradebook", "report"),
    ("warm", "job", "releases", "merge"),
    ("pool",),  # the local executor
    ("distributed",),  # the Dask executor: runs the local one on each worker
    # the orchestrations, which use either executor: make grade's batch, the feedback service
    ("scheduler", "export", "service"),
    ("cli", "_preload"),
    ("__main__",),
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}
MODULES = sorted(p.stem for p in GRADER.glob("*.py"))


def imports(name: str) -> set[str]:
    """The grader modules that ``grader/<name>.py`` imports, anywhere in it."""
    tree = ast.parse((GRADER / f"{name}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "grader":
                    found.add(parts[1] if len(parts) > 1 else "__init__")
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and (node.module or "").split(".")[0] != "grader":
                continue
            if node.level > 1:
                raise AssertionError(f"grader/{name}.py imports from above the package")
            module = (node.module or "") if node.level else (node.module or "")[len("grader"):]
            module = module.lstrip(".")
            if module:
                found.add(module.split(".")[0])
            else:  # from . import x, y: modules, or names of the package's __init__
                for alias in node.names:
                    found.add(alias.name if alias.name in MODULES else "__init__")
    found.discard(name)
    return found


GRAPH = {name: imports(name) for name in MODULES}


def test_every_module_has_a_layer():
    missing = [m for m in MODULES if m not in LAYER]
    assert not missing, f"put {missing} into LAYERS (lowest first) in {__file__}"
    gone = [m for m in LAYER if m not in MODULES]
    assert not gone, f"LAYERS names modules that do not exist: {gone}"


@pytest.mark.parametrize("name", MODULES)
def test_no_module_imports_one_above_it(name):
    upward = sorted(m for m in GRAPH[name] if m in LAYER and LAYER[m] > LAYER.get(name, -1))
    assert not upward, (f"grader/{name}.py (layer {LAYER.get(name)}) imports {upward} from a "
                        "higher layer: move the shared part down, or pass it in")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The circles of ``graph``, each as the path that closes it (depth-first search)."""
    found, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append([*path[path.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_circle():
    assert cycles(GRAPH) == [], "grader/ modules that import each other, directly or not"


def test_the_checks_see_circles_and_imports_inside_functions(tmp_path):
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    # scheduler's imports include the Dask executor and the merge; the forkserver imports nothing
    assert {"distributed", "pool", "merge", "gradebook"} <= GRAPH["scheduler"]
    assert GRAPH["forkserver"] == set()
    # an import inside a function counts: cli imports the scheduler only when it runs
    assert "scheduler" in GRAPH["cli"]


def test_the_module_map_names_every_module():
    doc = ast.get_docstring(ast.parse((GRADER / "__init__.py").read_text()))
    unnamed = [m for m in MODULES if m != "__init__" and f"``{m}``" not in doc]
    assert not unnamed, f"grader/__init__.py's module map does not name {unnamed}"
