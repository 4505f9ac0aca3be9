"""Loss functions: how far a prediction is from the truth, and the gradient that reduces it.

Training minimises the average loss over the data, so a loss must be small when the prediction z is
good and its gradient must point towards better predictions. Two families, as in the lecture:

**The slide's table**, on a score z and a label y ∈ {−1, +1} (the margin yz > 0 means "correct"):

=======================  =======================  ====================  ========================
loss                     L(z, y)                  used by               dL/dz
=======================  =======================  ====================  ========================
:func:`squared_error`    ½(y − z)²                linear regression     z − y
:func:`logistic_loss`    log(1 + exp(−yz))        logistic regression   −y·σ(−yz)
:func:`hinge_loss`       max(0, 1 − yz)           SVM                   −y if yz < 1, else 0
=======================  =======================  ====================  ========================

The table's fourth column, cross-entropy −(y log z + (1 − y) log(1 − z)) with y ∈ {0, 1} and a
probability z, is :func:`binary_cross_entropy`.

**The PyTorch losses of the slides**, with ``torch.nn.functional``'s names, argument order,
keywords, defaults and results on NumPy arrays:

* regression: :func:`mse_loss` (x − y)², :func:`l1_loss` |x − y| (more robust to outliers);
* classification: :func:`cross_entropy` on raw scores (logits) = :func:`nll_loss` on
  ``log_softmax`` of them; :func:`binary_cross_entropy` on probabilities;
* similarity and ranking: :func:`hinge_embedding_loss`, :func:`margin_ranking_loss`;
* distributions: :func:`kl_div`, the Kullback–Leibler divergence.

``reduction`` says how the per-sample losses are combined: ``'mean'`` (the default), ``'sum'``, or
``'none'`` (return them all). With class weights, ``'mean'`` is a *weighted* mean: it divides by the
summed weights of the samples' target classes, not by the number of samples.

Every loss ``<name>`` has a partner ``<name>_grad`` with the same arguments that returns the
derivative of the (reduced) loss with respect to ``input``, shaped like ``input``; for
``reduction='none'`` it is the derivative of the sum of the elementwise losses (what
``loss.sum().backward()`` gives in PyTorch). These are what a NumPy network backpropagates. The
most important one: the gradient of ``cross_entropy`` with respect to the logits is
softmax(z) − onehot(y).

Numerical stability: ``cross_entropy`` uses log-softmax (the log-sum-exp trick) and
``logistic_loss`` uses a stable softplus, so scores of 1e3 or 1e4 give finite, exact losses;
``binary_cross_entropy`` clamps each log at −100, as PyTorch does.

Where PyTorch silently accepts input that makes no sense, these functions raise ``ValueError`` and
say why: hinge-embedding and margin-ranking targets that are not ±1 (the slides feed random normals
to ``HingeEmbeddingLoss`` and ``KLDivLoss``), probabilities outside [0, 1], log-probabilities above
0 for :func:`kl_div`, class indices out of range, and shape mismatches (PyTorch broadcasts an (N, 1)
input against an (N,) target into an (N, N) matrix with only a warning).
"""

from __future__ import annotations

import numpy as np

from ._validation import (
    as_float_array,
    as_int_array,
    check_number,
    check_reduction,
    check_same_shape,
    reduce,
)
from .activations import log_softmax, sigmoid, softmax, softplus

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_grad",
    "cross_entropy",
    "cross_entropy_grad",
    "hinge_embedding_loss",
    "hinge_embedding_loss_grad",
    "hinge_loss",
    "hinge_loss_grad",
    "kl_div",
    "kl_div_grad",
    "l1_loss",
    "l1_loss_grad",
    "logistic_loss",
    "logistic_loss_grad",
    "margin_ranking_loss",
    "margin_ranking_loss_grad",
    "mse_loss",
    "mse_loss_grad",
    "nll_loss",
    "nll_loss_grad",
    "squared_error",
    "squared_error_grad",
]


# --------------------------------------------------------------------------------------------------
# checks


