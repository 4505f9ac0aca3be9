"""The clean-room probes stay within what is left of a job's time.

Each probe gets the per-cell time limit; an answer that loops in every probe would otherwise take
(cells + probes) x limit, past the job's own limit, and the whole submission would fail instead of
the looping questions scoring 0.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from nbformat import v4

from grader import probes, sandbox

LOOP = "def f(x):\n    while True:\n        pass\n"


def _run(budget):
    nb = v4.new_notebook(cells=[v4.new_code_cell(LOOP)])
    work = Path(tempfile.mkdtemp(prefix="probe-budget-", dir="/var/tmp"))
    os.chmod(work, 0o711)
    try:
        with sandbox.lease_slots(1) as slots:
            slot = sandbox.Slot(slots[0], timeout=30)
            start = time.monotonic()
            got = probes.run(nb, [{"call": "f", "args": [1.0]}] * 3, work / "job" / "probe", slot,
                             budget=budget)
            return got, time.monotonic() - start
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)


def test_probes_that_loop_end_within_the_budget():
    got, seconds = _run(budget=3)
    assert seconds < 15, f"the probes took {seconds:.1f} s with a budget of 3 s (each probe: 30 s)"
    assert all("timed out" in r.get("error", "") for r in got), got


def test_the_budget_never_extends_the_limits():
    """A generous budget changes nothing: a quick probe still returns its value."""
    nb = v4.new_notebook(cells=[v4.new_code_cell("def f(x):\n    return x\n")])
    work = Path(tempfile.mkdtemp(prefix="probe-budget-", dir="/var/tmp"))
    os.chmod(work, 0o711)
    try:
        with sandbox.lease_slots(1) as slots:
            (result,) = probes.run(nb, [{"call": "f", "args": [2.0]}], work / "job" / "probe",
                                   sandbox.Slot(slots[0], timeout=30), budget=10_000)
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    assert result == {"value": [2.0], "shape": []}, result


CRASH_ONCE = (
    "import os\n"
    "if not os.path.exists('crashed-once'):\n"
    "    open('crashed-once', 'w').close()\n"
    "    os._exit(3)\n"
    "def f(x):\n"
    "    return x\n"
)


def _probe(source, budget=10_000):
    nb = v4.new_notebook(cells=[v4.new_code_cell(source)])
    work = Path(tempfile.mkdtemp(prefix="probe-retry-", dir="/var/tmp"))
    os.chmod(work, 0o711)
    try:
        with sandbox.lease_slots(1) as slots:
            return probes.run(nb, [{"call": "f", "args": [2.0]}] * 2, work / "job" / "probe",
                              sandbox.Slot(slots[0], timeout=30), budget=budget)
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)


def test_a_probe_process_that_dies_once_is_run_again():
    """A process that leaves no result (here it ends itself the first time) is not the answer's
    verdict yet: the second run's values count."""
    assert _probe(CRASH_ONCE) == [{"value": [2.0], "shape": []}] * 2


def test_a_probe_process_that_always_dies_fails_with_its_exit_status():
    """An answer that ends the process every time gets no values, and the finding says how the
    process ended."""
    got = _probe("import os\nos._exit(3)\ndef f(x):\n    return x\n")
    assert all(r.get("error") == "the probe process gave no readable result (exit status 3)"
               for r in got), got
