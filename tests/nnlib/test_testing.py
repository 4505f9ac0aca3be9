"""nnlib.testing: the ``quiet`` / ``strict`` helpers every assignment's test cells use, and the
``warnings_to_stdout`` call of every setup cell.

The helpers live in one place: each assignment's setup cell imports them, and no notebook defines
its own copy (a fix to one copy would miss the others).
"""

from __future__ import annotations

import warnings

import nbformat
import numpy as np
import pytest
from coursekit import REPO

from nnlib.testing import describe_quadratic, quiet, strict

NOTEBOOKS = sorted(list((REPO / "solutions").glob("*/*.ipynb"))
                   + list((REPO / "exercises").glob("*/*.ipynb")))


def test_quiet_silences_floating_point_and_python_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # anything that escapes fails the test
        with quiet():
            assert np.isinf(np.exp(np.float64(1000.0)))
            assert np.isnan(np.float64(0.0) / np.float64(0.0))
            warnings.warn("harmless", UserWarning, stacklevel=1)


def test_strict_fails_with_the_message_and_the_warning():
    with (pytest.raises(AssertionError, match=r"^sigmoid\(-1000\) overflowed.*\[overflow"),
          strict("sigmoid(-1000) overflowed: compute it without exp of a large positive number")):
        np.exp(np.float64(1000.0))
    with (pytest.raises(AssertionError, match=r"^no nan please \[invalid"),
          strict("no nan please")):
        np.float64(0.0) / np.float64(0.0)
    with (pytest.raises(AssertionError, match=r"^no warnings \[careful\]"),
          strict("no warnings")):
        warnings.warn("careful", RuntimeWarning, stacklevel=1)


def test_strict_turns_any_warning_into_the_message():
    # A student's own UserWarning inside a stability test fails with the test's message too, not
    # as a bare UserWarning the student has to decode.
    with (pytest.raises(AssertionError, match=r"^stay quiet \[my own warning\]"),
          strict("stay quiet")):
        warnings.warn("my own warning", UserWarning, stacklevel=1)


def test_strict_allows_underflow_and_keeps_other_errors():
    with strict("underflow is harmless"):
        assert np.exp(np.float64(-1000.0)) == 0.0
    with pytest.raises(KeyError), strict("unused"):  # not an assertion: only warnings are
        {}["missing"]


def test_strict_needs_a_message():
    with pytest.raises(TypeError, match="message"), strict(None):
        pass


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO)))
def test_assignments_import_the_helpers_instead_of_defining_them(path):
    nb = nbformat.read(path, as_version=4)
    setup = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup"]
    assert setup, f"{path.name} has no setup cell"
    assert "from nnlib.testing import quiet, strict, warnings_to_stdout" in setup[0].source, (
        f"{path.name}'s setup cell must import quiet, strict and warnings_to_stdout "
        "from nnlib.testing")
    # nbgrader scores a test cell 0 for any stderr: without the call, a warning that correct code
    # gives outside quiet() costs the points of the test it happens in.
    calls = [line for line in setup[0].source.splitlines()
             if line.strip() == "warnings_to_stdout()"]
    assert calls, f"{path.name}'s setup cell must call warnings_to_stdout() (not only import it)"
    copies = [c.metadata.get("nbgrader", {}).get("grade_id") or c.get("id") for c in nb.cells
              if c.cell_type == "code" and ("def quiet(" in c.source or "def strict(" in c.source)]
    assert not copies, f"{path.name} defines its own quiet/strict in {copies}"


def test_warnings_to_stdout_shows_warnings_on_stdout_not_stderr(capsys):
    from nnlib.testing import PREFIX, warnings_to_stdout

    saved = warnings.showwarning
    try:
        warnings_to_stdout()
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("step size is large", UserWarning, stacklevel=1)
            np.exp(np.float64(1000.0))  # NumPy's RuntimeWarning goes the same way
    finally:
        warnings.showwarning = saved
    out, err = capsys.readouterr()
    assert err == "", f"a warning still reached stderr: {err!r}"
    assert out.count(PREFIX) == 2, out
    assert "UserWarning: step size is large" in out and "overflow encountered in exp" in out


def test_warnings_to_stdout_leaves_strict_alone():
    from nnlib.testing import warnings_to_stdout

    saved = warnings.showwarning
    try:
        warnings_to_stdout()
        with (pytest.raises(AssertionError, match=r"^no warnings \[careful\]"),
              strict("no warnings")):
            warnings.warn("careful", RuntimeWarning, stacklevel=1)
    finally:
        warnings.showwarning = saved


# describe_quadratic -----------------------------------------------------------------------------
QX = np.random.default_rng(3).uniform(-3, 3, size=(50, 2))


@pytest.mark.parametrize(("coef", "text"), [
    ((0.5, 0.5, 0, 0, 0, 0), "0.5 X1**2 + 0.5 X2**2"),
    ((0, 0, 4, 0, 0, 0), "4 X1 * X2"),
    ((1, -1, 0, 0, 0, 0), "X1**2 - X2**2"),
    ((-1, 0, 0, 2, 0, 0.25), "-X1**2 + 2 X1 + 0.25"),
    ((0, 0, 0, 0, -3, -1), "-3 X2 - 1"),
    ((0, 0, 0, 0, 0, 0), "0"),
])
def test_describe_quadratic_names_each_term_of_the_polynomial(coef, text):
    x1, x2 = QX[:, 0], QX[:, 1]
    f = np.column_stack([x1 ** 2, x2 ** 2, x1 * x2, x1, x2, np.ones_like(x1)]) @ np.array(coef)
    assert describe_quadratic(QX, f) == text


def test_describe_quadratic_of_a_network_with_square_activation():
    """The slide's product network computes X1 * X2 up to rounding: no spurious tiny terms."""
    x1, x2 = QX[:, 0], QX[:, 1]
    f = 0.25 * (x1 + x2) ** 2 - 0.25 * (x1 - x2) ** 2
    assert describe_quadratic(QX, f) == "X1 * X2"


@pytest.mark.parametrize("f", [np.exp(QX[:, 0]), QX[:, 0] ** 3,
                               np.where(QX[:, 0] > 0, 1.0, np.nan)])
def test_describe_quadratic_is_none_for_what_no_quadratic_fits(f):
    assert describe_quadratic(QX, f) is None


@pytest.mark.parametrize(("X", "f", "name"), [
    (QX[:, 0], QX[:, 0], "X"),
    (np.ones((5, 2)), np.ones(5), "X"),
    (np.ones((10, 3)), np.ones(10), "X"),
    (QX, QX[:10, 0], "f"),
    (QX, QX, "f"),
])
def test_describe_quadratic_rejects_shapes_by_name(X, f, name):
    with pytest.raises(ValueError, match=rf"^{name} must have shape"):
        describe_quadratic(X, f)