def _pm_one(y, name: str) -> np.ndarray:
    y = as_float_array(y, name)
    bad = ~np.isin(y, (-1.0, 1.0))
    if np.any(bad):
        raise ValueError(f"{name} must hold labels -1 or +1 only, got {y[bad].ravel()[:5]} "
                         "(for 0/1 labels use y = 2*label - 1)")
    return y


def _probabilities(p, name: str) -> np.ndarray:
    p = as_float_array(p, name)
    if np.any((p < 0) | (p > 1)) or np.any(np.isnan(p)):
        raise ValueError(f"{name} must hold probabilities in [0, 1]; got values from "
                         f"{np.nanmin(p):.4g} to {np.nanmax(p):.4g}")
    return p


def _nonnegative(w: np.ndarray, name: str) -> np.ndarray:
    bad = ~(w >= 0)  # NaN fails the comparison too
    if np.any(bad):
        raise ValueError(f"{name} must be non-negative, got {w[bad].ravel()[:5]}")
    return w


def _pair(input, target, name_a="input", name_b="target"):
    x = as_float_array(input, name_a)
    t = as_float_array(target, name_b)
    check_same_shape(x, t, name_a, name_b)
    return x, t


def _scale(grad: np.ndarray, reduction: str, count: float) -> np.ndarray:
    return grad / count if reduction == "mean" and count else grad


# --------------------------------------------------------------------------------------------------
# the slide's table: score z, label y in {-1, +1}


def squared_error(z, y, reduction="none"):
    """Least squared error ½(y − z)², the loss of linear regression.

    Parameters
    ----------
    z : array_like of any shape
        Predictions (scores).
    y : array_like, same shape as ``z``
        Targets (any real values).
    reduction : {'none', 'mean', 'sum'}, default 'none'

    Returns
    -------
    ndarray of the shape of ``z`` (``'none'``) or float
    """
    z, y = _pair(z, y, "z", "y")
    return reduce(0.5 * (y - z) ** 2, check_reduction(reduction))


def squared_error_grad(z, y, reduction="none"):
    """Gradient of :func:`squared_error` with respect to ``z``: z − y.

    Parameters
    ----------
    z, y, reduction
        As in :func:`squared_error`.

    Returns
    -------
    ndarray of float64, same shape as ``z``
        z − y, divided by ``z.size`` for ``'mean'``; for ``'none'`` the gradient of the sum.
    """
    z, y = _pair(z, y, "z", "y")
    return _scale(z - y, check_reduction(reduction), z.size)


def logistic_loss(z, y, reduction="none"):
    """Logistic loss log(1 + exp(−yz)), the loss of logistic regression, computed without overflow.

    Parameters
    ----------
    z : array_like of any shape
        Scores.
    y : array_like of -1/+1 labels, same shape as ``z``
    reduction : {'none', 'mean', 'sum'}, default 'none'

    Returns
    -------
    ndarray of the shape of ``z`` (``'none'``) or float
    """
    z = as_float_array(z, "z")
    y = _pm_one(y, "y")
    check_same_shape(z, y, "z", "y")
    return reduce(softplus(-y * z), check_reduction(reduction))


def logistic_loss_grad(z, y, reduction="none"):
    """Gradient of :func:`logistic_loss` with respect to ``z``: −y·σ(−yz).

    Parameters
    ----------
    z, y, reduction
        As in :func:`logistic_loss`.

    Returns
    -------
    ndarray of float64, same shape as ``z``
        −y·σ(−yz), divided by ``z.size`` for ``'mean'``; it tends to 0 for confident correct scores
        and to −y for confident wrong ones, never exploding.
    """
    z = as_float_array(z, "z")
    y = _pm_one(y, "y")
    check_same_shape(z, y, "z", "y")
    return _scale(-y * sigmoid(-y * z), check_reduction(reduction), z.size)


