"""The training loop: mini-batches, an optimiser step per batch, a history per epoch.

One epoch shuffles the training set, cuts it into mini-batches of ``batch_size``, and for each batch
computes the loss, backpropagates and updates the parameters. :class:`History` records the training
loss (mean over the epoch's batches) and, when given validation data, the validation loss, plus the
accuracies for a classifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validation import as_float_array
from .optim import SGD, Adam

__all__ = ["History", "accuracy", "fit"]


@dataclass
class History:
    """Per-epoch metrics of :func:`fit`; each list has one float per epoch.

    Attributes
    ----------
    loss : list of float
        Training loss, the mean over the epoch's mini-batches (with dropout, as trained).
    val_loss : list of float
        Loss on the validation data after the epoch, without dropout (empty without validation data).
    accuracy : list of float
        Training accuracy after the epoch (classifiers only; empty for ``output="linear"``).
    val_accuracy : list of float
        Validation accuracy after the epoch (classifiers with validation data only).
    """

    loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)

    def as_dict(self) -> dict:
        """The four lists by name, e.g. for ``pandas.DataFrame`` or a tracker."""
        return {"loss": self.loss, "val_loss": self.val_loss, "accuracy": self.accuracy,
                "val_accuracy": self.val_accuracy}


def accuracy(model, X, y) -> float:
    """Fraction of samples whose predicted class equals ``y``.

    Parameters
    ----------
    model : MLP
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of int, shape (n_samples,)

    Returns
    -------
    float in [0, 1]
    """
    return float(np.mean(model.predict(X) == np.asarray(y)))


def fit(model, X, y, *, epochs, batch_size=32, lr=None, optimizer="sgd", momentum=0.0,
        X_val=None, y_val=None, progress=True, seed=0, callback=None):
    """Train ``model`` (an :class:`nnlib.mlp.MLP`) with mini-batch gradient descent.

    Parameters
    ----------
    model : MLP
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,) (class indices) or (n_samples, n_outputs)
    epochs : int
    batch_size : int, default 32
    lr : float, optional
        The learning rate ρ; by default 0.1 for SGD and 1e-3 for Adam.
    optimizer : {"sgd", "adam"} or an optimiser object with ``step(grads)``
        An object (e.g. ``Adam(model.params, lr=...)``) is used as given, ignoring ``lr``.
    momentum : float, default 0.0
        For SGD.
    X_val, y_val : ndarray, optional
        Validation data, evaluated after each epoch without dropout.
    progress : bool, default True
        Show a tqdm progress bar over the epochs with the current losses.
    seed : int, default 0
        Seeds the shuffling.
    callback : callable, optional
        ``callback(epoch, history)`` after each epoch, e.g. to redraw a plot; return ``False`` to stop.

    Returns
    -------
    History
    """
    if not all(hasattr(model, a) for a in ("loss", "backward", "params", "predict")):
        raise TypeError(f"model must be an nnlib.mlp.MLP (loss, backward, params, predict), got "
                        f"{type(model).__name__}")
    X = as_float_array(X, "X")
    y = np.asarray(y)
    if X.ndim != 2 or y.ndim == 0:
        raise ValueError(f"X must have shape (n_samples, n_features) and y (n_samples, ...), got "
                         f"{X.shape} and {y.shape}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same number of samples, got {len(X)} and {len(y)}")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    if isinstance(optimizer, str) and optimizer == "sgd":
        opt = SGD(model.params, lr=0.1 if lr is None else lr, momentum=momentum)
    elif isinstance(optimizer, str) and optimizer == "adam":
        opt = Adam(model.params, lr=1e-3 if lr is None else lr)
    elif hasattr(optimizer, "step"):
        opt = optimizer
    else:
        raise ValueError(f"optimizer must be 'sgd', 'adam' or an object with step(), got {optimizer!r}")
    classify = getattr(model, "output", "softmax") == "softmax"
    rng = np.random.default_rng(seed)
    history = History()
    epochs_iter = range(int(epochs))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(epochs_iter, desc="training", unit="epoch", leave=False)
        epochs_iter = bar
    for epoch in epochs_iter:
        order = rng.permutation(len(X))
        total, count = 0.0, 0
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            loss = model.loss(X[idx], y[idx], training=True)
            opt.step(model.backward())
            total += loss * len(idx)
            count += len(idx)
        history.loss.append(total / count)
        if classify:
            history.accuracy.append(accuracy(model, X, y))
        if X_val is not None:
            history.val_loss.append(model.loss(X_val, y_val, training=False))
            if classify:
                history.val_accuracy.append(accuracy(model, X_val, y_val))
        if bar is not None:
            bar.set_postfix(loss=f"{history.loss[-1]:.4f}",
                            **({"val_loss": f"{history.val_loss[-1]:.4f}"} if history.val_loss else {}))
        if callback is not None and callback(epoch, history) is False:
            break
    if bar is not None:
        bar.close()
    return history
