"""Every assignment's clean-room probes, run on the solution, the blank release and every sample.

``make grade`` overrules a question's in-kernel full marks with 0 when its clean-room probe
disagrees with the solution (``grader/probes.py``). That rule is only fair if the probes are right:
every autograded question has one, the solution passes each, a correct answer however written never
disagrees (each bundled sample with full marks on a question, including the correct-but-unusual
ones), and a probe can fail (the untouched release disagrees on every question).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest
from coursekit import REPO, assignment_names, autograded_ids

from grader import integrity, probes, sandbox

pytestmark = [pytest.mark.grading]

ASSIGNMENTS = assignment_names()
PROBE_TIMEOUT = 60  # seconds per cell and per probe; 06's training runs several seconds
_RUNS: dict[str, dict] = {}


def _spec(assignment: str) -> dict:
    spec = probes.load_probes(REPO / "solutions" / assignment)
    assert spec, f"solutions/{assignment} has no {probes.PROBE_FILE}"
    return spec


def _max_points(assignment: str) -> dict[str, float]:
    spec = _spec(assignment)
    nb = nbformat.read(REPO / "solutions" / assignment / f"{spec['notebook']}.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"])
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
            and not c.metadata["nbgrader"].get("solution")}


def _run_probes(nb, spec: dict) -> list[dict]:
    work = Path(tempfile.mkdtemp(prefix="probe-test-", dir="/var/tmp"))
    os.chmod(work, 0o711)
    try:
        with sandbox.lease_slots(1) as slots:
            return probes.run(nb, spec["probes"], work / "job" / "probe",
                              sandbox.Slot(slots[0], timeout=PROBE_TIMEOUT), setup=spec["setup"])
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)


def runs(assignment: str) -> dict:
    """Probe results (one list per probe) for the solution, the blank release and every sample."""
    if assignment not in _RUNS:
        spec = _spec(assignment)
        name = f"{spec['notebook']}.ipynb"
        release = nbformat.read(REPO / "exercises" / assignment / name, as_version=4)
        out = {"reference": _run_probes(
            integrity.read_notebook(REPO / "solutions" / assignment / name), spec)}
        notebooks = {"blank": REPO / "exercises" / assignment / name}
        for student in sorted((REPO / "samples" / "submitted").iterdir()):
            if (student / assignment / name).is_file():
                notebooks[student.name] = student / assignment / name
        for who, path in notebooks.items():
            # as make grade does: test and read-only cells restored from the release first
            repaired, _ = integrity.check_submission(integrity.read_notebook(path), release)
            out[who] = _run_probes(repaired, spec)
        _RUNS[assignment] = out
    return _RUNS[assignment]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_autograded_question_has_a_probe(assignment):
    spec = _spec(assignment)
    ids = autograded_ids(REPO / "solutions" / assignment / f"{spec['notebook']}.ipynb")
    probed = {p["grade_id"] for p in spec["probes"]}
    assert not set(ids) - probed, (
        f"solutions/{assignment}/probes.json has no clean-room probe for "
        f"{sorted(set(ids) - probed)}: a kernel trick would keep their points")
    assert not probed - set(ids), f"probes name unknown questions: {sorted(probed - set(ids))}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_solution_passes_every_probe(assignment):
    spec = _spec(assignment)
    failed = [(p["grade_id"], p["call"], r["error"])
              for p, r in zip(spec["probes"], runs(assignment)["reference"], strict=True)
              if "error" in r]
    assert not failed, f"the solution of {assignment} fails its own probes: {failed}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_probe_can_fail(assignment):
    """The untouched release raises NotImplementedError everywhere: every probe must disagree."""
    spec = _spec(assignment)
    got = runs(assignment)
    agreed = [p["grade_id"]
              for p, mine, ref in zip(spec["probes"], got["blank"], got["reference"], strict=True)
              if probes.agrees(mine, ref, p)]
    assert not agreed, f"probes of {assignment} agree with the blank release: {agreed}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_probes_never_overrule_a_correct_answer(assignment):
    """A sample with full marks on a question (samples/expected) must agree with all its probes."""
    spec = _spec(assignment)
    expected = json.loads((REPO / "samples" / "expected" / f"{assignment}.json").read_text())
    points = _max_points(assignment)
    got = runs(assignment)
    wrong = []
    for student, scores in expected.items():
        for probe, mine, ref in zip(spec["probes"], got[student], got["reference"], strict=True):
            gid = probe["grade_id"]
            if scores.get(gid) == points[gid] and not probes.agrees(mine, ref, probe):
                wrong.append(f"{student}/{gid}: {probes.describe(probe, mine, ref)}")
    assert not wrong, ("these answers have full marks in the kernel and are right, but the "
                       "clean-room probe would score them 0:\n" + "\n".join(wrong))
