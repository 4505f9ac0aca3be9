"""A multilayer perceptron in NumPy, built from the forward/backward pairs of :mod:`nnlib.layers`.

``MLP([64, 64, 32, 10])`` is the lecture's network with two hidden layers: A⁽¹⁾ = g(X W1 + b1),
A⁽²⁾ = g(A⁽¹⁾ W2 + b2) and the output Z = A⁽²⁾ W3 + b3, turned into class probabilities by softmax
(``output="softmax"``, cross-entropy loss) or used as is (``output="linear"``, squared-error loss).
Weights are W (the slides' w and β), biases b (the intercepts w_k0, β_0).

Regularisation, as on the "Fitting" slide: ridge (``weight_decay``, λ Σ W²), lasso (``l1``, λ Σ |W|)
and dropout on the hidden layers (``dropout``). Biases are not penalised.
"""

from __future__ import annotations

import itertools

import numpy as np

from . import layers
from ._validation import as_float_array, check_number
from .activations import ACTIVATIONS, softmax
from .losses import cross_entropy, cross_entropy_grad

__all__ = ["MLP", "RELU_LIKE"]

#: Activations whose weights get He's scale sqrt(2 / n_in); the others get Glorot's
#: sqrt(2 / (n_in + n_out)).
RELU_LIKE = ("relu", "leaky_relu")


