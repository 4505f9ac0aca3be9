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

__all__ = ["EarlyStopping", "History", "accuracy", "fit"]


@dataclass
class History:
    """Per-epoch metrics of :func:`fit`; each list has one float per epoch.

    Attributes
    ----------
    loss : list of float
        Training loss, the mean over the epoch's mini-batches (with dropout, as trained).
    val_loss : list of float
        Loss on the validation data after the epoch, without dropout (empty without validation
        data).
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
        ``callback(epoch, history)`` after each epoch, e.g. to redraw a plot; return ``False`` to
        stop.

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
        raise ValueError("optimizer must be 'sgd', 'adam' or an object with step(), "
                         f"got {optimizer!r}")
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
            val = {"val_loss": f"{history.val_loss[-1]:.4f}"} if history.val_loss else {}
            bar.set_postfix(loss=f"{history.loss[-1]:.4f}", **val)
        if callback is not None and callback(epoch, history) is False:
            break
    if bar is not None:
        bar.close()
    return history


class EarlyStopping:
    """A :func:`fit` callback: keep the weights of the best validation epoch, stop when it is past.

    "Slow learning" on the fitting slide: fit by small gradient steps, watch the error on data the
    model does not train on, and stop once it has not improved for ``patience`` epochs. After
    training, :meth:`restore` puts the best epoch's weights back into the model.

    Parameters
    ----------
    model : MLP
        Anything with a ``params`` dict of arrays; the best values are copied from it.
    score : callable, optional
        ``score(model) -> float``, lower is better, called after every epoch (e.g. a validation
        RMSE). By default the epoch's ``history.val_loss`` (give :func:`fit` ``X_val, y_val``).
    patience : int or None, default 10
        Stop after this many epochs without an improvement; ``None`` never stops early (the callback
        then only records the scores and keeps the best weights).
    min_delta : float, default 0.0
        An epoch counts as an improvement only if its score is below the best by more than this.

    Attributes
    ----------
    scores : list of float
        The score after every epoch seen, in order.
    best_epoch : int
        How many epochs had been trained when the best score was seen (1-based; 0 before any).
    best_score : float
        ``scores[best_epoch - 1]`` (``inf`` before any epoch).
    best_params : dict of str to ndarray
        Copies of the parameters at ``best_epoch``.
    stopped : bool
        True once the callback has asked :func:`fit` to stop.

    Examples
    --------
    >>> stopper = EarlyStopping(model, patience=20)                      # doctest: +SKIP
    >>> fit(model, X, y, epochs=500, X_val=Xv, y_val=yv, callback=stopper)  # doctest: +SKIP
    >>> stopper.restore()                                                # doctest: +SKIP
    """

    def __init__(self, model, score=None, patience=10, min_delta=0.0):
        params = getattr(model, "params", None)
        if not isinstance(params, dict) or not params:
            raise TypeError(f"model must have a non-empty params dict, got {type(model).__name__}")
        if score is not None and not callable(score):
            raise TypeError(f"score must be callable (model -> float) or None, got "
                            f"{type(score).__name__}")
        if patience is not None and (isinstance(patience, bool)
                                     or not isinstance(patience, (int, np.integer))
                                     or patience < 1):
            raise ValueError(f"patience must be a positive integer or None, got {patience!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float, np.number)) \
                or not np.isfinite(min_delta) or min_delta < 0:
            raise ValueError(f"min_delta must be a finite number >= 0, got {min_delta!r}")
        self.model = model
        self.score = score
        self.patience = None if patience is None else int(patience)
        self.min_delta = float(min_delta)
        self.scores = []
        self.best_epoch = 0
        self.best_score = float("inf")
        self.best_params = {k: np.array(v, copy=True) for k, v in params.items()}
        self.stopped = False

    def __call__(self, epoch, history):
        if self.score is not None:
            value = float(self.score(self.model))
        elif history.val_loss:
            value = float(history.val_loss[-1])
        else:
            raise ValueError("EarlyStopping without a score needs validation data: pass X_val and "
                             "y_val to fit, or give score=")
        self.scores.append(value)
        if value < self.best_score - self.min_delta:
            self.best_score, self.best_epoch = value, len(self.scores)
            for k, v in self.model.params.items():
                self.best_params[k] = np.array(v, copy=True)
        elif self.patience is not None and len(self.scores) - self.best_epoch >= self.patience:
            self.stopped = True
            return False
        return True

    def restore(self):
        """Copy the best epoch's parameters back into ``model.params`` in place; return the model.

        In place, so an optimiser that holds the parameter arrays keeps updating the model's own.
        """
        if self.best_epoch == 0:
            raise RuntimeError("no epoch has been scored yet: "
                               "pass this object to fit(callback=...)")
        for k, v in self.best_params.items():
            self.model.params[k][...] = v
        return self.model
