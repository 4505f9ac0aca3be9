"""Gradient checking: compare an analytic gradient with finite differences.

Backpropagation is easy to get subtly wrong: a missing factor 2, a derivative evaluated at a layer's
output instead of its input, a batch-size division in one layer but not the next. The network still
trains, just worse, and nothing crashes. A gradient check finds such bugs by comparing the gradient
your backward pass computes with one computed from nothing but the forward pass.

**Central differences.** Perturb one coordinate at a time and take

    ∂f/∂x_i ≈ (f(x + ε e_i) − f(x − ε e_i)) / 2ε.

The error of this symmetric formula is O(ε²), against O(ε) for the one-sided (f(x + ε) − f(x))/ε.
ε trades truncation error (large ε) against rounding error ~ 1e−16·|f|/ε (small ε); in float64,
ε = 1e−6 balances them. In float32 no ε works well, so everything here is computed in float64
(a float32 ``x`` is upcast). The cost is two evaluations of f per coordinate: a check, not a way
to train.

**Relative error.** Compare analytic a and numerical n by |a − n| / (|a| + |n|), which does not care
whether the gradient is of order 1e−3 or 1e3. Rules of thumb in float64 with ε = 1e−6:

* below 1e−7: correct;
* around 1e−4 to 1e−2: suspicious, unless the function has a kink (ReLU, hinge, abs) within ε of x,
  where the numerical derivative averages the two one-sided slopes;
* around 1 or more: wrong (a wrong sign gives exactly 1).

The functions: :func:`numerical_gradient` computes the finite differences, :func:`relative_error`
compares, :func:`gradient_report` does both and names the worst coordinate, :func:`check_gradient`
returns just the error, :func:`assert_gradient` raises ``AssertionError`` for a test suite, and
:func:`check_torch_gradient` checks PyTorch's autograd the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import as_float_array, check_number

__all__ = [
    "GradientReport",
    "assert_gradient",
    "check_gradient",
    "check_torch_gradient",
    "gradient_report",
    "numerical_gradient",
    "relative_error",
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
        ``f(x) -> float`` (a 1-element array or tensor also works). It receives a fresh float64
        array of the shape of ``x`` on every call, so it may even modify its argument.
    x : array_like of any shape
        The point; it is not modified. Integers and float32 are upcast to float64.
    eps : float, default 1e-6
        The step ε.

    Returns
    -------
    ndarray of float64, same shape as ``x``
        (f(x + ε e_i) − f(x − ε e_i)) / 2ε for every coordinate i.

    Raises
    ------
    TypeError
        If ``f`` is not callable or ``x`` is not numeric.
    ValueError
        If ``eps`` is not positive, or ``f`` returns more than one number.

    Examples
    --------
    >>> numerical_gradient(lambda v: np.sum(v ** 2), np.array([1.0, -2.0])).round(6)
    array([ 2., -4.])
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    eps = check_number(eps, "eps", positive=True)
    x = np.array(as_float_array(x, "x"), dtype=np.float64, copy=True)
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)  # views: writing flat[i] changes x
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = _scalar(f(x.copy()), "at x + eps")
        flat[i] = old - eps
        minus = _scalar(f(x.copy()), "at x - eps")
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def _relative_errors(a, b) -> np.ndarray:
    a = as_float_array(a, "a")
    b = as_float_array(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf; NaNs are handled below
        num = np.abs(a - b)
        den = np.abs(a) + np.abs(b)
        err = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    err[np.isinf(den) & (a != b)] = 1.0  # an infinity against anything else
    err[a == b] = 0.0  # equal values, zeros and infinities included
    err[np.isnan(a) | np.isnan(b)] = np.nan  # a NaN gradient must never pass a check
    return err


def relative_error(a, b):
    """Maximum elementwise relative error |a − b| / (|a| + |b|), 0 where both are 0.

    Parameters
    ----------
    a, b : array_like of the same shape

    Returns
    -------
    float
        In [0, 1]: 0 for equal arrays (zeros included), 1 when the signs differ or one of the two
        is 0 and the other is not. NaN if either array holds a NaN, so that ``error < tol`` is
        False.
    """
    err = _relative_errors(a, b)
    return float(np.max(err)) if err.size else 0.0


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
        if self.analytic.size == 0:
            return "nothing to check: x has no elements"
        a, n = self.worst_values
        return (f"max relative error {self.max_error:.3e} at index {self.worst_index}: "
                f"analytic {a:.10g}, numerical {n:.10g}")


def gradient_report(f, grad, x, eps=1e-6):
    """Check ``grad(x)`` against :func:`numerical_gradient` and describe the worst coordinate.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``, the function whose gradient is tested (typically a loss).
    grad : callable
        ``grad(x) -> ndarray`` of the shape of ``x``: the gradient under test. It receives a float64
        copy of ``x``.
    x : array_like of any shape
        The point of the check; it is not modified. Float32 is upcast to float64.
    eps : float, default 1e-6
        The finite-difference step.

    Returns
    -------
    GradientReport
        The maximum relative error, where it occurs, and both gradients (shaped like ``x``).
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
    return GradientReport(float(np.max(errors)) if errors.size else 0.0,
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
        Not modified.
    eps : float, default 1e-6

    Returns
    -------
    float
        Around 1e-8 or less for a correct gradient in float64; NaN if either gradient has a NaN.
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

    Raises
    ------
    AssertionError
        If the maximum relative error exceeds ``tol`` (or is NaN); the message gives the worst
        coordinate with its analytic and numerical values.

    Examples
    --------
    The gradient of the mean squared error without its factor 2 is off by 1/3 everywhere:

    >>> t = np.array([1.0, 2.0])
    >>> mse = lambda v: np.mean((v - t) ** 2)
    >>> assert_gradient(mse, lambda v: (v - t) / v.size, np.zeros(2))
    Traceback (most recent call last):
    ...
    AssertionError: gradient check failed (tolerance 1e-06): max relative error 3.333e-01 at index
    (0,): analytic -0.5, numerical -1
    """
    tol = check_number(tol, "tol", positive=True)
    report = gradient_report(f, grad, x, eps)
    if not report.max_error <= tol:
        raise AssertionError(f"gradient check failed (tolerance {tol:g}): {report}")
    return report


def check_torch_gradient(module_or_fn, x, eps=1e-6, seed=0):
    """Compare ``torch.autograd``'s gradient with finite differences, in float64.

    The same check as :func:`gradient_report`, with PyTorch computing the analytic side: a way to
    test a custom layer or ``torch.autograd.Function`` before training with it. Everything runs in
    float64, where finite differences are accurate to about 1e-10 (in float32 they are not).

    The output is reduced to a scalar as Σ r·output with fixed random weights r (drawn once with
    ``seed``), so that every output element matters. (A plain sum would hide errors that cancel, and
    would give a zero gradient for a softmax, whose outputs always sum to 1.)

    Parameters
    ----------
    module_or_fn : torch.nn.Module or callable
        Maps a tensor of the shape of ``x`` to a tensor. A module is checked on a float64 copy, so
        the caller's module is left as it is; a plain function must itself work in float64. Modules
        with randomness (dropout) must be in ``eval()`` mode for the check to make sense.
    x : array_like or torch.Tensor of any shape
        The input at which the gradient with respect to the input is checked; not modified.
    eps : float, default 1e-6
        The finite-difference step.
    seed : int, default 0
        Seed of the random output weights r.

    Returns
    -------
    GradientReport
        ``analytic`` from autograd, ``numeric`` from central differences, both shaped like ``x``.

    Examples
    --------
    >>> import torch
    >>> layer = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh())
    >>> check_torch_gradient(layer, np.ones((4, 3))).max_error < 1e-7
    True
    """
    import copy

    import torch

    if isinstance(module_or_fn, torch.nn.Module):
        fn = copy.deepcopy(module_or_fn).double()
    elif callable(module_or_fn):
        fn = module_or_fn
    else:
        raise TypeError(f"module_or_fn must be a torch module or callable, got "
                        f"{type(module_or_fn).__name__}")
    x0 = np.array(as_float_array(x, "x"))  # a copy: the caller's array or tensor stays as it is
    with torch.no_grad():
        out_shape = tuple(fn(torch.from_numpy(x0.copy())).shape)
    r = torch.from_numpy(np.random.default_rng(seed).normal(size=out_shape))

    def f(v):
        with torch.no_grad():
            return float((fn(torch.from_numpy(v.copy())) * r).sum())

    def grad(v):
        t = torch.tensor(v, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad((fn(t) * r).sum(), t)
        return g.numpy()

    return gradient_report(f, grad, x0, eps)