class MLP:
    """A fully connected network with one activation for all hidden layers.

    Parameters
    ----------
    layer_sizes : sequence of int
        [n_inputs, hidden_1, ..., n_outputs]; at least two entries.
    activation : str, default "relu"
        A key of :data:`nnlib.activations.ACTIVATIONS`.
    output : {"softmax", "linear"}, default "softmax"
        Classification (cross-entropy on class indices) or regression (mean squared error).
    dropout : float in [0, 1), default 0.0
        Drop probability on hidden activations during training.
    weight_decay : float, default 0.0
        Ridge penalty λ₂ Σ W² added to the loss.
    l1 : float, default 0.0
        Lasso penalty λ₁ Σ |W| added to the loss.
    seed : int, default 0
        Seeds the initial weights (He for ReLU-like activations, Glorot otherwise) and dropout.
    class_weight : array_like of shape (n_classes,), optional
        Softmax output only: weights w_c of the classes in the cross-entropy, as
        ``torch.nn.CrossEntropyLoss(weight=w)``: each sample's loss is multiplied by w of its class
        and the batch's mean divides by the summed weights Σ w_{y_n}, e.g. ``n / (n_classes ·
        counts)`` to up-weight a rare class. ``None`` weighs every sample equally.

    Attributes
    ----------
    params : dict of str to ndarray
        "W1", "b1", "W2", ...; W_l has shape (layer_sizes[l-1], layer_sizes[l]).
    grads : dict of str to ndarray
        Same keys and shapes, filled by :meth:`backward`.
    rng : numpy.random.Generator
        Drew the initial weights and draws the dropout masks; replace it with a freshly seeded one
        before each :meth:`loss` call to fix the mask (e.g. for a gradient check).

    Examples
    --------
    >>> model = MLP([2, 16, 2], activation="tanh", seed=0)
    >>> loss = model.loss(X, y)          # doctest: +SKIP
    >>> grads = model.backward()         # doctest: +SKIP
    """

    def __init__(self, layer_sizes, activation="relu", output="softmax", dropout=0.0,
                 weight_decay=0.0, l1=0.0, seed=0, class_weight=None):
        sizes = list(layer_sizes) if isinstance(layer_sizes, (list, tuple, np.ndarray)) else []
        if len(sizes) < 2 or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                                     and s > 0 for s in sizes):
            raise ValueError("layer_sizes must be at least two positive integers, "
                             f"got {layer_sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if output not in ("softmax", "linear"):
            raise ValueError(f"output must be 'softmax' or 'linear', got {output!r}")
        self.layer_sizes = [int(s) for s in sizes]
        self.activation = activation
        self.output = output
        self.dropout = check_number(dropout, "dropout")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.weight_decay = check_number(weight_decay, "weight_decay", nonnegative=True)
        self.l1 = check_number(l1, "l1", nonnegative=True)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
        self.class_weight = None
        if class_weight is not None:
            if output != "softmax":
                raise ValueError("class_weight needs output='softmax' "
                                 "(it weighs the cross-entropy)")
            w = as_float_array(class_weight, "class_weight")
            if w.shape != (self.layer_sizes[-1],):
                raise ValueError(f"class_weight must have one entry per class, shape "
                                 f"({self.layer_sizes[-1]},), got {w.shape}")
            if not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
                raise ValueError(f"class_weight must be finite, non-negative and not all zero, "
                                 f"got {w}")
            self.class_weight = w
        self.rng = np.random.default_rng(seed)
        self.params = {}
        for i, (n_in, n_out) in enumerate(itertools.pairwise(self.layer_sizes), 1):
            if activation in RELU_LIKE:  # He (Kaiming) normal: Var W = 2 / n_in
                std = np.sqrt(2.0 / n_in)
            else:  # Glorot (Xavier) normal: Var W = 2 / (n_in + n_out)
                std = np.sqrt(2.0 / (n_in + n_out))
            self.params[f"W{i}"] = self.rng.normal(0.0, std, size=(n_in, n_out))
            self.params[f"b{i}"] = np.zeros(n_out)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._caches = None
        self._loss_cache = None  # set by loss(); a later forward() (e.g. predict) clears it

    @property
    def n_layers(self) -> int:
        """Number of weight layers (hidden layers + 1)."""
        return len(self.layer_sizes) - 1

    @property
    def n_params(self) -> int:
        """Number of trainable numbers: Σ (n_in + 1) · n_out."""
        return int(sum(v.size for v in self.params.values()))

    def _check_X(self, X):
        X = as_float_array(X, "X")
        if X.ndim != 2 or X.shape[1] != self.layer_sizes[0]:
            raise ValueError(f"X must have shape (n_samples, {self.layer_sizes[0]}), got {X.shape}")
        return X

    def forward(self, X, training=False):
        """Scores of the output layer (logits, or predictions for ``output="linear"``).

        Parameters
        ----------
        X : ndarray of shape (n_samples, layer_sizes[0])
        training : bool, default False
            Apply dropout (evaluation uses all units).

        Returns
        -------
        ndarray of shape (n_samples, layer_sizes[-1])
        """
        a = self._check_X(X)
        caches = []
        for i in range(1, self.n_layers + 1):
            z, lin = layers.linear_forward(a, self.params[f"W{i}"], self.params[f"b{i}"])
            if i == self.n_layers:
                caches.append((lin, None, None))
                a = z
            else:
                a, act = layers.activation_forward(z, self.activation)
                a, drop = layers.dropout_forward(a, self.dropout, training, self.rng)
                caches.append((lin, act, drop))
        self._caches = caches
        self._loss_cache = None
        return a

    def _penalty(self) -> float:
        """λ₂ Σ W² + λ₁ Σ |W| over the weight matrices (biases are not penalised)."""
        total = 0.0
        for i in range(1, self.n_layers + 1):
            W = self.params[f"W{i}"]
            if self.weight_decay:
                total += self.weight_decay * float(np.vdot(W, W))
            if self.l1:
                total += self.l1 * float(np.abs(W).sum())
        return total

    def loss(self, X, y, training=True):
        """Forward pass and loss (data term + penalties); keeps what :meth:`backward` needs.

        Parameters
        ----------
        X : ndarray of shape (n_samples, layer_sizes[0])
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Class indices (softmax output), or targets (linear output; (n_samples,) for one output).
        training : bool, default True
            Apply dropout.

        Returns
        -------
        float
            Mean cross-entropy (weighted by ``class_weight`` if given) or mean squared error over
            the batch, plus the penalties.
        """
        out = self.forward(X, training=training)
        if self.output == "softmax" and self.class_weight is not None:
            data_loss = cross_entropy(out, y, weight=self.class_weight)
            self._loss_cache = ("weighted", out, y)
        elif self.output == "softmax":
            data_loss, self._loss_cache = layers.softmax_cross_entropy_forward(out, y)
        else:
            data_loss, self._loss_cache = layers.mse_forward(out, y)
        return data_loss + self._penalty()

    def backward(self):
        """Fill :attr:`grads` with ∂loss/∂parameter for the last :meth:`loss` call.

        Returns
        -------
        dict of str to ndarray
            :attr:`grads`.
        """
        if self._loss_cache is None:
            raise RuntimeError("call loss(X, y) right before backward(): a forward pass since then "
                               "(predict, forward) replaced what backward() needs")
        if self.output == "softmax" and self.class_weight is not None:
            _, out, y = self._loss_cache
            d = cross_entropy_grad(out, y, weight=self.class_weight)
        elif self.output == "softmax":
            d = layers.softmax_cross_entropy_backward(self._loss_cache)
        else:
            d = layers.mse_backward(self._loss_cache)
        for i in range(self.n_layers, 0, -1):
            lin, act, drop = self._caches[i - 1]
            if act is not None:
                d = layers.dropout_backward(d, drop)
                d = layers.activation_backward(d, act)
            d, dW, db = layers.linear_backward(d, lin)
            W = self.params[f"W{i}"]
            if self.weight_decay:
                dW += (2.0 * self.weight_decay) * W
            if self.l1:
                dW += self.l1 * np.sign(W)  # the subgradient 0 at W = 0
            self.grads[f"W{i}"] = dW
            self.grads[f"b{i}"] = db
        return self.grads

    def predict_proba(self, X):
        """Class probabilities softmax(Z) (``output="softmax"`` only; no dropout).

        Parameters
        ----------
        X : ndarray of shape (n_samples, layer_sizes[0])

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Non-negative rows that sum to 1.
        """
        if self.output != "softmax":
            raise ValueError("predict_proba needs output='softmax'")
        return softmax(self.forward(X), dim=1)

    def predict(self, X):
        """Predicted class indices (softmax output) or values (linear output); no dropout.

        Parameters
        ----------
        X : ndarray of shape (n_samples, layer_sizes[0])

        Returns
        -------
        ndarray of shape (n_samples,)
            Class indices, or the predicted values for a single linear output.
            For several linear outputs, shape (n_samples, n_outputs).
        """
        out = self.forward(X)
        if self.output == "softmax":
            return out.argmax(axis=1)
        return out[:, 0] if out.shape[1] == 1 else out

    def __repr__(self):
        return (f"MLP({self.layer_sizes}, activation={self.activation!r}, output={self.output!r}, "
                f"n_params={self.n_params})")
