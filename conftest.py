"""Shared pytest set-up: headless plotting, the fast tier, and how pytest-xdist shares the work.

It sits at the repository root so that it also applies to ``pytest lectures/``.

A notebook's cells share one kernel, so all nbval items of a notebook must run on the same worker; a
test module's module-scoped fixtures (the adversarial grading run, the JupyterLab server) likewise.
The nbgrader round trip and the probe checks are the exception: each assignment is its own unit, so
that assignments are graded in parallel.
"""

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# The test helpers (coursekit, labkit, hubkit) are importable through pyproject's `pythonpath`; the
# browser tests' `chromium` and `browser` fixtures live in one of them.
pytest_plugins = ["browserkit"]

ROUNDTRIP = "tests/test_nbgrader_roundtrip.py"
PROBES = "tests/grading/test_probes_samples.py"
PER_ASSIGNMENT = (ROUNDTRIP, PROBES)  # parametrised by assignment; each assignment is one unit

try:  # property-based tests draw the same examples on every run (a failure is reproducible)
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("course", derandomize=True, print_blob=True)
    _hypothesis_settings.load_profile("course")
except ImportError:  # pytest lectures/ without the development extras
    pass


def work_unit(nodeid: str) -> str:
    """The scheduling unit of a test: its file, or its assignment for the per-assignment files."""
    path, _, rest = nodeid.partition("::")
    if path in PER_ASSIGNMENT and rest.endswith("]"):
        return f"{path}[{rest.rsplit('[', 1)[1]}"
    return path


# The longest units first, so that the two workers finish together instead of one of them grading a
# whole assignment at the end while the other idles (xdist would otherwise start with the units that
# hold the most tests: the quick parametrised unit tests).
LONGEST_FIRST = ("tests/grading/test_adversarial.py", ROUNDTRIP, "tests/grading/test_make_grade.py",
                 PROBES, "lectures/", "tests/test_lab_server.py", "solutions/")


def _rank(nodeid: str) -> int:
    for i, prefix in enumerate(LONGEST_FIRST):
        if nodeid.startswith(prefix):
            return i
    return len(LONGEST_FIRST)


# `make test-fast`, for the edit-run loop: the library, the repository's hygiene and the grader's
# unit tests, in well under a minute; nothing here starts a kernel, a server or a grading run.
FAST = ("tests/nnlib/", "tests/test_notebook_hygiene.py", "tests/test_environment.py",
        "tests/test_lint.py", "tests/test_samples_current.py", "tests/test_samples_readme.py",
        "tests/test_start_page.py", "tests/grading/test_report.py",
        "tests/grading/test_probes_spec.py",
        "tests/grading/test_probes_describe.py", "tests/grading/test_integrity.py",
        "tests/grading/test_late.py", "tests/grading/test_patches.py",
        "tests/grading/test_import_graph.py", "tests/grading/test_inbox.py")


def pytest_collection_modifyitems(items):
    for item in items:
        if item.nodeid.startswith(FAST):
            item.add_marker(pytest.mark.fast)
    items.sort(key=lambda item: _rank(item.nodeid))  # stable: the order within a unit is kept


def pytest_xdist_make_scheduler(config, log):
    # One work unit per worker, in the order above; xdist's private _split_scope is overridden in
    # grader.patches, version-guarded (None: xdist's default scheduling).
    from grader import patches

    return patches.xdist_scope_scheduling(config, log, work_unit)
