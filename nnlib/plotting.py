"""The figures the lectures share. Each helper takes ``ax=None``, draws, and returns the axes.

None of them calls ``plt.show()``: a notebook shows the figure at the end of the cell, a script
saves it. Every figure gets a title and labelled axes (the network diagram, which has no axes,
labels its layers instead). matplotlib, torch and the rest of nnlib are imported only when a helper
needs them.

The course's style (:func:`use_course_style`, called at the top of every lecture that draws) is
readable with a colour-vision deficiency: the colour cycle is Tableau's colour-blind palette
(matplotlib's ``tableau-colorblind10``), each colour of the cycle comes with its own line style, so
two curves differ by dashes as well as by colour, and images default to ``viridis``, whose
lightness rises monotonically and survives red-green colour blindness and greyscale printing.
tests/nnlib/test_palette.py simulates deuteranopia and protanopia on the cycle.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "COLORS",
    "LINESTYLES",
    "STYLE",
    "network_layers",
    "plot_activation",
    "plot_confusion_matrix",
    "plot_decision_boundary",
    "plot_loss_curves",
    "plot_network",
    "use_course_style",
]

#: Tableau's colour-blind-safe palette (matplotlib's ``tableau-colorblind10`` style). Its light grey
#: (third there) moves back to fifth place, so the third and fourth curves of a figure, which are
#: often ones that matter, are dark grey and light blue rather than a faint grey.
COLORS = ("#006BA4", "#FF800E", "#595959", "#5F9ED1", "#ABABAB",
          "#C85200", "#898989", "#A2C8EC", "#FFBC79", "#CFCFCF")
#: One line style per colour: solid, dashed, dotted, dash-dot, then longer dash patterns.
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1.5, 1, 1.5, 1, 1.5)), (0, (8, 2)),
              (0, (1, 3)), (0, (4, 1, 1, 1)), (0, (2, 2)), (0, (10, 2, 2, 2)))
#: The rcParams of the course's style (see :func:`use_course_style`).
STYLE = {
    "image.cmap": "viridis",
    "lines.linewidth": 1.8,
}


def use_course_style():
    """Set matplotlib's defaults to the course's colour-blind-safe style.

    The colour cycle is :data:`COLORS` (``tableau-colorblind10``), each colour paired with its
    line style in :data:`LINESTYLES` (the first line solid, the second dashed, ...), images use
    ``viridis``. Plot commands that name ``"C0"``, ``"C1"``... get the cycle's colours; a format
    string (``"o"``, ``"s--"``) or an explicit ``ls=`` still overrides the line style.

    Returns
    -------
    dict
        The rcParams that were set (``axes.prop_cycle`` and :data:`STYLE`).
    """
    import matplotlib as mpl
    from cycler import cycler

    params = {"axes.prop_cycle": cycler(color=list(COLORS)) + cycler(linestyle=list(LINESTYLES)),
              **STYLE}
    mpl.rcParams.update(params)
    return params


def _axes(ax, figsize=(5, 3.5)):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def _positive_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r}")
    return int(value)


# --- activations ----------------------------------------------------------------------------------

def plot_activation(name_or_fn, z=None, ax=None, derivative=True, **kwargs):
    """Plot an activation g(z) and, dashed, its derivative g'(z).

    Parameters
    ----------
    name_or_fn : str or callable
        A key of :data:`nnlib.activations.ACTIVATIONS`, or a function of z. A function from the
        registry gets its analytic derivative; any other is differentiated by central differences.
    z : array_like of shape (n_points,), optional
        Where to evaluate; defaults to 401 points on [−5, 5].
    ax : matplotlib.axes.Axes, optional
    derivative : bool, default True
    **kwargs
        Passed to the activation and its derivative (e.g. ``negative_slope=0.1``).

    Returns
    -------
    matplotlib.axes.Axes
        The curve g(z) first, then g'(z) (dashed), then the two grey axis lines.
    """
    from ._validation import as_float_array
    from .activations import ACTIVATIONS

    if isinstance(name_or_fn, str):
        if name_or_fn not in ACTIVATIONS:
            raise ValueError(f"name_or_fn must be one of {sorted(ACTIVATIONS)} or a callable, "
                             f"got {name_or_fn!r}")
        name = name_or_fn
        fn, grad = ACTIVATIONS[name]
    elif callable(name_or_fn):
        fn, grad = name_or_fn, None
        name = getattr(name_or_fn, "__name__", "g")
        for key, (f, g) in ACTIVATIONS.items():  # a registry function keeps its exact derivative
            if f is name_or_fn:
                name, grad = key, g
        if name == "<lambda>":
            name = "g"
    else:
        raise TypeError(f"name_or_fn must be a name or a callable, got {type(name_or_fn).__name__}")
    z = np.linspace(-5, 5, 401) if z is None else as_float_array(z, "z")
    if z.ndim != 1 or z.size < 2:
        raise ValueError(f"z must be 1-D with at least two points, got shape {z.shape}")
    g = np.asarray(fn(z, **kwargs), dtype=float)
    if g.shape != z.shape:
        raise ValueError(f"the activation must map z of shape {z.shape} to the same shape, "
                         f"got {g.shape}")
    ax = _axes(ax)
    ax.plot(z, g, lw=2, label=f"{name}(z)")
    if derivative:
        if grad is not None:
            dg = grad(z, **kwargs)
        else:
            h = 1e-5
            dg = (np.asarray(fn(z + h, **kwargs)) - np.asarray(fn(z - h, **kwargs))) / (2 * h)
        ax.plot(z, dg, "--", lw=1.5, label=f"{name}'(z)")
    ax.axhline(0, color="0.7", lw=0.8)
    ax.axvline(0, color="0.7", lw=0.8)
    ax.set_xlabel("z")
    ax.set_ylabel("g(z) and g'(z)" if derivative else "g(z)")
    ax.set_title(f"{name} and its derivative" if derivative else name)
    ax.legend()
    return ax


# --- classifiers and training ---------------------------------------------------------------------

def plot_decision_boundary(predict_fn, X, y, ax=None, resolution=200, title="Decision boundary"):
    """Colour the plane by a classifier's prediction and scatter the samples on top.

    Parameters
    ----------
    predict_fn : callable
        Maps points of shape (n_points, 2) to P(class 1) of shape (n_points,), to probabilities
        of shape (n_points, n_classes), or to class labels of shape (n_points,).
    X : array_like of shape (n_samples, 2)
    y : array_like of shape (n_samples,)
        Class labels, used for the colours of the samples.
    ax : matplotlib.axes.Axes, optional
    resolution : int, default 200
        Grid points per axis.
    title : str

    Returns
    -------
    matplotlib.axes.Axes
        With the boundary P = 0.5 (two classes) or the class regions (more) as contours.
    """
    from ._validation import as_float_array

    if not callable(predict_fn):
        raise TypeError(f"predict_fn must be callable, got {type(predict_fn).__name__}")
    X = as_float_array(X, "X")
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n_samples, 2) for a plane, got {X.shape}")
    if y.shape != (len(X),):
        raise ValueError(f"y must have shape ({len(X)},), one label per row of X, got {y.shape}")
    resolution = _positive_int(resolution, "resolution", 2)
    pad = 0.1 * (X.max(axis=0) - X.min(axis=0)) + 1e-9
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    gx, gy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    out = np.asarray(predict_fn(np.c_[gx.ravel(), gy.ravel()]), dtype=float)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    elif out.ndim == 2 and out.shape[1] == 2:  # probabilities of two classes
        out = out[:, 1]
    elif out.ndim == 2:  # several classes: colour by the most probable
        out = out.argmax(axis=1).astype(float)
    if out.shape != (gx.size,):
        raise ValueError(f"predict_fn must return shape (n_points,) or (n_points, n_classes) for "
                         f"{gx.size} points, got {out.shape}")
    values = out.reshape(gx.shape)
    ax = _axes(ax, (4.5, 4.5))
    n_classes = int(max(values.max(), np.max(y, initial=0))) + 1
    if n_classes > 2 and np.all(values == np.round(values)):  # class labels: one region each
        from matplotlib.colors import ListedColormap

        levels = np.arange(n_classes + 1) - 0.5
        cmap = ListedColormap(COLORS)  # colour-blind-safe, one colour per class (up to 10)
        ax.contourf(gx, gy, values, levels=levels, cmap=cmap, alpha=0.3, vmin=-0.5, vmax=9.5)
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, vmin=-0.5, vmax=9.5, edgecolors="k", s=18,
                   lw=0.4)
    else:
        ax.contourf(gx, gy, values, levels=20, cmap="RdBu_r", alpha=0.35)
        if values.min() < 0.5 < values.max():
            ax.contour(gx, gy, values, levels=[0.5], colors="k", linewidths=1)
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", edgecolors="k", s=18, lw=0.4)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title)
    return ax


def plot_loss_curves(history, ax=None, title="Loss during training", log=False):
    """Training (and validation) loss per epoch.

    Parameters
    ----------
    history : History or dict
        With a non-empty ``loss`` list and optionally a ``val_loss`` list
        (:class:`nnlib.train.History`, or a dict with those keys).
    ax : matplotlib.axes.Axes, optional
    title : str
    log : bool, default False
        Logarithmic loss axis.

    Returns
    -------
    matplotlib.axes.Axes
        With the line "training" (solid) and, if there is validation loss, "validation" (dashed)
        last.
    """
    if isinstance(history, dict):
        loss, val = history.get("loss"), history.get("val_loss")
    elif hasattr(history, "loss"):
        loss, val = history.loss, getattr(history, "val_loss", None)
    else:
        raise TypeError("history must be a History or a dict with a 'loss' list, got "
                        f"{type(history).__name__}")
    curves = {}
    for key, values in (("loss", loss), ("val_loss", val)):
        if values is None:
            continue
        arr = np.asarray(values, dtype=object)
        if arr.ndim != 1 or not all(isinstance(v, numbers.Real) for v in arr):
            raise ValueError(f"history's {key!r} must be a list of numbers, got {values!r}")
        curves[key] = arr.astype(float)
    if curves.get("loss") is None or curves["loss"].size == 0:
        raise ValueError("history must hold a non-empty 'loss' list")
    ax = _axes(ax)
    ax.plot(np.arange(1, curves["loss"].size + 1), curves["loss"], label="training")
    if curves.get("val_loss") is not None and curves["val_loss"].size:
        ax.plot(np.arange(1, curves["val_loss"].size + 1), curves["val_loss"], "--",
                label="validation")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    return ax


def plot_confusion_matrix(y_true, y_pred, ax=None, labels=None, title="Confusion matrix"):
    """Counts of (true class, predicted class) as an image, each cell annotated with its count.

    Parameters
    ----------
    y_true, y_pred : array_like of int, shape (n_samples,)
        Class indices 0..K−1.
    ax : matplotlib.axes.Axes, optional
    labels : sequence of str, optional
        Class names, one per class (at least as many as the largest index + 1); default 0..K−1.
    title : str

    Returns
    -------
    matplotlib.axes.Axes
        Rows are true classes, columns predicted; ``ax.texts`` hold the counts row by row.
    """
    from ._validation import as_int_array

    y_true = as_int_array(y_true, "y_true")
    y_pred = as_int_array(y_pred, "y_pred")
    if y_true.ndim != 1 or y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must be 1-D of the same length, got {y_true.shape} "
                         f"and {y_pred.shape}")
    if y_true.size == 0:
        raise ValueError("y_true and y_pred are empty")
    if min(y_true.min(), y_pred.min()) < 0:
        raise ValueError("y_true and y_pred must be class indices 0..K-1, found a negative one")
    k = int(max(y_true.max(), y_pred.max())) + 1
    if labels is not None:
        labels = [str(name) for name in labels]
        if len(labels) < k:
            raise ValueError(f"labels names {len(labels)} classes, the data has {k}")
        k = len(labels)
    counts = np.zeros((k, k), int)
    np.add.at(counts, (y_true, y_pred), 1)
    ax = _axes(ax, (0.5 * k + 2, 0.5 * k + 1.5))
    ax.imshow(counts, cmap="Blues")
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if counts[i, j] > counts.max() / 2 else "black")
    names = labels if labels is not None else [str(i) for i in range(k)]
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    return ax


# --- network diagrams -----------------------------------------------------------------------------

def network_layers(model):
    """Layer sizes and activation names of a list of sizes, an nnlib MLP or a torch model.

    Parameters
    ----------
    model : sequence of int, nnlib MLP (anything with ``.layer_sizes``) or torch.nn.Module
        A torch model is read as the chain of its ``nn.Linear`` layers in registration order
        (as in ``nn.Sequential``); the other leaf modules after a Linear are its activations.

    Returns
    -------
    sizes : list of int
        Units per layer, input first.
    activations : list of str
        One entry per weight layer: what is applied to its output ('' where nothing is).
    """
    if hasattr(model, "layer_sizes"):  # nnlib MLP, duck-typed
        sizes = [int(s) for s in model.layer_sizes]
        hidden = getattr(model, "activation", "")
        hidden = hidden if isinstance(hidden, str) else getattr(hidden, "__name__", "")
        out = getattr(model, "output", "")
        out = out if out in ("softmax", "sigmoid") else ""
        return sizes, [hidden] * (len(sizes) - 2) + [out]
    if isinstance(model, (list, tuple, np.ndarray)):
        sizes = list(model)
        if len(sizes) < 2 or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                                     and s > 0 for s in sizes):
            raise ValueError(f"layer sizes must be at least two positive integers, got {model}")
        return [int(s) for s in sizes], [""] * (len(sizes) - 1)
    try:
        from torch import nn
    except ImportError:  # pragma: no cover - torch is part of the course environment
        nn = None
    if nn is not None and isinstance(model, nn.Module):
        sizes, acts = [], []
        for module in model.modules():
            if isinstance(module, nn.Linear):
                if sizes and module.in_features != sizes[-1]:
                    raise ValueError(f"the Linear layers do not form a chain: {sizes[-1]} outputs "
                                     f"feed a layer with {module.in_features} inputs")
                if not sizes:
                    sizes.append(module.in_features)
                sizes.append(module.out_features)
                acts.append([])
            elif acts and not list(module.children()):
                acts[-1].append(type(module).__name__)
        if len(sizes) < 2:
            raise ValueError("the torch model holds no nn.Linear layer to draw")
        return sizes, [", ".join(a) for a in acts]
    raise TypeError("model must be a list of layer sizes, an nnlib MLP or a torch nn.Module, got "
                    f"{type(model).__name__}")


def _unit_label(layer, unit, size, last):
    """ISLR's names: inputs X_j, hidden activations A_k (A^(l)_k with several), outputs f(X)."""
    if layer == 0:
        return f"$X_{{{unit + 1}}}$"
    if layer == last:
        return "f(X)" if size == 1 else f"$f_{{{unit}}}$"  # f_m(X), m = 0..K-1, as for softmax
    return f"$A^{{({layer})}}_{{{unit + 1}}}$" if last > 2 else f"$A_{{{unit + 1}}}$"


