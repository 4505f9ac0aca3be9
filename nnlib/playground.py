"""An offline playground in the spirit of TensorFlow Playground: train a small MLP on a 2-D set.

The logic is plain functions that need no widgets (tests, scripts, headless notebook runs):

* :func:`build_playground` makes the data set and the untrained :class:`nnlib.mlp.MLP` from
  :class:`PlaygroundSettings`;
* :func:`train_playground` trains it with :func:`nnlib.train.fit`, calling back after every epoch;
* :func:`draw_playground` draws the decision boundary (with the test points) and the loss curves.

:class:`Playground` wraps them in ipywidgets controls (data set, noise, hidden layers, units,
activation, learning rate, regularisation and its rate, epochs) with a *Train* button; the figure is
redrawn every few epochs while the network learns. :func:`playground` is the one call a notebook
makes: with a widget front-end it shows the controls, without one (e.g. under nbval or nbconvert) it
trains once with the given settings and draws a static figure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace

import numpy as np

from ._validation import check_number
from .datasets import PLAYGROUND_SETS, make_playground, train_test_split
from .mlp import MLP
from .train import fit

__all__ = [
    "Playground",
    "PlaygroundSettings",
    "build_playground",
    "draw_playground",
    "has_widget_frontend",
    "playground",
    "train_playground",
]

REGULARISATION = ("none", "L1", "L2")
PLAYGROUND_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
N_SAMPLES = 400
SCALE = 6.0  # make_playground draws points in [-6, 6]^2; the network sees them in about [-1, 1]^2


def _int(value, name, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, got {value}")
    return int(value)


def _log_slider(value, lo, hi, description):
    """A base-10 log slider over [10**lo, 10**hi] that keeps ``value`` exactly."""
    import ipywidgets as w

    slider = w.FloatLogSlider(base=10, step=0.1, description=description)
    slider.min, slider.max = float(lo), float(hi)  # the range first: value is clipped to it
    slider.value = float(value)
    return slider


@dataclass(frozen=True)
class PlaygroundSettings:
    """Everything the playground's controls set.

    Attributes
    ----------
    dataset : {'circle', 'xor', 'gauss', 'spiral'}
    noise : float in [0, 0.5]
        The Playground's noise slider as a fraction (see :func:`nnlib.datasets.make_playground`).
    hidden_layers : int, 0 to 6
    units : int, 1 to 16
        Units per hidden layer.
    activation : {'tanh', 'relu', 'sigmoid', 'linear'}
    learning_rate : float > 0
        Of plain mini-batch SGD.
    regularisation : {'none', 'L1', 'L2'}
        L2 is the MLP's ``weight_decay`` (ridge), L1 its ``l1`` (lasso).
    regularisation_rate : float >= 0
    epochs : int, 1 to 10000
    batch_size : int, 1 to 200
    seed : int
        Seeds the data, the initial weights and the shuffling.
    """

    dataset: str = "circle"
    noise: float = 0.1
    hidden_layers: int = 2
    units: int = 6
    activation: str = "tanh"
    learning_rate: float = 0.1
    regularisation: str = "none"
    regularisation_rate: float = 1e-3
    epochs: int = 100
    batch_size: int = 10
    seed: int = 0

    def validate(self) -> PlaygroundSettings:
        """Return ``self``; raise ``ValueError``/``TypeError`` naming the first bad setting."""
        if self.dataset not in PLAYGROUND_SETS:
            raise ValueError(f"dataset must be one of {PLAYGROUND_SETS}, got {self.dataset!r}")
        if self.activation not in PLAYGROUND_ACTIVATIONS:
            raise ValueError(f"activation must be one of {PLAYGROUND_ACTIVATIONS}, "
                             f"got {self.activation!r}")
        if self.regularisation not in REGULARISATION:
            raise ValueError(f"regularisation must be one of {REGULARISATION}, "
                             f"got {self.regularisation!r}")
        noise = check_number(self.noise, "noise", nonnegative=True)
        if noise > 0.5:
            raise ValueError(f"noise must be between 0 and 0.5, got {noise}")
        _int(self.hidden_layers, "hidden_layers", 0, 6)
        _int(self.units, "units", 1, 16)
        _int(self.epochs, "epochs", 1, 10_000)
        _int(self.batch_size, "batch_size", 1, N_SAMPLES // 2)
        _int(self.seed, "seed", 0, 2**32 - 1)
        check_number(self.learning_rate, "learning_rate", positive=True)
        check_number(self.regularisation_rate, "regularisation_rate", nonnegative=True)
        return self

    @property
    def layer_sizes(self) -> list[int]:
        """``[2, units, ..., units, 2]``: 2 inputs, ``hidden_layers`` hidden layers, 2 classes."""
        return [2] + [self.units] * self.hidden_layers + [2]


def _settings(settings):
    if settings is None:
        return PlaygroundSettings()
    if not isinstance(settings, PlaygroundSettings):
        raise TypeError(f"settings must be a PlaygroundSettings, got {type(settings).__name__}")
    return settings.validate()


def build_playground(settings=None):
    """The data set and the untrained network that ``settings`` describe.

    Parameters
    ----------
    settings : PlaygroundSettings, optional
        Defaults to ``PlaygroundSettings()``.

    Returns
    -------
    model : nnlib.mlp.MLP
        Layer sizes ``settings.layer_sizes``, softmax output over the two classes.
    data : tuple of ndarray
        ``(X_train, X_test, y_train, y_test)``: half of 400 points each, X of shape (200, 2)
        scaled to about [-1, 1]², y of shape (200,) with labels in {0, 1}.
    """
    s = _settings(settings)
    X, y = make_playground(s.dataset, n_samples=N_SAMPLES, noise=s.noise, seed=s.seed)
    data = train_test_split(X / SCALE, y.astype(int), test_size=0.5, seed=s.seed)
    reg = {"L1": {"l1": s.regularisation_rate}, "L2": {"weight_decay": s.regularisation_rate}}
    model = MLP(s.layer_sizes, activation=s.activation, seed=s.seed,
                **reg.get(s.regularisation, {}))
    return model, tuple(data)


def train_playground(settings=None, callback=None, progress=False):
    """Build the data set and the network of ``settings`` and train it with SGD.

    Parameters
    ----------
    settings : PlaygroundSettings, optional
    callback : callable, optional
        ``callback(epoch, history, model, data)`` after every epoch, e.g. to redraw; return
        ``False`` to stop early.
    progress : bool, default False
        Show a tqdm progress bar over the epochs.

    Returns
    -------
    model : nnlib.mlp.MLP
        Trained.
    history : nnlib.train.History
        Per-epoch ``loss``/``accuracy`` (training) and ``val_loss``/``val_accuracy`` (test).
    data : tuple of ndarray
        As returned by :func:`build_playground`.
    """
    s = _settings(settings)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    model, data = build_playground(s)
    X_train, X_test, y_train, y_test = data
    inner = None if callback is None else (lambda epoch, h: callback(epoch, h, model, data))
    history = fit(model, X_train, y_train, epochs=s.epochs, batch_size=s.batch_size,
                  lr=s.learning_rate, optimizer="sgd", X_val=X_test, y_val=y_test,
                  progress=progress, seed=s.seed, callback=inner)
    return model, history, data


def draw_playground(model, history, data, axes=None, title=None):
    """Decision boundary with the test points (left) and training/test loss per epoch (right).

    Parameters
    ----------
    model : nnlib.mlp.MLP
        With ``predict`` and ``predict_proba`` on arrays of shape (n, 2).
    history : nnlib.train.History
        With non-empty ``loss`` and ``val_loss``.
    data : tuple of ndarray
        ``(X_train, X_test, y_train, y_test)`` as from :func:`build_playground`.
    axes : sequence of two matplotlib axes, optional
        Cleared and drawn on; a new 1×2 figure by default.
    title : str, optional
        Prefix of the boundary's title (e.g. the settings).

    Returns
    -------
    ndarray of two matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    from .plotting import plot_decision_boundary, plot_loss_curves

    if len(data) != 4:
        raise ValueError(f"data must be (X_train, X_test, y_train, y_test), got {len(data)} items")
    if not getattr(history, "loss", None):
        raise ValueError("history must hold at least one epoch of loss")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes = np.asarray(axes).ravel()
    if axes.size != 2:
        raise ValueError(f"axes must hold two axes, got {axes.size}")
    for ax in axes:
        ax.clear()
    _, X_test, _, y_test = data
    accuracy = float(np.mean(model.predict(X_test) == y_test))
    head = f"{title}\n" if title else ""
    plot_decision_boundary(lambda P: model.predict_proba(P)[:, 1], X_test, y_test, ax=axes[0],
                           resolution=80, title=f"{head}test accuracy {accuracy:.2f}")
    axes[0].set(xlabel="$x_1$ (scaled)", ylabel="$x_2$ (scaled)")
    curves = {"loss": history.loss, "val_loss": history.val_loss}
    plot_loss_curves(curves, ax=axes[1], title=f"Loss after {len(history.loss)} epochs")
    if history.val_loss:
        axes[1].lines[-1].set_label("test")
    axes[1].set(xlabel="epoch", ylabel="cross-entropy loss")
    axes[1].legend()
    return axes


