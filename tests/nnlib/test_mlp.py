"""nnlib.mlp, nnlib.optim and nnlib.train: whole-network gradients, training, optimisers."""


import numpy as np
import pytest
import torch

from nnlib.gradcheck import check_gradient
from nnlib.mlp import MLP
from nnlib.optim import SGD, Adam
from nnlib.train import History, fit

RNG = np.random.default_rng(5)


def param_error(model, X, y, key, dropout_seed=None):
    """Gradcheck of one parameter array; re-seeding the model's rng fixes the dropout mask."""

    def set_and_run(v):
        old = model.params[key].copy()
        model.params[key][...] = v
        if dropout_seed is not None:
            model.rng = np.random.default_rng(dropout_seed)
        try:
            loss = model.loss(X, y)
            grad = model.backward()[key].copy()
        finally:
            model.params[key][...] = old
        return loss, grad

    return check_gradient(lambda v: set_and_run(v)[0], lambda v: set_and_run(v)[1],
                          model.params[key].copy())


@pytest.mark.parametrize("kwargs", [
    {"activation": "tanh"},
    {"activation": "relu"},
    {"activation": "sigmoid", "weight_decay": 0.1},
    {"activation": "softplus", "l1": 0.05},
    {"activation": "tanh", "dropout": 0.3},
    {"activation": "tanh", "dropout": 0.2, "weight_decay": 0.05, "l1": 0.02},
    {"activation": "tanh", "output": "linear", "weight_decay": 0.01},
])
def test_every_parameter_gradient_passes_gradcheck(kwargs):
    linear = kwargs.get("output") == "linear"
    model = MLP([3, 5, 4, 2 if linear else 3], seed=1, **kwargs)
    rng = np.random.default_rng(12)
    X = rng.normal(size=(7, 3))
    y = rng.normal(size=(7, 2)) if linear else rng.integers(0, 3, 7)
    for key in model.params:
        assert param_error(model, X, y, key, dropout_seed=11) < 1e-6, key


def test_gradcheck_catches_batch_size_scaling_in_one_layer_only():
    class ScaledTwice(MLP):  # the classic bug: the first layer divides by the batch size again
        def backward(self):
            grads = super().backward()
            grads["W1"] = grads["W1"] / self.batch_size
            return grads

    X, y = RNG.normal(size=(8, 3)), RNG.integers(0, 2, 8)
    buggy = ScaledTwice([3, 4, 2], activation="tanh", seed=0)
    buggy.batch_size = len(X)
    assert param_error(buggy, X, y, "W1") > 0.5  # (1 − 1/8)/(1 + 1/8) ≈ 0.78
    assert param_error(buggy, X, y, "W2") < 1e-6  # the other layer alone would not reveal it
    assert param_error(MLP([3, 4, 2], activation="tanh", seed=0), X, y, "W1") < 1e-6


