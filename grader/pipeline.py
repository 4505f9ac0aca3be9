"""Grade every (student, assignment) in isolation, in parallel, and merge the results.

Each job runs in a forked worker with its own scratch course (a copy of a template gradebook that
knows the assignments but no student), its own sandboxed kernel and its own uid, so a failing,
hanging or malicious submission can affect nobody else, and no two jobs share a gradebook. The
parent enforces a wall-clock limit per job, then merges the results into the course's gradebook,
``autograded/`` and ``feedback/``, replacing any earlier grading of the same submission completely.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from . import integrity, probes, report, sandbox
from . import zygote as zygote_mod
from .course import Course, api_for, use_in_process_alembic

GRADED, REVIEW, FAILED = "graded", "needs review", "failed"
MANUAL = "needs manual grading"  # autograded, but a written answer waits for a person


@dataclass
class Job:
    student: str
    assignment: str
    submission: Path  # the student's folder for this assignment


@dataclass
class Result:
    student: str
    assignment: str
    status: str
    reason: str = ""
    score: float | None = None
    max_score: float | None = None
    grades: dict = field(default_factory=dict)  # grade_id -> [score, max]
    findings: list = field(default_factory=list)
    seconds: float = 0.0
    job_dir: str = ""
    timestamp: str = ""  # the submission's timestamp.txt, as nbgrader's `submit` wrote it
    # Filled from the course gradebook after the merge, so that grades.csv says what the formgrader
    # shows: the score after the late penalty, the raw score, lateness, pending manual grading.
    raw_score: float | None = None
    late_penalty: float | None = None
    seconds_late: float | None = None
    needs_manual_grade: bool = False
    first_name: str = ""
    last_name: str = ""

    @property
    def key(self):
        return (self.student, self.assignment)


@dataclass
class Options:
    timeout: int = 60  # per cell, as nbgrader's c.Execute.timeout
    job_timeout: float = 300.0  # wall clock for one whole job
    workers: int = max(1, os.cpu_count() or 1)
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    max_output_chars: int = 10_000
    work_root: Path | None = None
    zygote: bool = True  # fork kernels from a process that imported them (grader.zygote)
    zygote_socket: str | None = None  # set by run_jobs while its zygote runs


def find_jobs(submitted: Path, assignments: list[str]) -> list[Job]:
    """Every ``<student>/<assignment>/`` folder under ``submitted`` for a known assignment."""
    jobs = []
    if not submitted.is_dir():
        return jobs
    for student in sorted(p for p in submitted.iterdir() if p.is_dir()):
        for assignment in assignments:
            if (student / assignment).is_dir():
                jobs.append(Job(student.name, assignment, student / assignment))
    return jobs


def build_template(course: Course, work_root: Path, assignments: list[str],
                   due_dates: dict | None = None) -> Path:
    """A scratch course whose gradebook knows every assignment (generated from the sources) and the
    due dates the instructor set (``nbgrader db assignment add A --duedate=...``), so that each job's
    autograde computes lateness and the late penalty as plain nbgrader would."""
    template = work_root / "template"
    template.mkdir(mode=0o700)
    for a in assignments:
        shutil.copytree(course.solutions / a, template / "solutions" / a)
    api = api_for(template)
    for a in assignments:
        result = api.generate_assignment(a, force=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader could not generate {a}:\n{result.get('error', '')}")
    if due_dates is None:
        due_dates = read_due_dates(course, assignments)
    if due_dates:
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{template / 'gradebook.db'}") as gb:
            for a, duedate in due_dates.items():
                gb.update_or_create_assignment(a, duedate=duedate)
    return template


def read_due_dates(course: Course, assignments: list[str]) -> dict:
    """assignment -> due date (a naive UTC datetime), for those that have one in the gradebook."""
    db = course.root / "gradebook.db"
    if not db.exists():
        return {}
    from nbgrader.api import Gradebook, MissingEntry

    due = {}
    with Gradebook(f"sqlite:///{db}") as gb:
        for a in assignments:
            try:
                duedate = gb.find_assignment(a).duedate
            except MissingEntry:
                continue
            if duedate is not None:
                due[a] = duedate
    return due


def reference_probes(course: Course, template: Path, assignment: str, opts: Options,
                     slot: int) -> list:
    """The instructor's solution run through the probes, as the yardstick for students."""
    spec = probes.load_probes(course.solutions / assignment)
    if not spec:
        return []
    source = integrity.read_notebook(course.solutions / assignment / f"{spec['notebook']}.ipynb")
    job_dir = Path(tempfile.mkdtemp(dir=template.parent, prefix="reference-"))
    return probes.run(source, spec["probes"], job_dir / "probe", slot, [], opts.limits,
                      opts.timeout, opts.zygote_socket, setup=spec["setup"])


