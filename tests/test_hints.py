"""The visible tests' messages name the mistake a student actually made.

A failed test's message is what a student reads after pressing Validate, so for each first mistake
that used to get a hint naming another cause, a submission with that mistake (in ``samples/``, or
the solution with one answer replaced) is run as the student runs it (the release's visible tests
only) and the message of the failing test is checked: it names the cause and not the old one.
Correct work that issues a warning keeps every test passing, the warning shown on stdout.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import nbformat
import pytest
from coursekit import REPO
from nbclient import NotebookClient

from nnlib.testing import hint

SAMPLES = REPO / "samples" / "submitted"
NOTEBOOKS = {"02_single_layer": "single_layer", "06_mlp": "mlp"}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _grade_id(cell) -> str | None:
    meta = cell.metadata.get("nbgrader", {})
    return meta["grade_id"] if meta.get("grade") and not meta.get("solution") else None


@functools.cache
def _run(path: Path) -> dict[str, dict[str, str]]:
    """Run a notebook top to bottom; per test cell, its error message, stdout and stderr."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(REPO)}}).execute()
    out = {}
    for cell in nb.cells:
        if (gid := _grade_id(cell)) is None:
            continue
        streams = {"error": "", "stdout": "", "stderr": ""}
        for o in cell.get("outputs", []):
            if o.output_type == "error":
                streams["error"] += f"{o.ename}: {ANSI.sub('', o.evalue)}"
            elif o.output_type == "stream":
                streams[o.name] += o.text
        out[gid] = streams
    return out


def sample(student: str, assignment: str) -> dict[str, dict[str, str]]:
    return _run(SAMPLES / student / assignment / f"{NOTEBOOKS[assignment]}.ipynb")


def failures(results: dict[str, dict[str, str]]) -> dict[str, str]:
    """Per failed test, its message with the line breaks of hint() (and all runs of spaces) as one
    space."""
    return {gid: " ".join((r["error"] or r["stderr"]).split())
            for gid, r in results.items() if r["error"] or r["stderr"]}


