"""Activation functions g(z) and their derivatives g'(z).

The lecture's list: sigmoid, tanh, ReLU, leaky ReLU and PReLU, softplus and the linear map, plus the
softmax of the output layer. Each ``<name>(z, ...)`` has a partner ``<name>_grad(z, ...)`` with the same
arguments that returns dg/dz elementwise, so backpropagation through a layer is
``dz = dout * <name>_grad(z)``.

Conventions follow ``torch.nn.functional``: same names, same keyword arguments, and at a kink the
derivative PyTorch's autograd uses (``relu_grad(0) == 0``, ``leaky_relu_grad(0) == negative_slope``).

Numerical stability: nothing here evaluates ``exp`` of a large positive number. The sigmoid uses
``exp(-|z|)``, softplus uses ``max(z, 0) + log1p(exp(-|z|))`` and softmax subtracts the row maximum
(the log-sum-exp trick), so inputs up to ``|z| = 1e4`` (and far beyond) give no overflow and no warning.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, check_number

__all__ = [
    "sigmoid", "sigmoid_grad", "tanh", "tanh_grad", "relu", "relu_grad",
    "leaky_relu", "leaky_relu_grad", "prelu", "prelu_grad", "softplus", "softplus_grad",
    "linear", "linear_grad", "softmax", "log_softmax", "ACTIVATIONS",
]


def sigmoid(z):
    """Logistic sigmoid σ(z) = 1 / (1 + exp(−z)), without overflow.

    Parameters
    ----------
    z : float or array_like of any shape

    Returns
    -------
    ndarray of float64, same shape as ``z``, values in [0, 1]
    """
    z = as_float_array(z, "z")
    with np.errstate(under="ignore"):  # exp(-1e4) underflows to 0, which is the right answer
        e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_grad(z):
    """σ'(z) = σ(z)(1 − σ(z)), evaluated at the *input* ``z``.

    Parameters
    ----------
    z : float or array_like of any shape

    Returns
    -------
    ndarray of float64, same shape as ``z``; σ'(0) = 1/4
    """
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z):
    """Hyperbolic tangent, (e^z − e^−z)/(e^z + e^−z) = 2σ(2z) − 1, values in (−1, 1).

    Parameters
    ----------
    z : float or array_like of any shape

    Returns
    -------
    ndarray of float64, same shape as ``z``
    """
    return np.tanh(as_float_array(z, "z"))


def tanh_grad(z):
    """tanh'(z) = 1 − tanh(z)²; tanh'(0) = 1 (tanh is the identity near zero).

    Parameters
    ----------
    z : float or array_like of any shape

    Returns
    -------
    ndarray of float64, same shape as ``z``
    """
    t = tanh(z)
    return 1.0 - t * t


def relu(z):
    """Rectified linear unit max(0, z).

    Parameters
    ----------
    z : float or array_like of any shape

    Returns
    -------
    ndarray of float64, same shape as ``z``
    """
    z = as_float_array(z, "z")
    return np.maximum(z, 0.0)


def relu_grad(z):
    """ReLU'(z): 1 for z > 0, else 0; at the corner z = 0 it is 0, as in PyTorch's autograd.

    Parameters
    ----------
    z : float or array_like of any shape

    Returns
    -------
    ndarray of float64, same shape as ``z``
    """
    z = as_float_array(z, "z")
    return (z > 0).astype(np.float64)


def leaky_relu(z, negative_slope=0.01):
    """Leaky ReLU: z for z ≥ 0 and ``negative_slope``·z below, i.e. max(z, a·z) for a ≤ 1.

    Parameters
    ----------
    z : float or array_like of any shape
    negative_slope : float, default 0.01
        The small slope that keeps a gradient flowing when the unit is not active.

    Returns
    -------
    ndarray of float64, same shape as ``z``
    """
    z = as_float_array(z, "z")
    a = check_number(negative_slope, "negative_slope")
    return np.where(z >= 0, z, a * z)


def leaky_relu_grad(z, negative_slope=0.01):
    """Leaky ReLU'(z): 1 for z > 0, ``negative_slope`` for z ≤ 0 (PyTorch's value at 0).

    Parameters
    ----------
    z : float or array_like of any shape
    negative_slope : float, default 0.01

    Returns
    -------
    ndarray of float64, same shape as ``z``
    """
    z = as_float_array(z, "z")
    a = check_number(negative_slope, "negative_slope")
    return np.where(z > 0, 1.0, a)


def _prelu_slope(z: np.ndarray, a) -> np.ndarray:
    """Broadcast PReLU's slope like torch: a scalar, or one slope per channel (dimension 1)."""
    a = as_float_array(a, "a")
    if a.ndim > 1:
        raise ValueError(f"a must be a scalar or a 1-D array of per-channel slopes, got shape {a.shape}")
    if a.size == 1:
        return a.reshape(())
    if z.ndim < 2 or z.shape[1] != a.size:
        raise ValueError(f"a has {a.size} slopes, so z must have {a.size} channels in dimension 1, "
                         f"got z of shape {z.shape}")
    return a.reshape((1, a.size) + (1,) * (z.ndim - 2))


