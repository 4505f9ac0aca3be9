"""A warm start for the grading workers.

Every submission is graded in a worker forked from one fork server (see :mod:`grader.forkserver`),
which imports this module once. Rendering one feedback page from cold costs about a second of CPU,
most of it work whose result is the same for every student: compiling nbgrader's Jinja templates
and the CSS selectors and regular expressions of the HTML exporter. Done here once, in the fork
server, every worker inherits the result.

* :func:`install` gives every nbconvert template environment of the process one shared, in-memory
  Jinja bytecode cache (nbconvert builds a new environment for each exporter, and nbgrader a new
  exporter for each call, so Jinja's per-environment cache never hits).
* :func:`warm` renders a small notebook with nbgrader's own feedback converter, which compiles the
  templates into that cache and fills the other caches, and grades a sample submission the way a
  job does, but for running it: release, autograde (without a kernel), feedback and the read-back,
  with the gradebook opened through the engine of :func:`grader.patches.scratch_gradebooks`, whose
  compiled queries every worker then inherits (SQLAlchemy keeps them per engine; without this,
  each job compiled some 25 queries), as it inherits nbgrader's and nbconvert's first-use work.

Nothing here runs a kernel or an event loop, so the fork server stays safe to fork.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path

import jinja2
import nbformat
from jupyter_client.provisioning import KernelProvisionerFactory
from nbformat import v4
from nbgrader.converters import Autograde, GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute, GetGrades

from .course import api_for
from .gradebook import open_gradebook
from .patches import quick_html_accessibility, scratch_gradebooks, shared_jinja_cache


class MemoryBytecodeCache(jinja2.BytecodeCache):
    """Compiled templates kept in a dict, shared by every environment of the process.

    Jinja checks each entry against the checksum of the template's source before using it, so an
    edited template is compiled again. Entries are also keyed by the environment's async mode,
    because a template compiles to different code in async environments.
    """

    def __init__(self) -> None:
        self._store: dict[tuple[bool, str], bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self._store.get((bucket.environment.is_async, bucket.key))
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._store[(bucket.environment.is_async, bucket.key)] = bucket.bytecode_to_string()

    def clear(self) -> None:
        self._store.clear()

    def __len__(self) -> int:
        return len(self._store)


CACHE = MemoryBytecodeCache()


def install() -> None:
    """Make every nbconvert template environment created from now on use :data:`CACHE` (a patch of
    nbconvert's internals: :func:`grader.patches.shared_jinja_cache`)."""

    shared_jinja_cache(CACHE)


def _sample_notebook():
    """A notebook with the kinds of cells and outputs an autograded submission has."""

    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    # as an autograded notebook has it from its kernel: its feedback is highlighted with IPython's
    # lexer (imported, and its rules compiled, on first use)
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3",
                                     "codemirror_mode": {"name": "ipython", "version": 3}}
    graded = {"grade": True, "solution": True, "locked": False, "grade_id": "answer", "points": 1,
              "score": 1.0, "schema_version": 3}
    test = {"grade": True, "solution": False, "locked": True, "grade_id": "check", "points": 1,
            "score": 0.0, "schema_version": 3}
    nb.cells = [
        v4.new_markdown_cell("# Title\n\nSome *markdown* with `code`, $x^2$ and a [link](#)."),
        v4.new_code_cell("def f(x):\n    return x ** 2", metadata={"nbgrader": graded}),
        v4.new_code_cell("print(f(2))\nf(3)", outputs=[
            v4.new_output("stream", name="stdout", text="4\n"),
            v4.new_output("execute_result", data={"text/plain": "9"}, execution_count=2)]),
        v4.new_code_cell("assert f(2) == 5, 'f(2) should be 5'", metadata={"nbgrader": test},
                         outputs=[v4.new_output("error", ename="AssertionError",
                                                evalue="f(2) should be 5",
                                                traceback=["AssertionError: f(2) should be 5"])]),
    ]
    return nb


def warm() -> None:
    """Warm the feedback renderer, the gradebook code and the kernel start; nothing is left
    behind."""
    quick_html_accessibility()  # as every job renders its page (grader.job.feedback)
    warm_feedback()
    warm_gradebook()
    warm_kernel_start()


def warm_kernel_start() -> None:
    """What starting a kernel does once per process, and nothing else: jupyter_client's kernel
    provisioner factory (a singleton) reads the entry points of every installed package when the
    first kernel starts. No kernel is started here."""
    KernelProvisionerFactory.instance()


def warm_gradebook() -> bool:
    """Release a sample assignment, autograde a submission of it (without running it: no kernel
    here) and render its feedback, in a throwaway course whose gradebook is opened as a grading
    job's is (:func:`grader.patches.scratch_gradebooks`), and read its grades as a job does.
    Returns whether all of it succeeded."""

    with tempfile.TemporaryDirectory(prefix="grader-warm-") as tmp:
        root = Path(tmp)
        (root / "solutions" / "warm").mkdir(parents=True)
        nb = _sample_notebook()
        nb.cells[1].source = "### BEGIN SOLUTION\n" + nb.cells[1].source + "\n### END SOLUTION"
        for cell in nb.cells:  # a source notebook: no scores, no outputs
            cell.get("metadata", {}).get("nbgrader", {}).pop("score", None)
            if cell.cell_type == "code":
                cell.outputs = []
        nbformat.write(nb, root / "solutions" / "warm" / "warm.ipynb")
        with scratch_gradebooks(root), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's, harmless
            return _grade_sample(root)


def _grade_sample(root: Path) -> bool:
    api = api_for(root)
    if not api.generate_assignment("warm", force=True)["success"]:
        return False
    submitted = root / "submitted" / "warm" / "warm"
    submitted.mkdir(parents=True)
    shutil.copy(root / "exercises" / "warm" / "warm.ipynb", submitted / "warm.ipynb")
    steps = Autograde.class_traits()["autograde_preprocessors"].default()
    api.config.Autograde.autograde_preprocessors = [p for p in steps if p is not Execute]
    if not api.autograde("warm", "warm", force=True, create=True)["success"]:
        return False
    if not api.generate_feedback("warm", "warm", force=True)["success"]:
        return False
    with open_gradebook(root / "gradebook.db") as gb:
        sub = gb.find_submission("warm", "warm")
        for notebook in sub.notebooks:
            for grade in notebook.grades:
                float(grade.score), float(grade.max_score), grade.auto_score, grade.manual_score
        return float(sub.max_score) > 0


def warm_feedback() -> None:
    """Render one feedback page the way nbgrader's ``generate_feedback`` does, and throw it away."""

    install()
    converter = GenerateFeedback(coursedir=CourseDirectory())
    exporter = converter.exporter_class(parent=converter, config=converter.config)
    for preprocessor in converter.preprocessors:
        if preprocessor is not GetGrades:  # it reads the gradebook; its results are in the sample
            exporter.register_preprocessor(preprocessor)
    nb = _sample_notebook()
    nbformat.validate(nb)
    resources = {"unique_key": "warm", "nbgrader": {
        "student": "warm", "assignment": "warm", "notebook": "warm", "score": 1.0,
        "max_score": 2.0, "late_penalty": 0.0}}
    exporter.from_notebook_node(nb, resources=resources)