# ---------------------------------------------------------------------------------------------
# one job (runs in a forked child)


def grade_job(job: Job, course: Course, template: Path, work_root: Path, slot: int,
              opts: Options, reference: list, prior: dict | None = None) -> Result:
    """Check, repair, grade, probe and render feedback for one submission; never raises."""
    import nbformat

    start = time.monotonic()
    result = Result(job.student, job.assignment, FAILED)
    job_dir = Path(tempfile.mkdtemp(dir=work_root, prefix="job-"))
    result.job_dir = str(job_dir)
    os.chmod(job_dir, 0o700)
    try:
        shutil.copy(template / "gradebook.db", job_dir / "gradebook.db")
        shutil.copytree(template / "exercises" / job.assignment, job_dir / "exercises" / job.assignment)
        dest = job_dir / "submitted" / job.student / job.assignment
        dest.mkdir(parents=True)
        findings = []
        release_nbs = sorted((template / "exercises" / job.assignment).glob("*.ipynb"))
        for release_path in release_nbs:
            release_nb = nbformat.read(release_path, as_version=4)
            submitted = integrity.read_notebook(job.submission / release_path.name)
            repaired, found = integrity.check_submission(submitted, release_nb)
            findings += [f"{release_path.stem}/{f}" for f in found]
            nbformat.write(repaired, dest / release_path.name)
        timestamp, found = _copy_other_files(job.submission, dest,
                                             {p.name for p in release_nbs})
        result.timestamp = timestamp
        findings += found
        result.findings = findings
        workdir = job_dir / "autograded" / job.student / job.assignment
        hide = [str(p) for p in course.private_paths()] + [
            str(job_dir / "submitted"), str(job_dir / "gradebook.db"), str(template)]
        spec_root = sandbox.prepare(job_dir, workdir, slot, hide, opts.limits,
                                    zygote=opts.zygote_socket)
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            [str(spec_root)] + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p])
        if prior:
            _seed_job_gradebook(job_dir / "gradebook.db", job, prior)
        api = api_for(job_dir, timeout=opts.timeout, kernel_name=sandbox.KERNEL_NAME,
                      ipc_path=job_dir / "ipc" / "kernel")
        outcome = api.autograde(job.assignment, job.student, force=True, create=True)
        sandbox.kill_uid(sandbox.uid_for_worker(slot))
        if not outcome["success"]:
            result.reason = _why_nbgrader_failed(outcome.get("error", "") + outcome.get("log", ""))
            return result
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{job_dir / 'gradebook.db'}") as gb:
            sub = gb.find_submission(job.assignment, job.student)
            for nb in sub.notebooks:
                for grade in nb.grades:
                    result.grades[grade.name] = [float(grade.score), float(grade.max_score)]
            result.score, result.max_score = float(sub.score), float(sub.max_score)
        spec = probes.load_probes(course.solutions / job.assignment)
        if spec and reference:
            student_nb = nbformat.read(dest / f"{spec['notebook']}.ipynb", as_version=4)
            got = probes.run(student_nb, spec["probes"], job_dir / "probe", slot, hide,
                             opts.limits, opts.timeout, opts.zygote_socket, setup=spec["setup"])
            overruled = {}
            for probe, mine, ref in zip(spec["probes"], got, reference):
                gid = probe["grade_id"]
                score, maximum = result.grades.get(gid, [0.0, 0.0])
                if (score > 0 and maximum > 0 and gid not in overruled
                        and not probes.agrees(mine, ref, probe)):
                    overruled[gid] = (score, maximum)
                    findings.append(f"{gid}: {score:g}/{maximum:g} in the kernel, but outside it "
                                    f"{probes.describe(probe, mine, ref)}; scored 0, the clean-room "
                                    "result (the kernel's score is the one before the colon)")
            if overruled:
                _overrule(job_dir / "gradebook.db", job, overruled)
                for gid in overruled:
                    result.grades[gid][0] = 0.0
                result.score = sum(s for s, _ in result.grades.values())
        _render_feedback(api, job, workdir, release_nbs, opts.max_output_chars)
        result.findings = findings
        result.status = REVIEW if findings else GRADED
        result.reason = f"{len(findings)} finding(s) to review" if findings else ""
        return result
    except integrity.SubmissionUnreadable as exc:
        result.reason = str(exc)
        return result
    except Exception as exc:  # the job fails alone, with its reason
        result.reason = f"grading error: {type(exc).__name__}: {exc}"
        result.findings.append(traceback.format_exc(limit=3)[-500:])
        return result
    finally:
        sandbox.kill_uid(sandbox.uid_for_worker(slot))
        result.seconds = time.monotonic() - start
        (job_dir / "result.json").write_text(json.dumps(asdict(result)))


