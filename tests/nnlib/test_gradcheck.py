"""nnlib.gradcheck: it passes correct gradients and, just as important, fails wrong ones."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlib import activations as A
from nnlib import losses as L
from nnlib.gradcheck import (
    GradientReport,
    assert_gradient,
    check_gradient,
    check_torch_gradient,
    gradient_report,
    numerical_gradient,
    relative_error,
)

RNG = np.random.default_rng(2)


def test_numerical_gradient_of_known_functions():
    x = RNG.normal(size=(3, 4))
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v**3), x), 3 * x**2, rtol=1e-8)
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sin(v).prod(), np.array(0.3)),
                               np.cos(0.3), rtol=1e-9)  # a 0-d x
    # f may return a 1-element array or a torch tensor
    np.testing.assert_allclose(numerical_gradient(lambda v: torch.tensor([v.sum()]), x),
                               np.ones_like(x), rtol=1e-9)


def test_central_differences_beat_forward_differences():
    x, eps = np.array([1.0]), 1e-4
    forward = (np.exp(x + eps) - np.exp(x)) / eps
    central = numerical_gradient(lambda v: np.exp(v).sum(), x, eps=eps)
    assert abs(central - np.e) < 1e-8 < abs(forward - np.e)  # O(eps^2) against O(eps)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_numerical_gradient_of_a_quadratic_form(n, seed):
    rng = np.random.default_rng(seed)
    m, x = rng.normal(size=(n, n)), rng.normal(size=n)
    numeric = numerical_gradient(lambda v: v @ m @ v, x)
    np.testing.assert_allclose(numeric, (m + m.T) @ x, rtol=1e-6, atol=1e-8)


def test_x_is_left_unchanged_and_float32_is_upcast():
    x = RNG.normal(size=5).astype(np.float32)
    before = x.copy()
    seen = []

    def f(v):
        seen.append(v.dtype)
        v *= 0  # even an f that scribbles on its argument does not disturb the check
        return 0.0

    numerical_gradient(f, x)
    assert set(seen) == {np.dtype(np.float64)}
    np.testing.assert_array_equal(x, before)
    assert numerical_gradient(lambda v: np.sum(v**2), x).dtype == np.float64
    # the upcast matters: in float64 the check of an exact gradient is tight
    assert check_gradient(lambda v: np.sum(v**2), lambda v: 2 * v, x) < 1e-9
    for call in (check_gradient, assert_gradient, gradient_report):
        call(lambda v: np.sum(v**2), lambda v: 2 * v, x)
        np.testing.assert_array_equal(x, before)
    assert x.dtype == np.float32


def test_the_gradient_under_test_cannot_modify_x():
    x = RNG.normal(size=4)
    before = x.copy()

    def grad(v):
        v += 1.0
        return 2 * (v - 1.0)

    assert check_gradient(lambda v: np.sum(v**2), grad, x) < 1e-9
    np.testing.assert_array_equal(x, before)


def test_relative_error_is_safe_at_zero():
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
        assert relative_error([1.0, 0.0], [1.0, 0.0]) == 0.0
        assert relative_error(0.0, 0.0) == 0.0
        assert relative_error([1.0], [-1.0]) == 1.0
        assert relative_error([0.0], [1e-30]) == 1.0
        assert relative_error([2.0], [1.0]) == pytest.approx(1 / 3)
        assert relative_error([np.inf], [np.inf]) == 0.0
        assert relative_error([np.inf], [1.0]) == 1.0
        assert relative_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0


def test_relative_error_is_scale_free_and_symmetric():
    a = RNG.normal(size=6)
    b = a * (1 + 1e-5 * RNG.normal(size=6))
    assert relative_error(a, b) == pytest.approx(relative_error(1e6 * a, 1e6 * b), rel=1e-8)
    assert relative_error(a, b) == relative_error(b, a)


def test_a_nan_gradient_never_passes():
    x = np.ones(3)

    def nan_grad(v):
        return np.array([2.0, np.nan, 2.0])

    assert np.isnan(relative_error([1.0, np.nan], [1.0, 1.0]))
    assert not check_gradient(lambda v: np.sum(v**2), nan_grad, x) < 1e-6
    with pytest.raises(AssertionError, match=r"at index \(1,\): analytic nan"):
        assert_gradient(lambda v: np.sum(v**2), nan_grad, x)


def test_correct_gradients_pass():
    x, t = RNG.normal(size=6), RNG.normal(size=6)
    assert check_gradient(lambda v: L.mse_loss(v, t), lambda v: L.mse_loss_grad(v, t), x) < 1e-8
    assert check_gradient(lambda v: A.sigmoid(v).sum(), A.sigmoid_grad, x) < 1e-8
    report = assert_gradient(lambda v: A.tanh(v).sum(), A.tanh_grad, x)
    assert isinstance(report, GradientReport) and report.max_error < 1e-6


def test_the_checker_fails_on_the_classic_mistakes():
    x, t = RNG.normal(size=6), RNG.normal(size=6)

    def mse(v):
        return L.mse_loss(v, t)

    def missing_two(v):  # the MSE gradient without its factor 2
        return (v - t) / v.size

    assert check_gradient(mse, missing_two, x) == pytest.approx(1 / 3, rel=1e-6)
    with pytest.raises(AssertionError, match="gradient check failed"):
        assert_gradient(mse, missing_two, x)

    def from_output(v):  # sigma' = s(1 - s) written with z in place of s = sigma(z)
        return v * (1 - v)

    assert check_gradient(lambda v: A.sigmoid(v).sum(), from_output, x) > 0.1
    with pytest.raises(AssertionError, match=r"gradient check failed .* at index \(\d+,\)"):
        assert_gradient(lambda v: A.sigmoid(v).sum(), from_output, x)

    def not_batch_scaled(v):  # the 'mean' loss differentiated as if it were the 'sum'
        return 2 * (v - t)

    with pytest.raises(AssertionError):
        assert_gradient(mse, not_batch_scaled, x)

    with pytest.raises(AssertionError):  # a wrong sign
        assert_gradient(mse, lambda v: -L.mse_loss_grad(v, t), x)


def test_a_single_wrong_coordinate_is_found_and_named():
    x = np.array([[1.0, 2.0], [3.0, -4.0]])

    def wrong(v):
        g = 2 * v
        g[1, 0] = 5.0
        return g

    report = gradient_report(lambda v: np.sum(v**2), wrong, x)
    assert report.worst_index == (1, 0)
    assert report.max_error == pytest.approx(1 / 11, rel=1e-6)
    assert report.worst_values[0] == 5.0 and report.worst_values[1] == pytest.approx(6.0)
    np.testing.assert_allclose(report.numeric, 2 * x, rtol=1e-9)
    np.testing.assert_array_equal(report.analytic, wrong(x))
    assert "index (1, 0)" in str(report) and "analytic 5" in str(report)
    assert "numerical 6" in str(report)
    with pytest.raises(AssertionError, match=r"at index \(1, 0\): analytic 5, numerical 6"):
        assert_gradient(lambda v: np.sum(v**2), wrong, x)
    assert_gradient(lambda v: np.sum(v**2), wrong, x, tol=0.1)  # a loose tolerance lets it pass


def test_torch_linear_tanh_module_in_float64():
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh())
    before = [p.detach().clone() for p in module.parameters()]
    x = RNG.normal(size=(5, 3)).astype(np.float32)
    x_before = x.copy()
    report = check_torch_gradient(module, x)
    assert report.max_error < 1e-8
    assert report.analytic.shape == (5, 3) and report.analytic.dtype == np.float64
    # autograd's gradient is the chain rule done by hand: (r * (1 - tanh^2)) @ W
    weight, bias = (p.detach().double().numpy() for p in module.parameters())
    z = x.astype(np.float64) @ weight.T + bias
    r = np.random.default_rng(0).normal(size=(5, 4))  # check_torch_gradient's output weights
    np.testing.assert_allclose(report.analytic, (r * (1 - np.tanh(z) ** 2)) @ weight, rtol=1e-12)
    # the caller's module and input are untouched: still float32, same parameters
    assert all(p.dtype == torch.float32 for p in module.parameters())
    for p, b in zip(module.parameters(), before, strict=True):
        assert torch.equal(p, b)
    np.testing.assert_array_equal(x, x_before)


def test_torch_functions_and_tensor_inputs():
    x = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x_before = x.clone()
    report = check_torch_gradient(lambda t: torch.softmax(t, dim=1), x)
    assert report.max_error < 1e-7  # a plain sum would make this gradient 0 and the check noise
    assert torch.equal(x, x_before)


class _WrongSigmoid(torch.autograd.Function):
    """A sigmoid whose backward forgets to use the output: it returns grad * z * (1 - z)."""

    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return torch.sigmoid(z)

    @staticmethod
    def backward(ctx, grad_output):
        (z,) = ctx.saved_tensors
        return grad_output * z * (1 - z)


def test_torch_path_fails_a_wrong_backward():
    x = RNG.normal(size=(3, 2))
    assert check_torch_gradient(torch.sigmoid, x).max_error < 1e-8
    report = check_torch_gradient(_WrongSigmoid.apply, x)
    assert report.max_error > 0.1
    assert "analytic" in str(report)


BAD = [
    (lambda: numerical_gradient(3.0, np.ones(2)), TypeError, "f must be callable"),
    (lambda: numerical_gradient(lambda v: v, np.ones(2)), ValueError, "f must return a scalar"),
    (lambda: numerical_gradient(np.sum, np.ones(2), eps=0), ValueError, "eps must be positive"),
    (lambda: numerical_gradient(np.sum, "x"), TypeError, "x must be numeric"),
    (lambda: check_gradient(np.sum, lambda v: np.ones(3), np.ones(2)), ValueError,
     r"grad\(x\) has shape \(3,\), but x has shape \(2,\)"),
    (lambda: check_gradient(np.sum, None, np.ones(2)), TypeError, "grad must be callable"),
    (lambda: assert_gradient(np.sum, np.ones_like, np.ones(2), tol=-1), ValueError,
     "tol must be positive"),
    (lambda: relative_error(np.ones(2), np.ones(3)), ValueError,
     "a and b must have the same shape"),
    (lambda: relative_error("a", np.ones(3)), TypeError, "a must be numeric"),
    (lambda: check_torch_gradient(3, np.ones(2)), TypeError, "module_or_fn must be a torch module"),
]


@pytest.mark.parametrize("call,error,message", BAD, ids=[m for _, _, m in BAD])
def test_bad_input_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()
