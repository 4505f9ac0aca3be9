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
from nnlib.gradcheck import numerical_gradient

RNG = np.random.default_rng(0)
EXTREME = [-1e4, -1e3, -750.0, -50.0, -20.0, -1e-8, 0.0, 1e-8, 10.0, 20.0, 50.0, 750.0, 1e3, 1e4]
Z = np.concatenate([RNG.normal(scale=5, size=60), EXTREME])

# name -> (torch function, keyword arguments for both); several settings per activation
CASES = {
    "sigmoid": (torch.sigmoid, {}),
    "tanh": (torch.tanh, {}),
    "relu": (F.relu, {}),
    "leaky_relu": (F.leaky_relu, {}),
    "leaky_relu-0.2": (lambda t: F.leaky_relu(t, negative_slope=0.2), {"negative_slope": 0.2}),
    "softplus": (F.softplus, {}),
    "softplus-beta2": (lambda t: F.softplus(t, beta=2.0), {"beta": 2.0}),
    "softplus-beta0.5-threshold5": (lambda t: F.softplus(t, beta=0.5, threshold=5.0),
                                    {"beta": 0.5, "threshold": 5.0}),
    "linear": (lambda t: t, {}),
    "linear-a0.5-b3": (lambda t: 0.5 + 3.0 * t, {"a": 0.5, "b": 3.0}),
}


def torch_value_and_grad(fn, z):
    t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    out = fn(t)
    (grad,) = torch.autograd.grad(out.sum(), t)
    return out.detach().numpy(), grad.numpy()


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        yield


@pytest.mark.parametrize("case", sorted(CASES))
def test_values_and_derivatives_equal_torch(case, no_warnings):
    fn, kwargs = CASES[case]
    ours, our_grad = A.ACTIVATIONS[case.split("-")[0]]
    value, grad = torch_value_and_grad(fn, Z)
    # atol=1e-300: torch's sigmoid rounds exp(z) to 0 below z = -709, where ours is a tiny denormal
    np.testing.assert_allclose(ours(Z, **kwargs), value, rtol=1e-13, atol=1e-300)
    # atol=1e-15: tanh' = 1 - tanh^2 (in torch as here) is computed from a tanh that is rounded to
    # 1e-16, so where tanh' ~ 1e-10 the last digits differ between summation orders
    np.testing.assert_allclose(our_grad(Z, **kwargs), grad, rtol=1e-13, atol=1e-15)


def test_sigmoid_keeps_full_relative_precision_in_its_tails():
    z = np.array([-700.0, -300.0, -40.0])
    np.testing.assert_allclose(A.sigmoid(z), np.exp(z) / (1 + np.exp(z)), rtol=1e-14)
    np.testing.assert_allclose(A.sigmoid_grad(z), np.exp(z) / (1 + np.exp(z)) ** 2, rtol=1e-14)
    np.testing.assert_allclose(A.softplus(z), np.log1p(np.exp(z)), rtol=1e-14)