def plot_network(model, ax=None, max_units=8, title="Feed-forward network"):
    """Draw a feed-forward network as in ISLR Fig. 10.1: a circle per unit, a line per weight.

    The input layer's units are X_1..X_p, a hidden layer's A_1..A_K (A^(l)_k with several hidden
    layers), the output f(X) (f_0..f_{K−1} for several outputs). Below each layer: its name, its
    width and its activation when known.

    Parameters
    ----------
    model : sequence of int, nnlib MLP or torch.nn.Sequential
        See :func:`network_layers`.
    ax : matplotlib.axes.Axes, optional
    max_units : int, default 8
        Wider layers show their first and last units with "⋮" between them; the weights of the
        hidden units are not drawn.
    title : str
        Followed by the layer sizes, e.g. "Feed-forward network: 3 → 4 → 1".

    Returns
    -------
    matplotlib.axes.Axes
        Circles in ``ax.patches``, weights in ``ax.get_lines()``, labels in ``ax.texts``.
    """
    import matplotlib.patches as mpatches

    sizes, acts = network_layers(model)
    max_units = _positive_int(max_units, "max_units", 2)
    ax = _axes(ax, (2.2 * len(sizes) + 1, 4.5))
    shown = []  # unit indices per layer, None for the ellipsis
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
        if len(units) > 1:
            ys = np.linspace(height - 1, 0, len(units))
        else:
            ys = np.array([(height - 1) / 2])
        positions.append([(li * dx, y, u) for y, u in zip(ys, units, strict=True)])
    for li in range(len(sizes) - 1):
        for x0, y0, u0 in positions[li]:
            for x1, y1, u1 in positions[li + 1]:
                if u0 is not None and u1 is not None:
                    ax.plot([x0, x1], [y0, y1], color="0.6", lw=0.6, zorder=1)
    last = len(sizes) - 1
    for li, size in enumerate(sizes):
        if li == 0:
            color, name = "#f4d35e", "Input layer"
        elif li == last:
            color, name = "#ee964b", "Output layer"
        else:
            color, name = "#83c5be", f"Hidden layer {li}" if last > 2 else "Hidden layer"
        for x, y, u in positions[li]:
            if u is None:
                ax.text(x, y, "⋮", ha="center", va="center", fontsize=16)
                continue
            ax.add_patch(mpatches.Circle((x, y), 0.3, fc=color, ec="k", lw=0.8, zorder=2))
            ax.text(x, y, _unit_label(li, u, size, last), ha="center", va="center", fontsize=7,
                    zorder=3)
        act = acts[li - 1] if li > 0 else ""
        caption = f"{name}\n{size} unit{'s' if size != 1 else ''}" + (f"\n{act}" if act else "")
        ax.text(li * dx, -0.8, caption, ha="center", va="top", fontsize=9)
    ax.set_xlim(-0.8, dx * last + 0.8)
    ax.set_ylim(-2.4, height + 0.3)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(f"{title}: " + " → ".join(str(s) for s in sizes))
    return ax
