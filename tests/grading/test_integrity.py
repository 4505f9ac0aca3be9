"""The integrity check on its own: a submission compared with its release, and the code scan.

No kernel runs here: the fixture quiz is released once (in-process nbgrader), and each test edits a
copy of the release the way a student might, then checks the findings and the repaired notebook.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from grader import integrity
from grader.course import api_for

FIXTURE = Path(__file__).parent / "fixtures" / "course"
ANSWERS = {"add": "def add(a, b):\n    return a + b",
           "square": "def square(x):\n    return np.asarray(x) ** 2",
           "mean": "def mean(x):\n    return float(np.sum(x)) / len(x)"}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    course = tmp_path_factory.mktemp("integrity")
    shutil.copytree(FIXTURE / "solutions", course / "solutions")
    out = api_for(course).generate_assignment("quiz", force=True)
    assert out["success"], out.get("error")
    assert not (course / "exercises" / "quiz" / "probes.json").exists(), "probes leaked"
    return nbformat.read(course / "exercises" / "quiz" / "quiz.ipynb", as_version=4)


def gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def answered(release):
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        if gid(cell) in ANSWERS:
            cell.source = ANSWERS[gid(cell)]
    return nb


def index_of(nb, grade_id):
    return next(i for i, c in enumerate(nb.cells) if gid(c) == grade_id)


def reasons(findings):
    return [str(f) for f in findings]


def test_an_honest_submission_has_no_findings_and_is_kept(release):
    nb = answered(release)
    repaired, findings = integrity.check_submission(nb, release)
    assert findings == []
    assert [c.source for c in repaired.cells] == [c.source for c in nb.cells]


def test_an_edited_test_cell_is_restored_and_reported(release):
    nb = answered(release)
    i = index_of(nb, "test_add")
    nb.cells[i].source = "pass"
    repaired, findings = integrity.check_submission(nb, release)
    assert any(f.cell == "test_add" and "checksum" in f.reason for f in findings)
    assert repaired.cells[index_of(repaired, "test_add")].source == release.cells[i].source


def test_changed_points_in_the_metadata_are_reported(release):
    nb = answered(release)
    nb.cells[index_of(nb, "test_mean")].metadata.nbgrader["points"] = 100
    repaired, findings = integrity.check_submission(nb, release)
    assert any(f.cell == "test_mean" and "metadata" in f.reason for f in findings)
    assert repaired.cells[index_of(repaired, "test_mean")].metadata.nbgrader["points"] == 1


def test_a_deleted_test_cell_is_put_back_after_its_answer(release):
    nb = answered(release)
    del nb.cells[index_of(nb, "test_square")]
    repaired, findings = integrity.check_submission(nb, release)
    assert any(f.cell == "test_square" and "deleted" in f.reason for f in findings)
    assert index_of(repaired, "test_square") == index_of(repaired, "square") + 1


def test_a_duplicated_grade_id_is_graded_once(release):
    nb = answered(release)
    i = index_of(nb, "add")
    twin = copy.deepcopy(nb.cells[i])
    twin.id = "twin"
    twin.source = "def add(a, b):\n    return a * b"
    nb.cells.insert(i + 1, twin)
    repaired, findings = integrity.check_submission(nb, release)
    assert any(f.cell == "add" and "duplicated grade_id" in f.reason for f in findings)
    assert [gid(c) for c in repaired.cells].count("add") == 1
    assert repaired.cells[index_of(repaired, "add")].source == ANSWERS["add"]
    nbformat.validate(repaired)  # cell ids stay unique


def test_a_renamed_cell_is_unknown_and_its_code_kept_as_a_plain_cell(release):
    nb = answered(release)
    nb.cells[index_of(nb, "square")].metadata.nbgrader["grade_id"] = "square_renamed"
    repaired, findings = integrity.check_submission(nb, release)
    text = reasons(findings)
    assert any("square_renamed: unknown grade_id" in t for t in text)
    assert any("square: the cell was deleted" in t for t in text)
    assert any(c.source == ANSWERS["square"] and gid(c) is None for c in repaired.cells)


def test_suspicious_code_in_an_answer_names_the_cell(release):
    nb = answered(release)
    nb.cells[index_of(nb, "mean")].source += "\nimport numpy\nnumpy.allclose = lambda *a: True"
    _, findings = integrity.check_submission(nb, release)
    assert [str(f) for f in findings] == [
        "mean: rebinds numpy.allclose (a library function the tests rely on)"]


def test_notebook_metadata_is_restored(release):
    nb = answered(release)
    nb.metadata["kernelspec"] = {"name": "evil", "display_name": "evil", "language": "python"}
    repaired, _ = integrity.check_submission(nb, release)
    assert repaired.metadata == release.metadata


@pytest.mark.parametrize("text, why", [
    ('{"cells": [ not json', "not valid notebook JSON"),
    ('{"cells": "x", "nbformat": 4}', "not a valid notebook"),
    ("[]", "not a valid notebook"),
])
def test_unreadable_submissions_name_the_problem(tmp_path, text, why):
    path = tmp_path / "quiz.ipynb"
    path.write_text(text)
    with pytest.raises(integrity.SubmissionUnreadable, match=why):
        integrity.read_notebook(path)


def test_a_missing_notebook_is_named(tmp_path):
    with pytest.raises(integrity.SubmissionUnreadable, match="quiz.ipynb is missing"):
        integrity.read_notebook(tmp_path / "quiz.ipynb")


SCAN = {
    # what honest answers never need -> a phrase of the finding
    "np.allclose = lambda *a, **k: True": "rebinds np.allclose",
    "import numpy.testing as npt\nnpt.assert_allclose = print": "rebinds npt.assert_allclose",
    "import builtins\nbuiltins.abs = lambda x: 0": "rebinds builtins.abs",
    "__builtins__.len = lambda x: 3": "rebinds __builtins__.len",
    "def print(*args):\n    pass": "redefines print",
    "def f():\n    global AssertionError\n    AssertionError = None": "rebinds AssertionError",
    "get_ipython().input_transformers_cleanup.append(f)": "calls get_ipython()",
    "ip = get_ipython()\nip.events.register('pre_run_cell', f)": "calls get_ipython()",
    "import os\nos._exit(0)": "calls _exit()",
    "import sys\nsys.exit(0)": "imports sys",
    "exit()": "calls exit()",
    "open('/etc/passwd').read()": "calls open()",
    "import sqlite3": "imports sqlite3",
    "import subprocess\nsubprocess.run(['ls'])": "imports subprocess",
    "import os\nos.system('ls')": "calls system()",
    "import os\nif os.fork() == 0:\n    pass": "calls fork()",
    "import ctypes": "imports ctypes",
    "import importlib\nimportlib.import_module('os')": "calls import_module()",
    "m = __import__('o' + 's')": "calls __import__()",
    "().__class__.__bases__[0].__subclasses__()": "reads .__subclasses__",
    "source_of_tests = In[-1]": "reads In",
    "from unittest import mock": "imports from unittest",
    "%load_ext something": "IPython magic",
    "!rm -rf /": "IPython magic or shell command",
}


@pytest.mark.parametrize("code", sorted(SCAN))
def test_scan_flags_what_honest_answers_never_need(code):
    found = reasons(integrity.scan_code(code, "cell"))
    assert any(SCAN[code] in f for f in found), found


@pytest.mark.parametrize("code", [
    ANSWERS["add"], ANSWERS["square"], ANSWERS["mean"],
    "def softmax(z):\n    e = np.exp(z - np.max(z))\n    return e / e.sum()",
    ("class Layer:\n    def __init__(self, n):\n        self.w = np.zeros(n)\n"
     "    def __call__(self, x):\n        return self.w @ x"),
    "def total(xs):\n    sum = 0\n    for x in xs:\n        sum += x\n    return sum",
    "import numpy as np\nfrom numpy.linalg import norm\nx = norm(np.ones(3))",
    "def f(x):\n    return x  # open( exec( in a comment",
])
def test_scan_leaves_honest_code_alone(code):
    assert integrity.scan_code(code, "cell") == []


def test_check_command_reports_findings(release, tmp_path, capsys):
    from grader.cli import main

    nb = answered(release)
    nb.cells[index_of(nb, "add")].source += "\nimport os"
    nbformat.write(nb, tmp_path / "quiz.ipynb")
    nbformat.write(release, tmp_path / "release.ipynb")
    assert main(["check", str(tmp_path / "quiz.ipynb"), str(tmp_path / "release.ipynb")]) == 1
    out = capsys.readouterr().out
    assert "add: imports os" in out and "1 finding(s)" in out
    (tmp_path / "bad.ipynb").write_text(json.dumps({"nope": 1}))
    assert main(["check", str(tmp_path / "bad.ipynb"), str(tmp_path / "release.ipynb")]) == 1


def test_imports_an_assignment_forbids_are_flagged_only_there():
    """A release may declare forbidden modules (metadata.grading.forbidden_imports)."""
    import nbformat as nbf

    from grader.integrity import check_submission

    def release_with(forbid):
        nb = nbf.v4.new_notebook()
        cell = nbf.v4.new_code_cell("# YOUR CODE HERE\nraise NotImplementedError()")
        cell.metadata["nbgrader"] = {"solution": True, "grade": False, "locked": False,
                                     "grade_id": "sigmoid", "schema_version": 3}
        nb.cells.append(cell)
        if forbid is not None:
            nb.metadata["grading"] = {"forbidden_imports": forbid}
        return nb

    answer = ("import numpy as np\nfrom nnlib.activations import sigmoid as _s\nimport torch.nn\n"
              "def sigmoid(z):\n    return _s(z)")
    for forbid, expected in ((["nnlib", "torch"], 2), (None, 0)):
        release = release_with(forbid)
        submitted = copy.deepcopy(release)
        submitted.cells[0].source = answer
        _, findings = check_submission(submitted, release)
        flagged = [f for f in findings if "this assignment forbids" in str(f)]
        assert len(flagged) == expected, findings
    with pytest.raises(ValueError, match="forbidden_imports"):
        bad = release_with("nnlib")
        check_submission(copy.deepcopy(bad), bad)


def _release_with_test_data(names):
    import nbformat as nbf

    nb = nbf.v4.new_notebook()
    cell = nbf.v4.new_code_cell("def predict(params, X):\n    # YOUR CODE HERE\n"
                                "    raise NotImplementedError()")
    cell.metadata["nbgrader"] = {"solution": True, "grade": False, "locked": False,
                                 "grade_id": "predict", "schema_version": 3}
    nb.cells.append(cell)
    nb.metadata["grading"] = {"test_data": names}
    return nb


@pytest.mark.parametrize("answer, extra, flagged", [
    # an answer that looks up the labels it is judged on, in three spellings
    ("def predict(params, X):\n    return y_test[:len(X)]", None, True),
    ("def predict(params, X):\n    return globals()['y_test'][:len(X)]", None, True),
    ("predict = lambda params, X: y_test", None, True),
    # the lookup hidden in the student's own cell, in a function the answer calls
    ("def predict(params, X):\n    return _labels()[:len(X)]",
     "def _labels():\n    return y_test", True),
    # honest: a parameter that happens to be called X_test, and scratch work at the top level
    ("def predict(params, X_test):\n    return (X_test @ params['W']).argmax(axis=1)", None, False),
    ("def predict(params, X):\n    y_test = X.sum(axis=1) > 0\n    return y_test", None, False),
    ("def predict(params, X):\n    return (X @ params['W']).argmax(axis=1)",
     "print('test accuracy', (predict(P, X_test) == y_test).mean())", False),
])
def test_answers_that_read_the_test_data_are_flagged(answer, extra, flagged):
    """metadata.grading.test_data names the data the tests judge on: answers must not read it."""
    import nbformat as nbf

    from grader.integrity import check_submission

    release = _release_with_test_data(["X_test", "y_test"])
    submitted = copy.deepcopy(release)
    submitted.cells[0].source = answer
    if extra is not None:
        submitted.cells.append(nbf.v4.new_code_cell(extra))
    _, findings = check_submission(submitted, release)
    found = [str(f) for f in findings if "test data" in str(f)]
    assert bool(found) == flagged, (answer, extra, findings)
    if flagged:
        assert "y_test" in found[0], found


def test_test_data_must_be_variable_names():
    from grader.integrity import check_submission

    bad = _release_with_test_data("y_test")
    with pytest.raises(ValueError, match="test_data"):
        check_submission(copy.deepcopy(bad), bad)
    bad = _release_with_test_data(["y test"])
    with pytest.raises(ValueError, match="test_data"):
        check_submission(copy.deepcopy(bad), bad)


def test_every_assignment_declares_what_its_answers_must_not_import():
    """The course library has every answer: each assignment forbids it, and its release too."""
    import nbformat as nbf
    from coursekit import REPO

    from grader.integrity import forbidden_imports, test_data_names

    sources = sorted((REPO / "solutions").glob("*/*.ipynb"))
    assert sources
    for source in sources:
        release = REPO / "exercises" / source.parent.name / source.name
        for path in (source, release):
            nb = nbf.read(path, as_version=4)
            assert "nnlib" in forbidden_imports(nb), f"{path} does not forbid importing nnlib"
            test_data_names(nb)  # well formed
    mlp = nbf.read(REPO / "solutions" / "06_mlp" / "mlp.ipynb", as_version=4)
    assert {"X_test", "y_test"} <= test_data_names(mlp), "06 must name its test set"