@pytest.mark.parametrize("case", sorted(CASES))
def test_derivatives_equal_finite_differences_away_from_kinks(case):
    _, kwargs = CASES[case]
    ours, our_grad = A.ACTIVATIONS[case.split("-")[0]]
    z = RNG.uniform(-6, 6, 40)
    z = z[np.abs(z) > 1e-3]  # no finite difference straddles ReLU's corner
    numeric = numerical_gradient(lambda v: ours(v, **kwargs).sum(), z)
    np.testing.assert_allclose(our_grad(z, **kwargs), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("a", [0.25, np.array([0.25]), np.array([0.1, -0.3, 2.0])])
def test_prelu_equals_torch_for_one_and_per_channel_slopes(a, no_warnings):
    z = RNG.normal(size=(4, 3, 5)) * 10
    z[0, :, 0] = 0.0
    z[1, :, :3] = [-1e4, 1e4, -1e-8]
    weight = torch.tensor(np.atleast_1d(a))
    value, grad = torch_value_and_grad(lambda t: F.prelu(t, weight), z)
    np.testing.assert_array_equal(A.prelu(z, a), value)
    np.testing.assert_array_equal(A.prelu_grad(z, a), grad)
    assert np.all(A.prelu_grad(z, a)[0, :, 0] == np.broadcast_to(a, (3,)))  # kink: slope at 0


def test_prelu_on_a_feature_matrix_and_on_any_shape_with_one_slope():
    z = RNG.normal(size=(6, 2))
    a = np.array([0.5, 0.1])
    value, grad = torch_value_and_grad(lambda t: F.prelu(t, torch.tensor(a)), z)
    np.testing.assert_array_equal(A.prelu(z, a), value)
    np.testing.assert_array_equal(A.prelu_grad(z, a), grad)
    np.testing.assert_array_equal(A.prelu([-2.0, 3.0], 0.5), [-1.0, 3.0])
    assert A.prelu(-4.0, torch.tensor([0.25])) == -1.0  # a torch parameter works as the slope


def test_kink_conventions_match_autograd():
    zero = np.zeros(3)
    for fn, expected in ((F.relu, 0.0), (lambda t: F.leaky_relu(t, 0.3), 0.3)):
        _, grad = torch_value_and_grad(fn, zero)
        np.testing.assert_array_equal(grad, expected)
    assert A.relu_grad(0.0) == 0.0
    assert A.leaky_relu_grad(0.0, negative_slope=0.3) == 0.3
    assert A.leaky_relu_grad(0.0) == 0.01
    assert A.prelu_grad(0.0, 0.25) == 0.25


def test_the_slides_values():
    assert A.sigmoid(0.0) == 0.5
    assert A.sigmoid_grad(0.0) == 0.25
    assert A.sigmoid(-np.inf) == 0.0 and A.sigmoid(np.inf) == 1.0
    assert A.tanh_grad(0.0) == 1.0
    assert A.softplus(-1e4) == 0.0 and A.softplus(1e4) == 1e4  # softplus(-inf) = 0, ~z for z >> 1
    assert A.softplus(0.0) == pytest.approx(np.log(2), rel=1e-15)
    np.testing.assert_array_equal(A.linear([1.0, 2.0], a=1.0, b=-2.0), [-1.0, -3.0])


ALL_CALLS = [(name, fn, {}) for name, (fn, _) in A.ACTIVATIONS.items()] + \
            [(f"{name}_grad", grad, {}) for name, (_, grad) in A.ACTIVATIONS.items()] + [
    ("softplus beta=100", A.softplus, {"beta": 100.0}),
    ("softplus_grad beta=0.01", A.softplus_grad, {"beta": 0.01}),
    ("prelu", A.prelu, {"a": 0.25}),
    ("prelu_grad", A.prelu_grad, {"a": 0.25}),
    ("softmax", lambda z: A.softmax(z.reshape(-1, 1), dim=0), {}),
    ("log_softmax", lambda z: A.log_softmax(z.reshape(-1, 1), dim=0), {}),
]


@pytest.mark.parametrize("name,fn,kwargs", ALL_CALLS, ids=[c[0] for c in ALL_CALLS])
def test_no_overflow_or_warning_up_to_1e4(name, fn, kwargs, no_warnings):
    # a dense grid, the extremes, and tiny values whose squares or products underflow
    z = np.concatenate([np.linspace(-1e4, 1e4, 2001), np.linspace(-800, 800, 1601), EXTREME,
                        [1e-300, -1e-300, 5e-324, -5e-324]])
    out = fn(z, **kwargs)
    assert out.shape == z.shape[:1] + out.shape[1:] and np.all(np.isfinite(out))


def test_softmax_is_stable_and_equals_torch(no_warnings):
    z = RNG.normal(size=(4, 6)) * 300
    z[0, :3] = [1e4, -1e4, 1e4]
    p, lp = A.softmax(z, dim=1), A.log_softmax(z, dim=0)
    np.testing.assert_allclose(p, torch.softmax(torch.tensor(z), 1).numpy(),
                               rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(lp, torch.log_softmax(torch.tensor(z), 0).numpy(), rtol=1e-12)
    np.testing.assert_allclose(A.softmax([1000.0, 1000.0]), [0.5, 0.5])
    np.testing.assert_allclose(A.log_softmax([1e4, 0.0]), [0.0, -1e4])  # log(softmax) would be -inf


def test_shapes_and_dtype():
    for fn, grad in A.ACTIVATIONS.values():
        assert isinstance(fn(1), np.ndarray) and fn(1).dtype == np.float64 and fn(1).shape == ()
        assert grad(np.ones((2, 3, 1), np.float32)).shape == (2, 3, 1)
        assert fn(np.ones((2, 3), np.float32)).dtype == np.float64
        assert fn([[1, 2]]).shape == (1, 2)  # nested lists and integers too
    assert A.softmax(np.ones((2, 3, 4)), dim=1).shape == (2, 3, 4)


def test_the_input_is_not_modified():
    z = RNG.normal(size=5)
    before = z.copy()
    for fn, grad in A.ACTIVATIONS.values():
        fn(z)
        grad(z)
    A.softmax(z)
    np.testing.assert_array_equal(z, before)


BAD = [
    (lambda: A.sigmoid("1.0"), TypeError, "z must be numeric"),
    (lambda: A.relu(np.array(["a"])), TypeError, "z must be numeric"),
    (lambda: A.tanh_grad(None), TypeError, "z must be numeric"),
    (lambda: A.softplus([1.0, [2.0, 3.0]]), TypeError, "z must be a numeric array-like"),
    (lambda: A.leaky_relu(1.0, negative_slope="0.1"), TypeError, "negative_slope must be a real"),
    (lambda: A.softplus(1.0, beta=0), ValueError, "beta must be positive"),
    (lambda: A.linear(1.0, b=np.inf), ValueError, "b must be finite"),
    (lambda: A.prelu(np.ones((2, 4)), np.ones(3)), ValueError, "a has 3 slopes"),
    (lambda: A.prelu(np.ones(3), np.ones(3)), ValueError, "channels in dimension 1"),
    (lambda: A.prelu_grad(np.ones((2, 2)), np.ones((2, 2))), ValueError,
     "a must be a scalar or a 1-D"),
    (lambda: A.prelu(1.0, "a"), TypeError, "a must be numeric"),
    (lambda: A.softmax(np.ones((2, 3)), dim=2), ValueError, "dim=2 is out of range"),
    (lambda: A.softmax(np.ones(3), dim=0.5), TypeError, "dim must be an integer"),
    (lambda: A.log_softmax(1.0), ValueError, "at least one dimension"),
]


@pytest.mark.parametrize("call,error,message", BAD, ids=[m for _, _, m in BAD])
def test_bad_input_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


finite = st.floats(-1e4, 1e4, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.integers(1, 20), elements=finite))
def test_symmetries(z):
    np.testing.assert_allclose(A.sigmoid(z) + A.sigmoid(-z), 1.0, rtol=0, atol=5e-16)
    # softplus(z) - softplus(-z) = z: exact up to rounding of the larger of the two terms
    assert np.all(np.abs(A.softplus(z) - A.softplus(-z) - z) <= 1e-8 * (1 + np.abs(z)))
    np.testing.assert_allclose(A.tanh(z), 2 * A.sigmoid(2 * z) - 1, rtol=0, atol=1e-15)
    # softplus' = σ below torch's threshold (βz > 20); above it softplus is z and its derivative 1,
    # which differs from σ(z) by less than exp(-20) ≈ 2e-9.
    below = z <= 20
    np.testing.assert_allclose(A.softplus_grad(z[below]), A.sigmoid(z[below]), rtol=1e-15, atol=0)
    np.testing.assert_array_equal(A.softplus_grad(z[~below]), 1.0)
    np.testing.assert_allclose(A.softplus_grad(z), A.sigmoid(z), rtol=0, atol=2.1e-9)
    np.testing.assert_array_equal(A.relu(z) - A.relu(-z), z)
    assert np.all((A.sigmoid_grad(z) >= 0) & (A.sigmoid_grad(z) <= 0.25))


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 8)), elements=finite),
       st.floats(-1e3, 1e3))
def test_softmax_is_a_distribution_invariant_to_shifts(z, shift):
    p = A.softmax(z, dim=1)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    lp = A.log_softmax(z, dim=1)
    assert np.all(lp <= 0)
    np.testing.assert_allclose(np.log(np.sum(np.exp(lp), axis=1)), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.exp(lp), p, atol=1e-12)
    np.testing.assert_allclose(A.softmax(z + shift, dim=1), p, atol=1e-9)