def test_gradients_match_torch_with_ridge_penalty():
    model = MLP([4, 6, 3], activation="tanh", weight_decay=0.01, seed=2)
    X, y = RNG.normal(size=(9, 4)), RNG.integers(0, 3, 9)
    loss = model.loss(X, y)
    grads = model.backward()
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    h = torch.tanh(torch.tensor(X) @ tparams["W1"] + tparams["b1"])
    tloss = torch.nn.functional.cross_entropy(h @ tparams["W2"] + tparams["b2"], torch.tensor(y))
    tloss = tloss + 0.01 * (tparams["W1"].pow(2).sum() + tparams["W2"].pow(2).sum())
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=1e-12)
    for k, t in tparams.items():
        np.testing.assert_allclose(grads[k], t.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_initialisation_is_he_for_relu_glorot_otherwise_and_seeded():
    relu, tanh = MLP([400, 300, 10], seed=0), MLP([400, 300, 10], activation="tanh", seed=0)
    assert relu.params["W1"].std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert tanh.params["W1"].std() == pytest.approx(np.sqrt(2 / 700), rel=0.02)
    assert not relu.params["b1"].any()
    np.testing.assert_array_equal(MLP([400, 300, 10], seed=0).params["W2"], relu.params["W2"])
    assert not np.array_equal(MLP([400, 300, 10], seed=1).params["W2"], relu.params["W2"])


def xor_data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(int)


def test_mlp_learns_xor_to_high_accuracy_in_60_epochs():
    # How fast is benchmarks/bench_mlp.py's business (against torch, in the same run), not a timed
    # assert here that a busy machine fails.
    X, y = xor_data()
    X_test, y_test = xor_data(seed=1)
    model = MLP([2, 16, 16, 2], activation="tanh", seed=0)
    history = fit(model, X, y, epochs=60, batch_size=16, lr=0.02, optimizer="adam", progress=False)
    assert isinstance(history, History) and len(history.loss) == len(history.accuracy) == 60
    assert history.loss[-1] < 0.2 * history.loss[0]
    assert history.accuracy[-1] > 0.95 and np.mean(model.predict(X_test) == y_test) > 0.93


def test_regression_output_fits_a_sine():
    X = np.linspace(-np.pi, np.pi, 200)[:, None]
    y = np.sin(X[:, 0])
    model = MLP([1, 32, 1], activation="tanh", output="linear", seed=0)
    history = fit(model, X, y, epochs=150, batch_size=20, lr=0.01, optimizer="adam",
                  progress=False)
    assert history.accuracy == [] and history.loss[-1] < 0.01
    assert model.predict(X).shape == (200,)
    assert np.mean((model.predict(X) - y) ** 2) < 0.01


def test_predictions_and_sizes():
    model = MLP([64, 64, 32, 10])
    assert model.layer_sizes == [64, 64, 32, 10]
    assert model.n_params == 64 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10
    X = RNG.normal(size=(5, 64))
    p = model.predict_proba(X)
    assert p.shape == (5, 10)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X), p.argmax(axis=1))
    # evaluation ignores dropout; training mode applies it
    dropped = MLP([64, 64, 10], dropout=0.5)
    np.testing.assert_array_equal(dropped.forward(X), dropped.forward(X))
    assert not np.array_equal(dropped.forward(X, training=True), dropped.forward(X))


def test_fit_is_deterministic_records_validation_and_stops_on_callback():
    X, y = RNG.normal(size=(40, 2)), RNG.integers(0, 2, 40)
    runs = [fit(MLP([2, 3, 2]), X, y, epochs=3, progress=False, seed=4).loss for _ in range(2)]
    assert runs[0] == runs[1]
    seen = []
    h = fit(MLP([2, 3, 2]), X, y, epochs=10, X_val=X, y_val=y, progress=False,
            callback=lambda epoch, hist: seen.append((epoch, len(hist.loss))) or epoch < 2)
    assert seen == [(0, 1), (1, 2), (2, 3)]
    assert len(h.loss) == len(h.val_loss) == len(h.val_accuracy) == 3


def test_fit_shows_a_tqdm_auto_progress_bar(monkeypatch):
    import tqdm.auto

    bars = []

    class RecordingBar:
        def __init__(self, iterable, **kwargs):
            self.iterable, self.postfix, self.closed = iterable, None, False
            bars.append(self)

        def __iter__(self):
            return iter(self.iterable)

        def set_postfix(self, **kwargs):
            self.postfix = kwargs

        def close(self):
            self.closed = True

    monkeypatch.setattr(tqdm.auto, "tqdm", RecordingBar)
    X, y = RNG.normal(size=(20, 2)), RNG.integers(0, 2, 20)
    fit(MLP([2, 3, 2]), X, y, epochs=2, progress=False)
    assert bars == []
    h = fit(MLP([2, 3, 2]), X, y, epochs=2)
    assert len(bars) == 1 and bars[0].closed and len(bars[0].iterable) == 2
    assert bars[0].postfix == {"loss": f"{h.loss[-1]:.4f}"}


