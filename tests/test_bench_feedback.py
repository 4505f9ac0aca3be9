"""The helpers of benchmarks/bench_feedback.py: which submissions the burst sends, how they land in
the inbound, the percentile and the score comparison. Nothing here grades or times anything."""

import importlib.util
import sys
from pathlib import Path

import pytest

from grader.inbox import is_ready, parse_name

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(REPO / "benchmarks"))  # it imports bench_grading's helpers
    try:
        spec = importlib.util.spec_from_file_location("bench_feedback",
                                                      REPO / "benchmarks" / "bench_feedback.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


@pytest.fixture(scope="module")
def samples(bench):
    return bench.bundled_samples(REPO / "samples" / "submitted")


def test_the_burst_is_every_sample_then_copies_under_new_names(bench, samples):
    chosen = bench.plan(samples, 60)
    pairs = [(student, assignment) for student, assignment, _ in chosen]
    assert len(set(pairs)) == 60
    originals = {(student, a) for a, items in samples.items() for student, _ in items}
    assert originals <= set(pairs)
    extras = [p for p in pairs if p not in originals]
    assert len(extras) == 60 - len(originals)
    assert all(student.endswith("-2") for student, _ in extras)
    assert {a for _, a in extras} == set(samples)  # one more of each assignment
    assert [a for _, a in pairs[:6]] == sorted(samples)  # the assignments take turns
    for student, assignment, folder in chosen:
        assert folder.name == assignment and student.startswith(folder.parent.name)
    assert bench.plan(samples, 60) == chosen


def test_a_small_burst_spreads_over_the_assignments(bench, samples):
    chosen = bench.plan(samples, 12)
    assert sorted(a for _, a, _ in chosen) == sorted(list(samples) * 2)


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_plan_refuses_a_bad_count(bench, samples, n):
    with pytest.raises(ValueError, match="n must be"):
        bench.plan(samples, n)


def test_percentile_is_nearest_rank(bench):
    values = list(range(20, 0, -1))
    assert bench.percentile(values, 95) == 19
    assert bench.percentile(values, 50) == 10
    assert bench.percentile(values, 100) == 20
    assert bench.percentile([4.0], 95) == 4.0
    with pytest.raises(ValueError, match="values"):
        bench.percentile([], 50)
    with pytest.raises(ValueError, match="q must"):
        bench.percentile(values, 0)


def test_compare_names_the_submissions_that_differ(bench):
    service = {("ada", "01"): {"score": 7.0, "status": "graded"},
               ("bob", "01"): {"score": 2.5, "status": "graded"},
               ("cy", "02"): {"score": None, "status": "failed"}}
    batch = {("ada", "01"): {"raw_score": "7", "status": "graded"},
             ("bob", "01"): {"raw_score": "3", "status": "needs manual grading"},
             ("cy", "02"): {"raw_score": "", "status": "failed"}}
    scores, statuses = bench.compare(service, batch)
    assert scores == ["bob 01: service 2.5, batch 3"]
    assert statuses == [("graded", "needs manual grading")]
    scores, _ = bench.compare({("dee", "01"): {"score": 1.0, "status": "graded"}}, batch)
    assert scores == ["dee 01: not in the batch's grades.csv"]


def test_a_submission_lands_whole_as_nbgrader_submit_leaves_it(bench, samples, tmp_path):
    (tmp_path / "inbound").mkdir()
    student, folder = samples["01_activations"][0]
    name, _ = bench.submit(tmp_path, student, "01_activations", folder)
    landed = tmp_path / "inbound" / name
    assert parse_name(name)[:2] == (student, "01_activations")
    assert (landed / "timestamp.txt").read_text() == parse_name(name)[2]
    assert (landed / "submission_secret.txt").read_text()
    assert (landed / "activations.ipynb").read_bytes() == \
        (folder / "activations.ipynb").read_bytes()
    assert is_ready(landed)
    assert not any((tmp_path / "staging").iterdir())  # nothing left half-made