def hinge_loss(z, y, reduction="none"):
    """Hinge loss max(0, 1 − yz), the loss of support vector machines.

    Parameters
    ----------
    z : array_like of any shape
        Scores.
    y : array_like of -1/+1 labels, same shape as ``z``
    reduction : {'none', 'mean', 'sum'}, default 'none'

    Returns
    -------
    ndarray of the shape of ``z`` (``'none'``) or float
    """
    z = as_float_array(z, "z")
    y = _pm_one(y, "y")
    check_same_shape(z, y, "z", "y")
    return reduce(np.maximum(0.0, 1.0 - y * z), check_reduction(reduction))


def hinge_loss_grad(z, y, reduction="none"):
    """Gradient of :func:`hinge_loss` with respect to ``z``.

    Parameters
    ----------
    z, y, reduction
        As in :func:`hinge_loss`.

    Returns
    -------
    ndarray of float64, same shape as ``z``
        −y where the margin yz < 1, else 0 (also 0 at the corner yz = 1, as ReLU's gradient at 0),
        divided by ``z.size`` for ``'mean'``. Points beyond the margin do not contribute at all.
    """
    z = as_float_array(z, "z")
    y = _pm_one(y, "y")
    check_same_shape(z, y, "z", "y")
    return _scale(np.where(1.0 - y * z > 0, -y, 0.0), check_reduction(reduction), z.size)


# --------------------------------------------------------------------------------------------------
# regression losses


def mse_loss(input, target, reduction="mean"):
    """Mean squared error (input − target)², as ``torch.nn.functional.mse_loss``.

    Parameters
    ----------
    input : array_like of any shape
    target : array_like, same shape as ``input``
    reduction : {'none', 'mean', 'sum'}, default 'mean'

    Returns
    -------
    float, or ndarray of the shape of ``input`` for ``'none'``
    """
    x, t = _pair(input, target)
    return reduce((x - t) ** 2, check_reduction(reduction))


def mse_loss_grad(input, target, reduction="mean"):
    """Gradient of :func:`mse_loss` with respect to ``input``: 2(input − target).

    Note the factor 2: forgetting it is the classic mistake a gradient check catches.

    Parameters
    ----------
    input, target, reduction
        As in :func:`mse_loss`.

    Returns
    -------
    ndarray of float64, same shape as ``input``
        2(input − target), divided by ``input.size`` for ``'mean'``.
    """
    x, t = _pair(input, target)
    return _scale(2.0 * (x - t), check_reduction(reduction), x.size)


def l1_loss(input, target, reduction="mean"):
    """Mean absolute error |input − target| as ``torch.nn.functional.l1_loss``; robust to outliers.

    Parameters
    ----------
    input : array_like of any shape
    target : array_like, same shape as ``input``
    reduction : {'none', 'mean', 'sum'}, default 'mean'

    Returns
    -------
    float, or ndarray of the shape of ``input`` for ``'none'``
    """
    x, t = _pair(input, target)
    return reduce(np.abs(x - t), check_reduction(reduction))


def l1_loss_grad(input, target, reduction="mean"):
    """Gradient of :func:`l1_loss` with respect to ``input``: sign(input − target).

    Parameters
    ----------
    input, target, reduction
        As in :func:`l1_loss`.

    Returns
    -------
    ndarray of float64, same shape as ``input``
        ±1 (0 where input equals target, as in PyTorch), divided by ``input.size`` for ``'mean'``.
        Its size does not shrink near the optimum, unlike the MSE's.
    """
    x, t = _pair(input, target)
    return _scale(np.sign(x - t), check_reduction(reduction), x.size)


# --------------------------------------------------------------------------------------------------
# classification losses


