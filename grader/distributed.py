"""Grading on a Dask distributed cluster: ``python -m grader run --scheduler tcp://host:8786``.

The instructor's process stays the only one that touches the course: it packs the assignments'
sources and each submission into bytes, sends them through Dask (no shared filesystem), and merges
what comes back into the gradebook itself, once per submission. A Dask worker unpacks them into a
scratch course of its own and grades with the same pipeline as a local run (:func:`run_jobs`: the
integrity check, the sandboxed kernel, the hidden checks, the feedback), then sends back each job's
result and its products (the job's gradebook, ``autograded/`` and ``feedback/``) as bytes.

Jobs travel in chunks, a few per worker thread, so that a worker builds its scratch course once per
chunk rather than once per submission. A worker that dies mid-chunk is handled by Dask: the
scheduler gives the chunk to another worker (up to ``distributed.scheduler.allowed-failures``
times); a chunk that still fails comes back as ``failed`` for each of its submissions, with the
reason. Nothing is merged twice: the merge runs after all chunks are in, one result per submission.

A worker needs the course package installed (``pip install .`` of this repository, or its image)
and, for the full sandbox, to run as root or as a user with unprivileged user namespaces; see
``docs/grading.md``. Dask's default workers do (``dask worker ADDRESS``, daemonic processes under a
nanny, as ``LocalCluster`` starts them too): the grading processes are plain subprocesses
(:class:`grader.forkserver.Workers`, the zygote, the probes), which a daemonic process may start.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import tarfile
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

from .course import Course
from .gradebook import read_prior
from .pool import run_jobs
from .releases import build_template
from .types import FAILED, Job, Options, Result, unknown_assignment


class SchedulerUnavailable(RuntimeError):
    """No Dask scheduler answered at the address given."""


def connect(address: str, timeout: float = 10.0):
    """A ``distributed.Client`` for ``address``; :class:`SchedulerUnavailable` when none answers."""
    if not isinstance(address, str) or not address.strip():
        raise ValueError("scheduler must be an address such as tcp://127.0.0.1:8786, "
                         f"got {address!r}")
    from distributed import Client  # on purpose here: Dask only for a run with --scheduler

    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerUnavailable(f"no Dask scheduler answered at {address} within {timeout:g} s "
                                   f"({type(exc).__name__}: {exc})") from None
    if not client.scheduler_info().get("workers"):
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            client.close()
            raise SchedulerUnavailable(f"the Dask scheduler at {address} has no worker "
                                       f"({type(exc).__name__})") from None
    return client


# ---------------------------------------------------------------------------------------------
# bytes in, bytes out


def _no_links(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """A tar filter that leaves links out."""
    return None if member.issym() or member.islnk() else member


def _pack(folder: Path, arcname: str = ".") -> bytes:
    """``folder`` as a gzipped tar; links are left out (a submission never needs them)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(folder, arcname=arcname, filter=_no_links)
    return buf.getvalue()


