"""Grade one submission: stage, check, autograde, read the grades, probe, render the feedback.

A job runs in a forked worker (see :mod:`grader.pool`) with its own scratch course (a copy of
a template gradebook that knows the assignments but no student), its own sandboxed kernel and its
own uid. :func:`grade_job` calls one function per stage, in order; it never raises: a job that
cannot be graded comes back ``failed``, with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import traceback
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
from nbgrader.utils import parse_utc

from . import gradebook, integrity, patches, probes, sandbox
from .course import Course, api_for
from .feedback import cap_outputs
from .types import FAILED, GRADED, REVIEW, Job, Options, Result

# Of a job's time (Options.job_timeout), what the feedback after the probes is kept; and the least
# the probes get even when the kernel used up the rest (the job may then overrun and fail, with its
# reason).
FEEDBACK_RESERVE = 20.0
MIN_PROBE_BUDGET = 10.0


@dataclass
class Scratch:
    """Where one job's files are, in its scratch course."""

    job_dir: Path
    dest: Path  # submitted/<student>/<assignment>/: the repaired notebooks nbgrader grades
    workdir: Path  # autograded/<student>/<assignment>/: the kernel's working folder
    release_nbs: list[Path]  # the release's notebooks, in the template course


def reference_probes(course: Course, template: Path, assignment: str,
                     slot: sandbox.Slot) -> list:
    """The instructor's solution run through the probes, as the yardstick for students."""
    spec = probes.load_probes(course.solutions / assignment)
    if not spec:
        return []
    source = integrity.read_notebook(course.solutions / assignment / f"{spec['notebook']}.ipynb")
    job_dir = Path(tempfile.mkdtemp(dir=template.parent, prefix="reference-"))
    return probes.run(source, spec["probes"], job_dir / "probe", slot, setup=spec["setup"])


def grade_job(job: Job, course: Course, template: Path, job_dir: Path, slot: sandbox.Slot,
              opts: Options, reference: list, prior: dict | None = None) -> Result:
    """Check, repair, grade, probe and render feedback for one submission in ``slot``, in the empty
    folder ``job_dir``; never raises. The result is also written to ``job_dir/result.json``, with
    the seconds each stage took (:data:`STAGES`) in ``Result.timings``."""
    start = time.perf_counter()
    result = Result(job.student, job.assignment, FAILED)
    result.job_dir = str(job_dir)
    os.chmod(job_dir, 0o700)
    try:
        # the job's gradebook opened a dozen times, one engine (see grader.patches)
        with patches.scratch_gradebooks(job_dir):
            with _timed(result, "stage"):
                scratch = stage(job, template, job_dir)
            with _timed(result, "check"):
                check(job, scratch, result)
            slot = slot.hiding([*course.private_paths(), job_dir / "submitted",
                                job_dir / "gradebook.db", template])
            with _timed(result, "autograde"), patches.timed_kernel_start([]) as starts:
                api, failure = autograde(job, scratch, slot, opts, prior)
            # the kernel's start is part of autograde's time: moved to its own stage
            result.timings["kernel start"] = min(sum(starts), result.timings["autograde"])
            result.timings["autograde"] -= result.timings["kernel start"]
            if failure:
                result.reason = failure
                return result
            with _timed(result, "read grades"):
                kernel = read_grades(job, scratch, result)
            left = opts.job_timeout - (time.perf_counter() - start) - FEEDBACK_RESERVE
            with _timed(result, "probes"):
                probe(job, course, scratch, slot, reference, result, kernel,
                      budget=max(left, MIN_PROBE_BUDGET))
            with _timed(result, "feedback"):
                feedback(api, job, scratch, opts.max_output_chars)
            result.status = REVIEW if result.findings else GRADED
            result.reason = (f"{len(result.findings)} finding(s) to review" if result.findings
                             else "")
            return result
    except integrity.SubmissionUnreadable as exc:
        result.reason = str(exc)
        return result
    except Exception as exc:  # noqa: BLE001 - the job fails alone, with its reason
        result.reason = f"grading error: {type(exc).__name__}: {exc}"
        result.findings.append(traceback.format_exc(limit=3)[-500:])
        return result
    finally:
        slot.kill()
        result.seconds = time.perf_counter() - start
        (job_dir / "result.json").write_text(json.dumps(asdict(result)))


