"""The one-line findings of the clean-room checks: which call disagreed, where and by how much."""

from grader.probes import agrees, describe

PROBE = {"grade_id": "test_square", "call": "square", "args": [[-2.0, 3.0]]}


def test_a_wrong_value_is_located_and_measured():
    text = describe(PROBE, {"value": [4.0, 3.0], "shape": [2]}, {"value": [4.0, 9.0], "shape": [2]})
    assert "square(*[[-2.0, 3.0]])" in text
    assert "gives 3 at element 1 where the solution gives 9" in text
    assert "largest difference 6" in text


def test_errors_shapes_and_nans_are_named():
    ref = {"value": [4.0, 9.0], "shape": [2]}
    assert "raised: NameError" in describe(PROBE, {"error": "NameError: np"}, ref)
    assert "has shape [1, 2]" in describe(PROBE, {"value": [4.0, 9.0], "shape": [1, 2]}, ref)
    assert "gives nan at element 0" in describe(PROBE, {"value": [None, 9.0], "shape": [2]}, ref)


def test_describe_only_where_agrees_says_no():
    ref = {"value": [4.0, 9.0], "shape": [2]}
    assert agrees({"value": [4.0, 9.0 + 1e-12], "shape": [2]}, ref, PROBE)
    assert not agrees({"value": [4.0, 3.0], "shape": [2]}, ref, PROBE)