def _overrule(db: Path, job: Job, overruled: dict) -> None:
    """Give the questions whose clean-room check disagreed with the kernel the clean-room score, 0.

    The kernel's verdict can be forged by the student's own code (an input transformer that blanks
    the test cells, a rebound ``np.allclose``); the out-of-kernel check cannot. The job's gradebook
    is changed before the feedback is rendered, so the student, the formgrader and ``grades.csv``
    all see the same score.
    """
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        sub = gb.find_submission(job.assignment, job.student)
        for nb in sub.notebooks:
            for grade in nb.grades:
                if grade.name in overruled:
                    grade.auto_score = 0.0
        gb.db.commit()


def _copy_other_files(src: Path, dest: Path, notebooks: set[str]) -> tuple[str, list[str]]:
    """Copy what the student submitted besides the release's notebooks, as ``nbgrader autograde`` does.

    That includes ``timestamp.txt`` and ``submission_secret.txt`` (written by ``nbgrader submit``, kept
    by ``nbgrader collect``): nbgrader reads the first for lateness, and ``release_feedback`` needs both
    in ``feedback/``. Links are copied as links, never followed. Returns the timestamp (``""`` when
    there is none) and findings; an unreadable timestamp is a finding and is not passed on.
    """
    from nbgrader.utils import parse_utc

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
        return "", [f"timestamp.txt holds no valid time ({text[:40]!r}): the submission time "
                    "is unknown and no late penalty was computed"]
    return text, []


def _render_feedback(api, job: Job, workdir: Path, release_nbs: list[Path], max_chars: int) -> None:
    """Cap long outputs in the instructor's full notebook, then render the student's feedback.

    ``autograded/`` keeps hidden tests and tracebacks for the formgrader; the feedback is cleaned by
    :class:`grader.feedback.HideHiddenTests`, which ``grader_config.py`` gives nbgrader's
    ``generate_feedback``.
    """
    import nbformat

    from .feedback import cap_outputs

    for release_path in release_nbs:
        path = workdir / release_path.name
        if path.exists():
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                cap_outputs(cell, max_chars)
            os.chmod(path, 0o644)  # nbgrader leaves autograded notebooks read-only (0444)
            nbformat.write(nb, path)
    api.generate_feedback(job.assignment, job.student, force=True)


def _why_nbgrader_failed(text: str) -> str:
    """A one-line reason from nbgrader's log of a failed autograde."""
    known = [("DeadKernelError", "the kernel died while running the notebook (os._exit, a crash "
                                 "or the memory limit)"),
             ("Kernel died", "the kernel died while running the notebook"),
             ("CellTimeoutError", "a cell ran past the time limit and the kernel did not stop"),
             ("timed out", "a cell ran past the time limit and the kernel did not stop"),
             ("RuntimeError: Kernel didn't respond", "the kernel stopped responding")]
    for needle, reason in known:
        if needle in text:
            return reason
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "nbgrader could not grade it: " + (lines[-1][:200] if lines else "no reason given")


