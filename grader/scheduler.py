"""Grade a course: find the submissions, grade them with an executor, merge, report.

:func:`grade_course` is ``make grade``: the releases (:mod:`grader.releases`), the jobs graded by
the local executor (:mod:`grader.pool`) or on a Dask cluster (:mod:`grader.distributed`), their
results merged into the course's gradebook, ``autograded/`` and ``feedback/`` (:mod:`grader.merge`),
replacing any earlier grading of the same submission completely, and every result reported
(``grades.csv``, the printed table; :mod:`grader.report`).
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

from . import gradebook, report
from .course import Course
from .distributed import run_jobs_on_cluster
from .merge import merge
from .pool import run_jobs
from .releases import generate_releases, record_assignments
from .types import GRADED, Job, Options, Result, unknown_assignment


def scan(submitted: Path, assignments: list[str]) -> tuple[list[Job], list[Result]]:
    """One pass over ``submitted``: a job for every ``<student>/<assignment>/`` folder of a known
    assignment, and a failed result for every folder ``<student>/<name>/`` of no assignment of the
    course, with the reason."""
    jobs, unknown = [], []
    if not submitted.is_dir():
        return jobs, unknown
    for student in sorted(p for p in submitted.iterdir() if p.is_dir()):
        folders = sorted(p for p in student.iterdir() if p.is_dir())
        names = {f.name for f in folders}
        jobs += [Job(student.name, a, student / a) for a in assignments if a in names]
        unknown += [unknown_assignment(student.name, folder.name, assignments)
                    for folder in folders
                    if folder.name not in assignments and not folder.name.startswith(".")]
    return jobs, unknown


def grade_course(course: Course, submitted: Path, opts: Options, *, release: bool = True,
                 csv_path: Path | None = None, progress=None, keep_work: bool = False,
                 client=None, found: tuple[list[Job], list[Result]] | None = None,
                 timings: dict | None = None, started=None, alongside=None):
    """The whole pipeline behind ``make grade``; returns this run's results.

    ``grades.csv`` lists every submission graded so far (this run's and earlier runs'), each read
    back from the gradebook, so that it agrees with the formgrader. With a ``distributed.Client``
    (see :mod:`grader.distributed`) the jobs are graded on that Dask cluster; the merge still runs
    here, once. ``found`` is what :func:`scan` found in ``submitted``, if the caller scanned it.
    Without ``release``, an assignment the gradebook does not know yet (a fresh clone has no
    ``gradebook.db``) is recorded in it before any grading (:func:`record_assignments`).
    ``timings``, if given, gets the seconds of the run's parts: ``"jobs"`` (the executor, every
    job), ``"merge"``, ``"alongside"`` (waiting for ``alongside`` after the merge) and ``"report"``
    (statuses, read-back, ``grades.csv``). ``started``: the
    local executor's processes started earlier (:mod:`grader.prestart`), which it takes over.
    ``alongside``, if given,
    is called in a thread of its own once the jobs have ended, beside the merge, and waited for
    before ``grades.csv`` is written: the similarity check, whose flags the report then shows. It
    must not touch what the merge writes (it reads ``autograded/`` only for students graded in
    earlier runs).
    """
    timings = {} if timings is None else timings
    assignments = course.assignments()
    if release:
        generate_releases(course, assignments)
    jobs, unknown = found if found is not None else scan(submitted, assignments)
    if not jobs and not unknown:
        return []
    if not release:  # before any work: the merge needs every assignment in the gradebook
        added = record_assignments(course, sorted({j.assignment for j in jobs}))
        if added:
            print(f"The gradebook did not know {', '.join(added)}: recorded from solutions/, as "
                  "nbgrader generate_assignment does (exercises/ left as it is).")
    begin = time.perf_counter()
    if not jobs:
        results, work_root = [], None
    elif client is not None:
        results, work_root = run_jobs_on_cluster(jobs, course, opts, client, progress,
                                                 released=release)
    else:
        results, work_root = run_jobs(jobs, course, opts, progress, released=release,
                                      started=started)
    timings["jobs"] = time.perf_counter() - begin
    results += unknown
    # Only now, with no student's kernel left running: the merge and the similarity check write
    # the course's private files (gradebook.db and its journal, autograded/, feedback/,
    # similarity*), which a kernel started meanwhile would find half-written or not yet hidden.
    beside = _Beside(alongside)
    try:
        begin = time.perf_counter()
        merge(results, course)
        timings["merge"] = time.perf_counter() - begin
    finally:
        if work_root is not None and keep_work:
            print(f"Scratch folders kept in {work_root}")
        elif work_root is not None:
            shutil.rmtree(work_root, ignore_errors=True)
    begin = time.perf_counter()
    beside.join()
    timings["alongside"] = time.perf_counter() - begin
    begin = time.perf_counter()
    report.save_status(results, course.root / report.STATUS_FILE)
    gradebook.read_back(results, course)
    write_report(course, csv_path)
    timings["report"] = time.perf_counter() - begin
    return results


class _Beside:
    """``function()`` run in a daemon thread from now on (nothing when ``function`` is None);
    :meth:`join` waits for it and raises what it raised."""

    def __init__(self, function):
        self._error: BaseException | None = None
        self._thread = None
        if function is not None:
            self._thread = threading.Thread(target=self._run, args=(function,), daemon=True,
                                            name="grader-alongside")
            self._thread.start()

    def _run(self, function) -> None:
        try:
            function()
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            self._error = exc

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error


def all_results(course: Course) -> list[Result]:
    """Every submission graded in ``course`` (by ``make grade`` or by plain ``nbgrader autograde``),
    as the gradebook has it now."""
    results = [Result(**row) for row in report.load_status(course.root / report.STATUS_FILE)]
    known = {(r.student, r.assignment) for r in results}
    results += [Result(student, assignment, GRADED)
                for student, assignment in gradebook.submissions(course)
                if (student, assignment) not in known]
    gradebook.read_back(results, course)
    return results


def write_report(course: Course, csv_path: Path | None = None) -> list[Result]:
    """Write ``grades.csv`` from the gradebook (manual grades included, late penalties refreshed)
    and the grading statuses."""
    gradebook.refresh_late_penalties(course)
    results = all_results(course)
    report.write_csv(results, csv_path or course.root / "grades.csv")
    return results
