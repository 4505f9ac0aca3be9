"""Context managers for the assignments' test cells: when a floating-point warning matters.

nbgrader counts any output on stderr in a test cell as a failure, so a warning from correct code
(``exp`` overflowing inside a test's own reference formula, say) would cost points. Test cells wrap
their checks in :func:`quiet` where warnings are not the point, and in :func:`strict` where they
are (a stability question), so that the failure says what to fix::

    from nnlib.testing import quiet, strict

    with strict("sigmoid(-1000) overflowed: compute it without exp of a large positive number"):
        sigmoid(np.array([-1000.0]))

A warning that escapes both (a ``UserWarning`` that correct code issues on purpose, say) is not a
wrong answer: the setup cell calls :func:`warnings_to_stdout`, so such a warning is still shown but
no longer lands on stderr, and the test keeps its points. An error still fails the test.
"""

from __future__ import annotations

import sys
import textwrap
import warnings
from contextlib import contextmanager

import numpy as np

__all__ = ["describe_quadratic", "hint", "quiet", "strict", "warnings_to_stdout"]


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
            except (FloatingPointError, Warning) as err:
                raise AssertionError(f"{message} [{err}]") from None


#: What a warning shown by :func:`warnings_to_stdout` starts with.
PREFIX = "Warning (shown, not counted as a failure): "


def _show_on_stdout(message, category, filename, lineno, file=None, line=None):
    text = warnings.formatwarning(message, category, filename, lineno, line)
    sys.stdout.write(f"{PREFIX}{text}")


def warnings_to_stdout():
    """Show Python warnings on stdout instead of stderr, for the rest of the session.

    nbgrader scores a test cell 0 when it writes anything to stderr, so a warning that correct code
    issues (a ``UserWarning`` of its own, a ``RuntimeWarning`` of a test's reference formula) would
    cost the points of the test it happens in. Every assignment's setup cell calls this: a warning
    is still shown, on stdout with a prefix that says it does not count, while an exception (a
    failed ``assert``, an error in the answer) still fails the test. :func:`strict` is unaffected:
    inside it a warning is an error.

    Returns
    -------
    None

    Examples
    --------
    >>> import sys, warnings
    >>> saved = warnings.showwarning
    >>> warnings_to_stdout()
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("always")
    ...     warnings.warn("step size is large", UserWarning)  # doctest: +ELLIPSIS
    Warning (shown, not counted as a failure): ...UserWarning: step size is large...
    >>> warnings.showwarning = saved
    """
    warnings.showwarning = _show_on_stdout


def hint(message, width=76):
    """``message`` broken at spaces into lines of at most ``width`` characters, for a test's assert.

    JupyterLab's Validate dialog shows a failed test's error in a box that does not wrap long lines,
    so a one-line hint of a few hundred characters runs off its right edge. Test cells write
    ``assert ok, hint(f"...")``: each line of the message (a printed array keeps its own lines) is
    wrapped, and words are never split.

    Parameters
    ----------
    message : str
        The hint.
    width : int, default 76
        The longest line, in characters (the first line follows ``AssertionError: ``).

    Returns
    -------
    str

    Raises
    ------
    TypeError
        If ``message`` is not a string or ``width`` not a positive int.

    Examples
    --------
    >>> print(hint("the gradients of W1, b1 do not match central differences; "
    ...            "those of W2, b2 do", width=40))
    the gradients of W1, b1 do not match
    central differences; those of W2, b2 do
    """
    if not isinstance(message, str):
        raise TypeError(f"message must be a str, got {type(message).__name__}")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise TypeError(f"width must be a positive int, got {width!r}")
    return "\n".join(textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False)
                     if line.strip() else line for line in message.split("\n"))


_TERMS = ("X1**2", "X2**2", "X1 * X2", "X1", "X2", "")


def describe_quadratic(X, f, digits=3):
    """The quadratic polynomial of two inputs that ``f`` equals on ``X``, as text, or ``None``.

    With g(z) = z**2 a single-layer network of two inputs computes a quadratic polynomial of X1 and
    X2, whatever its weights. A test whose target is such a polynomial can then tell a student what
    their weights compute ("0.5 X1**2 + 0.5 X2**2") instead of only how far off it is.

    Parameters
    ----------
    X : array_like of shape (n_samples, 2)
        The inputs; at least 6 samples in general position.
    f : array_like of shape (n_samples,)
        The values at ``X``.
    digits : int, default 3
        Significant digits of each coefficient.

    Returns
    -------
    str or None
        The polynomial, terms with coefficients below 1e-9 (relative) left out ("0" if all are),
        or ``None`` if no quadratic polynomial fits ``f`` (or ``f`` is not finite).

    Raises
    ------
    ValueError
        If ``X`` is not of shape (n_samples, 2) with at least 6 samples, or ``f`` not of shape
        (n_samples,).

    Examples
    --------
    >>> X = np.random.default_rng(0).uniform(-3, 3, size=(20, 2))
    >>> describe_quadratic(X, 0.5 * X[:, 0] ** 2 + 0.5 * X[:, 1] ** 2)
    '0.5 X1**2 + 0.5 X2**2'
    >>> describe_quadratic(X, 4 * X[:, 0] * X[:, 1] - 1)
    '4 X1 * X2 - 1'
    >>> describe_quadratic(X, np.exp(X[:, 0])) is None
    True
    """
    X = np.asarray(X, dtype=float)
    f = np.asarray(f, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] < 6:
        raise ValueError(f"X must have shape (n_samples, 2) with n_samples >= 6, got {X.shape}")
    if f.shape != (X.shape[0],):
        raise ValueError(f"f must have shape ({X.shape[0]},) like X's rows, got {f.shape}")
    if not np.all(np.isfinite(f)):
        return None
    x1, x2 = X[:, 0], X[:, 1]
    design = np.column_stack([x1 ** 2, x2 ** 2, x1 * x2, x1, x2, np.ones_like(x1)])
    coef, *_ = np.linalg.lstsq(design, f, rcond=None)
    if not np.allclose(design @ coef, f, rtol=1e-7, atol=1e-9 * max(1.0, np.abs(f).max())):
        return None
    scale = max(np.abs(coef).max(), 1e-300)
    text = ""
    for c, term in zip(coef, _TERMS, strict=True):
        if abs(c) <= 1e-9 * scale:
            continue
        number = f"{abs(c):.{digits}g}"
        if term and number == "1":
            number = ""
        body = f"{number} {term}".strip()
        text += (" - " if c < 0 else " + ") + body if text else ("-" if c < 0 else "") + body
    return text or "0"
