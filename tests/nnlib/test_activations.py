"""nnlib.activations against torch (float64), at random, extreme and kink inputs."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nnlib import activations as A

RNG = np.random.default_rng(0)
Z = np.concatenate([RNG.normal(scale=5, size=50), [-1e4, -1e3, -50, -1e-8, 0.0, 1e-8, 50, 1e3, 1e4]])

TORCH = {
    "sigmoid": (lambda t: torch.sigmoid(t), {}),
    "tanh": (lambda t: torch.tanh(t), {}),
    "relu": (lambda t: F.relu(t), {}),
    "leaky_relu": (lambda t: F.leaky_relu(t, 0.2), {"negative_slope": 0.2}),
    "softplus": (lambda t: F.softplus(t, beta=2.0), {"beta": 2.0}),
    "linear": (lambda t: 0.5 + 3.0 * t, {"a": 0.5, "b": 3.0}),
}


def torch_value_and_grad(fn, z):
    t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    out = fn(t)
    (grad,) = torch.autograd.grad(out.sum(), t)
    return out.detach().numpy(), grad.numpy()


@pytest.mark.parametrize("name", sorted(TORCH))
def test_values_and_derivatives_equal_torch(name):
    fn, kwargs = TORCH[name]
    ours, our_grad = A.ACTIVATIONS[name]
    value, grad = torch_value_and_grad(fn, Z)
    np.testing.assert_allclose(ours(Z, **kwargs), value, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(our_grad(Z, **kwargs), grad, rtol=1e-10, atol=1e-15)


def test_prelu_per_channel_equals_torch():
    z = RNG.normal(size=(4, 3, 5))
    z[0, 0, 0] = 0.0
    a = np.array([0.1, 0.25, 0.5])
    value, grad = torch_value_and_grad(lambda t: F.prelu(t, torch.tensor(a)), z)
    np.testing.assert_allclose(A.prelu(z, a), value, rtol=1e-12)
    np.testing.assert_allclose(A.prelu_grad(z, a), grad, rtol=1e-12)


def test_kink_conventions_match_autograd():
    assert A.relu_grad(0.0) == 0.0
    assert A.leaky_relu_grad(0.0, negative_slope=0.3) == 0.3
    assert A.prelu_grad(0.0, 0.25) == 0.25
    _, g = torch_value_and_grad(F.relu, np.array([0.0]))
    assert g[0] == A.relu_grad(0.0)


def test_slide_values_of_the_sigmoid():
    assert A.sigmoid(0.0) == 0.5
    assert A.sigmoid_grad(0.0) == 0.25
    assert A.sigmoid(-np.inf) == 0.0 and A.sigmoid(np.inf) == 1.0
    assert A.tanh_grad(0.0) == 1.0


@pytest.mark.parametrize("name", sorted(A.ACTIVATIONS))
def test_no_overflow_or_warning_up_to_1e4(name):
    fn, grad = A.ACTIVATIONS[name]
    z = np.array([-1e4, -700.0, 0.0, 700.0, 1e4])
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        assert np.all(np.isfinite(fn(z))) and np.all(np.isfinite(grad(z)))


def test_softmax_is_stable_and_equals_torch():
    z = RNG.normal(size=(4, 6)) * 300
    with np.errstate(all="raise", under="ignore"):
        p = A.softmax(z, dim=1)
        lp = A.log_softmax(z, dim=0)
    np.testing.assert_allclose(p, torch.softmax(torch.tensor(z), 1).numpy(), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(lp, torch.log_softmax(torch.tensor(z), 0).numpy(), rtol=1e-12)
    np.testing.assert_allclose(A.softmax([1000.0, 1000.0]), [0.5, 0.5])


def test_shapes_and_dtype():
    for fn, grad in A.ACTIVATIONS.values():
        assert fn(1).dtype == np.float64 and fn(1).shape == ()
        assert grad(np.ones((2, 3), np.float32)).shape == (2, 3)
        assert fn(np.ones((2, 3), np.float32)).dtype == np.float64


def test_bad_input_names_the_argument():
    with pytest.raises(TypeError, match="z must be numeric"):
        A.sigmoid("1.0")
    with pytest.raises(TypeError, match="z must be numeric"):
        A.relu(np.array(["a"]))
    with pytest.raises(ValueError, match="beta must be positive"):
        A.softplus(1.0, beta=0)
    with pytest.raises(ValueError, match="a has 3 slopes"):
        A.prelu(np.ones((2, 4)), np.ones(3))
    with pytest.raises(ValueError, match="dim=2 is out of range"):
        A.softmax(np.ones((2, 3)), dim=2)
    with pytest.raises(TypeError, match="dim must be an integer"):
        A.softmax(np.ones(3), dim=0.5)


finite = st.floats(-1e4, 1e4, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(1, 20), elements=finite))
def test_symmetries(z):
    np.testing.assert_allclose(A.sigmoid(z) + A.sigmoid(-z), 1.0, atol=1e-15)
    assert np.all(np.abs(A.softplus(z) - A.softplus(-z) - z) <= 1e-8 * (1 + np.abs(z)))
    np.testing.assert_allclose(A.tanh(z), 2 * A.sigmoid(2 * z) - 1, atol=1e-15)
    np.testing.assert_allclose(A.softplus_grad(z), A.sigmoid(z))


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 8)), elements=finite))
def test_softmax_is_a_distribution(z):
    p = A.softmax(z, dim=1)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.exp(A.log_softmax(z, dim=1)), p, atol=1e-12)