# The stages of a job, in order, as ``Result.timings`` names them: "kernel start" is the sandboxed
# kernel's start until it answers, "autograde" the rest of ``nbgrader autograde`` (the scratch
# course's bookkeeping and the notebook's run).
STAGES = ("stage", "check", "kernel start", "autograde", "read grades", "probes", "feedback")


@contextmanager
def _timed(result: Result, name: str):
    """Add the seconds the block takes to ``result.timings[name]``, also when it raises."""
    begin = time.perf_counter()
    try:
        yield
    finally:
        result.timings[name] = result.timings.get(name, 0.0) + time.perf_counter() - begin


# ---------------------------------------------------------------------------------------------
# the stages, in order


def stage(job: Job, template: Path, job_dir: Path) -> Scratch:
    """The job's scratch course: the template's gradebook and the assignment's release."""
    shutil.copy(template / "gradebook.db", job_dir / "gradebook.db")
    shutil.copytree(template / "exercises" / job.assignment, job_dir / "exercises" / job.assignment)
    dest = job_dir / "submitted" / job.student / job.assignment
    dest.mkdir(parents=True)
    return Scratch(job_dir, dest, job_dir / "autograded" / job.student / job.assignment,
                   sorted((template / "exercises" / job.assignment).glob("*.ipynb")))


def check(job: Job, scratch: Scratch, result: Result) -> None:
    """Check each notebook against its release and write the repaired one where nbgrader grades it;
    copy the other files. Fills ``result.findings`` and ``result.timestamp``."""

    findings = []
    for release_path in scratch.release_nbs:
        release_nb = nbformat.read(release_path, as_version=4)
        submitted = integrity.read_notebook(job.submission / release_path.name)
        repaired, found = integrity.check_submission(submitted, release_nb)
        findings += [f"{release_path.stem}/{f}" for f in found]
        nbformat.write(repaired, scratch.dest / release_path.name)
    timestamp, found = _copy_other_files(job.submission, scratch.dest,
                                         {p.name for p in scratch.release_nbs})
    result.timestamp = timestamp
    result.findings = findings + found


def autograde(job: Job, scratch: Scratch, slot: sandbox.Slot, opts: Options, prior: dict | None):
    """Run ``nbgrader autograde`` in the sandboxed kernel; return the API and the reason it failed
    (``""`` when it did not)."""
    job_dir = scratch.job_dir
    spec_root = sandbox.prepare(job_dir, scratch.workdir, slot)
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(spec_root)] + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p])
    if prior:
        _seed_job_gradebook(job_dir / "gradebook.db", job, prior)
    api = api_for(job_dir, timeout=opts.timeout, kernel_name=sandbox.KERNEL_NAME,
                  ipc_path=job_dir / "ipc" / "kernel")
    # Once the notebook has run, its kernel is killed, not asked to shut down (nbclient then waits
    # for it, checking every 0.1 s): nothing it does after the last cell is graded or kept, and the
    # job ends every process of its uid anyway (slot.kill()).
    api.config.Execute.shutdown_kernel = "immediate"
    patches.short_ready_flush()  # the kernel's start without 0.2 s of idle waiting
    patches.quick_kernel_connect()  # nor 0.1 s between attempts to connect to it
    patches.quick_kernel_wait()  # and its end
    patches.cached_metadata_schema()
    outcome = api.autograde(job.assignment, job.student, force=True, create=True)
    slot.kill()
    if not outcome["success"]:
        return api, _why_nbgrader_failed(outcome.get("error", "") + outcome.get("log", ""))
    return api, ""


