"""Layers as forward/backward pairs with an explicit cache (the CS231n pattern).

Each ``*_forward`` returns ``(out, cache)``; the matching ``*_backward`` takes the upstream gradient
``dout`` = ∂L/∂out and the cache and returns the gradients with respect to the layer's inputs and
parameters. Shapes: ``x`` (n_samples, n_in), ``W`` (n_in, n_out), ``b`` (n_out,).

Convention for batches: the loss is a *mean* over the batch, and only the loss divides by the batch
size. Every other layer passes gradients through unscaled; dividing in one layer as well is the
classic bug that a gradient check (``nnlib.gradcheck``) catches.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, as_int_array, check_number
from .activations import ACTIVATIONS, log_softmax, softmax

__all__ = [
    "linear_forward", "linear_backward", "activation_forward", "activation_backward",
    "softmax_cross_entropy_forward", "softmax_cross_entropy_backward", "mse_forward",
    "mse_backward", "dropout_forward", "dropout_backward",
]


def linear_forward(x, W, b):
    """Fully connected layer out = x W + b.

    Parameters
    ----------
    x : ndarray of shape (n_samples, n_in)
    W : ndarray of shape (n_in, n_out)
    b : ndarray of shape (n_out,)

    Returns
    -------
    out : ndarray of shape (n_samples, n_out)
    cache : tuple
        (x, W) for the backward pass.
    """
    x = as_float_array(x, "x")
    W = as_float_array(W, "W")
    b = as_float_array(b, "b")
    if x.ndim != 2 or W.ndim != 2 or x.shape[1] != W.shape[0]:
        raise ValueError(f"x must have shape (n_samples, {W.shape[0] if W.ndim == 2 else 'n_in'}) "
                         f"to multiply W of shape {W.shape}, got x of shape {x.shape}")
    if b.shape != (W.shape[1],):
        raise ValueError(f"b must have shape ({W.shape[1]},), got {b.shape}")
    return x @ W + b, (x, W)


def linear_backward(dout, cache):
    """Gradients of the linear layer.

    Parameters
    ----------
    dout : ndarray of shape (n_samples, n_out)
    cache : tuple from :func:`linear_forward`

    Returns
    -------
    dx : ndarray of shape (n_samples, n_in)
    dW : ndarray of shape (n_in, n_out)
        xᵀ · dout (not its transpose).
    db : ndarray of shape (n_out,)
        dout summed over the batch.
    """
    x, W = cache
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


def activation_forward(z, name, **kwargs):
    """Apply the activation ``name`` (a key of :data:`nnlib.activations.ACTIVATIONS`).

    Returns
    -------
    out : ndarray, same shape as ``z``
    cache : tuple
        (z, name, kwargs): the backward pass differentiates at the *input* z.
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"name must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    fn, _ = ACTIVATIONS[name]
    return fn(z, **kwargs), (as_float_array(z, "z"), name, kwargs)


def activation_backward(dout, cache):
    """dz = dout · g'(z), with g' evaluated at the layer's input z (not its output)."""
    z, name, kwargs = cache
    return dout * ACTIVATIONS[name][1](z, **kwargs)


def softmax_cross_entropy_forward(logits, y):
    """Mean cross-entropy of softmax(logits) against class indices ``y``.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes)
    y : ndarray of int, shape (n_samples,)

    Returns
    -------
    loss : float
    cache : tuple
        (probabilities, y).
    """
    logits = as_float_array(logits, "logits")
    y = as_int_array(y, "y")
    if logits.ndim != 2 or y.shape != (logits.shape[0],):
        raise ValueError(f"logits must be (n_samples, n_classes) and y (n_samples,), got "
                         f"{logits.shape} and {y.shape}")
    if np.any((y < 0) | (y >= logits.shape[1])):
        raise ValueError(f"y holds class indices outside 0..{logits.shape[1] - 1}")
    logp = log_softmax(logits, dim=1)
    loss = -logp[np.arange(len(y)), y].mean()
    return float(loss), (softmax(logits, dim=1), y)


def softmax_cross_entropy_backward(cache):
    """∂loss/∂logits = (softmax − onehot(y)) / n_samples."""
    p, y = cache
    d = p.copy()
    d[np.arange(len(y)), y] -= 1.0
    return d / len(y)


def mse_forward(pred, target):
    """Mean squared error over all elements (regression output).

    Returns
    -------
    loss : float
    cache : tuple
    """
    pred = as_float_array(pred, "pred")
    target = as_float_array(target, "target").reshape(pred.shape)
    diff = pred - target
    return float(np.mean(diff**2)), (diff,)


def mse_backward(cache):
    """∂loss/∂pred = 2 (pred − target) / n_elements."""
    (diff,) = cache
    return 2.0 * diff / diff.size


def dropout_forward(x, p, training, rng):
    """Inverted dropout: zero each unit with probability ``p`` and scale survivors by 1/(1 − p).

    Parameters
    ----------
    x : ndarray of any shape
    p : float in [0, 1)
        Drop probability.
    training : bool
        At evaluation time dropout is the identity.
    rng : numpy.random.Generator

    Returns
    -------
    out : ndarray, same shape as ``x``
    cache : ndarray or None
        The scaled mask.
    """
    p = check_number(p, "p")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"p must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x, None
    mask = (rng.random(np.shape(x)) >= p) / (1.0 - p)
    return x * mask, mask


def dropout_backward(dout, cache):
    """Gradients flow through the kept units only, with the same 1/(1 − p) scale."""
    return dout if cache is None else dout * cache
