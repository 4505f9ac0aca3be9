"""Activation functions g(z) and their derivatives g'(z).

A hidden unit computes a linear score ``z = w·x + b`` and then applies a fixed non-linear function,
the activation ``A = g(z)``. Without that non-linearity, stacked layers collapse into one linear
model. The lecture's list:

=============  ==================================  ===============================  ============
name           g(z)                                g'(z)                            range
=============  ==================================  ===============================  ============
sigmoid        1 / (1 + exp(−z))                   σ(z)·(1 − σ(z)), max 1/4 at 0    (0, 1)
tanh           (e^z − e^−z) / (e^z + e^−z)         1 − tanh(z)², max 1 at 0         (−1, 1)
relu           max(0, z)                           1 for z > 0, else 0              [0, ∞)
leaky_relu     z, or ``negative_slope``·z if z < 0  1 for z > 0, else the slope      ℝ
prelu          z, or a·z if z < 0 (a is learned)   1 for z > 0, else a              ℝ
softplus       log(1 + exp(z))                     σ(z)                             (0, ∞)
linear         a + b·z                             b                                ℝ
=============  ==================================  ===============================  ============

Each ``<name>(z, ...)`` has a partner ``<name>_grad(z, ...)`` with the same arguments that returns
dg/dz elementwise, evaluated at the **input** z. Backpropagation through an activation layer is then
``dL/dz = dL/dA * <name>_grad(z)``. (A classic bug is to pass the layer's *output* A instead of z.)

Conventions follow ``torch.nn.functional``: the same names and keyword arguments, and at a kink the
value PyTorch's autograd uses: ``relu_grad(0) == 0``, ``leaky_relu_grad(0) == negative_slope`` and
``prelu_grad(0) == a``. Any such choice in [slope, 1] is a valid subgradient; matching PyTorch means
the NumPy and the PyTorch versions of a network give identical gradients.

Numerical stability. Written naively, ``1 / (1 + np.exp(-z))`` overflows for z = −1000 and
``np.log(1 + np.exp(z))`` for z = 1000. Here nothing evaluates ``exp`` of a large positive number:

* the sigmoid uses e = exp(−|z|) ∈ (0, 1], as 1/(1 + e) for z ≥ 0 and e/(1 + e) for z < 0;
* softplus uses max(z, 0) + log1p(exp(−|z|)), and like PyTorch returns z itself above a threshold;
* softmax subtracts the maximum first (the log-sum-exp trick), which leaves it unchanged.

Results that are too small to represent (exp(−10000)) are rounded to 0, which is the correct
float64 answer, so inputs up to |z| = 1e4 (and far beyond) give neither overflow nor a warning.

For the output layer there are :func:`softmax` and :func:`log_softmax`; ``ACTIVATIONS`` maps a name
to its (function, derivative) pair for layers and plots that choose an activation by name.
"""

from __future__ import annotations

import functools

import numpy as np

from ._validation import as_float_array, check_number

__all__ = [
    "ACTIVATIONS",
    "leaky_relu",
    "leaky_relu_grad",
    "linear",
    "linear_grad",
    "log_softmax",
    "prelu",
    "prelu_grad",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
    "softplus",
    "softplus_grad",
    "tanh",
    "tanh_grad",
]


