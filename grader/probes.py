"""Hidden checks that do not depend on the student's kernel.

nbgrader runs the hidden tests in the same kernel as the student's code, so code in an answer cell
can change what a test sees (rebind ``np.allclose``, patch ``AssertionError``, install an IPython
hook...). The probes re-run only the student's *answer* cells in a fresh sandboxed process, call the
graded functions on hidden inputs, bring back plain numbers as JSON, and compare them outside the
sandbox with the instructor's solution treated the same way. When the in-kernel tests gave a
question points but a probe disagrees, the autograder's score of that question becomes 0 and the
submission is flagged for review (``grader.job.probe``); a manual score a person entered stands.

An assignment declares its probes in ``solutions/<assignment>/probes.json`` (never released: the
course configuration ignores the file name)::

    {"notebook": "activations",
     "probes": [{"grade_id": "test_sigmoid", "call": "sigmoid", "args": [[-1000.0, 0.0, 3.0]]},
                {"grade_id": "test_relu", "call": "relu_grad", "args": [[0.0, -1.0, 2.0]],
                 "rtol": 1e-9, "atol": 1e-12}]}

``grade_id`` names the test cell whose verdict the probe corroborates; ``args``/``kwargs`` are JSON,
and JSON lists arrive as float NumPy arrays.

A question whose answer is not a function of arrays (a class, a graph of objects, a training run, a
PyTorch model) is probed through ``"setup"``: Python source (a string or a list of lines) that runs
after the answer code, in the same namespace, and defines functions for probes to ``call``. They
build the inputs, call the student's code and return numbers (a verdict such as ``float(accuracy >
0.9)`` where the right value is not unique), so that only numbers cross the boundary::

    {"notebook": "backprop",
     "setup": ["def _probe_reuse():", "    x = Value(3.0)", "    y = x * x + x",
               "    y.backward()", "    return [y.data, x.grad]"],
     "probes": [{"grade_id": "test_reuse", "call": "_probe_reuse"}]}
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np

from . import cells, sandbox, zygote

PROBE_FILE = "probes.json"
# Runs of the probe process before its questions count as failed when it leaves no readable result:
# a process that dies before writing one for a reason of the machine (once seen in a benchmark run,
# a correct submission then scoring 0) is run again; an answer that crashes it fails both times.
ATTEMPTS = 2


def load_probes(source_dir: Path) -> dict | None:
    """The probe declaration of an assignment's source folder, or ``None``."""
    path = source_dir / PROBE_FILE
    if not path.exists():
        return None
    spec = json.loads(path.read_text(encoding="utf-8"))
    for probe in spec.get("probes", []):
        if not {"grade_id", "call"} <= set(probe):
            raise ValueError(f"{path}: every probe needs 'grade_id' and 'call', got {probe}")
    setup = spec.get("setup", "")
    if isinstance(setup, list):
        setup = "\n".join(setup)
    # a malformed probes.json, as above: its callers expect ValueError
    if not isinstance(setup, str):
        raise ValueError(f"{path}: 'setup' must be Python source (a string or a list of lines), "  # noqa: TRY004
                         f"got {type(setup).__name__}")
    spec["setup"] = setup
    return spec


def answer_code(nb) -> list[str]:
    """The code a probe may run: setup (read-only) cells, answer cells and the student's own cells,
    but never a test cell."""
    return [cells.without_magics(cell.source) for cell in nb.cells
            if cell.cell_type == "code" and not cells.is_test(cell)]


