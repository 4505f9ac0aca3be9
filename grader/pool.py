"""The local executor: grade jobs in parallel on this machine, each in a worker of its own.

Each job (:mod:`grader.job`) runs in a worker forked by the fork server (:mod:`grader.forkserver`),
with its own scratch course, its own sandboxed kernel and its own uid, so a failing, hanging or
malicious submission can affect nobody else, and no two jobs share a gradebook. The parent enforces
a wall-clock limit per job.

:class:`LocalExecutor` keeps its warm state (the fork server, the kernel zygote, the template
course, each assignment's reference probes) for as long as it is open and takes jobs as they come:
:func:`run_jobs` hands it a whole batch (``make grade``), :mod:`grader.service` one submission at a
time. :mod:`grader.distributed` is the other executor (a Dask cluster), and runs this one on each of
its workers; :mod:`grader.scheduler` uses either.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import warnings
from contextlib import ExitStack
from pathlib import Path

from . import gradebook, prestart, sandbox
from . import zygote as zygote_mod
from .course import Course
from .forkserver import Workers, kill_group
from .job import grade_job, reference_probes
from .releases import build_template
from .types import FAILED, Job, Options, Result, unknown_assignment


def _child(job, course, template, job_dir, slot, opts, reference, prior=None):
    """A grading worker's work (in a process forked by :class:`Workers`, the leader of its own
    process group, so that the parent can kill the whole job if it overruns)."""

    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's, harmless
    grade_job(job, course, template, job_dir, slot, opts, reference, prior)  # writes result.json


class LocalExecutor:
    """Grade jobs on this machine, ``opts.workers`` at a time, with warm state kept between jobs.

    Use it as a context manager: entering leases the worker slots, starts the fork server and the
    zygote and builds the template course (see :func:`build_template`) for ``assignments``; leaving
    stops them and, unless ``keep_work``, removes the scratch folder. :meth:`submit` queues a job,
    :meth:`poll` returns the jobs that ended since (``(key, Result)`` pairs). Reference probes are
    run once per assignment, when its first job starts.

    Parameters
    ----------
    course : Course
        The course whose solutions and gradebook the jobs use.
    opts : Options
        Workers, limits and time limits.
    assignments : list of str
        The assignments the template course holds; a job of another one fails with the reason.
    released : bool
        The course's releases and gradebook were regenerated in this run: the template is made of
        them rather than generated again.
    template : Path, optional
        A template course built elsewhere (a Dask worker is handed one).
    started : prestart.Started, optional
        The scratch folder, fork server and zygote started earlier (``python -m grader run``
        starts them before its own imports, so that they warm up meanwhile, see
        :mod:`grader.prestart`); the executor takes them over, stops them and removes the folder.
    """

    def __init__(self, course: Course, opts: Options, assignments: list[str], *,
                 released: bool = False, template: Path | None = None,
                 started: prestart.Started | None = None):
        self.course, self.opts, self.assignments = course, opts, list(assignments)
        self.released, self.template = released, template
        self._started = started
        self.work_root: Path | None = None
        self.keep_work = False
        self._stack = ExitStack()
        self._workers: Workers | None = None
        self._free: list[sandbox.Slot] = []
        self._refs: dict[str, list] = {}
        self._pending: list[tuple[object, Job, dict | None]] = []
        self._running: dict[int, tuple] = {}  # slot number -> (slot, key, job, proc, deadline, dir)
        self._keys = 0

    def __enter__(self) -> LocalExecutor:
        try:
            slots = self._stack.enter_context(sandbox.lease_slots(max(1, self.opts.workers)))
            # the fork server and the zygote import while the template is built
            started, self._started = self._started, None
            if started is None:
                started = prestart.start(self.course, self.assignments, self.opts)
            started.taken = True
            self.work_root, self._workers, zygote = (started.work_root, started.workers,
                                                     started.zygote)
            self._stack.callback(self._remove_work)
            self._stack.callback(self._workers.close)
            if zygote is not None:
                self._stack.callback(zygote_mod.stop, zygote)
            if self.template is None:
                self.template = build_template(self.course, self.work_root, self.assignments,
                                               released=self.released)
            socket = zygote_mod.wait_ready(zygote) if zygote is not None else None
            self._free = [sandbox.Slot(n, self.opts.limits, self.opts.timeout, socket,
                                       hide=tuple(self.opts.hide)) for n in slots]
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Kill any job still running, stop the fork server and the zygote, release the slots."""
        for slot, _, _, proc, _, _ in self._running.values():
            if proc.alive:
                kill_group(proc.pid)
            slot.kill()
        self._running.clear()
        self._stack.close()

    def _remove_work(self) -> None:
        if self.work_root is not None and not self.keep_work:
            shutil.rmtree(self.work_root, ignore_errors=True)

    @property
    def busy(self) -> int:
        """Jobs queued or running."""
        return len(self._pending) + len(self._running)

    def warm(self, stop=None) -> None:
        """Run every assignment's reference probes now (otherwise the first job of each pays for
        them): a long-running service does it at start, not in a deadline's rush. ``stop``, if
        given, is asked before each assignment; once it returns true the rest is left to the
        first job of each (a service told to stop does not finish warming up first)."""
        for assignment in self.assignments:
            if stop is not None and stop():
                return
            if assignment not in self._refs and self._free:
                self._refs[assignment] = reference_probes(self.course, self.template, assignment,
                                                          self._free[0])

    @property
    def free(self) -> int:
        """Jobs that would start at once if submitted now."""
        return len(self._free) - len(self._pending)

    def submit(self, job: Job, prior: dict | None = None, key=None):
        """Queue ``job`` (``prior``: see :func:`grader.gradebook.read_prior`); return its key."""
        if key is None:
            key, self._keys = self._keys, self._keys + 1
        self._pending.append((key, job, prior))
        return key

    def poll(self, timeout: float = 0.05) -> list[tuple[object, Result]]:
        """Start queued jobs on free slots, wait up to ``timeout`` seconds, return the jobs that
        ended (each with its result; one over ``opts.job_timeout`` is killed and failed)."""
        ended = []
        for entry in [e for e in self._pending if e[1].assignment not in self.assignments]:
            self._pending.remove(entry)
            key, job, _ = entry
            ended.append((key, unknown_assignment(job.student, job.assignment,
                                                  self.assignments)))
        self._start_pending()
        self._workers.wait(timeout)
        for number, (slot, key, job, proc, deadline, job_dir) in list(self._running.items()):
            if proc.alive and time.monotonic() < deadline:
                continue
            if proc.alive:
                kill_group(proc.pid)
                self._workers.join(proc, 5)
                result = _worker_result(job, job_dir, proc.exitcode, self.opts.job_timeout)
            else:
                result = _worker_result(job, job_dir, proc.exitcode, None)
            slot.kill()
            del self._running[number]
            self._free.append(slot)
            ended.append((key, result))
        self._start_pending()  # before the caller handles what ended: no slot waits for that
        return ended

    def _start_pending(self) -> None:
        """Start queued jobs on the free slots."""
        while self._pending and self._free:
            key, job, prior = self._pending.pop(0)
            slot = self._free.pop(0)
            if job.assignment not in self._refs:
                self._refs[job.assignment] = reference_probes(self.course, self.template,
                                                              job.assignment, slot)
            job_dir = Path(tempfile.mkdtemp(dir=self.work_root, prefix="job-"))
            proc = self._workers.start(_child, job, self.course, self.template, job_dir, slot,
                                       self.opts, self._refs[job.assignment], prior)
            self._running[slot.number] = (slot, key, job, proc,
                                          time.monotonic() + self.opts.job_timeout, job_dir)


def run_jobs(jobs: list[Job], course: Course, opts: Options, progress=None, *,
             released: bool = False, template: Path | None = None, prior: list | None = None,
             started: prestart.Started | None = None):
    """Grade ``jobs`` with ``opts.workers`` workers (a :class:`LocalExecutor` for the batch).

    Returns the results in the order of ``jobs`` and the scratch folder that holds each job's
    products (``Result.job_dir``). The template course (see :func:`build_template`) is built here
    unless ``template`` is given; ``prior`` (see :func:`grader.gradebook.read_prior`) defaults to
    the course gradebook's. A remote worker is handed both instead. ``started``: see
    :class:`LocalExecutor`.
    """
    executor = LocalExecutor(course, opts, sorted({j.assignment for j in jobs}),
                             released=released, template=template, started=started)
    with executor:
        if prior is None:
            prior = gradebook.read_prior(course, jobs)
        for index, job in enumerate(jobs):
            executor.submit(job, prior[index], key=index)
        results: dict[int, Result] = {}
        while executor.busy:
            for index, result in executor.poll(0.05):
                results[index] = result
                if progress is not None:
                    progress(result)
        executor.keep_work = True  # the caller merges from it, then removes it
    return [results[i] for i in range(len(jobs))], executor.work_root


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