def _class_layout(input, target, weight, ignore_index, *, probabilities_ok: bool):
    """Validate (input, target, weight) for nll_loss / cross_entropy and flatten them.

    PyTorch puts the classes in dimension 1: input (N, C) or (N, C, d1, ...), or (C,) for a single
    sample. Here every position becomes one row of an (M, C) matrix, M = N·d1·..., so the losses
    below only ever deal with rows.

    Returns
    -------
    flat : ndarray of shape (M, C)
    t_flat : ndarray of int, shape (M,), or of float, shape (M, C) for probability targets
    w : ndarray of shape (C,)
    ignore : ndarray of bool, shape (M,)
    n_classes : int
    layout : tuple, for :func:`_restore` to give results the caller's shapes back
    """
    x = as_float_array(input, "input")
    if x.ndim == 0:
        raise ValueError("input must have a class dimension: shape (C,) or (N, C, ...), "
                         "got a scalar")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"ignore_index must be an integer, got {type(ignore_index).__name__}")
    batched = x.ndim > 1
    xb = x if batched else x[None, :]
    n_classes = xb.shape[1]
    moved = np.moveaxis(xb, 1, -1)  # (N, d1, ..., C)
    rest_shape = moved.shape[:-1]
    flat = moved.reshape(-1, n_classes)

    if weight is None:
        w = np.ones(n_classes)
    else:
        w = as_float_array(weight, "weight")
        if w.shape != (n_classes,):
            raise ValueError(f"weight must have one entry per class, shape ({n_classes},), "
                             f"got {w.shape}")
        _nonnegative(w, "weight")

    try:
        t_raw = np.asarray(target.detach().cpu().numpy() if hasattr(target, "detach") else target)
    except (TypeError, ValueError) as exc:
        raise TypeError("target must be an array of class indices or probabilities: "
                        f"{exc}") from None
    if probabilities_ok and t_raw.dtype.kind == "f" and t_raw.shape == x.shape:
        if ignore_index != -100:  # as torch: nothing to ignore in a probability target
            raise ValueError(f"ignore_index={ignore_index} needs class-index targets; target holds "
                             "class probabilities (a float array of the input's shape)")
        t = _probabilities(t_raw, "target")
        tb = t if batched else t[None, :]
        t_flat = np.moveaxis(tb, 1, -1).reshape(-1, n_classes)
        return (flat, t_flat, w, np.zeros(len(flat), bool), n_classes,
                (batched, xb.shape, rest_shape))

    if probabilities_ok and t_raw.dtype.kind == "f" and not np.all(t_raw == np.round(t_raw)):
        raise ValueError(f"target must be class indices (integers) or class probabilities of the "
                         f"input's shape {x.shape}; got non-integer values of shape {t_raw.shape}")
    t = as_int_array(t_raw, "target")
    expected = rest_shape if batched else ()
    if t.shape != expected:
        raise ValueError(f"target must hold one class index per sample, shape {expected}, "
                         f"got {t.shape} (input has shape {x.shape})")
    t_flat = t.reshape(-1)
    ignore = t_flat == ignore_index
    bad = ~ignore & ((t_flat < 0) | (t_flat >= n_classes))
    if np.any(bad):
        raise ValueError(f"target holds class index {t_flat[bad][0]}, out of range for "
                         f"{n_classes} classes (valid: 0 to {n_classes - 1})")
    return flat, t_flat, w, ignore, n_classes, (batched, xb.shape, rest_shape)


def _restore(values_flat: np.ndarray, layout, *, per_class: bool):
    batched, xb_shape, rest_shape = layout
    if per_class:
        out = np.moveaxis(values_flat.reshape(rest_shape + (xb_shape[1],)), -1, 1)
        return out if batched else out[0]
    out = values_flat.reshape(rest_shape)
    return out if batched else out[0]


