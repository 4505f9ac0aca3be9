"""`nbgrader validate` shows a test's message whole.

nbgrader's validator cuts every line of a failed cell's code and error at ``Validator.width``
characters (90 by default), so hints written as one line of a few hundred characters ended
mid-sentence ("subtract each row's maximu..."). The course's configuration (grader_config.py, which
nbgrader_config.py loads) widens it; here `nbgrader validate`, run from the course root as an
instructor or a student on the command line would, prints a one-line message of more than 90
characters whole, and the wrapped hint of a real sample too. The browser's Validate dialog is
checked in tests/e2e/test_validate_hint.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nbformat
from coursekit import BIN, REPO

SAMPLE = (REPO / "samples" / "submitted" / "sample-global-max" / "02_single_layer"
          / "single_layer.ipynb")
SAMPLE_HINT = ("AssertionError: softmax is not stable: every row works alone, but not in a batch: "
               "the constant you subtract is shared by the whole batch (Z.max()), so in a row far "
               "below it every exp underflows to 0 and the row is 0/0; subtract each row's own "
               "maximum")
LONG = ("this message is one line of more than ninety characters, as many tests in the course "
        "write them, and it must reach the student whole, down to its last word: end")


def validate(notebook: Path) -> str:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", MPLBACKEND="Agg")
    return subprocess.run([str(BIN / "nbgrader"), "validate", str(notebook)], cwd=REPO, env=env,
                          text=True, capture_output=True, timeout=300, check=False).stdout


def test_nbgrader_validate_prints_a_one_line_message_whole(tmp_path):
    assert len(LONG) > 90
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"assert 1 + 1 == 3, {LONG!r}")]
    nb.cells[0].metadata["nbgrader"] = {"grade": True, "grade_id": "test_long", "locked": False,
                                        "points": 1, "schema_version": 3, "solution": False,
                                        "task": False}
    nbformat.write(nb, tmp_path / "long.ipynb")
    out = validate(tmp_path / "long.ipynb")
    assert "VALIDATION FAILED" in out, out
    assert f"AssertionError: {LONG}" in out, f"the message is not printed whole:\n{out}"


def test_nbgrader_validate_prints_a_samples_hint_whole(tmp_path):
    shutil.copy(SAMPLE, tmp_path / SAMPLE.name)
    out = validate(tmp_path / SAMPLE.name)
    assert "VALIDATION FAILED" in out, out
    assert SAMPLE_HINT in " ".join(out.split()), f"the hint is not printed whole:\n{out}"
