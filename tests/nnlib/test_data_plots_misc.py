"""nnlib.datasets, plotting, graph, tracking, neuron and utils."""

import socket

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from nnlib import datasets as D  # noqa: E402
from nnlib import plotting as P  # noqa: E402
from nnlib.autograd import Value  # noqa: E402
from nnlib.graph import draw_graph  # noqa: E402
from nnlib.mlp import MLP  # noqa: E402
from nnlib.neuron import lif_rate, simulate_lif  # noqa: E402
from nnlib.tracking import Tracker  # noqa: E402
from nnlib.utils import get_device, seed_everything  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a dataset tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.parametrize("name", D.PLAYGROUND_SETS)
def test_playground_sets_are_seeded_balanced_and_learnable_shapes(name):
    X, y = D.make_playground(name, n_samples=301, noise=0.2, seed=3)
    X2, y2 = D.make_playground(name, n_samples=301, noise=0.2, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert X.shape == (301, 2) and X.dtype == np.float64 and set(np.unique(y)) == {0, 1}
    assert abs(y.mean() - 0.5) < 0.1
    assert not np.array_equal(X, D.make_playground(name, n_samples=301, noise=0.2, seed=4)[0])


def test_playground_classes_are_separated_as_described():
    X, y = D.make_playground("circle", noise=0.0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r[y == 0].max() < r[y == 1].min()
    X, y = D.make_playground("xor", noise=0.0)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(int))


def test_bundled_data_load_offline(no_network):
    X, y = D.load_digits()
    assert X.shape == (1797, 64) and X.min() == 0.0 and X.max() == 1.0 and set(y) == set(range(10))
    X, y, features, targets = D.load_iris()
    assert X.shape == (150, 4) and len(features) == 4 and targets[0] == "setosa"


def test_physics_sets():
    t, x = D.make_damped_oscillator(n_samples=100, noise=0.0)
    assert t.shape == (100, 1) and np.all(np.diff(t[:, 0]) >= 0)
    omega_d = np.sqrt(2.0**2 - 0.3**2)
    np.testing.assert_allclose(x, np.exp(-0.3 * t[:, 0]) * np.cos(omega_d * t[:, 0]))
    theta, T = D.make_pendulum_period(n_samples=30, noise=0.0)
    assert np.all(T >= 2 * np.pi * np.sqrt(1 / 9.81)) and np.all(np.diff(T) > 0)
    assert D.pendulum_period(1e-6) == pytest.approx(2 * np.pi * np.sqrt(1 / 9.81))
    assert D.pendulum_period(np.pi / 2) == pytest.approx(1.18034 * 2 * np.pi * np.sqrt(1 / 9.81),
                                                         rel=1e-5)
    X, y = D.make_invariant_mass(n_signal=400, n_background=1600, seed=1)
    assert X.shape == (2000, 4) and y.sum() == 400
    assert np.all((X[:, 0] > 60) & (X[:, 0] < 120))
    assert abs(np.median(X[y == 1, 0]) - 91.19) < 1.0
    assert np.median(X[y == 0, 0]) < 85


def test_train_test_split():
    X, y = np.arange(100).reshape(50, 2), np.r_[np.zeros(40), np.ones(10)]
    Xtr, Xte, ytr, yte = D.train_test_split(X, y, test_size=0.2, seed=0, stratify=True)
    assert len(Xte) == 10 and yte.sum() == 2 and len(set(Xtr[:, 0]) & set(Xte[:, 0])) == 0


@pytest.mark.parametrize("call,match", [
    (lambda: D.make_playground("moons"), "name must be one of"),
    (lambda: D.make_playground("xor", noise=0.9), "noise must be between"),
    (lambda: D.make_playground("xor", n_samples=1.5), "n_samples must be an integer"),
    (lambda: D.make_damped_oscillator(gamma=3.0), "underdamped"),
    (lambda: D.make_pendulum_period(max_amplitude=4.0), "below pi"),
    (lambda: D.make_invariant_mass(mass=200.0), "must contain the mass"),
    (lambda: D.train_test_split(np.ones((3, 1)), np.ones(2)), "same number of samples"),
])
def test_dataset_arguments_are_checked(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_plot_activation_draws_function_and_derivative():
    ax = P.plot_activation("sigmoid")
    assert len(ax.get_lines()) == 4  # g, g', and the two axis lines
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata().max(), 0.25, rtol=1e-4)
    assert ax.get_title() and ax.get_xlabel() == "z"
    ax = P.plot_activation(np.sin, derivative=True)
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), np.cos(np.linspace(-5, 5, 401)),
                               atol=1e-6)
    with pytest.raises(ValueError, match="name_or_fn must be one of"):
        P.plot_activation("swish")


