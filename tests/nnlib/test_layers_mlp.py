"""nnlib.layers, nnlib.mlp, nnlib.optim and nnlib.train: gradients confirmed by gradcheck and torch."""

import numpy as np
import pytest
import torch

from nnlib import layers
from nnlib.gradcheck import assert_gradient, check_gradient
from nnlib.mlp import MLP
from nnlib.optim import SGD, Adam
from nnlib.train import History, fit

RNG = np.random.default_rng(4)


def test_linear_backward_matches_torch():
    x, W, b = RNG.normal(size=(5, 3)), RNG.normal(size=(3, 4)), RNG.normal(size=4)
    dout = RNG.normal(size=(5, 4))
    out, cache = layers.linear_forward(x, W, b)
    dx, dW, db = layers.linear_backward(dout, cache)
    tx, tW, tb = (torch.tensor(v, requires_grad=True) for v in (x, W, b))
    tout = tx @ tW + tb
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy())
    for ours, theirs in ((dx, tx), (dW, tW), (db, tb)):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "linear"])
def test_activation_backward_uses_the_input(name):
    z = RNG.normal(size=(4, 3))
    dout = RNG.normal(size=(4, 3))
    _, cache = layers.activation_forward(z, name)
    assert_gradient(lambda v: np.sum(layers.activation_forward(v, name)[0] * dout),
                    lambda v: layers.activation_backward(dout, layers.activation_forward(v, name)[1]),
                    z, tol=1e-6)


def test_softmax_cross_entropy_and_mse_layers():
    logits, y = RNG.normal(size=(6, 4)), RNG.integers(0, 4, 6)
    assert_gradient(lambda v: layers.softmax_cross_entropy_forward(v, y)[0],
                    lambda v: layers.softmax_cross_entropy_backward(
                        layers.softmax_cross_entropy_forward(v, y)[1]), logits)
    loss, _ = layers.softmax_cross_entropy_forward(logits, y)
    assert loss == pytest.approx(torch.nn.functional.cross_entropy(torch.tensor(logits),
                                                                   torch.tensor(y)).item())
    target = RNG.normal(size=(6, 2))
    assert_gradient(lambda v: layers.mse_forward(v, target)[0],
                    lambda v: layers.mse_backward(layers.mse_forward(v, target)[1]),
                    RNG.normal(size=(6, 2)))


def test_dropout_keeps_the_expectation_and_routes_gradients():
    x = np.ones((2000, 50))
    out, mask = layers.dropout_forward(x, 0.3, True, np.random.default_rng(0))
    assert abs(out.mean() - 1.0) < 0.02 and np.mean(out == 0) == pytest.approx(0.3, abs=0.01)
    np.testing.assert_array_equal(layers.dropout_backward(np.ones_like(x), mask), mask)
    same, none = layers.dropout_forward(x, 0.3, False, None)
    assert same is x and none is None


def _param_check(model, X, y, key, seed=None):
    def f(v):
        old = model.params[key].copy()
        model.params[key][...] = v
        if seed is not None:
            model.rng = np.random.default_rng(seed)
        loss = model.loss(X, y)
        model.params[key][...] = old
        return loss

    def g(v):
        old = model.params[key].copy()
        model.params[key][...] = v
        if seed is not None:
            model.rng = np.random.default_rng(seed)
        model.loss(X, y)
        grad = model.backward()[key].copy()
        model.params[key][...] = old
        return grad

    return check_gradient(f, g, model.params[key].copy())


@pytest.mark.parametrize("kwargs", [
    {"activation": "tanh"},
    {"activation": "sigmoid", "weight_decay": 0.1},
    {"activation": "softplus", "l1": 0.05},
    {"activation": "tanh", "dropout": 0.3},
    {"activation": "tanh", "output": "linear", "weight_decay": 0.01},
])
def test_whole_network_gradients_pass_gradcheck(kwargs):
    output = kwargs.get("output", "softmax")
    model = MLP([3, 5, 4, 3 if output == "softmax" else 2], seed=1, **kwargs)
    X = RNG.normal(size=(7, 3))
    y = RNG.integers(0, 3, 7) if output == "softmax" else RNG.normal(size=(7, 2))
    for key in model.params:
        assert _param_check(model, X, y, key, seed=5) < 1e-6, key


