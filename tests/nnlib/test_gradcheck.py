"""nnlib.gradcheck: it passes correct gradients and, just as important, fails wrong ones."""

import numpy as np
import pytest
import torch

from nnlib import activations as A
from nnlib import losses as L
from nnlib.gradcheck import (assert_gradient, check_gradient, check_torch_gradient,
                             gradient_report, numerical_gradient, relative_error)

RNG = np.random.default_rng(2)


def test_numerical_gradient_of_a_known_function():
    x = RNG.normal(size=(3, 4))
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v**3), x), 3 * x**2, rtol=1e-7)


def test_x_is_left_unchanged_and_float32_is_upcast():
    x = RNG.normal(size=5).astype(np.float32)
    before = x.copy()
    seen = []
    numerical_gradient(lambda v: seen.append(v.dtype) or float(v.sum()), x)
    np.testing.assert_array_equal(x, before)
    assert set(seen) == {np.dtype(np.float64)}


def test_relative_error_is_safe_at_zero():
    with np.errstate(all="raise"):
        assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
        assert relative_error([1.0, 0.0], [1.0, 0.0]) == 0.0
        assert relative_error([1.0], [-1.0]) == 1.0
        assert relative_error([2.0], [1.0]) == pytest.approx(1 / 3)


def test_correct_gradients_pass():
    x, t = RNG.normal(size=6), RNG.normal(size=6)
    assert check_gradient(lambda v: L.mse_loss(v, t), lambda v: L.mse_loss_grad(v, t), x) < 1e-8
    assert check_gradient(lambda v: A.sigmoid(v).sum(), A.sigmoid_grad, x) < 1e-8
    assert_gradient(lambda v: A.tanh(v).sum(), A.tanh_grad, x)


def test_the_checker_fails_on_the_classic_mistakes():
    x, t = RNG.normal(size=6), RNG.normal(size=6)
    missing_two = lambda v: (v - t) / v.size  # noqa: E731  the MSE gradient without its factor 2
    assert check_gradient(lambda v: L.mse_loss(v, t), missing_two, x) > 0.3
    from_output = lambda v: v * (1 - v)  # noqa: E731  sigma' written with z in place of sigma(z)
    with pytest.raises(AssertionError, match=r"gradient check failed .* at index \(\d+,\)"):
        assert_gradient(lambda v: A.sigmoid(v).sum(), from_output, x)


def test_report_names_the_worst_coordinate():
    x = np.array([1.0, 2.0, 3.0])

    def wrong(v):
        g = 2 * v
        g[1] = 0.0
        return g

    report = gradient_report(lambda v: np.sum(v**2), wrong, x)
    assert report.worst_index == (1,)
    assert report.max_error == pytest.approx(1.0)
    assert "index (1,)" in str(report) and "numerical 4" in str(report)


def test_torch_modules_are_checked_in_float64():
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    report = check_torch_gradient(module, RNG.normal(size=(5, 3)))
    assert report.max_error < 1e-7
    assert next(module.parameters()).dtype == torch.float32  # the caller's module is untouched


def test_bad_input():
    with pytest.raises(TypeError, match="f must be callable"):
        numerical_gradient(3.0, np.ones(2))
    with pytest.raises(ValueError, match="f must return a scalar"):
        numerical_gradient(lambda v: v, np.ones(2))
    with pytest.raises(ValueError, match="eps must be positive"):
        numerical_gradient(np.sum, np.ones(2), eps=0)
    with pytest.raises(ValueError, match=r"grad\(x\) has shape"):
        check_gradient(np.sum, lambda v: np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="same shape"):
        relative_error(np.ones(2), np.ones(3))
