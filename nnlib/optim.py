"""Optimisers: the update θ ← θ − ρ ∇R(θ) of the lecture, and two refinements.

:class:`SGD` is plain gradient descent with an optional momentum; :class:`Adam` adapts the step of
every parameter ("slow (or adaptive) learning" on the slides). Both update a dict of parameter
arrays in place from a dict of gradients with the same keys.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_number

__all__ = ["SGD", "Adam"]


def _check_params(params):
    if not isinstance(params, dict) or not params:
        raise TypeError("params must be a non-empty dict of name -> ndarray, got "
                        f"{type(params).__name__}")
    for k, p in params.items():
        if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
            raise TypeError(f"params[{k!r}] must be a float ndarray (updated in place), "
                            f"got {type(p).__name__}")
    return params


def _check_grads(params, grads):
    missing = set(params) - set(grads)
    if missing:
        raise ValueError(f"grads is missing {sorted(missing)}")
    for k in params:
        if np.shape(grads[k]) != np.shape(params[k]):
            raise ValueError(f"grads[{k!r}] has shape {np.shape(grads[k])}, "
                             f"the parameter {np.shape(params[k])}")


class SGD:
    """Stochastic gradient descent θ ← θ − ρ g, with momentum v ← μ v + g, θ ← θ − ρ v.

    Parameters
    ----------
    params : dict of str to ndarray
        Updated in place.
    lr : float
        The learning rate ρ > 0.
    momentum : float in [0, 1), default 0.0
    """

    def __init__(self, params, lr, momentum=0.0):
        self.params = _check_params(params)
        self.lr = check_number(lr, "lr", positive=True)
        self.momentum = check_number(momentum, "momentum", nonnegative=True)
        if self.momentum >= 1:
            raise ValueError(f"momentum must be below 1, got {momentum}")
        self.velocity = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, grads):
        """Apply one update from ``grads`` (same keys and shapes as ``params``)."""
        _check_grads(self.params, grads)
        for k, p in self.params.items():
            if self.momentum:
                v = self.velocity[k]
                v *= self.momentum
                v += grads[k]
                p -= self.lr * v
            else:
                p -= self.lr * grads[k]


class Adam:
    """Adam: per-parameter steps from running means of the gradient and its square.

    Parameters
    ----------
    params : dict of str to ndarray
        Updated in place.
    lr : float, default 1e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params = _check_params(params)
        self.lr = check_number(lr, "lr", positive=True)
        self.beta1, self.beta2 = (check_number(b, "betas") for b in betas)
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        self.eps = check_number(eps, "eps", positive=True)
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, grads):
        """Apply one update from ``grads`` (same keys and shapes as ``params``)."""
        _check_grads(self.params, grads)
        self.t += 1
        c1 = 1 - self.beta1**self.t
        c2 = 1 - self.beta2**self.t
        for k, p in self.params.items():
            g, m, v = grads[k], self.m[k], self.v[k]
            m *= self.beta1  # running mean of g (in place: no new arrays per step)
            m += (1 - self.beta1) * g
            v *= self.beta2  # running mean of g²
            v += (1 - self.beta2) * (g * g)
            p -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)