def test_gradcheck_catches_batch_scaling_in_one_layer():
    model = MLP([3, 4, 2], activation="tanh", seed=0)
    X, y = RNG.normal(size=(8, 3)), RNG.integers(0, 2, 8)
    original = layers.linear_backward

    def scaled_backward(dout, cache):  # the bug: dividing by the batch size again in one layer
        dx, dW, db = original(dout, cache)
        return dx, dW / len(cache[0]), db

    model.loss(X, y)
    try:
        layers.linear_backward = scaled_backward
        assert _param_check(model, X, y, "W1") > 0.5
    finally:
        layers.linear_backward = original
    assert _param_check(model, X, y, "W1") < 1e-6


def test_mlp_learns_xor_like_data_quickly():
    from nnlib.datasets import make_playground

    X, y = make_playground("xor", n_samples=300, seed=0)
    model = MLP([2, 16, 16, 2], activation="tanh", seed=0)
    history = fit(model, X / 5, y, epochs=60, batch_size=16, lr=0.05, optimizer="adam",
                  progress=False)
    assert isinstance(history, History) and len(history.loss) == 60
    assert history.loss[-1] < history.loss[0]
    assert history.accuracy[-1] > 0.95


def test_fit_records_validation_and_stops_on_callback():
    X, y = RNG.normal(size=(40, 2)), RNG.integers(0, 2, 40)
    model = MLP([2, 3, 2])
    seen = []
    h = fit(model, X, y, epochs=10, X_val=X, y_val=y, progress=True,
            callback=lambda e, hist: seen.append(e) or e < 2)
    assert seen == [0, 1, 2] and len(h.val_loss) == 3 and len(h.val_accuracy) == 3


def test_n_params_and_shapes():
    model = MLP([64, 64, 32, 10])
    assert model.n_params == 64 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10
    assert model.predict_proba(np.zeros((3, 64))).shape == (3, 10)
    np.testing.assert_allclose(model.predict_proba(RNG.normal(size=(3, 64))).sum(axis=1), 1.0)


def test_optimisers_minimise_a_quadratic():
    for make in (lambda p: SGD(p, lr=0.1, momentum=0.9), lambda p: Adam(p, lr=0.1)):
        params = {"w": np.array([3.0, -2.0])}
        opt = make(params)
        for _ in range(300):
            opt.step({"w": 2 * params["w"]})
        assert np.all(np.abs(params["w"]) < 1e-2)


def test_bad_input():
    with pytest.raises(ValueError, match="layer_sizes"):
        MLP([3])
    with pytest.raises(ValueError, match="activation must be one of"):
        MLP([3, 2], activation="swish")
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 3\)"):
        MLP([3, 2]).forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match="x must have shape"):
        layers.linear_forward(np.ones((2, 3)), np.ones((4, 2)), np.ones(2))
    with pytest.raises(ValueError, match="b must have shape"):
        layers.linear_forward(np.ones((2, 3)), np.ones((3, 2)), np.ones(3))
    with pytest.raises(ValueError, match="p must be in"):
        layers.dropout_forward(np.ones(2), 1.0, True, np.random.default_rng())
    with pytest.raises(ValueError, match="epochs must be"):
        fit(MLP([2, 2]), np.ones((2, 2)), [0, 1], epochs=0)
    with pytest.raises(ValueError, match="lr must be positive"):
        SGD({"w": np.ones(1)}, lr=-1)
    with pytest.raises(ValueError, match="grads is missing"):
        SGD({"w": np.ones(1)}, lr=1).step({})
    with pytest.raises(RuntimeError, match="call loss"):
        MLP([2, 2]).backward()