def read_prior(course: Course, jobs: list[Job]) -> list[dict | None]:
    """What a person already entered for each job's submission: extension, manual grades, comments.

    Each job starts from this, so that the late penalty and the feedback it renders are the ones
    plain nbgrader would give against the course gradebook.
    """
    db = course.root / "gradebook.db"
    if not db.exists():
        return [None] * len(jobs)
    from nbgrader.api import Gradebook, MissingEntry

    out = []
    with Gradebook(f"sqlite:///{db}") as gb:
        for job in jobs:
            try:
                sub = gb.find_submission(job.assignment, job.student)
            except MissingEntry:
                out.append(None)
                continue
            out.append({
                "extension": sub.extension,
                "grades": {(nb.name, g.name): (g.manual_score, g.extra_credit)
                           for nb in sub.notebooks for g in nb.grades
                           if g.manual_score is not None or g.extra_credit},
                "comments": {(nb.name, c.name): c.manual_comment
                             for nb in sub.notebooks for c in nb.comments if c.manual_comment},
            })
    return out


def _seed_job_gradebook(db: Path, job: Job, prior: dict) -> None:
    """Put ``prior`` (see :func:`read_prior`) into the job's scratch gradebook before autograding."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{db}") as gb:
        gb.update_or_create_student(job.student)
        sub = gb.update_or_create_submission(job.assignment, job.student)
        sub.extension = prior.get("extension")
        for (nb, name), (manual, extra) in prior.get("grades", {}).items():
            try:
                grade = gb.find_grade(name, nb, job.assignment, job.student)
            except MissingEntry:
                continue
            grade.manual_score, grade.extra_credit = manual, extra
        for (nb, name), text in prior.get("comments", {}).items():
            try:
                gb.find_comment(name, nb, job.assignment, job.student).manual_comment = text
            except MissingEntry:
                continue
        gb.db.commit()


def _child(job, course, template, work_root, slot, opts, reference, out_path, prior=None):
    import warnings

    os.setsid()  # one process group to kill if the job overruns
    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's, harmless
    result = grade_job(job, course, template, work_root, slot, opts, reference, prior)
    Path(out_path).write_text(json.dumps(asdict(result)))
    os._exit(0)


# ---------------------------------------------------------------------------------------------
# many jobs


def run_jobs(jobs: list[Job], course: Course, opts: Options, progress=None, *,
             due_dates: dict | None = None, prior: list | None = None):
    """Grade ``jobs`` with ``opts.workers`` workers.

    Returns the results in the order of ``jobs`` and the scratch folder that holds each job's
    products (``Result.job_dir``). ``due_dates`` and ``prior`` (see :func:`read_due_dates`,
    :func:`read_prior`) default to the course gradebook's; a remote worker is handed them instead.
    """
    with sandbox.lease_slots(max(1, opts.workers)) as slots:
        return _run_jobs(jobs, course, opts, progress, slots, due_dates, prior)


def _run_jobs(jobs, course, opts, progress, slots, due_dates=None, prior=None):
    work_root = Path(tempfile.mkdtemp(prefix="grading-", dir=opts.work_root or "/var/tmp"))
    os.chmod(work_root, 0o711)
    results: dict[int, Result] = {}
    zygote = None
    try:
        # Workers fork from a clean fork server (nbgrader preloaded), not from this process: a child
        # forked after the parent ran nbgrader inherits its event-loop state and hangs on timeouts.
        # The server also renders one feedback page first (grader._preload), so workers start warm.
        # It and the zygote start now and import while the template is built.
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["grader", "nbgrader.apps", "nbgrader.api", "grader.pipeline",
                                    "grader._preload"])
        from multiprocessing import forkserver

        forkserver.ensure_running()
        if opts.zygote:
            zygote = zygote_mod.start(work_root)
        assignments = sorted({j.assignment for j in jobs})
        template = build_template(course, work_root, assignments, due_dates)
        if zygote is not None:
            opts = replace(opts, zygote_socket=zygote_mod.wait_ready(zygote))
        refs = {a: reference_probes(course, template, a, opts, slots[0]) for a in assignments}
        if prior is None:
            prior = read_prior(course, jobs)
        pending = list(enumerate(jobs))
        running: dict[int, tuple] = {}  # slot -> (index, process, deadline, out_path)
        free = list(slots)
        while pending or running:
            while pending and free:
                index, job = pending.pop(0)
                slot = free.pop(0)
                out_path = work_root / f"result-{index}.json"
                proc = ctx.Process(target=_child, args=(job, course, template, work_root, slot,
                                                        opts, refs[job.assignment], out_path,
                                                        prior[index]))
                proc.start()
                running[slot] = (index, proc, time.monotonic() + opts.job_timeout, out_path)
            time.sleep(0.05)
            for slot, (index, proc, deadline, out_path) in list(running.items()):
                job = jobs[index]
                if proc.is_alive() and time.monotonic() < deadline:
                    continue
                if proc.is_alive():
                    _kill_group(proc.pid)
                    proc.join(5)
                    results[index] = Result(job.student, job.assignment, FAILED,
                                            f"grading took longer than {opts.job_timeout:g} s")
                else:
                    proc.join()
                    try:
                        results[index] = Result(**json.loads(out_path.read_text()))
                    except (OSError, ValueError, TypeError):
                        results[index] = Result(job.student, job.assignment, FAILED,
                                                f"the grading worker died (exit code {proc.exitcode})")
                sandbox.kill_uid(sandbox.uid_for_worker(slot))
                del running[slot]
                free.append(slot)
                if progress is not None:
                    progress(results[index])
        return [results[i] for i in range(len(jobs))], work_root
    except BaseException:
        shutil.rmtree(work_root, ignore_errors=True)
        raise
    finally:
        if zygote is not None:
            zygote_mod.stop(zygote)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def merge(results: list[Result], course: Course) -> None:
    """Put each job's outcome into the course: gradebook, ``autograded/`` and ``feedback/``.

    What nbgrader users rely on is kept: the submission's timestamp (and so its lateness, with any
    extension granted), the late penalty of the course's plugin, and everything a person entered in
    the formgrader (manual scores, comments, extra credit). A regrade replaces the autograder's part.
    A manual score is flagged for another look (``needs_manual_grade``) when the answers of its
    notebook or its autograded score changed since, as nbgrader does; an unchanged submission keeps
    its manual grades as they were. A failed job leaves no stale autograder score: the submission is
    removed, or, when a person already graded parts of it, its autograded scores are cleared and
    flagged for manual grading so the manual work is not lost.
    """
    from nbgrader.api import Gradebook, MissingEntry

    use_in_process_alembic()
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        roster = {s.id for s in gb.students if s.first_name or s.last_name or s.email}
        late = _late_penalties(course)
        for r in results:
            if roster and r.student not in roster:
                r.findings.append(f"{r.student} is not on the roster: add them to students.csv "
                                  "and import it (make roster)")
                if r.status == GRADED:
                    r.status, r.reason = REVIEW, "not on the roster"
            folder = course.root / "autograded" / r.student / r.assignment
            old_answers = _answers(folder)
            try:
                existing = gb.find_submission(r.assignment, r.student)
            except MissingEntry:
                existing = None
            for kind in ("autograded", "feedback"):
                shutil.rmtree(course.root / kind / r.student / r.assignment, ignore_errors=True)
            if r.status == FAILED:
                if existing is not None and _has_manual_work(existing):
                    for nb in existing.notebooks:
                        for grade in nb.grades:
                            grade.auto_score = None
                            grade.needs_manual_grade = True
                    gb.db.commit()
                    r.findings.append("the manual grades of an earlier grading are kept; its "
                                      "autograded scores were cleared")
                elif existing is not None:
                    gb.remove_submission(r.assignment, r.student)
                continue
            job_dir = Path(r.job_dir)
            new_answers = _answers(job_dir / "autograded" / r.student / r.assignment)
            gb.update_or_create_student(r.student)
            sub = gb.update_or_create_submission(r.assignment, r.student,
                                                 timestamp=r.timestamp or None)
            with Gradebook(f"sqlite:///{job_dir / 'gradebook.db'}") as job_gb:
                job_sub = job_gb.find_submission(r.assignment, r.student)
                for job_nb in job_sub.notebooks:
                    changed = old_answers.get(job_nb.name) != new_answers.get(job_nb.name)
                    for job_grade in job_nb.grades:
                        try:
                            grade = gb.find_grade(job_grade.name, job_nb.name, r.assignment,
                                                  r.student)
                        except MissingEntry:
                            r.findings.append(f"{job_nb.name}/{job_grade.name}: not in the "
                                              "course gradebook (run make release)")
                            continue
                        before = grade.auto_score
                        grade.auto_score = job_grade.auto_score
                        if grade.manual_score is not None:
                            grade.needs_manual_grade = (changed or before != job_grade.auto_score)
                        else:
                            grade.needs_manual_grade = job_grade.needs_manual_grade
                    for job_comment in job_nb.comments:
                        try:
                            comment = gb.find_comment(job_comment.name, job_nb.name,
                                                      r.assignment, r.student)
                        except MissingEntry:
                            continue
                        comment.auto_comment = job_comment.auto_comment
            gb.db.commit()
            gb.db.expire_all()
            for nb in sub.notebooks:
                nb.late_submission_penalty = late(r.student, nb, sub.total_seconds_late)
            gb.db.commit()
            for kind in ("autograded", "feedback"):
                src = job_dir / kind / r.student / r.assignment
                if r.job_dir and src.is_dir():
                    dest = course.root / kind / r.student / r.assignment
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    # symlinks=True: a link the student's code left behind is copied as a link,
                    # never followed with the grader's rights.
                    shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns(
                        ".kernel-connection.json", ".ipynb_checkpoints"))


def _has_manual_work(submission) -> bool:
    """Whether a person graded or commented any part of ``submission`` in the formgrader."""
    for nb in submission.notebooks:
        if any(g.manual_score is not None or g.extra_credit for g in nb.grades):
            return True
        if any(c.manual_comment for c in nb.comments):
            return True
    return False


def _answers(folder: Path) -> dict:
    """notebook name -> the sources of its answer and grade cells, to tell a changed submission."""
    import nbformat

    out = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.ipynb")):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # an unreadable old copy counts as changed
            continue
        out[path.stem] = [(c.metadata.get("nbgrader", {}).get("grade_id"), c.source)
                          for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")
                          or c.metadata.get("nbgrader", {}).get("grade")]
    return out


def _late_penalties(course: Course):
    """``late(student, notebook, seconds_late)``: the penalty of the course's nbgrader plugin.

    The same plugin and clamping (0 <= penalty <= score) as nbgrader's ``AssignLatePenalties``,
    applied to the course gradebook's score, so that a manual grade counts as it does in nbgrader.
    """
    from nbgrader.preprocessors import AssignLatePenalties

    from .course import nbgrader_config

    assigner = AssignLatePenalties(config=nbgrader_config(course.root))
    assigner.init_plugin()

    def late(student, notebook, seconds_late):
        if not seconds_late or seconds_late <= 0:
            return None
        value = assigner.plugin_inst.late_submission_penalty(student, notebook.score, seconds_late)
        return None if value is None else assigner._check_late_penalty(notebook, value)

    return late


def read_back(results: list[Result], course: Course) -> None:
    """Fill each result from the course gradebook: what the formgrader shows is what we report.

    The score is after the late penalty (as ``nbgrader export`` computes it); a submission with a
    question no person has graded yet is ``needs manual grading``.
    """
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        for r in results:
            try:
                student = gb.find_student(r.student)
                r.first_name, r.last_name = student.first_name or "", student.last_name or ""
            except MissingEntry:
                pass
            if r.status == FAILED:
                continue
            try:
                sub = gb.find_submission(r.assignment, r.student)
            except MissingEntry:
                continue
            r.raw_score = float(sub.score)
            r.late_penalty = float(sub.late_submission_penalty or 0.0)
            r.score = r.raw_score - r.late_penalty
            r.max_score = float(sub.max_score)
            r.seconds_late = float(sub.total_seconds_late)
            r.timestamp = sub.timestamp.isoformat(sep=" ") + " UTC" if sub.timestamp else ""
            pending = [f"{nb.name}/{g.name}" for nb in sub.notebooks for g in nb.grades
                       if g.needs_manual_grade]
            r.needs_manual_grade = bool(pending)
            if pending:
                note = f"{len(pending)} question(s) need manual grading: {', '.join(pending)}"
                if r.status == GRADED:
                    r.status, r.reason = MANUAL, note
                elif note not in r.reason:
                    r.reason = f"{r.reason}; {note}" if r.reason else note
            elif r.status == MANUAL:
                r.status, r.reason = GRADED, ""


def grade_course(course: Course, submitted: Path, opts: Options, *, release: bool = True,
                 csv_path: Path | None = None, progress=None, keep_work: bool = False,
                 client=None):
    """The whole pipeline behind ``make grade``; returns this run's results.

    ``grades.csv`` lists every submission graded so far (this run's and earlier runs'), each read
    back from the gradebook, so that it agrees with the formgrader. With a ``distributed.Client``
    (see :mod:`grader.distributed`) the jobs are graded on that Dask cluster; the merge still runs
    here, once.
    """
    assignments = course.assignments()
    if release:
        api = api_for(course.root)
        for a in assignments:
            out = api.generate_assignment(a, force=True)
            if not out["success"]:
                raise RuntimeError(f"nbgrader could not generate the release of {a}:\n"
                                   f"{out.get('error', '')}")
    jobs = find_jobs(submitted, assignments)
    unknown = unknown_submissions(submitted, assignments)
    if not jobs and not unknown:
        return []
    if not jobs:
        results, work_root = [], None
    elif client is not None:
        from .distributed import run_jobs_on_cluster

        results, work_root = run_jobs_on_cluster(jobs, course, opts, client, progress)
    else:
        results, work_root = run_jobs(jobs, course, opts, progress)
    results += unknown
    try:
        merge(results, course)
        report.save_status(results, course.root / report.STATUS_FILE)
        read_back(results, course)
        write_report(course, csv_path)
    finally:
        if work_root is not None and keep_work:
            print(f"Scratch folders kept in {work_root}")
        elif work_root is not None:
            shutil.rmtree(work_root, ignore_errors=True)
    return results


def unknown_submissions(submitted: Path, assignments: list[str]) -> list[Result]:
    """Folders ``<student>/<name>/`` for no assignment of the course: failed, with the reason."""
    out = []
    if not submitted.is_dir():
        return out
    for student in sorted(p for p in submitted.iterdir() if p.is_dir()):
        for folder in sorted(p for p in student.iterdir() if p.is_dir()):
            if folder.name not in assignments and not folder.name.startswith("."):
                out.append(Result(student.name, folder.name, FAILED,
                                  f"no assignment {folder.name!r} in solutions/ (closed, "
                                  f"removed or misspelt); the course has {', '.join(assignments)}"))
    return out


def all_results(course: Course) -> list[Result]:
    """Every submission graded in ``course`` (by ``make grade`` or by plain ``nbgrader autograde``),
    as the gradebook has it now."""
    results = [Result(**row) for row in report.load_status(course.root / report.STATUS_FILE)]
    known = {(r.student, r.assignment) for r in results}
    db = course.root / "gradebook.db"
    if db.exists():
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{db}") as gb:
            for assignment in gb.assignments:
                for sub in assignment.submissions:
                    if (sub.student.id, assignment.name) not in known:
                        results.append(Result(sub.student.id, assignment.name, GRADED))
    read_back(results, course)
    return results


def write_report(course: Course, csv_path: Path | None = None) -> list[Result]:
    """Write ``grades.csv`` from the gradebook (manual grades included) and the grading statuses."""
    results = all_results(course)
    report.write_csv(results, csv_path or course.root / "grades.csv")
    return results
