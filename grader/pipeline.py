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


def build_template(course: Course, work_root: Path, assignments: list[str]) -> Path:
    """A scratch course whose gradebook knows every assignment (generated from the sources)."""
    template = work_root / "template"
    template.mkdir(mode=0o700)
    for a in assignments:
        shutil.copytree(course.solutions / a, template / "solutions" / a)
    api = api_for(template)
    for a in assignments:
        result = api.generate_assignment(a, force=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader could not generate {a}:\n{result.get('error', '')}")
    return template


def reference_probes(course: Course, template: Path, assignment: str, opts: Options,
                     slot: int) -> list:
    """The instructor's solution run through the probes, as the yardstick for students."""
    spec = probes.load_probes(course.solutions / assignment)
    if not spec:
        return []
    source = integrity.read_notebook(course.solutions / assignment / f"{spec['notebook']}.ipynb")
    job_dir = Path(tempfile.mkdtemp(dir=template.parent, prefix="reference-"))
    return probes.run(source, spec["probes"], job_dir / "probe", slot, [], opts.limits,
                      opts.timeout, opts.zygote_socket)


# ---------------------------------------------------------------------------------------------
# one job (runs in a forked child)


def _clean_for_feedback(nb, release_nb, max_chars: int):
    """Hide hidden tests and cap outputs in the autograded notebook before feedback is rendered."""
    visible = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in release_nb.cells
               if "nbgrader" in c.metadata}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id")
        is_test = meta.get("grade") and not meta.get("solution")
        if is_test and gid in visible and cell.source != visible[gid]:
            cell.source = visible[gid] + "\n# (hidden tests ran here; their code is not shown)"
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and is_test:
                out["traceback"] = [f"{out.get('ename', 'Error')}: {str(out.get('evalue', ''))[:500]}"]
            if out.get("output_type") == "stream" and len(out.get("text", "")) > max_chars:
                out["text"] = out["text"][:max_chars] + f"\n[... output cut at {max_chars} characters]"
            for key, value in list(out.get("data", {}).items()):
                if isinstance(value, str) and len(value) > max_chars:
                    out["data"][key] = value[:max_chars] + "\n[... cut]"
    return nb


def grade_job(job: Job, course: Course, template: Path, work_root: Path, slot: int,
              opts: Options, reference: list) -> Result:
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
        result.findings = findings
        workdir = job_dir / "autograded" / job.student / job.assignment
        hide = [str(p) for p in course.private_paths()] + [
            str(job_dir / "submitted"), str(job_dir / "gradebook.db"), str(template)]
        spec_root = sandbox.prepare(job_dir, workdir, slot, hide, opts.limits,
                                    zygote=opts.zygote_socket)
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            [str(spec_root)] + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p])
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
                             opts.limits, opts.timeout, opts.zygote_socket)
            for probe, mine, ref in zip(spec["probes"], got, reference):
                score, maximum = result.grades.get(probe["grade_id"], [0.0, 0.0])
                if score == maximum and maximum > 0 and not probes.agrees(mine, ref, probe):
                    findings.append(f"{probe['grade_id']}: full marks in the kernel, but the hidden "
                                    f"check of {probe['call']} outside it disagrees")
        for release_path in release_nbs:
            graded = workdir / release_path.name
            if graded.exists():
                nb = nbformat.read(graded, as_version=4)
                release_nb = nbformat.read(release_path, as_version=4)
                nbformat.write(_clean_for_feedback(nb, release_nb, opts.max_output_chars), graded)
        api.generate_feedback(job.assignment, job.student, force=True)
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


def _child(job, course, template, work_root, slot, opts, reference, out_path):
    import warnings

    os.setsid()  # one process group to kill if the job overruns
    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's, harmless
    result = grade_job(job, course, template, work_root, slot, opts, reference)
    Path(out_path).write_text(json.dumps(asdict(result)))
    os._exit(0)


# ---------------------------------------------------------------------------------------------
# many jobs


def run_jobs(jobs: list[Job], course: Course, opts: Options, progress=None) -> list[Result]:
    """Grade ``jobs`` with ``opts.workers`` workers; results in the order of ``jobs``."""
    with sandbox.lease_slots(max(1, opts.workers)) as slots:
        return _run_jobs(jobs, course, opts, progress, slots)


def _run_jobs(jobs, course, opts, progress, slots):
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
        template = build_template(course, work_root, assignments)
        if zygote is not None:
            opts = replace(opts, zygote_socket=zygote_mod.wait_ready(zygote))
        refs = {a: reference_probes(course, template, a, opts, slots[0]) for a in assignments}
        pending = list(enumerate(jobs))
        running: dict[int, tuple] = {}  # slot -> (index, process, deadline, out_path)
        free = list(slots)
        while pending or running:
            while pending and free:
                index, job = pending.pop(0)
                slot = free.pop(0)
                out_path = work_root / f"result-{index}.json"
                proc = ctx.Process(target=_child, args=(job, course, template, work_root, slot,
                                                        opts, refs[job.assignment], out_path))
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


def merge(results: list[Result], course: Course, work_root: Path) -> None:
    """Put each job's outcome into the course: gradebook, autograded/ and feedback/.

    A regrade replaces the old submission completely; a failed job removes the old grades so that a
    stale score can never stand in for a failed grading.
    """
    from nbgrader.api import Gradebook, MissingEntry

    use_in_process_alembic()
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        for r in results:
            try:
                gb.remove_submission(r.assignment, r.student)
            except MissingEntry:
                pass
            for kind in ("autograded", "feedback"):
                shutil.rmtree(course.root / kind / r.student / r.assignment, ignore_errors=True)
            if r.status == FAILED:
                continue
            gb.update_or_create_student(r.student)
            gb.add_submission(r.assignment, r.student)
            sub = gb.find_submission(r.assignment, r.student)
            for nb in sub.notebooks:
                for grade in nb.grades:
                    if grade.name in r.grades:
                        grade.auto_score = r.grades[grade.name][0]
            gb.db.commit()
            job_dir = Path(r.job_dir)
            for kind in ("autograded", "feedback"):
                src = job_dir / kind / r.student / r.assignment
                if r.job_dir and src.is_dir():
                    dest = course.root / kind / r.student / r.assignment
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    # symlinks=True: a link the student's code left behind is copied as a link,
                    # never followed with the grader's rights.
                    shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns(
                        ".kernel-connection.json", ".ipynb_checkpoints"))


def grade_course(course: Course, submitted: Path, opts: Options, *, release: bool = True,
                 csv_path: Path | None = None, progress=None, keep_work: bool = False):
    """The whole pipeline behind ``make grade``; returns the results."""
    assignments = course.assignments()
    if release:
        api = api_for(course.root)
        for a in assignments:
            out = api.generate_assignment(a, force=True)
            if not out["success"]:
                raise RuntimeError(f"nbgrader could not generate the release of {a}:\n"
                                   f"{out.get('error', '')}")
    jobs = find_jobs(submitted, assignments)
    if not jobs:
        return []
    results, work_root = run_jobs(jobs, course, opts, progress)
    try:
        merge(results, course, work_root)
        report.write_csv(results, csv_path or course.root / "grades.csv")
    finally:
        if keep_work:
            print(f"Scratch folders kept in {work_root}")
        else:
            shutil.rmtree(work_root, ignore_errors=True)
    return results
