"""nnlib.plotting: the figures are checked through their artists (Agg backend, figures closed)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import Circle

from nnlib import plotting as P
from nnlib.activations import relu, sigmoid
from nnlib.mlp import MLP


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def circles(ax):
    return [p for p in ax.patches if isinstance(p, Circle)]


def texts(ax):
    return [t.get_text() for t in ax.texts]


# --- activations ----------------------------------------------------------------------------------

def test_plot_activation_by_name_overlays_the_dashed_derivative():
    ax = P.plot_activation("sigmoid")
    g, dg = ax.get_lines()[:2]
    z = np.linspace(-5, 5, 401)
    np.testing.assert_allclose(g.get_ydata(), 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(dg.get_ydata().max(), 0.25, rtol=1e-4)  # σ'(0) = 1/4
    assert g.get_linestyle() == "-" and dg.get_linestyle() == "--"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["sigmoid(z)", "sigmoid'(z)"]
    assert ax.get_title() == "sigmoid and its derivative" and ax.get_xlabel() == "z"
    assert ax.get_ylabel()


def test_plot_activation_with_a_callable_keyword_arguments_and_no_derivative():
    z = np.linspace(-2, 2, 81)
    ax = P.plot_activation(lambda t: t**3, z=z)
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), 3 * z**2, atol=1e-6)  # numerical
    assert ax.get_lines()[0].get_label() == "g(z)"
    ax = P.plot_activation(relu)  # a registry function keeps its exact (step) derivative
    assert set(ax.get_lines()[1].get_ydata()) == {0.0, 1.0}
    ax = P.plot_activation("leaky_relu", z=[-1.0, 1.0], negative_slope=0.2)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [-0.2, 1.0])
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), [0.2, 1.0])
    ax = P.plot_activation(sigmoid, derivative=False)
    assert len(ax.get_lines()) == 3 and ax.get_title() == "sigmoid"  # g and the two axis lines
    _, given = plt.subplots()
    assert P.plot_activation("tanh", ax=given) is given


@pytest.mark.parametrize("args,kwargs,error,match", [
    (("swish",), {}, ValueError, "name_or_fn must be one of"),
    ((3,), {}, TypeError, "name_or_fn must be a name or a callable"),
    (("relu",), {"z": [[0.0, 1.0]]}, ValueError, "z must be 1-D"),
    (("relu",), {"z": ["a", "b"]}, TypeError, "z must be numeric"),
    ((np.sum,), {}, ValueError, "to the same shape"),
])
def test_plot_activation_rejects_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        P.plot_activation(*args, **kwargs)


# --- decision boundary, loss curves, confusion matrix ---------------------------------------------

def test_decision_boundary_draws_the_half_probability_contour():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(50, 2))
    y = (X.sum(axis=1) > 0).astype(int)
    ax = P.plot_decision_boundary(lambda pts: 1 / (1 + np.exp(-5 * pts.sum(axis=1))), X, y,
                                  resolution=50, title="linear")
    assert ax.get_title() == "linear" and ax.get_xlabel() == "$x_1$" and ax.get_ylabel() == "$x_2$"
    boundary = ax.collections[-2]  # contourf, contour at 0.5, then the scatter
    vertices = np.concatenate([p.vertices for p in boundary.get_paths()])
    np.testing.assert_allclose(vertices.sum(axis=1), 0.0, atol=1e-4)  # the line x1 + x2 = 0
    np.testing.assert_array_equal(ax.collections[-1].get_offsets(), X)
    # two-column probabilities and several-class scores are accepted too
    def proba(pts):
        return np.c_[1 - sigmoid(pts[:, 0]), sigmoid(pts[:, 0])]

    ax = P.plot_decision_boundary(proba, X, y, resolution=20)  # P(class 1) is the second column
    vertices = np.concatenate([p.vertices for p in ax.collections[-2].get_paths()])
    np.testing.assert_allclose(vertices[:, 0], 0.0, atol=1e-4)

    def scores(pts):
        return np.c_[pts[:, 0], pts[:, 1], -pts.sum(axis=1)]

    ax = P.plot_decision_boundary(scores, X, np.arange(50) % 3, resolution=20)
    assert ax.get_title() == "Decision boundary" and len(ax.collections) == 2  # regions, samples


@pytest.mark.parametrize("predict,X,y,error,match", [
    (lambda p: p[:, 0], np.ones((4, 3)), np.ones(4), ValueError, r"shape \(n_samples, 2\)"),
    (lambda p: p[:, 0], np.ones((4, 2)), np.ones(3), ValueError, "one label per row"),
    (lambda p: p[:3, 0], np.eye(2), np.ones(2), ValueError, "predict_fn must return shape"),
    ("not callable", np.eye(2), np.ones(2), TypeError, "predict_fn must be callable"),
])
def test_decision_boundary_rejects_bad_input(predict, X, y, error, match):
    with pytest.raises(error, match=match):
        P.plot_decision_boundary(predict, X, y, resolution=10)


def test_loss_curves_from_a_dict_or_a_history():
    from nnlib.train import History

    ax = P.plot_loss_curves({"loss": [3, 2, 1], "val_loss": [3, 2.5, 2]}, log=True)
    train, val = ax.get_lines()
    assert (train.get_label(), val.get_label()) == ("training", "validation")
    np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(val.get_ydata(), [3, 2.5, 2])
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    assert ax.get_title() == "Loss during training"
    ax = P.plot_loss_curves(History(loss=[1.0, 0.5]), title="fit")  # no validation data
    assert len(ax.get_lines()) == 1 and ax.get_title() == "fit"


@pytest.mark.parametrize("history,error,match", [
    ({"loss": []}, ValueError, "non-empty 'loss'"),
    ({"val_loss": [1.0]}, ValueError, "non-empty 'loss'"),
    ({"loss": ["high"]}, ValueError, "'loss' must be a list of numbers"),
    ([1.0, 0.5], TypeError, "history must be a History or a dict"),
])
def test_loss_curves_reject_bad_histories(history, error, match):
    with pytest.raises(error, match=match):
        P.plot_loss_curves(history)


def test_confusion_matrix_counts_are_annotated_row_by_row():
    ax = P.plot_confusion_matrix([0, 1, 1, 2, 2, 2], [0, 1, 2, 2, 2, 0])
    assert texts(ax) == ["1", "0", "0", "0", "1", "1", "1", "0", "2"]  # rows: true class
    np.testing.assert_array_equal(ax.get_images()[0].get_array(),
                                  [[1, 0, 0], [0, 1, 1], [1, 0, 2]])
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert ax.get_title() == "Confusion matrix"
    ax = P.plot_confusion_matrix(np.array([0, 1]), np.array([1, 1]),
                                 labels=["background", "signal", "other"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["background", "signal", "other"]
    assert len(ax.texts) == 9


@pytest.mark.parametrize("y_true,y_pred,labels,error,match", [
    ([0, 1], [0], None, ValueError, "same length"),
    ([0, -1], [0, 1], None, ValueError, "negative"),
    ([0, 0.5], [0, 1], None, TypeError, "y_true must hold integer class indices"),
    ([0, 2], [0, 1], ["a", "b"], ValueError, "labels names 2 classes, the data has 3"),
    ([], [], None, ValueError, "empty"),
])
def test_confusion_matrix_rejects_bad_labels(y_true, y_pred, labels, error, match):
    with pytest.raises(error, match=match):
        P.plot_confusion_matrix(y_true, y_pred, labels=labels)


# --- network diagrams -----------------------------------------------------------------------------

def test_plot_network_from_sizes_follows_islr():
    ax = P.plot_network([4, 5, 1])
    assert len(circles(ax)) == 10 and len(ax.get_lines()) == 4 * 5 + 5 * 1
    labels = texts(ax)
    assert {f"$X_{{{j}}}$" for j in range(1, 5)} <= set(labels)
    assert {f"$A_{{{k}}}$" for k in range(1, 6)} <= set(labels) and "f(X)" in labels
    assert "Input layer\n4 units" in labels and "Hidden layer\n5 units" in labels
    assert "Output layer\n1 unit" in labels
    assert ax.get_title() == "Feed-forward network: 4 → 5 → 1"


def test_plot_network_two_hidden_layers_use_superscripts_and_several_outputs():
    ax = P.plot_network((3, 4, 4, 10), max_units=10)
    labels = texts(ax)
    assert "$A^{(1)}_{4}$" in labels and "$A^{(2)}_{1}$" in labels
    assert "$f_{0}$" in labels and "$f_{9}$" in labels
    assert "Hidden layer 2\n4 units" in labels


def test_plot_network_elides_wide_layers():
    ax = P.plot_network(MLP([64, 20, 10], activation="relu"), max_units=8)
    # each layer shows 8 of its units and "⋮"; only weights between drawn units are lines
    assert len(circles(ax)) == 8 + 8 + 8 and texts(ax).count("⋮") == 3
    assert len(ax.get_lines()) == 8 * 8 + 8 * 8
    assert "$X_{64}$" in texts(ax) and "$X_{5}$" not in texts(ax) and "$f_{9}$" in texts(ax)
    assert "Hidden layer\n20 units\nrelu" in texts(ax)
    assert "Output layer\n10 units\nsoftmax" in texts(ax)
    assert "64 → 20 → 10" in ax.get_title()


def test_plot_network_reads_a_torch_sequential_with_its_activations():
    from torch import nn

    model = nn.Sequential(nn.Flatten(), nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.1),
                          nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2))
    assert P.network_layers(model) == ([3, 4, 4, 2], ["ReLU, Dropout", "Tanh", ""])
    _, given = plt.subplots()
    ax = P.plot_network(model, ax=given, title="torch")
    assert ax is given and ax.get_title() == "torch: 3 → 4 → 4 → 2"
    assert "Hidden layer 1\n4 units\nReLU, Dropout" in texts(ax)
    assert len(circles(ax)) == 13 and len(ax.get_lines()) == 12 + 16 + 8
    with pytest.raises(ValueError, match="do not form a chain"):
        P.network_layers(nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 2)))
    with pytest.raises(ValueError, match="no nn.Linear"):
        P.network_layers(nn.Sequential(nn.ReLU()))


@pytest.mark.parametrize("model,kwargs,error,match", [
    ("big", {}, TypeError, "model must be a list of layer sizes"),
    ([3], {}, ValueError, "at least two positive integers"),
    ([3, 0, 1], {}, ValueError, "at least two positive integers"),
    ([3, 1.5], {}, ValueError, "at least two positive integers"),
    ([3, 1], {"max_units": 1}, ValueError, "max_units must be an integer of at least 2"),
])
def test_plot_network_rejects_bad_models(model, kwargs, error, match):
    with pytest.raises(error, match=match):
        P.plot_network(model, **kwargs)
