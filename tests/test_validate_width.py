"""`nbgrader validate` shows a test's hint whole.

nbgrader's validator cuts every line of a failed cell's code and error at ``Validator.width``
characters (90 by default), so the course's hints, one line of a few hundred characters, ended
mid-sentence ("subtract each row's maximu..."). The course's configuration (grader_config.py, which
nbgrader_config.py loads) widens it; here `nbgrader validate`, run from the course root as an
instructor or a student on the command line would, prints a hint of more than 90 characters whole.
The browser's Validate dialog is checked in tests/e2e/test_validate_hint.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from coursekit import BIN, REPO

SAMPLE = REPO / "samples" / "submitted" / "sample-global-max" / "02_single_layer" / "single_layer.ipynb"
HINT = ("AssertionError: softmax is not stable: every row works alone, but not in a batch: the "
        "constant you subtract is shared by the whole batch (Z.max()), so in a row far below it every "
        "exp underflows to 0 and the row is 0/0; subtract each row's own maximum")


def test_nbgrader_validate_prints_a_long_hint_whole(tmp_path):
    assert len(HINT) > 90
    notebook = tmp_path / SAMPLE.name
    shutil.copy(SAMPLE, notebook)
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", MPLBACKEND="Agg")
    out = subprocess.run([str(BIN / "nbgrader"), "validate", str(notebook)], cwd=REPO, env=env,
                         text=True, capture_output=True, timeout=300, check=False).stdout
    assert "VALIDATION FAILED" in out, out
    lines = [line.strip() for line in out.splitlines() if "softmax is not stable" in line]
    assert any(line.startswith(HINT) for line in lines), (
        f"the hint is not printed whole; its line(s):\n" + "\n".join(lines))