def _nll_terms(logp, t, w, ignore):
    rows = np.arange(len(t))
    safe_t = np.where(ignore, 0, t)
    w_t = np.where(ignore, 0.0, w[safe_t])
    return -w_t * logp[rows, safe_t], w_t, safe_t


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood −w[y]·input[y], as ``torch.nn.functional.nll_loss``.

    ``input`` must already be **log-probabilities** (the output of :func:`nnlib.activations.
    log_softmax`), not probabilities and not raw scores: with probabilities the "loss" is negative
    and meaningless. (The slide's "Softmax required!" means *log*-softmax.)

    Parameters
    ----------
    input : array_like of shape (N, C), (C,) or (N, C, d1, ...)
        Log-probabilities.
    target : array_like of int, shape (N,), () or (N, d1, ...)
        Class indices in [0, C), or ``ignore_index``.
    weight : array_like of shape (C,), optional
        Class weights; ``'mean'`` divides by the summed weights of the targets, as PyTorch.
    ignore_index : int, default -100
        Targets equal to it contribute nothing.
    reduction : {'none', 'mean', 'sum'}, default 'mean'

    Returns
    -------
    float, or ndarray of the target's shape for ``'none'``
    """
    reduction = check_reduction(reduction)
    logp, t, w, ignore, _, layout = _class_layout(input, target, weight, ignore_index,
                                                  probabilities_ok=False)
    losses, w_t, _ = _nll_terms(logp, t, w, ignore)
    if reduction == "none":
        return _restore(losses, layout, per_class=False)
    if reduction == "sum":
        return float(losses.sum())
    return float(losses.sum() / w_t.sum()) if w_t.sum() else float("nan")


def nll_loss_grad(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Gradient of :func:`nll_loss` with respect to ``input``.

    Parameters
    ----------
    input, target, weight, ignore_index, reduction
        As in :func:`nll_loss`.

    Returns
    -------
    ndarray of float64, same shape as ``input``
        −w[y] at each sample's target class and 0 elsewhere (0 for the whole row of an ignored
        sample); for ``'mean'`` divided by the summed weights Σ w[y] of the samples not ignored.
    """
    reduction = check_reduction(reduction)
    logp, t, w, ignore, _, layout = _class_layout(input, target, weight, ignore_index,
                                                  probabilities_ok=False)
    _, w_t, safe_t = _nll_terms(logp, t, w, ignore)
    grad = np.zeros_like(logp)
    grad[np.arange(len(t)), safe_t] = -w_t
    if reduction == "mean":
        grad = grad / w_t.sum() if w_t.sum() else grad * np.nan
    return _restore(grad, layout, per_class=True)


def _ce_parts(input, target, weight, ignore_index, label_smoothing):
    eps = check_number(label_smoothing, "label_smoothing")
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {eps}")
    z, t, w, ignore, n_classes, layout = _class_layout(input, target, weight, ignore_index,
                                                       probabilities_ok=True)
    return z, t, w, ignore, n_classes, layout, eps


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Cross-entropy of softmax(input) against the targets as ``torch.nn.functional.cross_entropy``.

    It takes raw scores (logits) and applies :func:`~nnlib.activations.log_softmax` itself (the
    log-sum-exp trick keeps logits of 1e3 and more finite), then :func:`nll_loss`. This is the
    multi-class loss; the slide's formula −[y log x + (1 − y) log(1 − x)] is its two-class special
    case, :func:`binary_cross_entropy`.

    Parameters
    ----------
    input : array_like of shape (N, C), (C,) or (N, C, d1, ...)
        Logits.
    target : array_like
        Class indices of shape (N,) (or (), (N, d1, ...)), or class probabilities of the same shape
        as ``input`` (float, in [0, 1]).
    weight : array_like of shape (C,), optional
        Class weights, e.g. to up-weight a rare signal class.
    ignore_index : int, default -100
        Class-index targets equal to it contribute nothing (not allowed with probability targets).
    reduction : {'none', 'mean', 'sum'}, default 'mean'
    label_smoothing : float in [0, 1], default 0.0
        Mixes the one-hot target with the uniform distribution.

    Returns
    -------
    float, or ndarray of shape (N, ...) for ``'none'``
    """
    reduction = check_reduction(reduction)
    z, t, w, ignore, n_classes, layout, eps = _ce_parts(input, target, weight, ignore_index,
                                                        label_smoothing)
    logp = log_softmax(z, dim=-1)
    if t.ndim == 2:  # probability targets
        t = t * (1 - eps) + eps / n_classes
        losses = -(logp * t * w).sum(axis=1)
        if reduction == "none":
            return _restore(losses, layout, per_class=False)
        return float(losses.sum() if reduction == "sum" else losses.mean())
    nll, w_t, _ = _nll_terms(logp, t, w, ignore)
    smooth = np.where(ignore, 0.0, -(logp * w).sum(axis=1))
    if reduction == "none":
        return _restore((1 - eps) * nll + eps / n_classes * smooth, layout, per_class=False)
    if reduction == "sum":
        return float((1 - eps) * nll.sum() + eps / n_classes * smooth.sum())
    denom = w_t.sum()
    return float(((1 - eps) * nll.sum() + eps / n_classes * smooth.sum()) / denom) if denom \
        else float("nan")


def cross_entropy_grad(input, target, weight=None, ignore_index=-100, reduction="mean",
                       label_smoothing=0.0):
    """Gradient of :func:`cross_entropy` with respect to the logits ``input``.

    For a class-index target y and no weights it is the famous softmax(z) − onehot(y): the predicted
    probabilities minus the true ones. In general, with q the (smoothed) target distribution and w
    the class weights, row by row it is (Σ_c w_c q_c)·softmax(z) − w·q.

    Parameters
    ----------
    input, target, weight, ignore_index, reduction, label_smoothing
        As in :func:`cross_entropy`.

    Returns
    -------
    ndarray of float64, same shape as ``input``
        Divided, for ``'mean'``, by Σ w[y] over the samples not ignored (class-index targets) or
        by the number of samples (probability targets), as the loss is.
    """
    reduction = check_reduction(reduction)
    z, t, w, ignore, n_classes, layout, eps = _ce_parts(input, target, weight, ignore_index,
                                                        label_smoothing)
    p = softmax(z, dim=-1)
    if t.ndim == 2:
        t = t * (1 - eps) + eps / n_classes
        wt = t * w
        grad = wt.sum(axis=1, keepdims=True) * p - wt
        return _restore(_scale(grad, reduction, len(z)), layout, per_class=True)
    _, w_t, safe_t = _nll_terms(np.zeros_like(p), t, w, ignore)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(t)), safe_t] = 1.0
    grad = (1 - eps) * w_t[:, None] * (p - onehot) + eps / n_classes * (w.sum() * p - w)
    grad[ignore] = 0.0
    if reduction == "mean":
        grad = grad / w_t.sum() if w_t.sum() else grad * np.nan
    return _restore(grad, layout, per_class=True)


#: PyTorch bounds x(1 − x) in the gradient below by 1e-12 stored as a float32, i.e. 9.99999996e-13.
_BCE_EPSILON = float(np.float32(1e-12))


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """Binary cross-entropy −w·[y log x + (1 − y) log(1 − x)], as ``torch.nn.functional``'s.

    The slide's fourth loss. Each log is clamped at −100, as PyTorch does, so x = 0 or 1 gives a
    large finite loss instead of ``inf``.

    Parameters
    ----------
    input : array_like of any shape
        Probabilities x in [0, 1] (e.g. ``sigmoid`` of a score).
    target : array_like, same shape as ``input``
        Probabilities or labels y in [0, 1].
    weight : array_like broadcastable to ``input``, optional
    reduction : {'none', 'mean', 'sum'}, default 'mean'

    Returns
    -------
    float, or ndarray of the shape of ``input`` for ``'none'``
    """
    x = _probabilities(input, "input")
    t = _probabilities(target, "target")
    check_same_shape(x, t, "input", "target")
    reduction = check_reduction(reduction)
    with np.errstate(divide="ignore"):
        log_x = np.maximum(np.log(x), -100.0)
        log_1mx = np.maximum(np.log1p(-x), -100.0)
    losses = -(t * log_x + (1 - t) * log_1mx)
    if weight is not None:
        losses = losses * _broadcast_weight(weight, x.shape)
    return reduce(losses, reduction)


def _broadcast_weight(weight, shape):
    w = _nonnegative(as_float_array(weight, "weight"), "weight")
    try:
        return np.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(f"weight of shape {w.shape} does not broadcast to input's shape {shape}") \
            from None


def binary_cross_entropy_grad(input, target, weight=None, reduction="mean"):
    """Gradient of :func:`binary_cross_entropy` with respect to the probabilities ``input``.

    Parameters
    ----------
    input, target, weight, reduction
        As in :func:`binary_cross_entropy`.

    Returns
    -------
    ndarray of float64, same shape as ``input``
        w·(x − y) / (x(1 − x)), where x(1 − x) is bounded below by 1e−12 as in PyTorch so that
        x = 0 or 1 gives a large finite gradient; divided by ``input.size`` for ``'mean'``.
        (Through a sigmoid, x = σ(z), the chain rule turns this into the simple σ(z) − y.)
    """
    x = _probabilities(input, "input")
    t = _probabilities(target, "target")
    check_same_shape(x, t, "input", "target")
    reduction = check_reduction(reduction)
    grad = (x - t) / np.maximum(x * (1 - x), _BCE_EPSILON)
    if weight is not None:
        grad = grad * _broadcast_weight(weight, x.shape)
    return _scale(grad, reduction, x.size)


# --------------------------------------------------------------------------------------------------
# embedding, ranking and distribution losses


def hinge_embedding_loss(input, target, margin=1.0, reduction="mean"):
    """Hinge embedding loss: x where y = 1, max(0, margin − x) where y = −1.

    ``input`` is typically a distance between two embeddings; y = 1 marks similar pairs (pull the
    distance down) and y = −1 dissimilar ones (push it above ``margin``). Targets must be ±1:
    PyTorch silently accepts anything (the slide feeds it random normals, which is meaningless);
    this raises ``ValueError``.

    Parameters
    ----------
    input : array_like of any shape
    target : array_like of -1/+1, same shape as ``input``
    margin : float, default 1.0
    reduction : {'none', 'mean', 'sum'}, default 'mean'

    Returns
    -------
    float, or ndarray of the shape of ``input`` for ``'none'``
    """
    x = as_float_array(input, "input")
    y = _pm_one(target, "target")
    check_same_shape(x, y, "input", "target")
    m = check_number(margin, "margin")
    return reduce(np.where(y == 1, x, np.maximum(0.0, m - x)), check_reduction(reduction))


def hinge_embedding_loss_grad(input, target, margin=1.0, reduction="mean"):
    """Gradient of :func:`hinge_embedding_loss` with respect to ``input``.

    Parameters
    ----------
    input, target, margin, reduction
        As in :func:`hinge_embedding_loss`.

    Returns
    -------
    ndarray of float64, same shape as ``input``
        1 where y = 1; −1 where y = −1 and x ≤ margin (PyTorch's value at the corner x = margin);
        0 where y = −1 and x > margin. Divided by ``input.size`` for ``'mean'``.
    """
    x = as_float_array(input, "input")
    y = _pm_one(target, "target")
    check_same_shape(x, y, "input", "target")
    m = check_number(margin, "margin")
    grad = np.where(y == 1, 1.0, np.where(m - x >= 0, -1.0, 0.0))
    return _scale(grad, check_reduction(reduction), x.size)


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """Margin ranking loss max(0, −y·(x1 − x2) + margin): y = 1 wants x1 above x2, y = −1 below.

    Parameters
    ----------
    input1, input2 : array_like of shape (N,) (or any shape, the same for both)
    target : array_like of -1/+1, same shape
    margin : float, default 0.0
    reduction : {'none', 'mean', 'sum'}, default 'mean'

    Returns
    -------
    float, or ndarray of shape (N,) for ``'none'``
    """
    x1, x2 = _pair(input1, input2, "input1", "input2")
    y = _pm_one(target, "target")
    check_same_shape(x1, y, "input1", "target")
    m = check_number(margin, "margin")
    return reduce(np.maximum(0.0, -y * (x1 - x2) + m), check_reduction(reduction))


def margin_ranking_loss_grad(input1, input2, target, margin=0.0, reduction="mean"):
    """Gradients of :func:`margin_ranking_loss` with respect to both inputs.

    The one loss here with two inputs, so it returns a pair: the gradient for ``input1`` and the
    gradient for ``input2``, each shaped like its input.

    Parameters
    ----------
    input1, input2, target, margin, reduction
        As in :func:`margin_ranking_loss`.

    Returns
    -------
    grad1 : ndarray of float64, same shape as ``input1``
        −y where the hinge is active, −y·(x1 − x2) + margin ≥ 0 (PyTorch's value at the corner),
        else 0; divided by ``input1.size`` for ``'mean'``.
    grad2 : ndarray of float64, same shape as ``input2``
        ``-grad1``.
    """
    x1, x2 = _pair(input1, input2, "input1", "input2")
    y = _pm_one(target, "target")
    check_same_shape(x1, y, "input1", "target")
    m = check_number(margin, "margin")
    active = (-y * (x1 - x2) + m) >= 0
    g1 = _scale(np.where(active, -y, 0.0), check_reduction(reduction), x1.size)
    return g1, -g1


def kl_div(input, target, reduction="mean", log_target=False):
    """Kullback–Leibler divergence Σ y·(log y − x), as ``torch.nn.functional.kl_div``.

    Note the argument order: ``input`` holds **log-probabilities** of the model (e.g. from
    ``log_softmax``), ``target`` probabilities of the data (or log-probabilities with
    ``log_target=True``). Use ``reduction='batchmean'`` for the true KL divergence per sample;
    ``'mean'`` divides by the number of elements as well. Random normal targets, as on the slide,
    are not probabilities: this raises ``ValueError`` where PyTorch returns ``nan`` or nonsense.

    Parameters
    ----------
    input : array_like of shape (N, C) or any shape
        Log-probabilities (≤ 0).
    target : array_like, same shape as ``input``
        Probabilities in [0, 1] (log-probabilities ≤ 0 with ``log_target=True``).
    reduction : {'none', 'mean', 'sum', 'batchmean'}, default 'mean'
    log_target : bool, default False

    Returns
    -------
    float, or ndarray of the shape of ``input`` for ``'none'``
    """
    x, t, reduction = _kl_checks(input, target, reduction, log_target)
    if log_target:
        pointwise = np.exp(t) * (t - x)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            pointwise = np.where(t > 0, t * (np.log(np.where(t > 0, t, 1.0)) - x), 0.0)
    if reduction == "batchmean":
        return float(pointwise.sum() / (x.shape[0] if x.ndim else 1))
    return reduce(pointwise, reduction)


def _kl_checks(input, target, reduction, log_target):
    x, t = _pair(input, target)
    reduction = check_reduction(reduction, ("none", "mean", "sum", "batchmean"))
    if not isinstance(log_target, bool):
        raise TypeError(f"log_target must be True or False, got {log_target!r}")
    if np.any(x > 0):
        raise ValueError("input must hold log-probabilities (<= 0), e.g. log_softmax of scores; "
                         f"got a maximum of {x.max():.4g}")
    if log_target:
        if np.any(t > 0):
            raise ValueError("with log_target=True, target must hold log-probabilities (<= 0)")
    else:
        _probabilities(t, "target")
    return x, t, reduction


def kl_div_grad(input, target, reduction="mean", log_target=False):
    """Gradient of :func:`kl_div` with respect to the log-probabilities ``input``.

    Parameters
    ----------
    input, target, reduction, log_target
        As in :func:`kl_div`.

    Returns
    -------
    ndarray of float64, same shape as ``input``
        −target (−exp(target) with ``log_target=True``), divided by the number of elements for
        ``'mean'`` and by the batch size ``input.shape[0]`` for ``'batchmean'``.
    """
    x, t, reduction = _kl_checks(input, target, reduction, log_target)
    grad = -np.exp(t) if log_target else -t
    if reduction == "batchmean":
        return grad / (x.shape[0] if x.ndim else 1)
    return _scale(grad, reduction, x.size)