# Reference updates written out one number at a time from PyTorch's documented algorithms
# (torch.optim.SGD and torch.optim.Adam); torch.optim itself is not called because its first step
# imports torch._dynamo, which takes seconds.
def sgd_reference(w, grads, lr, momentum):
    w, b = list(w), [None] * len(w)
    for g in grads:
        for i, gi in enumerate(g):
            b[i] = gi if b[i] is None else momentum * b[i] + gi
            w[i] -= lr * (b[i] if momentum else gi)
    return w


def adam_reference(w, grads, lr, beta1, beta2, eps=1e-8):
    w, m, v = list(w), [0.0] * len(w), [0.0] * len(w)
    for t, g in enumerate(grads, start=1):
        for i, gi in enumerate(g):
            m[i] = beta1 * m[i] + (1 - beta1) * gi
            v[i] = beta2 * v[i] + (1 - beta2) * gi * gi
            m_hat, v_hat = m[i] / (1 - beta1**t), v[i] / (1 - beta2**t)
            w[i] -= lr * m_hat / (v_hat**0.5 + eps)
    return w


def test_sgd_and_momentum_follow_torchs_update_rule():
    rng = np.random.default_rng(8)
    grads = [rng.normal(size=3) for _ in range(4)]
    for momentum in (0.0, 0.9):
        params = {"w": np.array([1.0, -2.0, 0.5])}
        opt = SGD(params, lr=0.1, momentum=momentum)
        for g in grads:
            opt.step({"w": g})
        expected = sgd_reference([1.0, -2.0, 0.5], grads, 0.1, momentum)
        np.testing.assert_allclose(params["w"], expected, rtol=1e-13)


def test_adam_follows_torchs_update_rule():
    rng = np.random.default_rng(9)
    grads_w = [rng.normal(size=3) for _ in range(5)]
    grads_b = [rng.normal(size=2) for _ in range(5)]
    params = {"w": np.array([1.0, -2.0, 0.5]), "b": np.zeros(2)}
    opt = Adam(params, lr=0.05, betas=(0.8, 0.99))
    for gw, gb in zip(grads_w, grads_b, strict=True):
        opt.step({"w": gw, "b": gb})
    np.testing.assert_allclose(params["w"], adam_reference([1.0, -2.0, 0.5], grads_w, 0.05, 0.8,
                                                           0.99), rtol=1e-12)
    np.testing.assert_allclose(params["b"], adam_reference([0.0, 0.0], grads_b, 0.05, 0.8, 0.99),
                               rtol=1e-12, atol=1e-15)


