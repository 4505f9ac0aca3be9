"""nnlib's docstring examples run: each module's ``>>>`` examples are doctests."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import nnlib

MODULES = sorted(m.name for m in pkgutil.iter_modules(nnlib.__path__) if not m.name.startswith("_"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"nnlib.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False)
    assert result.failed == 0, (
        f"{result.failed} of {result.attempted} examples in nnlib.{name} fail")


def test_examples_exist():
    """The check above must check something: the library documents itself by example."""
    finder = doctest.DocTestFinder()
    examples = sum(len(t.examples) for name in MODULES
                   for t in finder.find(importlib.import_module(f"nnlib.{name}")))
    assert examples >= 10, f"only {examples} docstring examples in nnlib"
