"""Layers as forward/backward pairs with an explicit cache (the CS231n pattern).

Each ``*_forward`` returns ``(out, cache)``; the matching ``*_backward`` takes the upstream gradient
``dout`` = ∂L/∂out and that cache, and returns the gradients with respect to the layer's inputs and
parameters. Shapes: ``x`` (n_samples, n_in), ``W`` (n_in, n_out), ``b`` (n_out,), as in the
lecture's Z = X W + b (``torch.nn.functional.linear`` stores the transpose of W).

Convention for batches: the loss is a *mean* over the batch, and only the loss divides by the batch
size. Every other layer passes gradients through unscaled; dividing in one layer as well is the
classic bug that a gradient check (:mod:`nnlib.gradcheck`) catches.

The activations come from :mod:`nnlib.activations` (``ACTIVATIONS[name] = (g, g')``); nothing is
re-implemented here.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, as_int_array, check_number
from .activations import ACTIVATIONS, log_softmax

__all__ = [
    "activation_backward",
    "activation_forward",
    "dropout_backward",
    "dropout_forward",
    "linear_backward",
    "linear_forward",
    "mse_backward",
    "mse_forward",
    "softmax_cross_entropy_backward",
    "softmax_cross_entropy_forward",
]


def _check_dout(dout, shape) -> np.ndarray:
    dout = as_float_array(dout, "dout")
    if dout.shape != shape:
        raise ValueError(f"dout must have the shape of the layer's output {shape}, "
                         f"got {dout.shape}")
    return dout


def linear_forward(x, W, b):
    """Fully connected (affine) layer: out = x W + b.

    Parameters
    ----------
    x : ndarray of shape (n_samples, n_in)
    W : ndarray of shape (n_in, n_out)
    b : ndarray of shape (n_out,)

    Returns
    -------
    out : ndarray of shape (n_samples, n_out)
    cache : tuple
        ``(x, W)`` for :func:`linear_backward`.
    """
    x = as_float_array(x, "x")
    W = as_float_array(W, "W")
    b = as_float_array(b, "b")
    if W.ndim != 2:
        raise ValueError(f"W must have shape (n_in, n_out), got {W.shape}")
    if x.ndim != 2 or x.shape[1] != W.shape[0]:
        raise ValueError(f"x must have shape (n_samples, {W.shape[0]}) to multiply W of shape "
                         f"{W.shape}, got x of shape {x.shape}")
    if b.shape != (W.shape[1],):
        raise ValueError(f"b must have shape ({W.shape[1]},), got {b.shape}")
    return x @ W + b, (x, W)


def linear_backward(dout, cache):
    """Gradients of the linear layer.

    Parameters
    ----------
    dout : ndarray of shape (n_samples, n_out)
        ∂L/∂out.
    cache : tuple
        From :func:`linear_forward`.

    Returns
    -------
    dx : ndarray of shape (n_samples, n_in)
        dout Wᵀ.
    dW : ndarray of shape (n_in, n_out)
        xᵀ dout (the shape of W, not its transpose).
    db : ndarray of shape (n_out,)
        dout summed over the batch (not averaged: the loss already divided by n_samples).
    """
    x, W = cache
    dout = _check_dout(dout, (x.shape[0], W.shape[1]))
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


def activation_forward(z, name, **kwargs):
    """Apply the activation ``name`` elementwise.

    Parameters
    ----------
    z : ndarray of any shape, usually (n_samples, n_units)
        Pre-activations.
    name : str
        A key of :data:`nnlib.activations.ACTIVATIONS` ("relu", "tanh", "sigmoid", ...).
    **kwargs
        Passed to the activation, e.g. ``negative_slope`` for "leaky_relu".

    Returns
    -------
    out : ndarray, same shape as ``z``
    cache : tuple
        ``(z, name, kwargs)``: the backward pass differentiates at the *input* z.
    """
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"name must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    z = as_float_array(z, "z")
    return ACTIVATIONS[name][0](z, **kwargs), (z, name, kwargs)


def activation_backward(dout, cache):
    """dz = dout · g'(z), with g' evaluated at the layer's input z (not at its output).

    Parameters
    ----------
    dout : ndarray, same shape as the layer's output
    cache : tuple
        From :func:`activation_forward`.

    Returns
    -------
    dz : ndarray, same shape as ``dout``
    """
    z, name, kwargs = cache
    return _check_dout(dout, z.shape) * ACTIVATIONS[name][1](z, **kwargs)


def softmax_cross_entropy_forward(logits, y):
    """Mean cross-entropy of softmax(logits) against class indices ``y`` (as ``F.cross_entropy``).

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes)
    y : ndarray of int, shape (n_samples,)
        Class indices in 0 .. n_classes − 1.

    Returns
    -------
    loss : float
        −mean_i log softmax(logits_i)[y_i], computed with log-sum-exp (no overflow).
    cache : tuple
        ``(probabilities, y)``, probabilities of shape (n_samples, n_classes).
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
    return float(loss), (np.exp(logp), y)  # exp(log softmax) is the softmax


