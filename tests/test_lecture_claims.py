"""The lectures keep what their corrections established: each test reads a lecture notebook.

The notebooks assert their own numbers when nbval runs them; these tests guard the *method* and the
*words* around the numbers, which an assert inside a rewritten cell would not: a hyper-parameter
chosen on the training loss, features scaled with statistics of the test events, a slide's slip
repeated without a remark. Each test names the lecture cell it reads by its stable id.
"""

from __future__ import annotations

import ast
import re

import nbformat
import pytest
from coursekit import REPO

LECTURES = REPO / "lectures"


def cells(name: str) -> dict[str, nbformat.NotebookNode]:
    """The cells of ``lectures/<name>.ipynb`` by id."""
    nb = nbformat.read(LECTURES / f"{name}.ipynb", as_version=4)
    return {c.id: c for c in nb.cells}


def code(name: str) -> str:
    """All code of a lecture, in order."""
    return "\n".join(c.source for c in cells(name).values() if c.cell_type == "code")


def markdown(name: str) -> str:
    """All markdown of a lecture, in order, with line breaks folded to spaces."""
    text = "\n".join(c.source for c in cells(name).values() if c.cell_type == "markdown")
    return re.sub(r"\s+", " ", text)


def calls(source: str, name: str) -> list[ast.Call]:
    """Every call of a function or method called ``name`` in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            f = node.func
            called = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if called == name:
                found.append(node)
    return found


# --------------------------------------------------------------------------------------------------
# 08: a learning rate is chosen on a validation set


def test_08_learning_rate_is_chosen_on_validation_data():
    c = cells("08_deep_learning_tools")
    tracking = c["tracking"].source + "\n" + c["tracking-compare"].source
    fits = calls(tracking, "fit")
    assert fits, "the tracking section trains its runs with nnlib.train.fit"
    for call in fits:
        keywords = {k.arg for k in call.keywords}
        assert {"X_val", "y_val"} <= keywords, (
            "every tracked run must be evaluated on the validation set (fit(..., X_val=, y_val=)): "
            "a learning rate chosen on the training loss rewards fitting the training points")
    chooser = [m for m in calls(tracking, "min") + calls(tracking, "max")
               if any(k.arg == "key" for k in m.keywords)]
    assert chooser, "the tracking section chooses a run with min(..., key=...)"
    for m in chooser:
        key = ast.unparse(next(k.value for k in m.keywords if k.arg == "key"))
        assert "val_" in key, f"the run is chosen by {key!r}, not by a validation metric"
    assert "test" in c and "X_test" in c["test"].source, "the chosen run is tested once, after the choice"
    for call in fits:
        assert "_test" not in ast.unparse(call), "the test set stays out of the runs that make the choice"
    assert "trains the circle best" not in markdown("08_deep_learning_tools")


# --------------------------------------------------------------------------------------------------
# 03: the softmax's index, and log(softmax) against log_softmax


def test_03_softmax_sum_does_not_reuse_the_hidden_units_index():
    """The multilayer slide sums the softmax over l = 0..9, the index of its second hidden layer."""
    text = markdown("03_multilayer_softmax")
    formula = re.search(r"e\^\{Z_m\}\s*/\s*\\sum_\{(\w)=0\}\^\{9\}\s*e\^\{Z_(\w)\}", text)
    assert formula, "lecture 3 states the softmax f_m(X) = e^{Z_m} / sum_c e^{Z_c}"
    assert formula.group(1) == formula.group(2) != "l", (
        "the softmax's class index must not be l, which counts the second hidden layer's units")
    assert "A^{(2)}_l" in text, "the hidden layer keeps the slide's index l"
    remark = re.search(r"Slide correction \(notation\)\.(.{0,600})", text)
    assert remark and "K_2" in remark.group(1) and r"\sum_{l=0}^{9}" in remark.group(1), (
        "a remark says what the slide writes (the sum over l = 0..9) and why it is changed")


def test_03_log_of_softmax_against_log_softmax():
    source = cells("03_multilayer_softmax")["softmax"].source
    assert "np.log(softmax(" in source and "isneginf" in source, (
        "lecture 3 shows that np.log of the stable softmax gives -inf for a very negative logit")
    assert calls(source, "log_softmax"), "... and that log_softmax (log-sum-exp) stays finite"