def read_grades(job: Job, scratch: Scratch, result: Result) -> dict:
    """The job's gradebook into ``result``: the scores, and what the merge copies into the course
    gradebook (``result.cells``). Returns grade_id -> (the autograder's score, a person's manual
    score or None), the kernel's verdict that the clean-room check judges (:func:`probe`)."""
    with gradebook.open_gradebook(scratch.job_dir / "gradebook.db") as gb:
        sub = gb.find_submission(job.assignment, job.student)
        grades, comments = gradebook.submission_cells(gb, job.assignment, job.student)
        for nb in sub.notebooks:  # in the gradebook's order, as the reports list them
            for grade in nb.grades:
                result.grades[grade.name] = [float(grade.score), float(grade.max_score)]
        result.score, result.max_score = float(sub.score), float(sub.max_score)
        result.cells = {
            "grades": [[nb, cell, g.auto_score, bool(g.needs_manual_grade)]
                       for (nb, cell), g in sorted(grades.items())],
            "comments": [[nb, cell, c.auto_comment] for (nb, cell), c in sorted(comments.items())],
        }
        return {cell: (float(g.auto_score or 0.0), g.manual_score)
                for (_, cell), g in grades.items()}


def probe(job: Job, course: Course, scratch: Scratch, slot: sandbox.Slot, reference: list,
          result: Result, kernel: dict, budget: float | None = None) -> None:
    """Re-run the hidden checks outside the kernel; a question they disagree on is scored 0.

    ``kernel``: grade_id -> (the autograder's score, a person's manual score or None), as
    :func:`read_grades` returns it. The clean-room check judges the kernel's verdict only: a manual
    score is a person's decision (entered in the formgrader before this regrade) and is never
    overruled. ``budget``: seconds the probe process may take at most (see :func:`probes.run`).
    """

    spec = probes.load_probes(course.solutions / job.assignment)
    if not (spec and reference):
        return
    student_nb = nbformat.read(scratch.dest / f"{spec['notebook']}.ipynb", as_version=4)
    got = probes.run(student_nb, spec["probes"], scratch.job_dir / "probe", slot,
                     setup=spec["setup"], budget=budget)
    overruled = {}
    for one, mine, ref in zip(spec["probes"], got, reference, strict=False):
        gid = one["grade_id"]
        auto, manual = kernel.get(gid, (0.0, None))
        maximum = result.grades.get(gid, [0.0, 0.0])[1]
        if (auto > 0 and maximum > 0 and gid not in overruled
                and not probes.agrees(mine, ref, one)):
            overruled[gid] = manual
            stands = ("" if manual is None else
                      f"; the manual score of {manual:g} a person gave stands")
            result.findings.append(f"{gid}: {auto:g}/{maximum:g} in the kernel, but outside it "
                                   f"{probes.describe(one, mine, ref)}; scored 0, the clean-room "
                                   "result (the kernel's score is the one before the colon)"
                                   f"{stands}")
    if overruled:
        _overrule(scratch.job_dir / "gradebook.db", job, overruled)
        for row in result.cells["grades"]:
            if row[1] in overruled:
                row[2] = 0.0
        for gid, manual in overruled.items():
            result.grades[gid][0] = 0.0 if manual is None else float(manual)
        result.score = sum(s for s, _ in result.grades.values())


def feedback(api, job: Job, scratch: Scratch, max_chars: int) -> None:
    """Cap long outputs in the instructor's full notebook, then render the student's feedback.

    ``autograded/`` keeps hidden tests and tracebacks for the formgrader; the feedback is cleaned by
    :class:`grader.feedback.HideHiddenTests`, which ``grader_config.py`` gives nbgrader's
    ``generate_feedback``.
    """

    for release_path in scratch.release_nbs:
        path = scratch.workdir / release_path.name
        if path.exists():
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                cap_outputs(cell, max_chars)
            os.chmod(path, 0o644)  # nbgrader leaves autograded notebooks read-only (0444)
            nbformat.write(nb, path)
    patches.quick_html_accessibility()  # the page's tags scanned, not parsed (grader.patches)
    api.generate_feedback(job.assignment, job.student, force=True)