def test_plot_network_from_sizes_mlp_and_torch():
    ax = P.plot_network([2, 2, 1])
    assert len(ax.patches) == 5 and len(ax.get_lines()) == 2 * 2 + 2 * 1
    texts = {t.get_text() for t in ax.texts}
    assert {"$X_{1}$", "$A_{2}$", "f(X)"} <= texts
    ax = P.plot_network(MLP([64, 20, 10]), max_units=8)
    assert any(t.get_text() == "⋮" for t in ax.texts) and "64 → 20 → 10" in ax.get_title()
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    assert P.network_layers(model) == ([3, 4, 2], ["ReLU", ""])
    with pytest.raises(TypeError):
        P.plot_network("big")


def test_decision_boundary_loss_curves_confusion_matrix():
    X, y = D.make_playground("gauss", seed=0)
    ax = P.plot_decision_boundary(lambda pts: (pts.sum(axis=1) > 0).astype(float), X, y)
    assert ax.get_title() and ax.get_xlabel()
    ax = P.plot_loss_curves({"loss": [3, 2, 1], "val_loss": [3, 2.5, 2]})
    assert [line.get_label() for line in ax.get_lines()] == ["training", "validation"]
    ax = P.plot_confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]))
    cells = [t.get_text() for t in ax.texts]  # row-major: (true, predicted)
    assert cells == ["1", "0", "0", "0", "1", "1", "0", "0", "1"]
    with pytest.raises(ValueError):
        P.plot_loss_curves({"loss": []})


def test_draw_graph_reproduces_example_1():
    x, y, z = Value(4.0, "x"), Value(-3.0, "y"), Value(5.0, "z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    f.backward()
    ax = draw_graph(f)
    texts = [t.get_text() for t in ax.texts]
    assert "x\n4\ngrad 5" in texts and "z\n5\ngrad 1" in texts and "f\n5\ngrad 1" in texts
    assert "q\n1\ngrad 5" in texts and "+" in texts and "*" in texts
    with pytest.raises(TypeError):
        draw_graph(3.0)


def test_tracker_records_compares_and_lists_crashed_runs(tmp_path):
    tracker = Tracker(tmp_path)
    with tracker.start_run("lr-0.1", {"lr": 0.1}) as run:
        for step in range(3):
            run.log(step, loss=1.0 / (step + 1))
    crashed = tracker.start_run("lr-10", {"lr": 10})
    crashed.log(0, loss=5.0)
    runs = {r.name: r for r in tracker.runs()}
    assert runs["lr-0.1"].finished and not runs["lr-10"].finished
    assert runs["lr-0.1"].metrics["loss"] == [(0, 1.0), (1, 0.5), (2, 1 / 3)]
    assert tracker.summary("loss")[0] == {"name": "lr-0.1", "lr": 0.1, "finished": True,
                                          "loss": 1 / 3}
    ax = tracker.plot("loss")
    assert len(ax.get_lines()) == 2
    with pytest.raises(ValueError, match="already exists"):
        tracker.start_run("lr-0.1")
    with pytest.raises(TypeError, match="must be a number"):
        crashed.log(1, loss="high")
    with pytest.raises(ValueError, match="no run logged"):
        tracker.plot("accuracy")


def test_lif_simulation_agrees_with_the_analytic_rate():
    for current in (1.0, 1.6, 2.0, 3.0):
        _, v, spikes = simulate_lif(current, t_max=1000.0, dt=0.01)
        rate = float(lif_rate(current))
        assert abs(len(spikes) - rate) <= max(1.0, 0.02 * rate)
        assert v.max() < -50.0 + 1e-9
    assert lif_rate(1.0) == 0.0  # below the rheobase (v_th - v_rest) / r_m = 1.5 nA
    rates = lif_rate(np.linspace(0, 10, 50))
    assert np.all(np.diff(rates) >= 0) and rates[-1] < 1000 / 2.0


def test_seed_everything_makes_runs_repeat():
    a = seed_everything(7)
    x1, t1 = np.random.rand(3), torch.rand(2)
    b = seed_everything(7)
    np.testing.assert_array_equal(x1, np.random.rand(3))
    assert torch.equal(t1, torch.rand(2))
    assert a.random() == b.random()
    assert get_device() in ("cpu", "cuda")
    with pytest.raises(ValueError):
        seed_everything(-1)
