"""grader/probes.py without a sandbox: the declaration in probes.json, agreement and the finding."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbformat import v4

from grader import probes


def _write(folder, spec) -> None:
    (folder / probes.PROBE_FILE).write_text(json.dumps(spec), encoding="utf-8")


def test_an_assignment_without_probes_has_none(tmp_path):
    assert probes.load_probes(tmp_path) is None


def test_a_probe_needs_a_grade_id_and_a_call(tmp_path):
    _write(tmp_path, {"notebook": "nb", "probes": [{"grade_id": "test_f"}]})
    with pytest.raises(ValueError, match="every probe needs 'grade_id' and 'call'"):
        probes.load_probes(tmp_path)
    _write(tmp_path, {"notebook": "nb", "probes": [{"call": "f"}]})
    with pytest.raises(ValueError, match="every probe needs"):
        probes.load_probes(tmp_path)


@pytest.mark.parametrize(("setup", "expected"), [
    (None, ""),
    ("def _probe_f():\n    return 1", "def _probe_f():\n    return 1"),
    (["def _probe_f():", "    return 1"], "def _probe_f():\n    return 1"),
    ([], ""),
])
def test_setup_is_source_as_a_string_or_a_list_of_lines(tmp_path, setup, expected):
    spec = {"notebook": "nb", "probes": [{"grade_id": "test_f", "call": "_probe_f"}]}
    if setup is not None:
        spec["setup"] = setup
    _write(tmp_path, spec)
    loaded = probes.load_probes(tmp_path)
    assert loaded["setup"] == expected
    assert loaded["probes"] == spec["probes"] and loaded["notebook"] == "nb"


@pytest.mark.parametrize("setup", [{"code": "x = 1"}, 3, True])
def test_a_setup_that_is_not_source_is_refused_with_its_type(tmp_path, setup):
    _write(tmp_path, {"notebook": "nb", "setup": setup, "probes": []})
    with pytest.raises(ValueError, match=f"'setup' must be Python source.*{type(setup).__name__}"):
        probes.load_probes(tmp_path)


def test_the_answer_code_leaves_out_test_cells_markdown_and_ipython_lines():
    nb = v4.new_notebook(cells=[
        v4.new_markdown_cell("# Title"),
        v4.new_code_cell("import numpy as np\n%matplotlib inline"),
        v4.new_code_cell("def f(x):\n    !ls\n    return x",
                         metadata={"nbgrader": {"solution": True, "grade": False}}),
        v4.new_code_cell("assert f(1) == 1", metadata={"nbgrader": {"grade": True,
                                                                     "solution": False}}),
        v4.new_code_cell("def g():\n    return 2",
                         metadata={"nbgrader": {"grade": True, "solution": True}}),
        v4.new_code_cell("y = f(3)  # the student's own cell"),
    ])
    nbformat.validate(nb)
    assert probes.answer_code(nb) == ["import numpy as np", "def f(x):\n    return x",
                                      "def g():\n    return 2",
                                      "y = f(3)  # the student's own cell"]


REF = {"value": [1.0, 2.0, None], "shape": [3]}
PROBE = {"grade_id": "test_f", "call": "f", "args": [[1, 2, 3]]}


@pytest.mark.parametrize(("result", "probe", "expected"), [
    ({"value": [1.0, 2.0, None], "shape": [3]}, PROBE, True),
    ({"value": [1.0 + 1e-9, 2.0, None], "shape": [3]}, PROBE, True),
    ({"value": [1.001, 2.0, None], "shape": [3]}, PROBE, False),
    ({"value": [1.001, 2.0, None], "shape": [3]}, {**PROBE, "rtol": 1e-2}, True),
    ({"value": [1.0, 2.0, 0.0], "shape": [3]}, PROBE, False),  # nan (None) only equals nan
    ({"value": [1.0, 2.0, None], "shape": [1, 3]}, PROBE, False),
    ({"error": "NameError: f"}, PROBE, False),
])
def test_agreement_is_shape_then_values_within_the_probes_tolerance(result, probe, expected):
    assert probes.agrees(result, REF, probe) is expected


def test_where_the_solution_raises_the_student_must_raise_too():
    ref = {"error": "ValueError: negative"}
    assert probes.agrees({"error": "TypeError: other"}, ref, PROBE)
    assert not probes.agrees({"value": [1.0], "shape": [1]}, ref, PROBE)


def test_the_finding_names_the_call_and_what_differs():
    ref = {"value": [1.0, 2.0], "shape": [2]}
    assert probes.describe({"grade_id": "t", "call": "f"}, {"error": "E: x"}, ref) == \
        "f() raised: E: x"
    long = {"grade_id": "t", "call": "f", "args": [list(range(100))]}
    text = probes.describe(long, {"value": [1.0, 3.0], "shape": [2]}, ref)
    assert text.startswith("f(*[[0, 1, 2") and "...)" in text
    assert text.endswith("gives 3 at element 1 where the solution gives 2 (largest difference 1)")
    assert "returned a value where the solution raises" in probes.describe(
        PROBE, {"value": [1.0], "shape": [1]}, {"error": "ValueError: v"})
    assert "has shape [3], the solution's [2]" in probes.describe(
        PROBE, {"value": [1.0, 2.0, 3.0], "shape": [3]}, ref)
    assert "differs from the solution" in probes.describe(
        PROBE, {"value": [None, None], "shape": [2]}, {"value": [None, None], "shape": [2]})