def softmax_cross_entropy_backward(cache):
    """∂loss/∂logits = (softmax − onehot(y)) / n_samples: the only division by the batch size.

    Parameters
    ----------
    cache : tuple
        From :func:`softmax_cross_entropy_forward`.

    Returns
    -------
    dlogits : ndarray of shape (n_samples, n_classes)
    """
    p, y = cache
    d = p.copy()
    d[np.arange(len(y)), y] -= 1.0
    d /= len(y)
    return d


def mse_forward(pred, target):
    """Mean squared error over all elements (as ``F.mse_loss``), for a regression output.

    Parameters
    ----------
    pred : ndarray of shape (n_samples, n_outputs)
    target : ndarray of shape (n_samples, n_outputs), or (n_samples,) when n_outputs == 1

    Returns
    -------
    loss : float
    cache : tuple
        ``(pred − target,)``.
    """
    pred = as_float_array(pred, "pred")
    target = as_float_array(target, "target")
    if target.shape != pred.shape:
        if pred.ndim == 2 and pred.shape[1] == 1 and target.shape == (pred.shape[0],):
            target = target[:, None]
        else:
            raise ValueError(f"target must have the shape of pred {pred.shape}, got {target.shape}")
    diff = pred - target
    return float(np.mean(diff * diff)), (diff,)


def mse_backward(cache):
    """∂loss/∂pred = 2 (pred − target) / n_elements.

    Parameters
    ----------
    cache : tuple
        From :func:`mse_forward`.

    Returns
    -------
    dpred : ndarray of shape (n_samples, n_outputs)
    """
    (diff,) = cache
    return (2.0 / diff.size) * diff


def dropout_forward(x, p, training, rng):
    """Inverted dropout: zero each unit with probability ``p``, scale the survivors by 1/(1 − p).

    The expectation of every unit is unchanged, so evaluation needs no rescaling.

    Parameters
    ----------
    x : ndarray of any shape, usually (n_samples, n_units)
    p : float in [0, 1)
        Drop probability.
    training : bool
        When False (evaluation) dropout is the identity and ``rng`` is not used.
    rng : numpy.random.Generator
        Draws the mask; seed it for reproducible masks.

    Returns
    -------
    out : ndarray, same shape as ``x``
    cache : ndarray or None
        The scaled mask (0 or 1/(1 − p)), ``None`` when dropout is off.
    """
    p = check_number(p, "p")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"p must be in [0, 1), got {p}")
    x = as_float_array(x, "x")
    if not training or p == 0.0:
        return x, None
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    mask = (rng.random(x.shape) >= p) * (1.0 / (1.0 - p))
    return x * mask, mask


def dropout_backward(dout, cache):
    """Gradients flow through the kept units only, with the same 1/(1 − p) scale.

    Parameters
    ----------
    dout : ndarray, same shape as the layer's output
    cache : ndarray or None
        From :func:`dropout_forward`.

    Returns
    -------
    dx : ndarray, same shape as ``dout``
    """
    if cache is None:
        return dout
    return _check_dout(dout, cache.shape) * cache
