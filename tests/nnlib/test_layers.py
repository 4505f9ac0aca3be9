"""nnlib.layers: every forward/backward pair confirmed by nnlib.gradcheck and by torch."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnlib import activations, layers
from nnlib.gradcheck import assert_gradient

RNG = np.random.default_rng(4)


def _t(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def test_linear_forward_and_backward_match_torch():
    x, W, b = RNG.normal(size=(5, 3)), RNG.normal(size=(3, 4)), RNG.normal(size=4)
    dout = RNG.normal(size=(5, 4))
    out, cache = layers.linear_forward(x, W, b)
    dx, dW, db = layers.linear_backward(dout, cache)
    tx, tW, tb = _t(x), _t(W), _t(b)
    tout = F.linear(tx, tW.T, tb)  # torch stores the transpose of our W
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-13)
    for ours, theirs in ((dx, tx), (dW, tW), (db, tb)):
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-12)


def test_linear_gradients_pass_gradcheck():
    x, W, b = RNG.normal(size=(6, 3)), RNG.normal(size=(3, 2)), RNG.normal(size=2)
    dout = RNG.normal(size=(6, 2))

    def loss(x_, W_, b_):  # a scalar whose gradient w.r.t. out is dout
        return float(np.sum(layers.linear_forward(x_, W_, b_)[0] * dout))

    def grads(x_, W_, b_):
        return layers.linear_backward(dout, layers.linear_forward(x_, W_, b_)[1])

    assert_gradient(lambda v: loss(v, W, b), lambda v: grads(v, W, b)[0], x)
    assert_gradient(lambda v: loss(x, v, b), lambda v: grads(x, v, b)[1], W)
    assert_gradient(lambda v: loss(x, W, v), lambda v: grads(x, W, v)[2], b)


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_activation_layer_reuses_nnlib_activations_and_passes_gradcheck(name):
    z = RNG.normal(size=(4, 3))
    dout = RNG.normal(size=(4, 3))
    out, cache = layers.activation_forward(z, name)
    np.testing.assert_array_equal(out, getattr(activations, name)(z))
    np.testing.assert_array_equal(layers.activation_backward(dout, cache),
                                  dout * getattr(activations, f"{name}_grad")(z))
    def forward(v):
        return np.sum(layers.activation_forward(v, name)[0] * dout)

    def backward(v):
        return layers.activation_backward(dout, layers.activation_forward(v, name)[1])

    assert_gradient(forward, backward, z)


def test_activation_keyword_arguments_reach_both_passes():
    z = np.array([[-2.0, 3.0]])
    out, cache = layers.activation_forward(z, "leaky_relu", negative_slope=0.2)
    np.testing.assert_allclose(out, [[-0.4, 3.0]])
    np.testing.assert_allclose(layers.activation_backward(np.ones((1, 2)), cache), [[0.2, 1.0]])


def test_softmax_cross_entropy_matches_torch_and_passes_gradcheck():
    logits, y = RNG.normal(size=(6, 4)), RNG.integers(0, 4, 6)
    loss, cache = layers.softmax_cross_entropy_forward(logits, y)
    tl = _t(logits)
    tloss = F.cross_entropy(tl, torch.tensor(y))
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=1e-12)
    np.testing.assert_allclose(layers.softmax_cross_entropy_backward(cache), tl.grad.numpy(),
                               rtol=1e-10, atol=1e-15)
    assert_gradient(lambda v: layers.softmax_cross_entropy_forward(v, y)[0],
                    lambda v: layers.softmax_cross_entropy_backward(
                        layers.softmax_cross_entropy_forward(v, y)[1]), logits)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, cache = layers.softmax_cross_entropy_forward(logits, [0, 2])
        d = layers.softmax_cross_entropy_backward(cache)
    assert loss == pytest.approx(5e3 / 2)  # sample 0 is right (loss 0), sample 1 costs 5000
    np.testing.assert_allclose(d, [[0, 0, 0], [0, 0.5, -0.5]], atol=1e-300)


def test_mse_matches_torch_and_passes_gradcheck():
    pred, target = RNG.normal(size=(6, 2)), RNG.normal(size=(6, 2))
    loss, cache = layers.mse_forward(pred, target)
    tp = _t(pred)
    tloss = F.mse_loss(tp, torch.tensor(target))
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=1e-12)
    np.testing.assert_allclose(layers.mse_backward(cache), tp.grad.numpy(), rtol=1e-12)
    assert_gradient(lambda v: layers.mse_forward(v, target)[0],
                    lambda v: layers.mse_backward(layers.mse_forward(v, target)[1]), pred)
    # one output: a target of shape (n_samples,) is accepted, nothing else is reshaped silently
    assert layers.mse_forward(pred[:, :1], target[:, 0])[0] == pytest.approx(
        np.mean((pred[:, 0] - target[:, 0]) ** 2))
    with pytest.raises(ValueError, match=r"target must have the shape of pred \(6, 2\)"):
        layers.mse_forward(pred, target.reshape(-1))


def test_dropout_with_a_fixed_mask_passes_gradcheck():
    x, dout = RNG.normal(size=(5, 4)), RNG.normal(size=(5, 4))

    def forward(v):  # the same seed gives the same mask on every call
        return layers.dropout_forward(v, 0.4, True, np.random.default_rng(7))

    assert_gradient(lambda v: np.sum(forward(v)[0] * dout),
                    lambda v: layers.dropout_backward(dout, forward(v)[1]), x)
    out, mask = forward(x)
    assert set(np.unique(mask)) == {0.0, 1 / 0.6}
    np.testing.assert_array_equal(out == 0, mask == 0)


def test_dropout_keeps_the_expectation_and_is_the_identity_at_evaluation():
    x = np.ones((2000, 50))
    out, _ = layers.dropout_forward(x, 0.3, True, np.random.default_rng(0))
    assert abs(out.mean() - 1.0) < 0.02 and np.mean(out == 0) == pytest.approx(0.3, abs=0.01)
    same, cache = layers.dropout_forward(x, 0.3, False, None)
    assert same is x and cache is None
    assert layers.dropout_backward(x, None) is x


def test_a_stack_of_layers_passes_gradcheck_with_respect_to_its_input():
    W1, b1 = RNG.normal(size=(3, 5)), RNG.normal(size=5)
    W2, b2 = RNG.normal(size=(5, 4)), RNG.normal(size=4)
    y = RNG.integers(0, 4, 6)

    def forward(x):
        h, c1 = layers.linear_forward(x, W1, b1)
        a, c2 = layers.activation_forward(h, "tanh")
        z, c3 = layers.linear_forward(a, W2, b2)
        loss, c4 = layers.softmax_cross_entropy_forward(z, y)
        return loss, (c1, c2, c3, c4)

    def backward(x):
        c1, c2, c3, c4 = forward(x)[1]
        d = layers.softmax_cross_entropy_backward(c4)
        d = layers.linear_backward(d, c3)[0]
        d = layers.activation_backward(d, c2)
        return layers.linear_backward(d, c1)[0]

    # tol 1e-5: a few entries are ~1e-5 in size, where finite differences lose digits
    assert_gradient(lambda v: forward(v)[0], backward, RNG.normal(size=(6, 3)), tol=1e-5)


def test_bad_input_raises_clear_errors():
    x, W, b = np.ones((2, 3)), np.ones((3, 2)), np.ones(2)
    with pytest.raises(ValueError, match=r"x must have shape \(n_samples, 4\)"):
        layers.linear_forward(x, np.ones((4, 2)), b)
    with pytest.raises(ValueError, match=r"b must have shape \(2,\)"):
        layers.linear_forward(x, W, np.ones(3))
    with pytest.raises(ValueError, match="W must have shape"):
        layers.linear_forward(x, np.ones(3), b)
    with pytest.raises(TypeError, match="x must be numeric"):
        layers.linear_forward("abc", W, b)
    _, cache = layers.linear_forward(x, W, b)
    with pytest.raises(ValueError,
                       match=r"dout must have the shape of the layer's output \(2, 2\)"):
        layers.linear_backward(np.ones((2, 3)), cache)
    with pytest.raises(ValueError, match="name must be one of"):
        layers.activation_forward(x, "swish")
    with pytest.raises(ValueError, match="y holds class indices outside 0..1"):
        layers.softmax_cross_entropy_forward(np.ones((2, 2)), [0, 2])
    with pytest.raises(ValueError, match="logits must be"):
        layers.softmax_cross_entropy_forward(np.ones((2, 2)), [0, 1, 1])
    with pytest.raises(TypeError, match="y must hold integer class indices"):
        layers.softmax_cross_entropy_forward(np.ones((2, 2)), [0.5, 1.0])
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        layers.dropout_forward(x, 1.0, True, np.random.default_rng())
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        layers.dropout_forward(x, 0.5, True, 0)