def _elementwise(fn):
    """Decorate an activation: always return a float64 ndarray, and accept underflow.

    NumPy ufuncs turn a 0-d input into a NumPy scalar; the wrapper returns an ndarray for every
    input, as promised. Rounding a tiny result such as exp(−1e4) or tanh(1e−300)² to 0 is the
    correct float64 answer, not an error, so NumPy's underflow check is off inside (overflow and
    invalid operations still raise when the caller asks for it, and none occurs for |z| ≤ 1e4).
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(under="ignore"):
            return np.asarray(fn(*args, **kwargs), dtype=np.float64)

    return wrapper


@_elementwise
def sigmoid(z):
    """Logistic sigmoid σ(z) = 1 / (1 + exp(−z)), without overflow.

    The CDF of the logistic distribution: σ(0) = 1/2, σ(−z) = 1 − σ(z).

    Parameters
    ----------
    z : float or array_like of any shape
        Scores.

    Returns
    -------
    ndarray of float64, same shape as ``z``
        Values in [0, 1] (exactly 0 or 1 only where the true value rounds to it).
    """
    z = as_float_array(z, "z")
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@_elementwise
def sigmoid_grad(z):
    """σ'(z) = σ(z)·(1 − σ(z)), evaluated at the *input* ``z``; σ'(0) = 1/4.

    Parameters
    ----------
    z : float or array_like of any shape
        Scores (not the sigmoid's output).

    Returns
    -------
    ndarray of float64, same shape as ``z``
        Values in [0, 1/4], the bell-shaped logistic density.
    """
    s = sigmoid(z)
    return s * (1.0 - s)


@_elementwise
def tanh(z):
    """Hyperbolic tangent (e^z − e^−z)/(e^z + e^−z) = 2σ(2z) − 1.

    Parameters
    ----------
    z : float or array_like of any shape

    Returns
    -------
    ndarray of float64, same shape as ``z``
        Values in [−1, 1]; tanh(z) ≈ z near 0.
    """
    return np.tanh(as_float_array(z, "z"))


@_elementwise
def tanh_grad(z):
    """tanh'(z) = 1 − tanh(z)²; tanh'(0) = 1 (tanh is the identity near zero).

    Parameters
    ----------
    z : float or array_like of any shape

    Returns
    -------
    ndarray of float64, same shape as ``z``
        Values in [0, 1].
    """
    t = tanh(z)
    return 1.0 - t * t


@_elementwise
def relu(z):
    """Rectified linear unit max(0, z).

    Parameters
    ----------
    z : float or array_like of any shape

    Returns
    -------
    ndarray of float64, same shape as ``z``
        Values ≥ 0.
    """
    return np.maximum(as_float_array(z, "z"), 0.0)


@_elementwise
def relu_grad(z):
    """ReLU'(z): 1 for z > 0, else 0; at the corner z = 0 it is 0, as in PyTorch's autograd.

    Parameters
    ----------
    z : float or array_like of any shape

    Returns
    -------
    ndarray of float64, same shape as ``z``
        Zeros and ones. A unit whose z is negative for every input gets no gradient: it is "dead".
    """
    return (as_float_array(z, "z") > 0).astype(np.float64)


@_elementwise
def leaky_relu(z, negative_slope=0.01):
    """Leaky ReLU: z for z ≥ 0 and ``negative_slope``·z below.

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
    slope = check_number(negative_slope, "negative_slope")
    return np.where(z >= 0, z, slope * z)


@_elementwise
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
    slope = check_number(negative_slope, "negative_slope")
    return np.where(z > 0, 1.0, slope)


def _prelu_slope(z: np.ndarray, a) -> np.ndarray:
    """Broadcast PReLU's slope like torch: one shared slope, or one per channel (dimension 1)."""
    a = as_float_array(a, "a")
    if a.ndim > 1:
        raise ValueError("a must be a scalar or a 1-D array of per-channel slopes, "
                         f"got shape {a.shape}")
    if a.size == 1:
        return a.reshape(())
    if z.ndim < 2 or z.shape[1] != a.size:
        raise ValueError(f"a has {a.size} slopes, so z must have {a.size} channels in dimension 1, "
                         f"got z of shape {z.shape}")
    return a.reshape((1, a.size) + (1,) * (z.ndim - 2))


@_elementwise
def prelu(z, a):
    """Parametric ReLU: z for z ≥ 0 and a·z below, where the slope ``a`` is learned in training.

    ``a`` broadcasts as the ``weight`` of ``torch.nn.functional.prelu``: a single slope (a scalar or
    an array of size 1) applies everywhere; C slopes apply per channel, the channels being
    dimension 1 of ``z`` (the features of an (N, C) batch, the channels of an (N, C, H, W) image).

    Parameters
    ----------
    z : array_like of shape (n_samples, n_channels, ...), or any shape when ``a`` is one slope
    a : float or array_like of shape (1,) or (n_channels,)
        The slope(s).

    Returns
    -------
    ndarray of float64, same shape as ``z``

    Raises
    ------
    ValueError
        If ``a`` has more than one dimension, or its length is not the number of channels of ``z``.
    """
    z = as_float_array(z, "z")
    slope = _prelu_slope(z, a)
    return np.where(z >= 0, z, slope * z)


@_elementwise
def prelu_grad(z, a):
    """PReLU'(z) with respect to z: 1 for z > 0, ``a`` for z ≤ 0 (PyTorch's value at 0).

    Parameters
    ----------
    z : array_like, as in :func:`prelu`
    a : float or array_like of shape (1,) or (n_channels,)

    Returns
    -------
    ndarray of float64, same shape as ``z``
    """
    z = as_float_array(z, "z")
    slope = _prelu_slope(z, a)
    return np.where(z > 0, 1.0, np.broadcast_to(slope, z.shape))


@_elementwise
def softplus(z, beta=1.0, threshold=20.0):
    """Softplus (1/β)·log(1 + exp(βz)), a smooth ReLU ("SmoothReLU").

    softplus(z) → 0 for z → −∞ and ≈ z for z ≫ 1. Computed as (max(x, 0) + log1p(exp(−|x|)))/β with
    x = βz, which never overflows. Like PyTorch it returns z itself where βz > ``threshold``; the
    two differ there by less than exp(−20)/β ≈ 2e−9/β.

    Parameters
    ----------
    z : float or array_like of any shape
    beta : float, default 1.0
        Sharpness (> 0); the curve tends to ReLU as β → ∞.
    threshold : float, default 20.0
        Above βz = ``threshold`` the function is the identity, as in
        ``torch.nn.functional.softplus``.

    Returns
    -------
    ndarray of float64, same shape as ``z``
        Values ≥ 0.
    """
    z = as_float_array(z, "z")
    beta = check_number(beta, "beta", positive=True)
    threshold = check_number(threshold, "threshold")
    x = beta * z
    smooth = (np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))) / beta
    return np.where(x > threshold, z, smooth)


