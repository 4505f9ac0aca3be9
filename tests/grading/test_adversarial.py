"""The grading pipeline against honest and adversarial submissions of a small fixture quiz.

Each student below changes the released quiz in one way; the whole class is graded in one run of
``python -m grader run`` with two workers and short timeouts, and every student must come out with
the expected status and score. Honest students must get exactly what plain ``nbgrader autograde``
gives them. Tests that need root (separate uid, mount namespace) are skipped with the reason when
the suite does not run as root.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from coursekit import REPO, nbgrader, scores

FIXTURE = Path(__file__).parent / "fixtures" / "course"
ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="the sandbox's uid and mount namespace need root")

RIGHT = {"add": "def add(a, b):\n    return a + b",
         "square": "def square(x):\n    return np.asarray(x) ** 2",
         "mean": "def mean(x):\n    return float(np.sum(x)) / len(x)"}
WRONG_ADD = "def add(a, b):\n    return a * b"


def answers(**overrides):
    return {**RIGHT, **overrides}


# student -> (how the notebook is changed, expected status, expected score or None for failed)
CASES = {
    "honest": (answers(), "graded", 5),
    "honest-partial": (answers(square="def square(x):\n    return x"), "graded", 3),
    # Three ways plain nbgrader gives full marks to wrong code: the clean-room check outside the
    # kernel decides, so the forged question scores 0 (its 2 or 1 points lost).
    "rebind-allclose": (answers(square="def square(x):\n    return x\n"
                                "np.allclose = lambda *a, **k: True"), "needs review", 3),
    "input-transformer": (answers(add=WRONG_ADD + "\nget_ipython().input_transformers_cleanup"
                                  ".append(lambda lines: ['pass\\n'])"), "needs review", 3),
    "patch-builtin-abs": (answers(mean="import builtins\nbuiltins.abs = lambda x: 0\n"
                                  "def mean(x):\n    return 0.0"), "needs review", 4),
    # Reaching outside the notebook.
    "read-sources": (answers(add=RIGHT["add"] + "\ntry:\n    LEAK = open(SOURCES).read()\n"
                             "    open(COURSE + '/LEAKED', 'w').write(LEAK)\nexcept Exception:\n"
                             "    pass"), "needs review", 5),
    "write-gradebook": (answers(add=RIGHT["add"] + "\nimport sqlite3\ntry:\n"
                                "    con = sqlite3.connect(COURSE + '/gradebook.db')\n"
                                "    con.execute('update grade set auto_score = 99')\n"
                                "    con.commit()\nexcept Exception:\n    pass"),
                        "needs review", 5),
    "lingering-process": (answers(add=RIGHT["add"] + "\nimport subprocess\n"
                                  "subprocess.Popen(['sleep', '600'], start_new_session=True)"),
                          "needs review", 5),
    "fork": (answers(add=RIGHT["add"] + "\nimport os, time\nif os.fork() == 0:\n"
                     "    time.sleep(600)\n    os._exit(0)"), "needs review", 5),
    # Time, memory and output.
    "loop-outside-function": (answers(add="while True:\n    pass"), "graded", 3),
    "loop-inside-function": (answers(add="def add(a, b):\n    while True:\n        pass"),
                             "graded", 3),
    "loop-ignoring-interrupts": (answers(add="import time\ndef add(a, b):\n    while True:\n"
                                         "        try:\n            time.sleep(0.2)\n"
                                         "        except KeyboardInterrupt:\n            pass"),
                                 "failed", None),
    "memory-bomb": (answers(square="big = np.ones(10**10)\n" + RIGHT["square"]), "graded", 3),
    "huge-output": (answers(mean=RIGHT["mean"] + "\nprint('x' * 10_000_000)"), "graded", 5),
    "os-exit": (answers(mean="import os\nos._exit(0)"), "failed", None),
    "sys-exit": (answers(mean="import sys\nsys.exit(3)"), "needs review", 4),
    # Cells deleted, renamed, duplicated, edited.
    "deleted-test-cell": ("delete:test_square", "needs review", 5),
    "renamed-answer-cell": ("rename:square", "needs review", 5),
    "duplicated-cell": ("duplicate:add", "needs review", 5),
    "edited-test-cell": ("edit:test_add", "needs review", 3),
    # Not gradable at all.
    "invalid-json": ("invalid-json", "failed", None),
    "missing-notebook": ("missing", "failed", None),
}


def _fill(nb, code: dict):
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in code:
            cell.source = code[gid]
    return nb


def _make(release_nb, how, folder: Path, course: Path):
    folder.mkdir(parents=True)
    path = folder / "quiz.ipynb"
    if how == "missing":
        return
    if how == "invalid-json":
        path.write_text('{"cells": [ this is not json')
        return
    if isinstance(how, dict):
        nb = _fill(copy.deepcopy(release_nb), how)
        sources = str(course / "solutions" / "quiz" / "quiz.ipynb")
        for cell in nb.cells:
            cell.source = cell.source.replace("SOURCES", repr(sources)).replace(
                "COURSE", repr(str(course)))
    else:
        action, gid = how.split(":")
        nb = _fill(copy.deepcopy(release_nb), RIGHT)
        index = next(i for i, c in enumerate(nb.cells)
                     if c.metadata.get("nbgrader", {}).get("grade_id") == gid)
        cell = nb.cells[index]
        if action == "delete":
            del nb.cells[index]
        elif action == "rename":
            cell.metadata.nbgrader["grade_id"] = gid + "_renamed"
        elif action == "duplicate":
            twin = copy.deepcopy(cell)
            twin.id = cell.id + "-copy"
            twin.source = WRONG_ADD
            nb.cells.insert(index + 1, twin)
        elif action == "edit":
            cell.source = "# Checks nothing at all, this cell was edited.\npass"
            nb.cells[index - 1].source = WRONG_ADD
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(FIXTURE / "solutions", course / "solutions")
    os.chmod(course, 0o755)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    run = [sys.executable, "-m", "grader", "run", "--course", str(course), "--workers", "2",
           "--timeout", "2", "--job-timeout", "60", "--memory-mb", "3072", "--no-progress"]
    subprocess.run(run[:3] + ["release", "--course", str(course)], check=True, env=env,
                   capture_output=True)
    release_nb = nbformat.read(course / "exercises" / "quiz" / "quiz.ipynb", as_version=4)
    for student, (how, _, _) in CASES.items():
        _make(release_nb, how, course / "submitted" / student / "quiz", course)
    # --keep-work: the jobs' kernel logs explain a failure, and their sandbox.json names the uids
    # this run used (other grading runs of the suite may be running beside it, as other uids).
    proc = subprocess.run(run + ["--keep-work"], env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    ended = time.time()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    work = Path(proc.stdout.split("Scratch folders kept in ")[1].split()[0])
    jobs = {json.loads(r.read_text())["student"]: r.parent for r in work.glob("job-*/result.json")}
    uids = {json.loads(c.read_text())["uid"] for c in work.glob("*/sandbox.json")} - {None}
    with open(course / "grades.csv", newline="") as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    yield {"course": course, "rows": rows, "stdout": proc.stdout, "env": env, "run": run,
           "release": release_nb, "jobs": jobs,
           "uids": uids, "ended": ended}
    shutil.rmtree(work, ignore_errors=True)


def _kernel_log(graded, student) -> str:
    log = graded["jobs"].get(student, Path("/nonexistent")) / "kernel.log"
    return log.read_text(errors="replace")[-1500:] if log.exists() else "(no kernel log)"


@pytest.mark.grading
@pytest.mark.parametrize("student", sorted(CASES))
def test_status_and_score(graded, student):
    row = graded["rows"][student]
    _, status, score = CASES[student]
    assert row["status"] == status, f"{student}: {row}\nkernel log:\n{_kernel_log(graded, student)}"
    if score is None:
        assert row["score"] == "", f"{student}: a failed grading must not show a score: {row}"
        assert row["reason"], f"{student}: a failed grading must say why"
    else:
        assert float(row["score"]) == score, f"{student}: {row}"


@pytest.mark.grading
def test_failures_name_their_reason(graded):
    assert "not valid notebook JSON" in graded["rows"]["invalid-json"]["reason"]
    assert "missing" in graded["rows"]["missing-notebook"]["reason"]
    assert "kernel died" in graded["rows"]["os-exit"]["reason"]
    assert "time limit" in graded["rows"]["loop-ignoring-interrupts"]["reason"]
    assert "rebinds np.allclose" in graded["rows"]["rebind-allclose"]["findings"]
    assert "get_ipython" in graded["rows"]["input-transformer"]["findings"]
    assert "deleted" in graded["rows"]["deleted-test-cell"]["findings"]
    assert "duplicated grade_id" in graded["rows"]["duplicated-cell"]["findings"]
    finding = graded["rows"]["rebind-allclose"]["findings"]
    assert "test_square: 2/2 in the kernel, but outside it square(" in finding, finding
    assert "where the solution gives" in finding and "scored 0" in finding
    assert finding.count("test_square:") == 1, "a disagreement is reported once"


@pytest.mark.grading
def test_table_is_printed(graded):
    assert "honest" in graded["stdout"] and "needs review" in graded["stdout"]


@pytest.mark.grading
@needs_root
def test_sources_and_gradebook_were_out_of_reach(graded):
    course = graded["course"]
    assert not (course / "LEAKED").exists(), "a submission read the hidden tests"
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission("quiz", "write-gradebook")
        assert sub.score == 5.0
        assert max(g.score for s in gb.assignment_submissions("quiz")
                   for nb in s.notebooks for g in nb.grades) <= 2.0


@pytest.mark.grading
@needs_root
def test_no_process_survives_grading(graded):
    """No process of the run's sandbox uids, started before the run ended, is still alive.

    (Processes of those uids started later belong to another grading run that leased them since.)
    """
    assert graded["uids"], "the run must have used sandbox uids"
    left = [p for p in psutil.process_iter(["uids", "cmdline", "create_time"])
            if p.info["uids"] and p.info["uids"].real in graded["uids"]
            and p.info["create_time"] <= graded["ended"]]
    assert not left, f"processes of the sandbox users survived: {[p.info['cmdline'] for p in left]}"


@pytest.mark.grading
def test_feedback_hides_hidden_tests_and_caps_output(graded):
    course = graded["course"]
    for html in (course / "feedback").glob("*/quiz/quiz.html"):
        text = html.read_text()
        assert "BEGIN HIDDEN" not in text and "add(-1.5, 2.0)" not in text, html
    huge = course / "feedback" / "huge-output" / "quiz" / "quiz.html"
    assert huge.exists() and huge.stat().st_size < 2_000_000


@pytest.mark.grading
def test_honest_scores_equal_plain_nbgrader(graded, tmp_path):
    course = tmp_path / "plain"
    shutil.copytree(FIXTURE / "solutions", course / "solutions")
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nload_subconfig({str(REPO / 'grader_config.py')!r})\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///' + {str(course / 'gradebook.db')!r}\n")
    nbgrader(course, "generate_assignment", "quiz", "--force")
    for student in ("honest", "honest-partial", "huge-output"):
        src = graded["course"] / "submitted" / student / "quiz"
        shutil.copytree(src, course / "submitted" / student / "quiz")
    nbgrader(course, "autograde", "quiz", "--force")
    plain = scores(course, "quiz")
    for student in ("honest", "honest-partial", "huge-output"):
        total = sum(s for s, _ in plain[student].values())
        assert float(graded["rows"][student]["score"]) == total, student


@pytest.mark.grading
def test_regrading_replaces_old_grades_and_failure_is_never_zero(graded):
    course = graded["course"]
    # "honest" resubmits a notebook that kills its kernel before anything is graded... then worse:
    # a notebook that is not JSON at all.
    (course / "submitted" / "honest" / "quiz" / "quiz.ipynb").write_text("not a notebook")
    only = course / "resubmitted"
    shutil.copytree(course / "submitted" / "honest", only / "honest")
    proc = subprocess.run(graded["run"] + ["--submitted", str(only), "--no-release",
                                           "--csv", str(course / "regrade.csv")],
                          env=graded["env"], capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    with open(course / "regrade.csv", newline="") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}  # everyone graded so far
    row = rows["honest"]
    assert row["status"] == "failed" and row["score"] == ""
    assert rows["honest-partial"]["score"] == "3"  # an earlier run's row, still listed
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        with pytest.raises(MissingEntry):
            gb.find_submission("quiz", "honest")  # the old full score is gone
        assert gb.find_submission("quiz", "honest-partial").score == 3.0  # others untouched