def _unpack(data: bytes, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(dest, filter="data")


def _products(result: Result) -> bytes:
    """What the instructor's side reads of a job: ``autograded/`` and ``feedback/`` (the merge), its
    gradebook (the feedback service's page)."""
    job_dir = Path(result.job_dir)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rel in ("gradebook.db", f"autograded/{result.student}/{result.assignment}",
                    f"feedback/{result.student}/{result.assignment}"):
            if (job_dir / rel).exists():
                tar.add(job_dir / rel, arcname=rel, filter=_no_links)
    return buf.getvalue()


def grade_chunk(course_bytes: bytes, chunk: list[dict], opts: Options) -> list[tuple[dict, bytes]]:
    """Runs on a Dask worker: grade ``chunk`` in a scratch course made from ``course_bytes``.

    ``course_bytes`` holds the assignments' sources and the template course (see
    :func:`grader.releases.build_template`), built once by the instructor's process. Each item of
    ``chunk`` has ``student``, ``assignment``, ``submission`` (bytes) and ``prior``. Returns, per
    item and in order, the result as a dict and the job's products.
    """
    keep = bool(os.environ.get("GRADER_KEEP_WORK"))  # for debugging a worker: keep its scratch
    scratch = Path(tempfile.mkdtemp(prefix="grader-dask-"))
    try:
        root = scratch / "course"
        _unpack(course_bytes, root)
        jobs = []
        for item in chunk:
            folder = root / "submitted" / item["student"] / item["assignment"]
            _unpack(item["submission"], folder)
            jobs.append(Job(item["student"], item["assignment"], folder))
        results, work_root = run_jobs(jobs, Course(root), replace(opts, work_root=None),
                                      template=root / "template",
                                      prior=[item["prior"] for item in chunk])
        try:
            return [(asdict(r), _products(r) if r.job_dir and r.status != FAILED else b"")
                    for r in results]
        finally:
            if not keep:
                shutil.rmtree(work_root, ignore_errors=True)
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# the instructor's side


def run_jobs_on_cluster(jobs: list[Job], course: Course, opts: Options, client, progress=None,
                        *, released: bool = False, chunks_per_thread: int = 2):
    """Grade ``jobs`` on the cluster behind ``client``; the same return value as :func:`run_jobs`.

    Every job comes back exactly once: graded, or ``failed`` with the reason when its chunk could
    not be graded on any worker.
    """
    from distributed import as_completed  # on purpose here: see connect

    work_root = Path(tempfile.mkdtemp(prefix="grading-", dir=opts.work_root or "/var/tmp"))
    assignments = sorted({j.assignment for j in jobs})
    staging = work_root / "course"
    for a in assignments:
        shutil.copytree(course.solutions / a, staging / "solutions" / a)
    build_template(course, staging, assignments, released=released)  # once, for every worker
    course_future = client.scatter(_pack(staging), broadcast=True)
    shutil.rmtree(staging)
    prior = read_prior(course, jobs)
    threads = max(1, sum(client.nthreads().values()))
    size = max(1, math.ceil(len(jobs) / (threads * chunks_per_thread)))
    chunks = [list(range(i, min(i + size, len(jobs)))) for i in range(0, len(jobs), size)]
    remote_opts = replace(opts, workers=1, work_root=None)
    futures = {}
    for n, indices in enumerate(chunks):
        items = [{"student": jobs[i].student, "assignment": jobs[i].assignment,
                  "submission": _pack(jobs[i].submission), "prior": prior[i]}
                 for i in indices]
        future = client.submit(grade_chunk, course_future, items, remote_opts, pure=False,
                               key=f"grade-chunk-{n}-{work_root.name}")
        futures[future.key] = (future, indices)
    results: dict[int, Result] = {}
    for future in as_completed([f for f, _ in futures.values()], loop=client.loop):
        _, indices = futures[future.key]
        try:
            returned = future.result()
        except Exception as exc:  # noqa: BLE001 - a chunk lost on every worker it was given: failed, with why
            reason = f"the Dask cluster could not grade it: {type(exc).__name__}: {exc}"[:300]
            for i in indices:
                results[i] = Result(jobs[i].student, jobs[i].assignment, FAILED, reason)
                if progress is not None:
                    progress(results[i])
            continue
        for i, (data, products) in zip(indices, returned, strict=False):
            result = Result(**data)
            if products:
                local = work_root / f"job-{i}"
                _unpack(products, local)
                result.job_dir = str(local)
            else:
                result.job_dir = ""
            results[i] = result
            if progress is not None:
                progress(result)
    return [results[i] for i in range(len(jobs))], work_root


class ClusterExecutor:
    """The Dask executor with :class:`grader.pool.LocalExecutor`'s interface, for jobs that come
    one at a time (the feedback service): each job is sent as a chunk of its own as soon as it is
    submitted; :meth:`poll` returns those that came back.

    The course's sources and the template course are packed and scattered to the workers once,
    when it is entered. ``free`` counts the cluster's threads not taken by a job of this executor.
    """

    def __init__(self, course: Course, opts: Options, assignments: list[str], client):
        self.course, self.opts, self.assignments, self.client = course, opts, assignments, client
        self.work_root: Path | None = None
        self._futures: dict = {}  # key -> (future, job)
        self._course_future = None
        self._n = 0

    def __enter__(self) -> ClusterExecutor:
        self.work_root = Path(tempfile.mkdtemp(prefix="grading-",
                                               dir=self.opts.work_root or "/var/tmp"))
        staging = self.work_root / "course"
        for a in self.assignments:
            shutil.copytree(self.course.solutions / a, staging / "solutions" / a)
        build_template(self.course, staging, self.assignments)
        self._course_future = self.client.scatter(_pack(staging), broadcast=True)
        shutil.rmtree(staging)
        return self

    def __exit__(self, *exc) -> None:
        for future, _ in self._futures.values():
            future.cancel()
        self._futures.clear()
        shutil.rmtree(self.work_root, ignore_errors=True)

    def warm(self, stop=None) -> None:
        """Nothing to warm here: each job's chunk runs its reference probes on its worker."""

    @property
    def free(self) -> int:
        return max(0, sum(self.client.nthreads().values()) - len(self._futures))

    def submit(self, job: Job, prior: dict | None = None, key=None):
        key = self._n if key is None else key
        self._n += 1
        if job.assignment not in self.assignments:
            self._futures[key] = (None, job)
            return key
        item = {"student": job.student, "assignment": job.assignment,
                "submission": _pack(job.submission), "prior": prior}
        future = self.client.submit(grade_chunk, self._course_future, [item],
                                    replace(self.opts, workers=1, work_root=None), pure=False,
                                    key=f"grade-one-{self._n}-{self.work_root.name}")
        self._futures[key] = (future, job)
        return key

    def poll(self, timeout: float = 0.05) -> list[tuple[object, Result]]:
        ended = []
        deadline = time.monotonic() + timeout
        while True:
            for key, (future, job) in list(self._futures.items()):
                if future is None:
                    ended.append((key, unknown_assignment(job.student, job.assignment,
                                                          self.assignments)))
                elif future.done():
                    ended.append((key, self._result(key, future, job)))
                else:
                    continue
                del self._futures[key]
            if ended or time.monotonic() >= deadline:
                return ended
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def _result(self, key, future, job: Job) -> Result:
        try:
            ((data, products),) = future.result()
        except Exception as exc:  # noqa: BLE001 - lost on every worker it was given: failed, with why
            return Result(job.student, job.assignment, FAILED,
                          f"the Dask cluster could not grade it: {type(exc).__name__}: "
                          f"{exc}"[:300])
        result = Result(**data)
        result.job_dir = ""
        if products:
            local = Path(tempfile.mkdtemp(dir=self.work_root, prefix="job-"))
            _unpack(products, local)
            result.job_dir = str(local)
        return result
