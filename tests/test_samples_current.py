"""The sample submissions are submissions of today's releases.

A student fetches the current release, so a sample whose read-only or test cells come from an older
release is not what a student would hand in: the integrity scan reports "a locked cell was edited"
and sends it to review. After changing a test cell, refresh the samples' copies of it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from coursekit import REPO

from grader import integrity

SAMPLES = sorted((REPO / "samples" / "submitted").glob("*/*/*.ipynb"))
STALE = ("a locked cell was edited", "nbgrader metadata was changed", "unknown grade_id",
         "duplicated grade_id")


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: "/".join(p.parts[-3:-1]))
def test_sample_matches_its_release(path: Path):
    release = integrity.read_notebook(REPO / "exercises" / path.parent.name / path.name)
    _, findings = integrity.check_submission(integrity.read_notebook(path), release)
    stale = [str(f) for f in findings if any(s in f.reason for s in STALE)]
    assert not stale, f"{path.relative_to(REPO)} does not match today's release: {stale}"
    solution_markers = [c.get("id") for c in integrity.read_notebook(path).cells
                        if "### BEGIN SOLUTION" in c.source or "### END SOLUTION" in c.source]
    assert not solution_markers, (
        f"{path.relative_to(REPO)} has solution markers in {solution_markers}")
