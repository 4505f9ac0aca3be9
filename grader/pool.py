"""The local executor: grade jobs in parallel on this machine, each in a worker of its own.

Each job (:mod:`grader.job`) runs in a worker forked by the fork server (:mod:`grader.forkserver`),
with its own scratch course, its own sandboxed kernel and its own uid, so a failing, hanging or
malicious submission can affect nobody else, and no two jobs share a gradebook. The parent enforces
a wall-clock limit per job. :mod:`grader.distributed` is the other executor (a Dask cluster), and
runs this one on each of its workers; :mod:`grader.scheduler` uses either.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from . import gradebook, sandbox
from . import zygote as zygote_mod
from .course import Course
from .forkserver import Workers, kill_group
from .job import grade_job, reference_probes
from .releases import build_template
from .types import FAILED, Job, Options, Result


def _child(job, course, template, job_dir, slot, opts, reference, prior=None):
    """A grading worker's work (in a process forked by :class:`Workers`, the leader of its own
    session, so that the parent can kill the whole job if it overruns)."""

    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's, harmless
    grade_job(job, course, template, job_dir, slot, opts, reference, prior)  # writes result.json


def run_jobs(jobs: list[Job], course: Course, opts: Options, progress=None, *,
             released: bool = False, template: Path | None = None, prior: list | None = None):
    """Grade ``jobs`` with ``opts.workers`` workers.

    Returns the results in the order of ``jobs`` and the scratch folder that holds each job's
    products (``Result.job_dir``). The template course (see :func:`build_template`) is built here
    unless ``template`` is given; ``prior`` (see :func:`grader.gradebook.read_prior`) defaults to
    the course gradebook's. A remote worker is handed both instead.
    """
    with sandbox.lease_slots(max(1, opts.workers)) as slots:
        return _run_jobs(jobs, course, opts, progress, slots, released, template, prior)


def _run_jobs(jobs, course, opts, progress, slots, released=False, template=None, prior=None):
    work_root = Path(tempfile.mkdtemp(prefix="grading-", dir=opts.work_root or "/var/tmp"))
    os.chmod(work_root, 0o711)
    results: dict[int, Result] = {}
    zygote = workers = None
    try:
        # Workers fork from a clean fork server (nbgrader preloaded), not from this process: a child
        # forked after the parent ran nbgrader inherits its event-loop state and hangs on timeouts.
        # The server also renders one feedback page first (grader._preload), so workers start warm.
        # It and the zygote start now and import while the template is built.
        workers = Workers()
        if opts.zygote:
            zygote = zygote_mod.start(work_root)
        assignments = sorted({j.assignment for j in jobs})
        if template is None:
            template = build_template(course, work_root, assignments, released=released)
        socket = zygote_mod.wait_ready(zygote) if zygote is not None else None
        free = [sandbox.Slot(n, opts.limits, opts.timeout, socket) for n in slots]
        refs = {a: reference_probes(course, template, a, free[0]) for a in assignments}
        if prior is None:
            prior = gradebook.read_prior(course, jobs)
        pending = list(enumerate(jobs))
        running: dict[int, tuple] = {}  # slot number -> (slot, index, process, deadline, job_dir)
        while pending or running:
            while pending and free:
                index, job = pending.pop(0)
                slot = free.pop(0)
                job_dir = Path(tempfile.mkdtemp(dir=work_root, prefix="job-"))
                proc = workers.start(_child, job, course, template, job_dir, slot, opts,
                                     refs[job.assignment], prior[index])
                running[slot.number] = (slot, index, proc, time.monotonic() + opts.job_timeout,
                                        job_dir)
            workers.wait(0.05)
            for number, (slot, index, proc, deadline, job_dir) in list(running.items()):
                job = jobs[index]
                if proc.alive and time.monotonic() < deadline:
                    continue
                if proc.alive:
                    kill_group(proc.pid)
                    workers.join(proc, 5)
                    results[index] = _worker_result(job, job_dir, proc.exitcode, opts.job_timeout)
                else:
                    results[index] = _worker_result(job, job_dir, proc.exitcode, None)
                slot.kill()
                del running[number]
                free.append(slot)
                if progress is not None:
                    progress(results[index])
        return [results[i] for i in range(len(jobs))], work_root
    except BaseException:
        shutil.rmtree(work_root, ignore_errors=True)
        raise
    finally:
        if workers is not None:
            workers.close()
        if zygote is not None:
            zygote_mod.stop(zygote)


def _worker_result(job: Job, job_dir: Path, exitcode: int | None,
                   overdue: float | None) -> Result:
    """The result of a job whose worker ended: the one it wrote (``result.json``), or failed with
    why, when it was killed after ``overdue`` seconds or died without writing one."""
    if overdue is not None:
        return Result(job.student, job.assignment, FAILED,
                      f"grading took longer than {overdue:g} s")
    try:
        return Result(**json.loads((job_dir / "result.json").read_text()))
    except (OSError, ValueError, TypeError):
        return Result(job.student, job.assignment, FAILED,
                      f"the grading worker died (exit code {exitcode})")