# ---------------------------------------------------------------------------------------------
# helpers of the stages


def _overrule(db: Path, job: Job, overruled: dict) -> None:
    """Give the questions whose clean-room check disagreed with the kernel the clean-room score, 0.

    The kernel's verdict can be forged by the student's own code (an input transformer that blanks
    the test cells, a rebound ``np.allclose``); the out-of-kernel check cannot. The job's gradebook
    is changed before the feedback is rendered, so the student, the formgrader and ``grades.csv``
    all see the same score.
    """
    with gradebook.open_gradebook(db) as gb:
        sub = gb.find_submission(job.assignment, job.student)
        for nb in sub.notebooks:
            for grade in nb.grades:
                if grade.name in overruled:
                    grade.auto_score = 0.0
        gb.db.commit()


def _copy_other_files(src: Path, dest: Path, notebooks: set[str]) -> tuple[str, list[str]]:
    """Copy what the student submitted besides the release's notebooks, as ``nbgrader autograde``
    does.

    That includes ``timestamp.txt`` and ``submission_secret.txt`` (written by ``nbgrader submit``,
    kept by ``nbgrader collect``): nbgrader reads the first for lateness, and ``release_feedback``
    needs both in ``feedback/``. Links are copied as links, never followed. Returns the timestamp
    (``""`` when there is none) and findings; an unreadable timestamp is a finding and is not
    passed on.
    """

    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", *sorted(notebooks))
    shutil.copytree(src, dest, symlinks=True, ignore=ignore, dirs_exist_ok=True)
    stamp_file = dest / "timestamp.txt"
    if stamp_file.is_symlink() or (stamp_file.exists() and not stamp_file.is_file()):
        stamp_file.unlink() if stamp_file.is_symlink() else shutil.rmtree(stamp_file)
        return "", ["timestamp.txt is not a plain file: the submission time is unknown"]
    if not stamp_file.exists():
        return "", []
    text = stamp_file.read_text(errors="replace").strip()
    try:
        if parse_utc(text) is None:
            raise ValueError(text)
    except (ValueError, OverflowError, TypeError):
        stamp_file.unlink()
        return "", [(f"timestamp.txt holds no valid time ({text[:40]!r}): the submission time "
                     "is unknown and no late penalty was computed")]
    return text, []


def _why_nbgrader_failed(text: str) -> str:
    """A one-line reason from nbgrader's log of a failed autograde."""
    known = [("DeadKernelError", ("the kernel died while running the notebook (os._exit, a crash "
                                  "or the memory limit)")),
             ("Kernel died", "the kernel died while running the notebook"),
             ("CellTimeoutError", "a cell ran past the time limit and the kernel did not stop"),
             ("timed out", "a cell ran past the time limit and the kernel did not stop"),
             ("RuntimeError: Kernel didn't respond", "the kernel stopped responding")]
    for needle, reason in known:
        if needle in text:
            return reason
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "nbgrader could not grade it: " + (lines[-1][:200] if lines else "no reason given")


def _seed_job_gradebook(db: Path, job: Job, prior: dict) -> None:
    """Put ``prior`` (see :func:`grader.gradebook.read_prior`) into the job's scratch gradebook
    before autograding."""
    with gradebook.open_gradebook(db) as gb:
        gb.update_or_create_student(job.student)
        sub = gb.update_or_create_submission(job.assignment, job.student)
        sub.extension = prior.get("extension")
        grades, comments = gradebook.submission_cells(gb, job.assignment, job.student)
        for key, (manual, extra) in prior.get("grades", {}).items():
            if key in grades:  # a cell the release no longer has is left out
                grades[key].manual_score, grades[key].extra_credit = manual, extra
        for key, text in prior.get("comments", {}).items():
            if key in comments:
                comments[key].manual_comment = text
        gb.db.commit()