def test_optimisers_minimise_a_quadratic():
    for make in (lambda p: SGD(p, lr=0.1, momentum=0.9), lambda p: Adam(p, lr=0.1)):
        params = {"w": np.array([3.0, -2.0])}
        opt = make(params)
        for _ in range(300):
            opt.step({"w": 2 * params["w"]})
        assert np.all(np.abs(params["w"]) < 1e-2)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="layer_sizes must be at least two positive integers"):
        MLP([3])
    with pytest.raises(ValueError, match="layer_sizes must be"):
        MLP([3, 0, 2])
    with pytest.raises(ValueError, match="activation must be one of"):
        MLP([3, 2], activation="swish")
    with pytest.raises(ValueError, match="output must be 'softmax' or 'linear'"):
        MLP([3, 2], output="sigmoid")
    with pytest.raises(ValueError, match="dropout must be in"):
        MLP([3, 2], dropout=1.0)
    with pytest.raises(ValueError, match="weight_decay must be non-negative"):
        MLP([3, 2], weight_decay=-1)
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 3\)"):
        MLP([3, 2]).forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match="predict_proba needs output='softmax'"):
        MLP([3, 1], output="linear").predict_proba(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="call loss"):
        MLP([2, 2]).backward()
    model = MLP([2, 2])
    model.loss(np.ones((2, 2)), [0, 1])
    model.predict(np.ones((3, 2)))  # a forward pass in between makes the caches stale
    with pytest.raises(RuntimeError, match="call loss"):
        model.backward()
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        fit(MLP([2, 2]), np.ones((2, 2)), [0, 1], epochs=0)
    with pytest.raises(ValueError, match="same number of samples"):
        fit(MLP([2, 2]), np.ones((3, 2)), [0, 1], epochs=1)
    with pytest.raises(ValueError, match="optimizer must be"):
        fit(MLP([2, 2]), np.ones((2, 2)), [0, 1], epochs=1, optimizer="rmsprop")
    with pytest.raises(TypeError, match="model must be an nnlib.mlp.MLP"):
        fit(object(), np.ones((2, 2)), [0, 1], epochs=1)
    with pytest.raises(ValueError, match="lr must be positive"):
        SGD({"w": np.ones(1)}, lr=-1)
    with pytest.raises(TypeError, match=r"params\['w'\] must be a float ndarray"):
        SGD({"w": [1.0]}, lr=0.1)
    with pytest.raises(ValueError, match="grads is missing"):
        SGD({"w": np.ones(1)}, lr=1).step({})
    with pytest.raises(ValueError, match=r"grads\['w'\] has shape"):
        Adam({"w": np.ones(2)}).step({"w": np.ones(3)})


def test_class_weight_matches_torchs_weighted_cross_entropy_and_its_gradients():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(9, 4))
    y = np.array([0, 1, 2, 2, 0, 2, 2, 1, 2])
    w = np.array([3.0, 0.5, 1.25])
    model = MLP([4, 5, 3], activation="tanh", seed=2, class_weight=w)
    loss = model.loss(X, y)
    grads = {k: v.copy() for k, v in model.backward().items()}
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    h = torch.tanh(torch.tensor(X) @ tp["W1"] + tp["b1"])
    criterion = torch.nn.CrossEntropyLoss(weight=torch.tensor(w))
    ref = criterion(h @ tp["W2"] + tp["b2"], torch.tensor(y))
    ref.backward()
    assert abs(loss - ref.item()) < 1e-12
    for k in model.params:
        assert np.allclose(grads[k], tp[k].grad.numpy(), atol=1e-12), k
        assert param_error(model, X, y, k) < 1e-6, k
    # the weighted mean divides by Σ w_{y_n}, not by the number of samples
    unweighted = MLP([4, 5, 3], activation="tanh", seed=2).loss(X, y)
    assert abs(loss - unweighted) > 1e-3


def test_class_weight_trades_specificity_for_recall_of_a_rare_class():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0.0, 1.0, size=(950, 2)), rng.normal(1.5, 1.0, size=(50, 2))]
    y = np.r_[np.zeros(950, int), np.ones(50, int)]
    results = {}
    for w in (None, len(y) / (2 * np.bincount(y))):
        model = MLP([2, 2], seed=0, class_weight=w)
        fit(model, X, y, epochs=60, batch_size=100, lr=0.5, progress=False)
        pred = model.predict(X)
        results[w is None] = (np.mean(pred[y == 1] == 1), np.mean(pred[y == 0] == 0))
    (recall_w, spec_w), (recall_u, spec_u) = results[False], results[True]
    assert recall_w > recall_u + 0.3 and spec_w < spec_u


def test_class_weight_is_validated():
    with pytest.raises(ValueError,
                       match=r"class_weight must have one entry per class, shape \(3,\)"):
        MLP([2, 3], class_weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="class_weight must be finite, non-negative"):
        MLP([2, 2], class_weight=[1.0, -1.0])
    with pytest.raises(ValueError, match="class_weight needs output='softmax'"):
        MLP([2, 1], output="linear", class_weight=[1.0])
    with pytest.raises(TypeError, match="class_weight"):
        MLP([2, 2], class_weight=["a", "b"])