def run(nb, probes: list[dict], workdir: Path, slot: sandbox.Slot, setup: str = "",
        budget: float | None = None) -> list[dict]:
    """Run the probes against ``nb``'s answer code in a sandboxed process of ``slot``; return its
    results.

    ``setup`` (the declaration's ``"setup"``) runs after the answer code. Every cell, the setup and
    every probe get ``slot.timeout`` seconds; the process as a whole gets the sum, or ``budget``
    seconds if that is less (what is left of the job's time, so that answers that loop in every
    probe cost their questions, not the whole submission). A process that leaves no readable
    result is run once more (:data:`ATTEMPTS`) within the same time.
    """
    cell_timeout = slot.timeout
    workdir.mkdir(parents=True, exist_ok=True)
    code = answer_code(nb)
    timeout = cell_timeout * (len(code) + len(probes) + 1) + 10
    if budget is not None:
        timeout = max(1.0, min(timeout, budget))
    (workdir / "probe-input.json").write_text(json.dumps(
        {"code": code, "setup": setup, "timeout": cell_timeout,
         "probes": [{k: p[k] for k in ("call", "args", "kwargs") if k in p} for p in probes]}))
    sandbox.prepare(workdir.parent, workdir, slot)
    config = workdir.parent / "sandbox.json"
    out = workdir / "probe-output.json"
    deadline = time.monotonic() + timeout
    for attempt in range(ATTEMPTS):
        out.unlink(missing_ok=True)
        left = deadline - time.monotonic()
        if attempt and left < 1.0:
            break
        try:
            status = _run_sandboxed(slot, config, workdir, left)
        except (subprocess.TimeoutExpired, TimeoutError):
            return [{"error": f"the probes timed out after {timeout:g} s"} for _ in probes]
        finally:
            slot.kill()
        try:
            results = json.loads(out.read_text(encoding="utf-8"))
            if isinstance(results, list) and len(results) == len(probes):
                return results
        except (OSError, ValueError):
            pass
    why = f" (exit status {status})" if status else ""
    return [{"error": f"the probe process gave no readable result{why}"} for _ in probes]


def _run_sandboxed(slot: sandbox.Slot, config: Path, workdir: Path, timeout: float) -> int:
    """The probe process of ``config``: forked by the slot's zygote and waited for here, or, without
    a zygote (or when it cannot be reached), started the direct way as a subprocess. Returns its
    exit status."""
    if slot.zygote:
        status = zygote.run(slot.zygote, str(config), ["--probe"], timeout)
        if status is not None:
            return status
    argv = sandbox.Slot(slot.number, slot.limits, slot.timeout).argv(config, ["--probe"])
    return subprocess.run(argv, check=False, cwd=workdir, timeout=timeout,
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}).returncode


def agrees(result: dict, reference: dict, probe: dict) -> bool:
    """Whether a student's probe result matches the reference (same shape, values within
    tolerance)."""
    if "error" in reference:
        return "error" in result
    if "error" in result or result.get("shape") != reference.get("shape"):
        return False
    a = np.array([np.nan if v is None else v for v in result["value"]], dtype=float)
    b = np.array([np.nan if v is None else v for v in reference["value"]], dtype=float)
    return bool(np.allclose(a, b, rtol=probe.get("rtol", 1e-6), atol=probe.get("atol", 1e-9),
                            equal_nan=True))


def describe(probe: dict, result: dict, reference: dict) -> str:
    """One line saying which call disagreed and by how much, for a finding."""
    args = json.dumps(probe.get("args", []))
    call = (f"{probe['call']}(*{args[:80]}{'...' if len(args) > 80 else ''})"
            if probe.get("args") else f"{probe['call']}()")
    if "error" in result and "error" not in reference:
        return f"{call} raised: {str(result['error'])[:120]}"
    if "error" in reference:
        return f"{call} returned a value where the solution raises"
    if result.get("shape") != reference.get("shape"):
        return f"{call} has shape {result.get('shape')}, the solution's {reference.get('shape')}"
    a = np.array([np.nan if v is None else v for v in result["value"]], dtype=float)
    b = np.array([np.nan if v is None else v for v in reference["value"]], dtype=float)
    with np.errstate(invalid="ignore"):
        diff = np.abs(a - b)
    nan_mismatch = np.isnan(a) != np.isnan(b)
    if nan_mismatch.any():
        worst = int(np.argmax(nan_mismatch))
        return (f"{call} gives {a[worst]:.6g} at element {worst} where the solution gives "
                f"{b[worst]:.6g}")
    if not np.isfinite(diff).any():
        return f"{call} differs from the solution"
    worst = int(np.nanargmax(diff))
    return (f"{call} gives {a[worst]:.6g} at element {worst} where the solution gives "
            f"{b[worst]:.6g} (largest difference {diff[worst]:.3g})")