def has_widget_frontend() -> bool:
    """Whether widgets can be shown: an IPython kernel started by a Jupyter server (Lab/Notebook).

    A kernel that nbval, nbconvert or a plain script starts has no front-end to render widgets;
    Jupyter Server marks the kernels it starts with the ``JPY_SESSION_NAME`` environment variable
    (VS Code with ``VSCODE_PID``). Pass ``interactive=True`` to :func:`playground` to override.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    if shell is None or type(shell).__name__ != "ZMQInteractiveShell":
        return False
    return bool(os.environ.get("JPY_SESSION_NAME") or os.environ.get("VSCODE_PID"))


class Playground:
    """ipywidgets controls around :func:`train_playground` and :func:`draw_playground`.

    Parameters
    ----------
    redraw_every : int, default 10
        Redraw the figure every this many epochs while training.
    **settings
        Initial :class:`PlaygroundSettings` fields.

    Attributes
    ----------
    controls : dict of str to ipywidgets widget
        One control per setting except ``batch_size`` and ``seed``; their ``.value`` is the setting.
    button : ipywidgets.Button
        *Train*: trains with the controls' settings.
    widget : ipywidgets.VBox
        Controls, button, a status line and the figure's output area; display this in a notebook.
    figure : matplotlib.figure.Figure
        Two axes (decision boundary, loss curves), redrawn in place.
    model, history, data
        Of the latest training (``None`` before the first).
    draws : int
        How many times the figure has been drawn (it grows during training).
    """

    def __init__(self, redraw_every=10, **settings):
        import ipywidgets as w
        import matplotlib.pyplot as plt

        self.redraw_every = _int(redraw_every, "redraw_every", 1, 10_000)
        unknown = set(settings) - {f.name for f in fields(PlaygroundSettings)}
        if unknown:
            raise TypeError(f"unknown playground settings {sorted(unknown)}")
        self.settings = PlaygroundSettings(**settings).validate()
        s = self.settings
        style = {"description_width": "90px"}
        lr_exp = float(np.log10(s.learning_rate))
        reg_exp = float(np.log10(s.regularisation_rate)) if s.regularisation_rate > 0 else -5.0
        self.controls = {
            "dataset": w.Dropdown(options=PLAYGROUND_SETS, value=s.dataset, description="data"),
            "noise": w.FloatSlider(value=s.noise, min=0, max=0.5, step=0.05, description="noise"),
            "hidden_layers": w.IntSlider(value=s.hidden_layers, min=0, max=6,
                                         description="hidden layers"),
            "units": w.IntSlider(value=s.units, min=1, max=16, description="units / layer"),
            "activation": w.Dropdown(options=PLAYGROUND_ACTIVATIONS, value=s.activation,
                                     description="activation"),
            "learning_rate": _log_slider(s.learning_rate, min(-3.0, np.floor(lr_exp)),
                                         max(0.5, np.ceil(lr_exp)), "learning rate"),
            "regularisation": w.Dropdown(options=REGULARISATION, value=s.regularisation,
                                         description="regularisation"),
            "regularisation_rate": _log_slider(s.regularisation_rate or 1e-5,
                                               min(-5.0, np.floor(reg_exp)),
                                               max(-1.0, np.ceil(reg_exp)), "reg. rate"),
            "epochs": w.IntSlider(value=s.epochs, min=1, max=max(1000, s.epochs),
                                  description="epochs"),
        }
        if s.regularisation_rate == 0:  # a log slider cannot show 0: no regularisation instead
            self.controls["regularisation"].value = "none"
        self.settings = s = self.current_settings()
        for control in self.controls.values():
            control.style = style
        self.button = w.Button(description="Train", button_style="primary", icon="play")
        self.status = w.Label("press Train")
        self.output = w.Output()
        self.button.on_click(lambda _: self.train())
        values = list(self.controls.values())
        self.widget = w.VBox([w.HBox([w.VBox(values[:5]), w.VBox(values[5:])]),
                              w.HBox([self.button, self.status]), self.output])
        self.figure, axes = plt.subplots(1, 2, figsize=(10, 4))
        plt.close(self.figure)  # drawn on demand, never shown twice by the inline backend
        self.axes = np.asarray(axes)
        self.model = self.history = self.data = None
        self.draws = 0

    def current_settings(self) -> PlaygroundSettings:
        """The settings the controls show now (validated)."""
        return replace(self.settings, **{k: c.value for k, c in self.controls.items()}).validate()

    def _draw(self, model, history, data, settings, show=True):
        title = (f"{settings.dataset}, {settings.hidden_layers}×{settings.units} "
                 f"{settings.activation}, lr {settings.learning_rate:.3g}")
        draw_playground(model, history, data, axes=self.axes, title=title)
        self.figure.tight_layout()
        self.draws += 1
        if not show:
            return
        from IPython.display import display

        with self.output:
            self.output.clear_output(wait=True)
            display(self.figure)

    def train(self, live=True):
        """Train with the controls' settings, redrawing every ``redraw_every`` epochs.

        Parameters
        ----------
        live : bool, default True
            Redraw during training and show the figure in the widget's output area; ``False``
            only draws the final state on :attr:`figure` (what a static run shows).

        Returns
        -------
        nnlib.train.History
        """
        settings = self.current_settings()

        def redraw(epoch, history, model, data):
            self.status.value = f"epoch {epoch + 1}/{settings.epochs}, loss {history.loss[-1]:.3f}"
            if live and (epoch + 1) % self.redraw_every == 0 and epoch + 1 < settings.epochs:
                self._draw(model, history, data, settings)

        self.button.disabled = True
        try:
            self.model, self.history, self.data = train_playground(settings, callback=redraw)
        finally:
            self.button.disabled = False
        self._draw(self.model, self.history, self.data, settings, show=live)
        self.status.value = (f"done: {settings.epochs} epochs, test accuracy "
                             f"{self.history.val_accuracy[-1]:.2f}")
        return self.history


def playground(interactive=None, **settings):
    """Show the playground's controls, or train once and draw a static figure without a front-end.

    Parameters
    ----------
    interactive : bool or None, default None
        ``None`` decides with :func:`has_widget_frontend`; ``True`` displays the widget (trained
        once, so its figure is not empty); ``False`` trains once and draws a static figure.
    **settings
        :class:`PlaygroundSettings` fields, e.g. ``dataset="xor", hidden_layers=1``.

    Returns
    -------
    Playground
        Trained once with ``settings``: ``.history``, ``.model``, ``.figure``.
    """
    if interactive is not None and not isinstance(interactive, bool):
        raise TypeError(f"interactive must be True, False or None, got {interactive!r}")
    pg = Playground(**settings)
    if interactive is None:
        interactive = has_widget_frontend()
    from IPython.display import display

    if interactive:
        display(pg.widget)
        pg.train()
    else:
        pg.train(live=False)
        display(pg.figure)
    return pg
