"""Backprop checks: compare an analytic gradient with central finite differences.

The recipe (as in CS231n): perturb one coordinate at a time by ±ε, take
(f(x + ε) − f(x − ε)) / 2ε, and compare with the gradient your backward pass computed using the
*relative* error |a − n| / (|a| + |n|). In float64 with ε = 1e−6, a correct gradient typically gives
1e−8 or less; 1e−4 or more means a bug (a missing factor 2, a gradient computed from a layer's output
instead of its input, a batch-size scaling in one layer but not another).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import as_float_array, check_number

__all__ = [
    "numerical_gradient", "relative_error", "check_gradient", "assert_gradient",
    "gradient_report", "GradientReport", "check_torch_gradient",
]


def _scalar(value, where: str) -> float:
    arr = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
    if arr.size != 1:
        raise ValueError(f"f must return a scalar, got an array of shape {arr.shape} {where}")
    return float(arr.reshape(()))


def numerical_gradient(f, x, eps=1e-6):
    """Central-difference gradient of a scalar function ``f`` at ``x``.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``; it receives a float64 array of the shape of ``x``.
    x : array_like of any shape
        The point; it is not modified.
    eps : float, default 1e-6
        The step ε.

    Returns
    -------
    ndarray of float64, same shape as ``x``
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    eps = check_number(eps, "eps", positive=True)
    x = np.array(as_float_array(x, "x"), dtype=np.float64, copy=True)
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = _scalar(f(x), "at x + eps")
        flat[i] = old - eps
        minus = _scalar(f(x), "at x - eps")
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def _relative_errors(a, b) -> np.ndarray:
    a = as_float_array(a, "a")
    b = as_float_array(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    num = np.abs(a - b)
    den = np.abs(a) + np.abs(b)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def relative_error(a, b):
    """Maximum elementwise relative error |a − b| / (|a| + |b|), 0 where both are 0.

    Parameters
    ----------
    a, b : array_like of the same shape

    Returns
    -------
    float in [0, 1]; 0 for equal arrays (zeros included)
    """
    err = _relative_errors(a, b)
    return float(err.max()) if err.size else 0.0


@dataclass
class GradientReport:
    """The outcome of a gradient check.

    Attributes
    ----------
    max_error : float
        The largest relative error over the coordinates.
    worst_index : tuple of int
        Where it occurs.
    analytic, numeric : ndarray
        The two gradients compared.
    """

    max_error: float
    worst_index: tuple
    analytic: np.ndarray
    numeric: np.ndarray

    @property
    def worst_values(self) -> tuple[float, float]:
        """(analytic, numeric) at the worst coordinate."""
        return float(self.analytic[self.worst_index]), float(self.numeric[self.worst_index])

    def __str__(self) -> str:
        a, n = self.worst_values
        return (f"max relative error {self.max_error:.3e} at index {self.worst_index}: "
                f"analytic {a:.10g}, numerical {n:.10g}")


def gradient_report(f, grad, x, eps=1e-6):
    """Check ``grad(x)`` against :func:`numerical_gradient` and describe the worst coordinate.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``.
    grad : callable
        ``grad(x) -> ndarray`` of the shape of ``x``: the gradient under test.
    x : array_like of any shape
    eps : float, default 1e-6

    Returns
    -------
    GradientReport
    """
    if not callable(grad):
        raise TypeError(f"grad must be callable, got {type(grad).__name__}")
    x = as_float_array(x, "x")
    analytic = as_float_array(grad(x.copy()), "grad(x)")
    if analytic.shape != x.shape:
        raise ValueError(f"grad(x) has shape {analytic.shape}, but x has shape {x.shape}")
    numeric = numerical_gradient(f, x, eps)
    errors = _relative_errors(analytic, numeric)
    worst = np.unravel_index(int(np.argmax(errors)), errors.shape) if errors.size else ()
    return GradientReport(float(errors.max()) if errors.size else 0.0,
                          tuple(int(i) for i in worst), analytic, numeric)


def check_gradient(f, grad, x, eps=1e-6):
    """The maximum relative error between ``grad(x)`` and the numerical gradient of ``f`` at ``x``.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``.
    grad : callable
        ``grad(x) -> ndarray`` of the shape of ``x``.
    x : array_like of any shape
    eps : float, default 1e-6

    Returns
    -------
    float
        Around 1e-8 or less for a correct gradient in float64.
    """
    return gradient_report(f, grad, x, eps).max_error


def assert_gradient(f, grad, x, tol=1e-6, eps=1e-6):
    """Raise ``AssertionError`` naming the worst coordinate unless the gradient check passes.

    Parameters
    ----------
    f, grad, x, eps
        As in :func:`check_gradient`.
    tol : float, default 1e-6
        The largest acceptable relative error.

    Returns
    -------
    GradientReport
        When the check passes.
    """
    tol = check_number(tol, "tol", positive=True)
    report = gradient_report(f, grad, x, eps)
    if not report.max_error <= tol:
        raise AssertionError(f"gradient check failed (tolerance {tol:g}): {report}")
    return report


def check_torch_gradient(module_or_fn, x, eps=1e-6):
    """Compare ``torch.autograd`` with finite differences for a torch module or function.

    The input is checked in float64 (a module is converted to a float64 copy first); the function's
    output is summed to a scalar.

    Parameters
    ----------
    module_or_fn : torch.nn.Module or callable
        Maps a tensor to a tensor.
    x : array_like or torch.Tensor of any shape
        The input at which the gradient with respect to the input is checked.
    eps : float, default 1e-6

    Returns
    -------
    GradientReport
    """
    import copy

    import torch

    fn = module_or_fn
    if isinstance(module_or_fn, torch.nn.Module):
        fn = copy.deepcopy(module_or_fn).double()
    elif not callable(module_or_fn):
        raise TypeError(f"module_or_fn must be a torch module or callable, got "
                        f"{type(module_or_fn).__name__}")
    x0 = as_float_array(x, "x")

    def f(v):
        with torch.no_grad():
            return float(fn(torch.as_tensor(v, dtype=torch.float64)).sum())

    def grad(v):
        t = torch.tensor(v, dtype=torch.float64, requires_grad=True)
        fn(t).sum().backward()
        return t.grad.numpy()

    return gradient_report(f, grad, x0, eps)