def with_answer(tmp_path: Path, assignment: str, grade_id: str, source: str) -> dict:
    """The release with the solution's answers, one of them replaced, run as a student would."""
    name = NOTEBOOKS[assignment]
    release = nbformat.read(REPO / "exercises" / assignment / f"{name}.ipynb", as_version=4)
    solution = nbformat.read(REPO / "solutions" / assignment / f"{name}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in solution.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    answers[grade_id] = source
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = "\n".join(line for line in answers[meta["grade_id"]].splitlines()
                                    if not re.match(r"\s*### (BEGIN|END) SOLUTION", line))
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(release, path)
    return _run(path)


# 02_single_layer -------------------------------------------------------------------------------
def test_02_softmax_with_the_global_maximum_is_told_to_use_each_rows_own():
    failed = failures(sample("sample-global-max", "02_single_layer"))
    assert set(failed) == {"test_softmax_stable"}, failed
    message = failed["test_softmax_stable"]
    assert "shared by the whole batch" in message and "each row's own maximum" in message, message
    assert "0/0" in message and "overflow" not in message, message


def test_02_softmax_without_a_shift_is_told_it_overflows():
    message = failures(sample("sample-unstable-softmax", "02_single_layer"))["test_softmax_stable"]
    assert "np.exp(1000) is inf" in message and "each row's maximum" in message, message
    assert "shared by the whole batch" not in message, message


def test_02_forward_pass_with_untransposed_weights_explains_the_shape_mismatch():
    # sample-transposed computes X @ W: with p = 3 inputs and K = 2 units matmul itself refuses
    message = failures(sample("sample-transposed", "02_single_layer"))["test_forward_general"]
    assert message.startswith("AssertionError"), message
    assert "X of shape (2, 3) and W of shape (2, 3)" in message and "transpose" in message, message


@pytest.mark.parametrize(("body", "named", "not_named"), [
    # the output bias forgotten
    ("    Z = X @ W.T + w0\n    return g(Z) @ beta\n", "your f has no output bias beta0 (",
     "hidden"),
    # the hidden biases forgotten
    ("    return beta0 + g(X @ W.T) @ beta\n", "your f has no hidden biases w0 (", "output bias"),
    # both
    ("    return g(X @ W.T) @ beta\n", "no output bias beta0 and no hidden biases w0", "W[k, j]"),
])
def test_02_forward_pass_without_a_bias_is_told_which(tmp_path, body, named, not_named):
    failed = failures(with_answer(tmp_path, "02_single_layer", "single_layer", (
        "def single_layer(X, W, w0, beta, beta0, g):\n"
        "    X, W, w0, beta = (np.asarray(a, dtype=float) for a in (X, W, w0, beta))\n" + body)))
    message = failed["test_forward_general"]
    assert named in message and not_named not in message, message


def test_02_forward_pass_with_the_weights_misread_still_points_at_w(tmp_path):
    """A wrong pass with both biases in place is not told a bias is missing."""
    failed = failures(with_answer(tmp_path, "02_single_layer", "single_layer", (
        "def single_layer(X, W, w0, beta, beta0, g):\n"
        "    X, W = np.asarray(X, dtype=float), np.asarray(W, dtype=float)\n"
        "    Z = X @ W[:, ::-1].T + w0  # the inputs in the wrong order\n"
        "    return beta0 + g(Z) @ beta\n")))
    message = failed["test_forward_general"]
    assert "W[k, j] multiply input j" in message and "has no" not in message, message


@pytest.mark.parametrize(("grade_id", "answer", "told"), [
    ("weights_product", "W_prod = np.array([[1.0, 1.0], [1.0, -1.0]])\nw0_prod = np.zeros(2)\n"
     "beta_prod = np.array([1.0, -1.0])\nbeta0_prod = 0.0\n", "f(X) = 4 X1 * X2, not X1 * X2"),
    ("weights_product", "W_prod = np.array([[1.0, 1.0], [1.0, -1.0]])\nw0_prod = np.zeros(2)\n"
     "beta_prod = np.array([0.25, 0.25])\nbeta0_prod = 0.0\n",
     "f(X) = 0.5 X1**2 + 0.5 X2**2, not X1 * X2"),
    ("weights_squares", "W_sq = np.eye(2)\nw0_sq = np.zeros(2)\nbeta_sq = np.array([0.5, 0.5])\n"
     "beta0_sq = 0.0\n", "f(X) = 0.5 X1**2 + 0.5 X2**2, not X1**2 + X2**2"),
    ("weights_squares", "W_sq = np.ones((2, 2))\nw0_sq = np.zeros(2)\n"
     "beta_sq = np.array([0.5, 0.5])\nbeta0_sq = 0.0\n",
     "f(X) = X1**2 + X2**2 + 2 X1 * X2, not X1**2 + X2**2"),
    ("weights_squares", "W_sq = np.eye(2)\nw0_sq = np.ones(2)\nbeta_sq = np.ones(2)\n"
     "beta0_sq = 0.0\n", "f(X) = X1**2 + X2**2 + 2 X1 + 2 X2 + 2, not"),
])
def test_02_weights_for_a_polynomial_are_told_what_they_compute(tmp_path, grade_id, answer, told):
    test = {"weights_product": "test_product", "weights_squares": "test_squares"}[grade_id]
    failed = failures(with_answer(tmp_path, "02_single_layer", grade_id, answer))
    assert set(failed) == {test} and told in failed[test], failed


def test_02_squared_error_that_changes_its_input_loses_the_points(tmp_path):
    failed = failures(with_answer(tmp_path, "02_single_layer", "squared_error", (
        "def squared_error(y, f):\n"
        "    y = np.ravel(y)\n"
        "    y -= np.ravel(f)  # the residual, in place\n"
        "    return 0.5 * float(y @ y)\n")))
    assert "changed the caller's y or f" in failed.get("test_squared_error", ""), failed


def test_02_correct_work_that_warns_keeps_its_points_and_shows_the_warning():
    results = sample("sample-correct-warning", "02_single_layer")
    assert not failures(results), failures(results)
    shown = results["test_squared_error"]["stdout"]
    assert ("Warning (shown, not counted as a failure)" in shown
            and "comparing them flattened" in shown), results["test_squared_error"]


# 06_mlp ----------------------------------------------------------------------------------------
def test_06_log_of_a_stable_softmax_is_told_to_use_log_sum_exp():
    failed = failures(sample("sample-log-of-softmax", "06_mlp"))
    assert set(failed) == {"test_softmax_ce_stable"}, failed
    message = failed["test_softmax_ce_stable"]
    assert "log(0)" in message and "log-sum-exp" in message, message
    assert "overflow" not in message, message


def test_06_gradient_check_names_the_wrong_gradients_without_blaming_the_batch_size():
    message = failures(sample("sample-no-relu-backward", "06_mlp"))["test_gradcheck"]
    assert ("the gradients of W1, b1 do not match" in message
            and "those of W2, b2 do" in message), message
    assert "relu_backward" in message, message
    assert "batch size" not in message, message


def test_06_gradient_check_gives_the_batch_size_hint_for_a_factor_n():
    # sample-batch-scaling divides dW2 and db2 by the batch size a second time
    message = failures(sample("sample-batch-scaling", "06_mlp"))["test_gradcheck"]
    assert ("the gradients of W2, b2 do not match" in message
            and "those of W1, b1 do" in message), message
    assert "n = 7 (the batch size) times too small" in message, message


def test_06_full_batch_training_is_told_about_the_mini_batch_protocol():
    failed = failures(sample("sample-full-batch", "06_mlp"))
    message = failed["test_training"]
    assert "called network 1 time(s), with batches of [1400] rows" in message, message
    assert ("batches of 32 rows and a last one of 24" in message
            and "check the gradients" not in message), message


def test_06_relu_backward_that_overwrites_the_upstream_gradient_loses_the_point(tmp_path):
    failed = failures(with_answer(tmp_path, "06_mlp", "layers", _layers_with(
        "def relu_backward(dout, z):\n    dout[z <= 0] = 0\n    return dout\n")))
    assert "changed the upstream gradient dout" in failed.get("test_relu_backward", ""), failed


def _layers_with(relu_backward: str) -> str:
    """The solution's layers cell with relu_backward replaced."""
    nb = nbformat.read(REPO / "solutions" / "06_mlp" / "mlp.ipynb", as_version=4)
    layers = next(c.source for c in nb.cells
                  if c.metadata.get("nbgrader", {}).get("grade_id") == "layers")
    return re.sub(r"def relu_backward\(dout, z\):\n(    .*\n)+", relu_backward, layers)


def test_06_correct_work_that_warns_keeps_its_points_and_shows_the_warning():
    results = sample("sample-correct-warning", "06_mlp")
    assert not failures(results), failures(results)
    shown = results["test_relu_backward"]["stdout"]
    assert ("Warning (shown, not counted as a failure)" in shown
            and "ReLU has no derivative" in shown), results["test_relu_backward"]


@pytest.mark.parametrize("assignment", sorted(NOTEBOOKS))
def test_the_solution_passes_every_visible_test_silently(tmp_path, assignment):
    name = NOTEBOOKS[assignment]
    solution = nbformat.read(REPO / "solutions" / assignment / f"{name}.ipynb", as_version=4)
    answer = next(c for c in solution.cells if c.metadata.get("nbgrader", {}).get("solution")
                  and c.cell_type == "code")
    results = with_answer(tmp_path, assignment, answer.metadata["nbgrader"]["grade_id"],
                          answer.source)
    assert not failures(results), failures(results)


def test_hint_wraps_each_line_at_spaces_and_keeps_every_word():
    message = ("the gradients of W1, b1 do not match central differences (relative errors 3.1e-01, "
               "4.0e-01); those of W2, b2 do: look at relu_backward\n[[0.5 -0.5]\n [0.  0. ]]")
    wrapped = hint(message, width=40)
    assert all(len(line) <= 40 for line in wrapped.splitlines()), wrapped
    assert wrapped.split() == message.split()
    assert wrapped.splitlines()[-2:] == ["[[0.5 -0.5]", " [0.  0. ]]"], wrapped
    with pytest.raises(TypeError, match="message"):
        hint(3)
    with pytest.raises(TypeError, match="width"):
        hint("x", width=0)


@pytest.mark.parametrize("assignment", sorted(NOTEBOOKS))
def test_every_visible_message_line_fits_the_validate_dialog(assignment):
    """Every line of every failed test's own message (an AssertionError; a student's code raises
    what it raises) on the samples is at most 76 + 16 characters ("AssertionError: " before the
    first), as hint() makes them."""
    students = [p.parts[-3] for p in sorted(SAMPLES.glob(f"*/{assignment}/*.ipynb"))]
    long = {}
    for student in students:
        for gid, r in sample(student, assignment).items():
            if not r["error"].startswith("AssertionError"):
                continue
            lines = [line for line in r["error"].splitlines() if len(line) > 92]
            if lines:
                long[f"{student}/{gid}"] = lines
    assert not long, long
