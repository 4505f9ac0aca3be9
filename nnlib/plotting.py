"""The figures the lectures share. Each helper takes ``ax=None``, draws, and returns the axes.

None of them calls ``plt.show()``: a notebook shows the figure at the end of the cell, a script saves
it. Every figure gets a title and labelled axes.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "plot_activation", "plot_decision_boundary", "plot_loss_curves", "plot_network",
    "plot_confusion_matrix", "network_layers",
]


def _axes(ax, figsize=(5, 3.5)):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_activation(name_or_fn, z=None, ax=None, derivative=True, **kwargs):
    """Plot an activation g(z) and, dashed, its derivative g'(z).

    Parameters
    ----------
    name_or_fn : str or callable
        A key of :data:`nnlib.activations.ACTIVATIONS` or a function of z (its derivative is then
        taken by central differences).
    z : ndarray of shape (n_points,), optional
        Defaults to 401 points on [−5, 5].
    ax : matplotlib.axes.Axes, optional
    derivative : bool, default True
    **kwargs
        Passed to the activation (e.g. ``negative_slope=0.1``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from .activations import ACTIVATIONS

    if isinstance(name_or_fn, str):
        if name_or_fn not in ACTIVATIONS:
            raise ValueError(f"name_or_fn must be one of {sorted(ACTIVATIONS)} or a callable, "
                             f"got {name_or_fn!r}")
        fn, grad = ACTIVATIONS[name_or_fn]
        name = name_or_fn
    elif callable(name_or_fn):
        fn, grad, name = name_or_fn, None, getattr(name_or_fn, "__name__", "g")
    else:
        raise TypeError(f"name_or_fn must be a name or a callable, got {type(name_or_fn).__name__}")
    z = np.linspace(-5, 5, 401) if z is None else np.asarray(z, dtype=float)
    ax = _axes(ax)
    ax.plot(z, fn(z, **kwargs), lw=2, label=f"{name}(z)")
    if derivative:
        if grad is not None:
            dz = grad(z, **kwargs)
        else:
            h = 1e-5
            dz = (np.asarray(fn(z + h, **kwargs)) - np.asarray(fn(z - h, **kwargs))) / (2 * h)
        ax.plot(z, dz, "--", lw=1.5, label=f"{name}'(z)")
    ax.axhline(0, color="0.7", lw=0.8)
    ax.axvline(0, color="0.7", lw=0.8)
    ax.set_xlabel("z")
    ax.set_ylabel("g(z)")
    ax.set_title(f"{name} and its derivative" if derivative else name)
    ax.legend()
    return ax


def plot_decision_boundary(predict_fn, X, y, ax=None, resolution=200, title="Decision boundary"):
    """Colour the plane by a classifier's prediction and scatter the samples on top.

    Parameters
    ----------
    predict_fn : callable
        Maps an array of shape (n_points, 2) to class labels or to P(class 1), shape (n_points,).
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,)
    ax : matplotlib.axes.Axes, optional
    resolution : int, default 200
        Grid points per axis.
    title : str

    Returns
    -------
    matplotlib.axes.Axes
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n_samples, 2) for a plane, got {X.shape}")
    ax = _axes(ax, (4.5, 4.5))
    pad = 0.1 * (X.max(axis=0) - X.min(axis=0)) + 1e-9
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    values = np.asarray(predict_fn(np.c_[gx.ravel(), gy.ravel()]), dtype=float).reshape(gx.shape)
    ax.contourf(gx, gy, values, levels=20, cmap="RdBu_r", alpha=0.35)
    if values.min() < 0.5 < values.max():
        ax.contour(gx, gy, values, levels=[0.5], colors="k", linewidths=1)
    ax.scatter(X[:, 0], X[:, 1], c=np.asarray(y), cmap="RdBu_r", edgecolors="k", s=18, lw=0.4)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title)
    return ax


def plot_loss_curves(history, ax=None, title="Loss during training", log=False):
    """Training (and validation) loss per epoch.

    Parameters
    ----------
    history : History or dict
        With ``loss`` and optionally ``val_loss`` lists (:class:`nnlib.train.History` or a dict).
    ax : matplotlib.axes.Axes, optional
    title : str
    log : bool, default False
        Logarithmic loss axis.

    Returns
    -------
    matplotlib.axes.Axes
    """
    get = history.get if isinstance(history, dict) else lambda k, d=None: getattr(history, k, d)
    loss = get("loss")
    if loss is None or len(loss) == 0:
        raise ValueError("history must hold a non-empty 'loss' list")
    ax = _axes(ax)
    epochs = np.arange(1, len(loss) + 1)
    ax.plot(epochs, loss, label="training")
    val = get("val_loss", None)
    if val:
        ax.plot(np.arange(1, len(val) + 1), val, label="validation")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    return ax


def network_layers(model):
    """Layer sizes and activation names of a list of sizes, an nnlib MLP or a torch Sequential.

    Returns
    -------
    sizes : list of int
    activations : list of str
        One entry per weight layer ('' where there is none).
    """
    if hasattr(model, "layer_sizes"):  # nnlib MLP
        n = len(model.layer_sizes) - 1
        out = "softmax" if getattr(model, "output", "") == "softmax" else ""
        return list(model.layer_sizes), [getattr(model, "activation", "")] * (n - 1) + [out]
    if isinstance(model, (list, tuple)):
        if len(model) < 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in model):
            raise ValueError(f"layer sizes must be at least two positive integers, got {model}")
        return [int(s) for s in model], [""] * (len(model) - 1)
    try:
        import torch.nn as nn
    except ImportError:  # pragma: no cover
        nn = None
    if nn is not None and isinstance(model, nn.Module):
        sizes, acts = [], []
        for module in model.modules():
            if isinstance(module, nn.Linear):
                if not sizes:
                    sizes.append(module.in_features)
                sizes.append(module.out_features)
                acts.append("")
            elif sizes and not list(module.children()) and not isinstance(module, nn.Linear):
                acts[-1] = type(module).__name__
        if len(sizes) < 2:
            raise ValueError("the torch model holds no nn.Linear layer to draw")
        return sizes, acts
    raise TypeError("model must be a list of layer sizes, an nnlib MLP or a torch nn.Module")


def plot_network(model, ax=None, max_units=8, title="Feed-forward network"):
    """Draw a feed-forward network: a circle per unit, a line per weight (the course's Netron).

    Parameters
    ----------
    model : list of int, nnlib MLP or torch.nn.Sequential
    ax : matplotlib.axes.Axes, optional
    max_units : int, default 8
        Wider layers show their first and last units with "⋮" between.
    title : str

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.patches as mpatches

    sizes, acts = network_layers(model)
    ax = _axes(ax, (2.2 * len(sizes) + 1, 4.5))
    shown = []
    for size in sizes:
        if size <= max_units:
            shown.append(list(range(size)))
        else:
            half = max_units // 2
            shown.append(list(range(half)) + [None] + list(range(size - (max_units - half), size)))
    height = max(len(s) for s in shown)
    dx = max(2.0, 0.55 * height)  # wide layers need room between columns for their labels
    positions = []
    for li, units in enumerate(shown):
        ys = np.linspace(height - 1, 0, len(units)) if len(units) > 1 else np.array([(height - 1) / 2])
        positions.append([(li * dx, y, u) for y, u in zip(ys, units)])
    for li in range(len(sizes) - 1):
        for x0, y0, u0 in positions[li]:
            for x1, y1, u1 in positions[li + 1]:
                if u0 is not None and u1 is not None:
                    ax.plot([x0, x1], [y0, y1], color="0.6", lw=0.6, zorder=1)
    last = len(sizes) - 1
    for li, size in enumerate(sizes):
        if li == 0:
            color, name = "#f4d35e", "input layer"
        elif li == last:
            color, name = "#ee964b", "output layer"
        else:
            color, name = "#83c5be", f"hidden layer {li}" if last > 2 else "hidden layer"
        for x, y, u in positions[li]:
            if u is None:
                ax.text(x, y, "⋮", ha="center", va="center", fontsize=16)
                continue
            ax.add_patch(mpatches.Circle((x, y), 0.3, fc=color, ec="k", lw=0.8, zorder=2))
            if li == 0:
                label = f"$X_{{{u + 1}}}$"
            elif li == last:
                label = "f(X)" if size == 1 else f"$f_{{{u}}}$"
            else:
                label = f"$A^{{({li})}}_{{{u + 1}}}$" if last > 2 else f"$A_{{{u + 1}}}$"
            ax.text(x, y, label, ha="center", va="center", fontsize=7, zorder=3)
        act = acts[li - 1] if li > 0 and acts[li - 1] else ""
        ax.text(li * dx, -0.8, f"{name}\n{size} unit{'s' if size != 1 else ''}" + (f"\n{act}" if act else ""),
                ha="center", va="top", fontsize=9)
    ax.set_xlim(-0.8, dx * last + 0.8)
    ax.set_ylim(-2.4, height - 0.2 + 0.5)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(f"{title}: " + " → ".join(str(s) for s in sizes))
    return ax


def plot_confusion_matrix(y_true, y_pred, ax=None, labels=None, title="Confusion matrix"):
    """Counts of (true class, predicted class), annotated.

    Parameters
    ----------
    y_true, y_pred : ndarray of int, shape (n_samples,)
    ax : matplotlib.axes.Axes, optional
    labels : sequence of str, optional
        Class names; default 0..K−1.
    title : str

    Returns
    -------
    matplotlib.axes.Axes
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of the same length, got {y_true.shape} "
                         f"and {y_pred.shape}")
    k = int(max(y_true.max(initial=0), y_pred.max(initial=0))) + 1
    if labels is not None:
        if len(labels) < k:
            raise ValueError(f"labels names {len(labels)} classes, the data has {k}")
        k = len(labels)
    counts = np.zeros((k, k), int)
    np.add.at(counts, (y_true.astype(int), y_pred.astype(int)), 1)
    ax = _axes(ax, (0.5 * k + 2, 0.5 * k + 1.5))
    ax.imshow(counts, cmap="Blues")
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if counts[i, j] > counts.max() / 2 else "black")
    names = list(labels) if labels is not None else [str(i) for i in range(k)]
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    return ax
