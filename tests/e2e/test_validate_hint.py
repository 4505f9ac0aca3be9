"""A test's hint reaches the student whole in JupyterLab's Validate dialog.

nbgrader's Validate cut each line of an error at 90 characters (``Validator.width``), so the
course's hints, single lines of a few hundred characters, ended mid-sentence. Here a student's 02
notebook whose softmax subtracts one maximum for the whole batch is validated with the toolbar
button in headless Chromium: the dialog must hold the whole hint (longer than 90 characters), and
every line of it must lie inside the dialog: the dialog does not wrap long lines, so the test cells
break their messages into short lines (nnlib.testing.hint). (`nbgrader validate`, the same check on
the command line, is covered in tests/test_validate_width.py.)
"""

from __future__ import annotations

import shutil

import pytest

pytestmark = pytest.mark.e2e

EXERCISE = "exercises/02_single_layer/single_layer.ipynb"
SAMPLE = "samples/submitted/sample-global-max/02_single_layer/single_layer.ipynb"
HINT = ("every row works alone, but not in a batch: the constant you subtract is shared by the "
        "whole batch (Z.max()), so in a row far below it every exp underflows to 0 and the row is "
        "0/0; subtract each row's own maximum")

# The screen rectangles of the hint's text (its words in order, whatever the line breaks between
# them), and of the dialog, to check that no part of the hint lies outside what the dialog shows (a
# <pre> does not wrap: a line longer than the dialog runs off its right edge).
HINT_BOXES = """([words, selector]) => {
  const dialog = document.querySelector(selector);
  const pattern = new RegExp(
    words.map(w => w.replace(/[.*+?^${}()|[\\]\\\\]/g, '\\\\$&')).join('\\\\s+'));
  const walker = document.createTreeWalker(dialog, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const match = pattern.exec(node.textContent);
    if (!match) continue;
    const range = document.createRange();
    range.setStart(node, match.index);
    range.setEnd(node, match.index + match[0].length);
    const box = dialog.getBoundingClientRect();
    return {dialog: {left: box.left, right: box.right},
            lines: [...range.getClientRects()].map(r => ({left: r.left, right: r.right}))};
  }
  return null;
}"""


def test_validate_dialog_shows_a_long_hint_whole(page, lab, course, shot):
    from test_course_in_browser import open_notebook, screenshot_at_end, validate

    assert len(HINT) > 90
    shutil.copy(course / SAMPLE, course / EXERCISE)  # the student's work, as they saved it
    with screenshot_at_end(shot, page, "student_validate_long_hint"):
        nb = open_notebook(page, lab, EXERCISE)
        dialog = validate(page, nb)
        text = dialog.inner_text()
        assert dialog.locator(".validation-failed").count() == 1, text
        assert HINT in " ".join(text.split()), (
            f"the dialog does not show the whole hint:\n{text}")
        boxes = page.evaluate(HINT_BOXES, [HINT.split(), ".jp-Dialog-content"])
        assert boxes and boxes["lines"], "the hint is not one text in the dialog"
        left, right = boxes["dialog"]["left"] - 1, boxes["dialog"]["right"] + 1
        outside = [r for r in boxes["lines"] if r["left"] < left or r["right"] > right]
        assert not outside, (f"part of the hint lies outside the dialog {boxes['dialog']}: "
                             f"{outside} (a line too long for the dialog and not wrapped)")
