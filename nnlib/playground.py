"""An offline playground in the spirit of TensorFlow Playground: train a small MLP on a 2-D set.

The logic is plain functions that work anywhere (tests, scripts, headless notebook runs):
:func:`train_playground` builds the data set and the network from :class:`PlaygroundSettings` and
trains it; :func:`draw_playground` draws the decision boundary and the loss curves. :class:`Playground`
wraps them in ipywidgets controls (data set, noise, layers, units, activation, learning rate,
regularisation) with a *Train* button that redraws while the network learns. Without a widget
front-end (e.g. under nbval) the widgets are inert and :meth:`Playground.figure` still draws the
current state as a static figure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ._validation import check_number
from .datasets import PLAYGROUND_SETS, make_playground, train_test_split
from .mlp import MLP
from .train import fit

__all__ = ["PlaygroundSettings", "train_playground", "draw_playground", "Playground"]

REGULARISATION = ("none", "L1", "L2")


@dataclass(frozen=True)
class PlaygroundSettings:
    """Everything the playground's controls set.

    Attributes
    ----------
    dataset : {'circle', 'xor', 'gauss', 'spiral'}
    noise : float in [0, 0.5]
    hidden_layers : int, 0 to 6
    units : int, 1 to 16
        Units per hidden layer.
    activation : str
        A key of ``nnlib.activations.ACTIVATIONS``.
    learning_rate : float
    regularisation : {'none', 'L1', 'L2'}
    regularisation_rate : float
    epochs : int
    batch_size : int
    seed : int
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

    def validate(self) -> "PlaygroundSettings":
        """Raise ``ValueError`` naming the first setting that is out of range."""
        if self.dataset not in PLAYGROUND_SETS:
            raise ValueError(f"dataset must be one of {PLAYGROUND_SETS}, got {self.dataset!r}")
        if self.regularisation not in REGULARISATION:
            raise ValueError(f"regularisation must be one of {REGULARISATION}, "
                             f"got {self.regularisation!r}")
        if not 0 <= self.hidden_layers <= 6:
            raise ValueError(f"hidden_layers must be between 0 and 6, got {self.hidden_layers}")
        if not 1 <= self.units <= 16:
            raise ValueError(f"units must be between 1 and 16, got {self.units}")
        check_number(self.learning_rate, "learning_rate", positive=True)
        check_number(self.regularisation_rate, "regularisation_rate", nonnegative=True)
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be positive")
        return self

    @property
    def layer_sizes(self) -> list[int]:
        return [2] + [self.units] * self.hidden_layers + [2]


def train_playground(settings: PlaygroundSettings, callback=None):
    """Make the data set and the network of ``settings`` and train it.

    Parameters
    ----------
    settings : PlaygroundSettings
    callback : callable, optional
        ``callback(epoch, history)`` after every epoch (return ``False`` to stop), e.g. to redraw.

    Returns
    -------
    model : nnlib.mlp.MLP
    history : nnlib.train.History
    data : tuple
        (X_train, X_test, y_train, y_test), X of shape (n, 2) scaled to about [-1, 1].
    """
    s = settings.validate()
    X, y = make_playground(s.dataset, n_samples=400, noise=s.noise, seed=s.seed)
    X = X / 6.0
    data = train_test_split(X, y, test_size=0.5, seed=s.seed)
    reg = {"L1": {"l1": s.regularisation_rate}, "L2": {"weight_decay": s.regularisation_rate}}
    model = MLP(s.layer_sizes, activation=s.activation, seed=s.seed,
                **reg.get(s.regularisation, {}))
    history = fit(model, data[0], data[2], epochs=s.epochs, batch_size=s.batch_size,
                  lr=s.learning_rate, optimizer="sgd", X_val=data[1], y_val=data[3],
                  progress=False, seed=s.seed, callback=callback)
    return model, history, data


def draw_playground(model, history, data, axes=None):
    """Decision boundary (with the test points) and training/test loss curves.

    Returns
    -------
    ndarray of two matplotlib axes
    """
    import matplotlib.pyplot as plt

    from .plotting import plot_decision_boundary, plot_loss_curves

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax in axes:
        ax.clear()
    X_train, X_test, y_train, y_test = data
    accuracy = float(np.mean(model.predict(X_test) == y_test))
    plot_decision_boundary(lambda P: model.predict_proba(P)[:, 1], X_test, y_test, ax=axes[0],
                           resolution=80, title=f"Test accuracy {accuracy:.2f}")
    plot_loss_curves({"loss": history.loss, "val_loss": history.val_loss}, ax=axes[1],
                     title=f"Loss after {len(history.loss)} epochs")
    axes[1].lines[-1].set_label("test")
    axes[1].legend()
    return axes


class Playground:
    """ipywidgets controls around :func:`train_playground` and :func:`draw_playground`.

    Parameters
    ----------
    **settings
        Initial :class:`PlaygroundSettings` fields.

    Attributes
    ----------
    controls : dict of str to ipywidgets widget
    widget : ipywidgets.VBox
        Display this in a notebook.
    history : History or None
        Of the latest training.
    """

    def __init__(self, **settings):
        import ipywidgets as w

        self.settings = PlaygroundSettings(**settings).validate()
        s = self.settings
        self.controls = {
            "dataset": w.Dropdown(options=PLAYGROUND_SETS, value=s.dataset, description="data"),
            "noise": w.FloatSlider(value=s.noise, min=0, max=0.5, step=0.05, description="noise"),
            "hidden_layers": w.IntSlider(value=s.hidden_layers, min=0, max=6, description="layers"),
            "units": w.IntSlider(value=s.units, min=1, max=16, description="units"),
            "activation": w.Dropdown(options=["tanh", "relu", "sigmoid", "linear"],
                                     value=s.activation, description="activation"),
            "learning_rate": w.FloatLogSlider(value=s.learning_rate, base=10, min=-3, max=0,
                                              description="learning rate"),
            "regularisation": w.Dropdown(options=REGULARISATION, value=s.regularisation,
                                         description="regularise"),
            "regularisation_rate": w.FloatLogSlider(value=s.regularisation_rate, base=10, min=-5,
                                                    max=-1, description="rate"),
        }
        self.button = w.Button(description="Train", button_style="primary")
        self.output = w.Output()
        self.button.on_click(lambda _: self.train())
        self.widget = w.VBox([w.HBox([w.VBox(list(self.controls.values())[:4]),
                                      w.VBox(list(self.controls.values())[4:] + [self.button])]),
                              self.output])
        self.model = self.history = self.data = None

    def current_settings(self) -> PlaygroundSettings:
        """The settings the controls show now."""
        return replace(self.settings, **{k: c.value for k, c in self.controls.items()}).validate()

    def train(self):
        """Train with the controls' settings, redrawing the figure in the output area every 10 epochs."""
        import matplotlib.pyplot as plt

        settings = self.current_settings()

        def redraw(epoch, history):
            if epoch % 10 == 9 and self.model is not None:
                with self.output:
                    self.output.clear_output(wait=True)
                    draw_playground(self.model, history, self.data)
                    plt.show()

        self.model = None
        self.model, self.history, self.data = train_playground(settings)
        with self.output:
            self.output.clear_output(wait=True)
            draw_playground(self.model, self.history, self.data)
            plt.show()
        redraw(-1, self.history)
        return self.history

    def figure(self):
        """A static figure of the latest training (what a headless run shows); returns the axes."""
        if self.model is None:
            self.train()
        return draw_playground(self.model, self.history, self.data)
