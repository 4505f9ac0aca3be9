"""Context managers for the assignments' test cells: when a floating-point warning matters.

nbgrader counts any output on stderr in a test cell as a failure, so a warning from correct code
(``exp`` overflowing inside a test's own reference formula, say) would cost points. Test cells wrap
their checks in :func:`quiet` where warnings are not the point, and in :func:`strict` where they
are (a stability question), so that the failure says what to fix::

    from nnlib.testing import quiet, strict

    with strict("sigmoid(-1000) overflowed: compute it without exp of a large positive number"):
        sigmoid(np.array([-1000.0]))
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np

__all__ = ["quiet", "strict"]


@contextmanager
def quiet():
    """Run a block with warnings and NumPy's floating-point warnings silenced.

    Examples
    --------
    >>> import numpy as np
    >>> with quiet():
    ...     float(np.exp(np.float64(1000.0)))
    inf
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            yield


@contextmanager
def strict(message):
    """Run a block in which an overflow, an invalid value or any warning fails with ``message``.

    Underflow to 0 is harmless and allowed.

    Parameters
    ----------
    message : str
        What the student should fix; the ``AssertionError`` raised ends with the original
        warning in brackets.

    Raises
    ------
    TypeError
        If ``message`` is not a string.
    AssertionError
        If the block overflows, computes an invalid value or warns.

    Examples
    --------
    >>> import numpy as np
    >>> with strict("exp overflowed"):
    ...     float(np.exp(np.float64(1000.0)))
    Traceback (most recent call last):
    ...
    AssertionError: exp overflowed [overflow encountered in exp]
    >>> with strict("underflow is fine"):
    ...     float(np.exp(np.float64(-1000.0)))
    0.0
    """
    if not isinstance(message, str):
        raise TypeError(f"message must be a str, got {type(message).__name__}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            try:
                yield
            except (FloatingPointError, RuntimeWarning) as err:
                raise AssertionError(f"{message} [{err}]") from None
