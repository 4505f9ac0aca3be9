"""The course's late policy (grader/late.py) and feedback cleaner (grader/feedback.py) alone."""

from __future__ import annotations

import nbformat
import pytest
from traitlets.config import Config

from grader.feedback import HIDDEN_NOTE, HideHiddenTests
from grader.late import PerDayLatePenalty, penalty


@pytest.mark.parametrize("seconds, expected", [
    (0, 0.0), (14 * 60, 0.0),            # on time, and inside the grace period
    (16 * 60, 2.0),                      # one started day: 10 % of 20
    (86400, 2.0), (86400 + 1, 4.0),      # a day exactly, then a second started day
    (6 * 86400 + 1, 14.0),               # seven started days: 70 %
    (7 * 86400, 20.0), (400 * 86400, 20.0),  # from the cut-off on: everything
])
def test_per_day_penalty(seconds, expected):
    assert penalty(20.0, seconds) == pytest.approx(expected)


def test_penalty_never_exceeds_the_score_nor_goes_negative():
    assert penalty(3.0, 20 * 86400) == 3.0
    assert penalty(0.0, 3 * 86400) == 0.0
    assert penalty(5.0, 3 * 86400, fraction_per_day=0.5) == 5.0


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="seconds_late"):
        penalty(1.0, -1)
    with pytest.raises(TypeError, match="score"):
        penalty(None, 10)


def test_the_plugin_reads_grader_config():
    """The numbers in grader_config.py are the ones nbgrader's AssignLatePenalties uses."""
    from grader.course import REPO, nbgrader_config

    cfg = nbgrader_config(REPO)
    assert cfg.AssignLatePenalties.plugin_class == "grader.late.PerDayLatePenalty"
    plugin = PerDayLatePenalty(config=cfg)
    assert plugin.late_submission_penalty("s", 10.0, 2 * 86400 + 5) == pytest.approx(
        10.0 * 3 * cfg.PerDayLatePenalty.fraction_per_day)


def test_the_plugin_keeps_nbgraders_own_methods():
    cfg = Config()
    cfg.PerDayLatePenalty.penalty_method = "zero"
    assert PerDayLatePenalty(config=cfg).late_submission_penalty("s", 7.0, 60) == 7.0
    cfg.PerDayLatePenalty.penalty_method = "none"
    assert PerDayLatePenalty(config=cfg).late_submission_penalty("s", 7.0, 60) is None


def test_plugin_rejects_a_bad_configuration():
    cfg = Config()
    cfg.PerDayLatePenalty.fraction_per_day = 1.5
    with pytest.raises(Exception, match="fraction_per_day"):
        PerDayLatePenalty(config=cfg)


def _test_cell(source, outputs=()):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "t", "points": 1}
    cell.outputs = list(outputs)
    return cell


def test_feedback_hides_hidden_tests_and_their_traceback():
    error = nbformat.v4.new_output("error", ename="AssertionError", evalue="tanh(3) is wrong",
                                   traceback=["Traceback", "  assert secret_check(3)", "boom"])
    cell = _test_cell("assert f(0) == 0\n### BEGIN HIDDEN TESTS\nassert secret_check(3)\n"
                      "### END HIDDEN TESTS", [error])
    out, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert "secret_check" not in out.source and "assert f(0) == 0" in out.source
    assert HIDDEN_NOTE in out.source
    assert out.outputs[0]["traceback"] == ["AssertionError: tanh(3) is wrong"]


def test_feedback_leaves_a_student_answers_traceback_alone_and_caps_output():
    error = nbformat.v4.new_output("error", ename="NameError", evalue="x",
                                   traceback=["Traceback", "line 1", "NameError: x"])
    cell = nbformat.v4.new_code_cell("print('x' * 50000)")
    cell.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": "a"}
    cell.outputs = [error, nbformat.v4.new_output("stream", name="stdout", text="x" * 50000)]
    out, _ = HideHiddenTests(max_output_chars=100).preprocess_cell(cell, {}, 0)
    assert len(out.outputs[0]["traceback"]) == 3
    assert len(out.outputs[1]["text"]) < 200 and "cut" in out.outputs[1]["text"]


def test_a_rubric_in_a_markdown_cell_is_removed_without_a_code_comment():
    cell = nbformat.v4.new_markdown_cell("Explain why.\n<!-- ### BEGIN HIDDEN TESTS -->\n"
                                         "Rubric: one point for kappa.\n"
                                         "<!-- ### END HIDDEN TESTS -->")
    cell.metadata["nbgrader"] = {"grade": False, "solution": False, "locked": True,
                                 "grade_id": "q_text"}
    out, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert "Rubric" not in out.source and HIDDEN_NOTE not in out.source
    assert out.source.strip() == "Explain why."


def test_feedback_says_why_a_test_that_wrote_to_stderr_lost_its_points():
    printed = nbformat.v4.new_output("stream", name="stderr", text="debug: step 3\n")
    out, _ = HideHiddenTests().preprocess_cell(_test_cell("check(f)", [printed]), {}, 0)
    notes = [o for o in out.outputs if o.get("name") == "stdout"]
    assert notes and "counts any output on stderr" in notes[0]["text"]
    # Warnings go to stdout now (nnlib.testing.warnings_to_stdout): the note must not blame them.
    assert "file=sys.stderr" in notes[0]["text"] and "cost nothing" in notes[0]["text"]
    quiet, _ = HideHiddenTests().preprocess_cell(_test_cell("check(f)", []), {}, 0)
    assert quiet.outputs == []