def prelu(z, a):
    """Parametric ReLU: z for z ≥ 0 and a·z below, with a slope ``a`` that is learned.

    Parameters
    ----------
    z : array_like of shape (n_samples, n_channels, ...) or any shape when ``a`` is a scalar
    a : float or ndarray of shape (n_channels,)
        The slope(s), as ``torch.nn.functional.prelu``'s ``weight``.

    Returns
    -------
    ndarray of float64, same shape as ``z``
    """
    z = as_float_array(z, "z")
    slope = _prelu_slope(z, a)
    return np.where(z >= 0, z, slope * z)


def prelu_grad(z, a):
    """PReLU'(z) with respect to z: 1 for z > 0, ``a`` for z ≤ 0 (PyTorch's value at 0).

    Parameters
    ----------
    z : array_like, see :func:`prelu`
    a : float or ndarray of shape (n_channels,)

    Returns
    -------
    ndarray of float64, same shape as ``z``
    """
    z = as_float_array(z, "z")
    slope = _prelu_slope(z, a)
    return np.where(z > 0, 1.0, slope * np.ones_like(z))


def softplus(z, beta=1.0, threshold=20.0):
    """Softplus (1/β)·log(1 + exp(βz)), a smooth ReLU: softplus(z) ≈ z for z ≫ 1, → 0 for z → −∞.

    Computed as max(x, 0) + log1p(exp(−|x|)) with x = βz, which never overflows. Like PyTorch, it
    returns z itself where βz > ``threshold`` (the difference there is below exp(−20) ≈ 2e−9).

    Parameters
    ----------
    z : float or array_like of any shape
    beta : float, default 1.0
        Sharpness; the curve tends to ReLU as β → ∞.
    threshold : float, default 20.0
        Above βz = threshold the function is the identity, as in ``torch.nn.functional.softplus``.

    Returns
    -------
    ndarray of float64, same shape as ``z``, values ≥ 0
    """
    z = as_float_array(z, "z")
    beta = check_number(beta, "beta", positive=True)
    threshold = check_number(threshold, "threshold")
    x = beta * z
    with np.errstate(under="ignore"):
        smooth = (np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))) / beta
    return np.where(x > threshold, z, smooth)


def softplus_grad(z, beta=1.0, threshold=20.0):
    """softplus'(z) = σ(βz): the derivative of softplus is the sigmoid (1 above the threshold).

    Parameters
    ----------
    z : float or array_like of any shape
    beta : float, default 1.0
    threshold : float, default 20.0

    Returns
    -------
    ndarray of float64, same shape as ``z``
    """
    z = as_float_array(z, "z")
    beta = check_number(beta, "beta", positive=True)
    threshold = check_number(threshold, "threshold")
    return np.where(beta * z > threshold, 1.0, sigmoid(beta * z))


def linear(z, a=0.0, b=1.0):
    """The linear activation φ(z) = a + b·z of the slides (no non-linearity at all).

    Parameters
    ----------
    z : float or array_like of any shape
    a : float, default 0.0
        Intercept.
    b : float, default 1.0
        Slope; ``linear(z)`` is the identity.

    Returns
    -------
    ndarray of float64, same shape as ``z``
    """
    z = as_float_array(z, "z")
    return check_number(a, "a") + check_number(b, "b") * z


def linear_grad(z, a=0.0, b=1.0):
    """φ'(z) = b everywhere.

    Parameters
    ----------
    z : float or array_like of any shape
    a, b : float
        As in :func:`linear`.

    Returns
    -------
    ndarray of float64, same shape as ``z``
    """
    z = as_float_array(z, "z")
    check_number(a, "a")
    return np.full_like(z, check_number(b, "b"))


def _check_dim(z: np.ndarray, dim) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"dim must be an integer, got {type(dim).__name__}")
    if z.ndim == 0:
        raise ValueError("softmax needs at least one dimension; got a scalar z")
    if not -z.ndim <= dim < z.ndim:
        raise ValueError(f"dim={dim} is out of range for z with {z.ndim} dimension(s)")
    return int(dim)


def log_softmax(z, dim=-1):
    """log softmax(z) = z − logsumexp(z), computed stably (the log-sum-exp trick).

    Parameters
    ----------
    z : array_like of shape (..., n_classes, ...)
        Scores (logits).
    dim : int, default -1
        The class dimension.

    Returns
    -------
    ndarray of float64, same shape as ``z``; ``exp`` of it sums to 1 along ``dim``
    """
    z = as_float_array(z, "z")
    dim = _check_dim(z, dim)
    shifted = z - np.max(z, axis=dim, keepdims=True)
    with np.errstate(under="ignore"):
        return shifted - np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))


def softmax(z, dim=-1):
    """softmax(z)_m = exp(z_m) / Σ_l exp(z_l): class probabilities from scores.

    Subtracting the maximum first leaves the result unchanged and keeps every exponent ≤ 0, so logits
    of 1000 (where ``exp`` overflows) are fine.

    Parameters
    ----------
    z : array_like of shape (..., n_classes, ...)
        Scores (logits).
    dim : int, default -1
        The class dimension.

    Returns
    -------
    ndarray of float64, same shape as ``z``, non-negative and summing to 1 along ``dim``
    """
    z = as_float_array(z, "z")
    dim = _check_dim(z, dim)
    with np.errstate(under="ignore"):
        e = np.exp(z - np.max(z, axis=dim, keepdims=True))
    return e / np.sum(e, axis=dim, keepdims=True)


#: Name -> (activation, derivative), for layers and plots that pick an activation by name.
ACTIVATIONS = {
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "softplus": (softplus, softplus_grad),
    "linear": (linear, linear_grad),
}