@_elementwise
def softplus_grad(z, beta=1.0, threshold=20.0):
    """softplus'(z) = σ(βz): the derivative of softplus is the sigmoid (1 above the threshold).

    Parameters
    ----------
    z : float or array_like of any shape
    beta : float, default 1.0
    threshold : float, default 20.0
        As in :func:`softplus`.

    Returns
    -------
    ndarray of float64, same shape as ``z``
        Values in [0, 1].
    """
    z = as_float_array(z, "z")
    beta = check_number(beta, "beta", positive=True)
    threshold = check_number(threshold, "threshold")
    return np.where(beta * z > threshold, 1.0, sigmoid(beta * z))


@_elementwise
def linear(z, a=0.0, b=1.0):
    """The linear activation φ(z) = a + b·z of the slides.

    It adds no non-linearity: layers with a linear activation collapse into a single linear model.
    It is the usual output activation for regression.

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


@_elementwise
def linear_grad(z, a=0.0, b=1.0):
    """φ'(z) = b everywhere.

    Parameters
    ----------
    z : float or array_like of any shape
    a : float, default 0.0
        Intercept (checked, but the derivative does not depend on it).
    b : float, default 1.0
        Slope.

    Returns
    -------
    ndarray of float64, same shape as ``z``, filled with ``b``
    """
    z = as_float_array(z, "z")
    check_number(a, "a")
    return np.full_like(z, check_number(b, "b"))


def _check_dim(z: np.ndarray, dim) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"dim must be an integer, got {type(dim).__name__}")
    if z.ndim == 0:
        raise ValueError("z must have at least one dimension (the classes), got a scalar")
    if not -z.ndim <= dim < z.ndim:
        raise ValueError(f"dim={dim} is out of range for z with {z.ndim} dimension(s)")
    return int(dim)


@_elementwise
def log_softmax(z, dim=-1):
    """log softmax(z) = z − log Σ exp(z), computed stably (the log-sum-exp trick).

    With m = max(z): log Σ_l exp(z_l) = m + log Σ_l exp(z_l − m), where every exponent is ≤ 0 and
    one of them is exactly 0, so the sum lies in [1, C] and neither overflows nor underflows to 0.
    Prefer this over ``np.log(softmax(z))``, which gives −inf once a probability rounds to 0.

    Parameters
    ----------
    z : array_like of shape (..., n_classes, ...)
        Scores (logits).
    dim : int, default -1
        The class dimension.

    Returns
    -------
    ndarray of float64, same shape as ``z``
        Log-probabilities ≤ 0, whose ``exp`` sums to 1 along ``dim``.
    """
    z = as_float_array(z, "z")
    dim = _check_dim(z, dim)
    shifted = z - np.max(z, axis=dim, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))


@_elementwise
def softmax(z, dim=-1):
    """softmax(z)_m = exp(z_m) / Σ_l exp(z_l): class probabilities from scores.

    Subtracting the maximum first leaves the result unchanged (it cancels between numerator and
    denominator) and keeps every exponent ≤ 0, so logits of 1000, where ``exp`` overflows, are fine.

    Parameters
    ----------
    z : array_like of shape (..., n_classes, ...)
        Scores (logits).
    dim : int, default -1
        The class dimension.

    Returns
    -------
    ndarray of float64, same shape as ``z``
        Non-negative and summing to 1 along ``dim``.
    """
    z = as_float_array(z, "z")
    dim = _check_dim(z, dim)
    e = np.exp(z - np.max(z, axis=dim, keepdims=True))
    return e / np.sum(e, axis=dim, keepdims=True)


#: Name -> (activation, derivative), for layers and plots that choose an activation by name. Every
#: entry can be called as ``g(z)``; PReLU is not listed because its slope ``a`` has no default.
ACTIVATIONS = {
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "softplus": (softplus, softplus_grad),
    "linear": (linear, linear_grad),
}
