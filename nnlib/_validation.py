"""Argument checks shared by nnlib's modules.

Every public function turns its inputs into float64 arrays through :func:`as_float_array`, so that a
wrong input fails at the call with a message that names the argument, instead of deep inside NumPy.
"""

from __future__ import annotations

import numbers

import numpy as np

REDUCTIONS = ("none", "mean", "sum")


def as_float_array(x, name: str) -> np.ndarray:
    """Return ``x`` as a float64 ndarray, or raise ``TypeError`` naming ``name``.

    Parameters
    ----------
    x : scalar, array_like or torch.Tensor
        Numbers (bool, int, float); a torch tensor is detached and copied to the CPU.
    name : str
        The argument's name, used in the error message.

    Returns
    -------
    ndarray of float64, same shape as ``x``
    """
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be numeric, got a string {x!r}")
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be numeric array-like: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric (bool, int or float), got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def as_int_array(x, name: str) -> np.ndarray:
    """Return integer class labels ``x`` as an int64 ndarray, or raise naming ``name``."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class indices, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def check_reduction(reduction: str, allowed=REDUCTIONS) -> str:
    """Raise ``ValueError`` unless ``reduction`` is one of ``allowed``; return it."""
    if not isinstance(reduction, str) or reduction not in allowed:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, allowed))}, "
                         f"got {reduction!r}")
    return reduction


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` when two arrays that must match elementwise do not."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, "
                         f"got {a.shape} and {b.shape}")


def check_number(x, name: str, *, positive: bool = False, nonnegative: bool = False) -> float:
    """Return ``x`` as a float; raise ``TypeError``/``ValueError`` naming ``name``."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    x = float(x)
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x}")
    if positive and x <= 0:
        raise ValueError(f"{name} must be positive, got {x}")
    if nonnegative and x < 0:
        raise ValueError(f"{name} must be non-negative, got {x}")
    return x


def reduce(values: np.ndarray, reduction: str):
    """Apply ``'none'``, ``'mean'`` or ``'sum'`` to elementwise loss values."""
    if reduction == "none":
        return values
    if reduction == "sum":
        return float(np.sum(values))
    return float(np.mean(values)) if values.size else float("nan")
