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
            if isinstance(f, ast.Name):
                called = f.id
            elif isinstance(f, ast.Attribute):
                called = f.attr
            else:
                called = None
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
    assert "test" in c and "X_test" in c["test"].source, (
        "the chosen run is tested once, after the choice")
    for call in fits:
        assert "_test" not in ast.unparse(call), (
            "the test set stays out of the runs that make the choice")
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


# --------------------------------------------------------------------------------------------------
# 06: class weights, the composite loss, the slides' use cases


def _first_line(source: str, name: str) -> int:
    lines = [c.lineno for c in calls(source, name)]
    return min(lines) if lines else 10**9


def test_06_features_are_scaled_with_training_statistics_only():
    source = cells("06_loss_functions")["weights"].source
    split = _first_line(source, "train_test_split")
    assert split < 10**9, "the class-weight example splits its events"
    for name in ("mean", "std"):
        for call in calls(source, name):
            owner = ast.unparse(call.func.value) if isinstance(call.func, ast.Attribute) else ""
            # the labels' signal fraction, printed: not a feature statistic
            if owner.startswith("y"):
                continue
            if call.lineno < split:
                raise AssertionError(
                    f"line {call.lineno}: {ast.unparse(call)} is computed before the "
                    "train/test split, i.e. with statistics of the test events too")
            if owner in ("X_raw", "Xm", "X"):
                raise AssertionError(
                    f"{ast.unparse(call)}: statistics of all events, not the training part")
    assert re.search(r"assert .*Xtr\[:, :4\]\.mean\(axis=0\), 0", source), (
        "the notebook asserts that the training features, and only they, are centred exactly")


def test_06_composite_loss_fits_a_background_subtracted_rate_of_poisson_counts():
    c = cells("06_loss_functions")
    source = c["composite"].source
    assert calls(source, "poisson"), "the bins count Poisson events: counts are never negative"
    assert "counts.min() >= 0" in source and "y_obs < 0" in source
    text = re.sub(r"\s+", " ", c["bp-md"].source + c["composite-note"].source)
    assert "background-subtracted rate" in text, "what may be negative is called what it is"
    assert "measured counts" not in text + source, "negative values are not 'measured counts'"


def test_06_remarks_the_slides_use_cases_and_the_stray_paragraph():
    c = cells("06_loss_functions")
    table = re.sub(r"\s+", " ", c["table-md"].source)
    assert "Slide correction (use case)" in table and '"neural network"' in table, (
        "the loss table's 'used in: neural network' for cross-entropy gets a remark")
    kld = re.sub(r"\s+", " ", c["kld-note"].source)
    for quoted in ("Approximating complex functions", "Multi-class classification tasks",
                   "distribution of predictions is similar to that of training data"):
        assert quoted.lower() in kld.lower(), f"the KL slide's use case {quoted!r} is discussed"
    use = c["kld-use"].source
    assert "cross_entropy" in use and "kl_div" in use, (
        "KL with one-hot targets equals cross-entropy, shown")
    hinge = re.sub(r"\s+", " ", c["hinge-note"].source)
    assert "classification problems" in hinge and "does not classify" in hinge
    bp = re.sub(r"\s+", " ", c["bp-md"].source)
    assert "segmentation mask" in bp and "Slide correction (a paragraph from another topic)" in bp


# --------------------------------------------------------------------------------------------------
# 07: universal approximation, the SOM's control, the VAE's reparameterisation


def test_07_universal_approximation_separates_approximation_and_estimation_error():
    c = cells("07_building_blocks_architectures")
    text = re.sub(r"\s+", " ", c["ua-md"].source)
    assert "approximation error" in text and "estimation error" in text, (
        "the width sweep explains the two parts of the error")
    source = c["ua"].source
    full_rank = re.search(r"assert .*matrix_rank\(design\) == n \+ 1", source)
    assert "matrix_rank" in source and full_rank, (
        "every least-squares design is asserted to have full rank: "
        "no claim rests on a rank-deficient fit")
    noisy = [m for m in calls(source, "make_damped_oscillator")
             if any(k.arg == "noise"
                    and not (isinstance(k.value, ast.Constant) and k.value.value == 0)
                    for k in m.keywords)]
    assert noisy, "the estimation regime fits noisy data"
    summary = re.sub(r"\s+", " ", c["summary"].source)
    assert "estimation error" in summary, "the summary bounds 'as closely as we like' by the data"


def test_07_som_control_moves_the_winner_only():
    source = cells("07_building_blocks_architectures")["som"].source
    assert re.search(r"assert .*winner_moved == 1", source), (
        "the 'winner only' control is checked to move exactly one unit per input")
    assert "width_start=1e-3" not in source, (
        "a tiny width that grows during training is not winner-only")


def test_07_vae_checks_the_gradient_through_the_log_variance():
    source = cells("07_building_blocks_architectures")["vae"].source
    assert "assert encoder.weight.grad is not None" not in source, "that assert cannot fail"
    assert re.search(r"assert .*logvar\.grad", source), (
        "the reparameterisation is checked by the gradient that reaches the log-variance")


def test_07_pulse_counter_is_compared_with_the_trace_sum_baseline():
    c = cells("07_building_blocks_architectures")
    source = c["cnn"].source
    assert "polyfit" in source and ".sum(axis=1)" in source, (
        "the one-number baseline: the trace's sum, a straight line fitted on the training traces")
    assert re.search(r"assert acc_cnn > acc_baseline \+ 0\.\d", source), (
        "the CNN's margin over the baseline is asserted, not only its accuracy")
    for m in re.finditer(r"assert acc_cnn > (0\.\d+)", source):
        assert float(m.group(1)) >= 0.9, (
            "an accuracy check low enough to miss a collapse proves nothing")
    generated = calls(source, "make_pulse_traces")
    assert generated, "the traces come from nnlib.datasets.make_pulse_traces"
    amplitude = next(k.value for k in generated[0].keywords if k.arg == "amplitude")
    low, high = ast.literal_eval(amplitude)
    assert high >= 2 * low, "varying amplitudes, so that the sum does not tell the count"
    text = markdown("07_building_blocks_architectures")
    assert "learnt its own edge detectors" not in text, (
        "only some kernels are edge-like: say what is true")
    kernels = c["cnn-kernels"].source
    assert re.search(r"assert 0 < n_kind\[\"rise\"\] < len\(kernels\)", kernels), (
        "the kernels' description is checked against the trained kernels")


def test_07_examples_slide_use_cases_are_remarked():
    text = re.sub(r"\s+", " ", cells("07_building_blocks_architectures")["map-md"].source)
    assert '"U-Net is an improved CNN"' in text and "dense" in text, (
        "the slide's 'U-Net is an improved CNN' gets a remark: a CNN for dense outputs")
    assert "stop words" in text, "the Transformer line's stop-word example gets a remark"
