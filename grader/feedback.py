"""What a student's feedback may show: an nbgrader preprocessor for ``generate_feedback``.

``autograded/`` holds the instructor's full notebook (hidden tests, their tracebacks, rubrics),
which the formgrader shows. nbgrader renders feedback from that same notebook, so by itself it would
hand the hidden tests to the student. ``grader_config.py`` adds :class:`HideHiddenTests` to
``GenerateFeedback.preprocessors``: whoever renders feedback (``make grade``, the formgrader's
*Generate Feedback* button or ``nbgrader generate_feedback``) gets the cleaned version.
"""

from __future__ import annotations

import nbformat
from nbgrader.preprocessors import ClearHiddenTests
from traitlets import Integer

from . import cells, patches

HIDDEN_NOTE = "# (hidden tests ran here; their code is not shown)"
STDERR_NOTE = ("\n[grader] This test wrote to stderr (above). nbgrader counts any output on "
               "stderr in a test cell as a failure, even when every check passed. Warnings do "
               "not land there (the setup cell shows them on stdout, and they cost nothing): "
               "look for a print(..., file=sys.stderr), logging, or a library writing to stderr "
               "directly, and remove it.\n")


class HideHiddenTests(ClearHiddenTests):
    """Remove hidden-test regions, shorten test tracebacks to their message, cap long outputs.

    The region between ``ClearHiddenTests.begin_test_delimeter`` and ``end_test_delimeter`` is
    replaced by one comment line; a failed test cell keeps its error's name and message (which
    should teach) but not the traceback, whose context lines would quote the hidden code.
    """

    max_output_chars = Integer(10_000, help="Outputs longer than this are cut in feedback."
                               ).tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        if patches.remove_hidden_test_region(self, cell) and cell.cell_type == "code":
            cell.source = cell.source.rstrip("\n") + "\n" + HIDDEN_NOTE
        is_test = cells.is_test(cell)
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and is_test:
                out["traceback"] = [(f"{out.get('ename', 'Error')}: "
                                     f"{str(out.get('evalue', ''))[:500]}")]
        outputs = cell.get("outputs", [])
        if (is_test and any(o.get("output_type") == "stream" and o.get("name") == "stderr"
                            for o in outputs)
                and not any(o.get("output_type") == "error" for o in outputs)):
            outputs.append(nbformat.v4.new_output("stream", name="stdout", text=STDERR_NOTE))
        cap_outputs(cell, self.max_output_chars)
        return cell, resources


def cap_outputs(cell, max_chars: int):
    """Cut every stream or rich output of ``cell`` longer than ``max_chars`` characters."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and len(out.get("text", "")) > max_chars:
            out["text"] = out["text"][:max_chars] + f"\n[... output cut at {max_chars} characters]"
        for key, value in list(out.get("data", {}).items()):
            if isinstance(value, str) and len(value) > max_chars:
                out["data"][key] = value[:max_chars] + "\n[... cut]"
    return cell
