"""The nbgrader round trip for every assignment, run on a throwaway copy of the course.

For each assignment in ``solutions/``: the release nbgrader generates equals the committed
``exercises/`` (a stale release fails); the instructor's solution, submitted as a student's work, gets
full marks; the untouched release gets zero; and each bundled sample submission in ``samples/`` gets
exactly the per-question scores recorded in ``samples/expected/<assignment>.json``.
"""

from __future__ import annotations

import json

import pytest

from coursekit import REPO, assignment_names, load_json, make_course, nbgrader, notebooks, scores
from coursekit import submit

ASSIGNMENTS = assignment_names()
PARAMS = ASSIGNMENTS  # conftest.work_unit schedules each assignment as one unit
_GRADED: dict[str, tuple] = {}


def _samples(assignment: str) -> dict[str, list]:
    """Sample students who submitted ``assignment``: student id -> notebook paths."""
    root = REPO / "samples" / "submitted"
    if not root.is_dir():
        return {}
    return {d.name: notebooks(d / assignment) for d in sorted(root.iterdir())
            if (d / assignment).is_dir()}


def graded(assignment: str, tmp_path_factory):
    """Generate the release and autograde reference, blank and samples once per assignment."""
    if assignment not in _GRADED:
        course = make_course(tmp_path_factory.mktemp(f"course-{assignment}"), [assignment])
        nbgrader(course, "generate_assignment", assignment, "--force")
        release = course / "exercises" / assignment
        submit(course, "reference", assignment, notebooks(course / "solutions" / assignment))
        submit(course, "blank", assignment, notebooks(release))
        for student, files in _samples(assignment).items():
            submit(course, student, assignment, files)
        nbgrader(course, "autograde", assignment, "--force")
        _GRADED[assignment] = (course, scores(course, assignment))
    return _GRADED[assignment]


def _canonical(path):
    nb = load_json(path)
    return json.dumps(nb, sort_keys=True, indent=1)


def test_there_is_at_least_one_assignment():
    assert ASSIGNMENTS, "solutions/ holds no assignment notebooks"


@pytest.mark.grading
@pytest.mark.parametrize("assignment", PARAMS)
def test_release_matches_generated(assignment, tmp_path_factory):
    course, _ = graded(assignment, tmp_path_factory)
    generated = course / "exercises" / assignment
    committed = REPO / "exercises" / assignment
    gen_files = sorted(p.relative_to(generated) for p in generated.rglob("*") if p.is_file())
    com_files = sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    assert gen_files == com_files, (
        f"exercises/{assignment} holds {com_files} but nbgrader generates {gen_files}: "
        "run `make release` and commit exercises/")
    for rel in gen_files:
        if rel.suffix == ".ipynb":
            same = _canonical(generated / rel) == _canonical(committed / rel)
        else:
            same = (generated / rel).read_bytes() == (committed / rel).read_bytes()
        assert same, (f"exercises/{assignment}/{rel} is stale or was edited by hand: "
                      "run `make release` and commit the result")


@pytest.mark.grading
@pytest.mark.parametrize("assignment", PARAMS)
def test_solution_scores_full_marks(assignment, tmp_path_factory):
    _, result = graded(assignment, tmp_path_factory)
    grades = result["reference"]
    assert grades, f"no grade cells were found in solutions/{assignment}"
    lost = {gid: s for gid, s in grades.items() if s[0] != s[1]}
    assert not lost, f"the solution of {assignment} loses points (score, max): {lost}"


@pytest.mark.grading
@pytest.mark.parametrize("assignment", PARAMS)
def test_blank_release_scores_zero(assignment, tmp_path_factory):
    _, result = graded(assignment, tmp_path_factory)
    grades = result["blank"]
    scored = {gid: s for gid, s in grades.items() if s[0] != 0}
    assert not scored, f"the untouched release of {assignment} earns points (score, max): {scored}"


@pytest.mark.grading
@pytest.mark.parametrize("assignment", PARAMS)
def test_samples_score_as_expected(assignment, tmp_path_factory):
    samples = _samples(assignment)
    expected_file = REPO / "samples" / "expected" / f"{assignment}.json"
    if not samples:
        assert not expected_file.exists(), f"{expected_file} names samples that do not exist"
        pytest.skip(f"no sample submissions for {assignment}")
    expected = load_json(expected_file)
    assert sorted(expected) == sorted(samples), (
        f"samples/expected/{assignment}.json lists {sorted(expected)}, samples/submitted holds "
        f"{sorted(samples)}")
    _, result = graded(assignment, tmp_path_factory)
    for student, want in expected.items():
        got = {gid: s[0] for gid, s in result[student].items()}
        assert got == pytest.approx(want), f"{student} on {assignment}: got {got}, expected {want}"
