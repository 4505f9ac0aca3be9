"""Argument checks shared by nnlib's modules.

A function that receives the wrong thing should say so at the call, in words that name the argument
("target must hold labels -1 or +1 only"), instead of failing three frames deep inside NumPy or,
worse, returning a silently wrong number. Every public nnlib function therefore passes its inputs
through the small helpers below before computing anything:

======================  ==========================================================================
:func:`as_float_array`  numbers (or a torch tensor) -> float64 ndarray, ``TypeError`` otherwise
:func:`as_int_array`    class labels -> int64 ndarray, ``TypeError`` for non-integers
:func:`check_number`    a real scalar hyper-parameter (``lr``, ``beta``, ``margin``, ...)
:func:`check_reduction` ``'none'``, ``'mean'`` or ``'sum'`` (or another allowed set)
:func:`check_same_shape` two arrays that are compared elementwise
:func:`reduce`          applies a reduction to elementwise loss values
======================  ==========================================================================

The module is private (leading underscore) because students never call it, but the other nnlib
modules import it, e.g. ``from ._validation import as_float_array, check_reduction``.
"""

from __future__ import annotations

import numbers

import numpy as np

#: The reductions of ``torch.nn.functional``'s losses.
REDUCTIONS = ("none", "mean", "sum")


def _to_numpy(x):
    """A torch tensor (recognised without importing torch) as a NumPy array; anything else as is."""
    if hasattr(x, "detach") and hasattr(x, "cpu") and hasattr(x, "numpy"):
        return x.detach().cpu().numpy()
    return x


def as_float_array(x, name: str) -> np.ndarray:
    """Return ``x`` as a float64 ndarray, or raise ``TypeError`` naming ``name``.

    Parameters
    ----------
    x : scalar, array_like or torch.Tensor
        Numbers (bool, int or float, any shape). A torch tensor is detached and copied to the CPU.
    name : str
        The argument's name, used in the error message.

    Returns
    -------
    ndarray of float64, same shape as ``x``
        Not necessarily a copy: a float64 array comes back as the same object, so callers must not
        write into the result.

    Raises
    ------
    TypeError
        For strings, ``None``, objects, complex numbers and ragged nested lists.

    Examples
    --------
    >>> as_float_array([1, 2], "z")
    array([1., 2.])
    >>> as_float_array("1.0", "z")
    Traceback (most recent call last):
    ...
    TypeError: z must be numeric, got a string '1.0'
    """
    x = _to_numpy(x)
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be numeric, got a string {x!r}")
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be a numeric array-like, got {type(x).__name__}: "
                        f"{exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric (bool, int or float), got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def as_int_array(x, name: str) -> np.ndarray:
    """Return class labels ``x`` as an int64 ndarray, or raise ``TypeError`` naming ``name``.

    Floats that are whole numbers (``[0.0, 2.0]``) are accepted and converted, since labels often
    arrive as floats from a data file.

    Parameters
    ----------
    x : int, array_like of int or torch.Tensor
    name : str
        The argument's name, used in the error message.

    Returns
    -------
    ndarray of int64, same shape as ``x``

    Raises
    ------
    TypeError
        For non-integer floats, booleans, strings and other non-integer data.
    """
    x = _to_numpy(x)
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must hold integer class indices, got a string {x!r}")
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must hold integer class indices: {exc}") from None
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class indices, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def check_reduction(reduction, allowed=REDUCTIONS) -> str:
    """Return ``reduction`` if it is one of ``allowed``, else raise ``ValueError`` naming it.

    Parameters
    ----------
    reduction : str
        The requested reduction, e.g. ``'mean'``.
    allowed : tuple of str, default ``('none', 'mean', 'sum')``
        The valid choices (``kl_div`` adds ``'batchmean'``).

    Returns
    -------
    str
        ``reduction`` itself.

    Examples
    --------
    >>> check_reduction("avg")
    Traceback (most recent call last):
    ...
    ValueError: reduction must be one of 'none', 'mean', 'sum', got 'avg'
    """
    if not isinstance(reduction, str) or reduction not in allowed:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, allowed))}, "
                         f"got {reduction!r}")
    return reduction


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` naming both arguments when two arrays' shapes differ.

    PyTorch broadcasts e.g. an (N, 1) input against an (N,) target with only a warning, and the
    result is an (N, N) matrix of pairwise errors: a silent bug. nnlib refuses instead.

    Parameters
    ----------
    a, b : ndarray
    name_a, name_b : str
        Their argument names, used in the message.
    """
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, "
                         f"got {a.shape} and {b.shape}")


def check_number(x, name: str, *, positive: bool = False, nonnegative: bool = False) -> float:
    """Return a finite real scalar ``x`` as a float; raise naming ``name`` otherwise.

    Parameters
    ----------
    x : int or float (NumPy scalars included; not bool)
    name : str
        The argument's name, used in the message.
    positive : bool, default False
        Also require ``x > 0``.
    nonnegative : bool, default False
        Also require ``x >= 0``.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``x`` is not a real number (a bool, a string, an array, ...).
    ValueError
        If ``x`` is infinite or NaN, or violates ``positive``/``nonnegative``.
    """
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
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
    """Apply a reduction to elementwise loss values.

    Parameters
    ----------
    values : ndarray of any shape
        One loss value per element.
    reduction : {'none', 'mean', 'sum'}
        Assumed already checked by :func:`check_reduction`.

    Returns
    -------
    ndarray (``'none'``, ``values`` unchanged) or float
        The mean of an empty array is NaN, as in PyTorch.
    """
    if reduction == "none":
        return values
    if reduction == "sum":
        return float(np.sum(values))
    return float(np.mean(values)) if values.size else float("nan")
