"""Shared pytest set-up: headless plotting, and grouping for pytest-xdist.

It sits at the repository root so that it also applies to ``pytest lectures/``.

Tests run in parallel with ``--dist loadgroup``. A notebook's cells share one kernel, so every nbval
item of a notebook joins the notebook's group; tests marked ``xdist_group`` keep theirs.
"""

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.split("::", 1)[0].endswith(".ipynb"):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))
