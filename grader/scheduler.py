"""Grade many submissions: find them, grade each in isolation and in parallel, merge the results.

Each job (:mod:`grader.job`) runs in a worker with its own scratch course, its own sandboxed kernel
and its own uid, so a failing, hanging or malicious submission can affect nobody else, and no two
jobs share a gradebook. Workers are forked by a fork server the run starts as a plain subprocess
(:class:`Workers`), so any process may grade, a daemonic one too (a Dask worker under its nanny). The parent enforces a wall-clock limit per job, then merges the results
into the course's gradebook, ``autograded/`` and ``feedback/``, replacing any earlier grading of the
same submission completely, and reports every result (``grades.csv``, the printed table).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import cells, gradebook, patches, report, sandbox
from . import zygote as zygote_mod
from .course import Course, api_for
from .job import grade_job, reference_probes
from .types import FAILED, GRADED, REVIEW, Job, Options, Result


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
        unknown += [Result(student.name, folder.name, FAILED,
                           f"no assignment {folder.name!r} in solutions/ (closed, "
                           f"removed or misspelt); the course has {', '.join(assignments)}")
                    for folder in folders
                    if folder.name not in assignments and not folder.name.startswith(".")]
    return jobs, unknown


def generate_releases(course: Course, assignments: list[str]) -> None:
    """Regenerate the student releases in ``exercises/`` (and the course gradebook's record of each
    assignment) from ``solutions/``, with nbgrader."""
    api = api_for(course.root)
    for a in assignments:
        out = api.generate_assignment(a, force=True)
        if not out["success"]:
            raise RuntimeError(f"nbgrader could not generate the release of {a}:\n"
                               f"{out.get('error', '')}")


def record_assignments(course: Course, assignments: list[str]) -> list[str]:
    """Record in the course gradebook each of ``assignments`` it does not know yet, with its
    notebooks and cells, as ``nbgrader generate_assignment`` does; return those recorded.

    A course folder without ``gradebook.db`` (a fresh clone) or whose gradebook never saw an
    assignment has no place for its grades: the merge would fail after every submission was graded.
    Graded with ``--no-release``, each job is graded against a release generated from
    ``solutions/`` (see :func:`build_template`), so the gradebook's record is generated the same way,
    in a scratch folder: ``exercises/`` is left as it is.
    """
    missing = gradebook.unknown_assignments(course, assignments)
    if not missing:
        return []
    patches.in_process_alembic()
    with tempfile.TemporaryDirectory(prefix="grader-record-") as tmp:
        scratch = Path(tmp)
        for a in missing:
            shutil.copytree(course.solutions / a, scratch / "solutions" / a)
        api = api_for(scratch, gradebook=course.root / "gradebook.db")
        for a in missing:
            out = api.generate_assignment(a, force=True)
            if not out["success"]:
                raise RuntimeError(f"nbgrader could not record {a} in the gradebook:\n"
                                   f"{out.get('error', '')}")
    return missing


def build_template(course: Course, work_root: Path, assignments: list[str], *,
                   released: bool = False) -> Path:
    """A scratch course whose gradebook knows every assignment and the due dates the instructor set
    (``nbgrader db assignment add A --duedate=...``) but no student, so that each job's autograde
    computes lateness and the late penalty as plain nbgrader would.

    With ``released`` (the course's releases and gradebook were regenerated in this run, see
    :func:`generate_releases`), it is made of those: nothing is generated twice. Otherwise the releases are
    generated here from the sources.
    """
    template = work_root / "template"
    template.mkdir(mode=0o700)
    if released:
        _template_from_release(course, template, assignments)
        return template
    for a in assignments:
        shutil.copytree(course.solutions / a, template / "solutions" / a)
    api = api_for(template)
    for a in assignments:
        result = api.generate_assignment(a, force=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader could not generate {a}:\n{result.get('error', '')}")
    due_dates = gradebook.read_due_dates(course, assignments)
    if due_dates:
        gradebook.set_due_dates(template / "gradebook.db", due_dates)
    return template


def _template_from_release(course: Course, template: Path, assignments: list[str]) -> None:
    """The course's fresh releases, and a copy of its gradebook without its students (their
    submissions, grades and comments): the assignments, their cells and due dates stay."""
    for a in assignments:
        shutil.copytree(course.exercises / a, template / "exercises" / a)
    gradebook.copy_without_students(course.root / "gradebook.db", template / "gradebook.db")


def _child(job, course, template, job_dir, slot, opts, reference, prior=None):
    """A grading worker's work (in a process forked by :class:`Workers`, the leader of its own
    session, so that the parent can kill the whole job if it overruns)."""
    import warnings

    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's, harmless
    grade_job(job, course, template, job_dir, slot, opts, reference, prior)  # writes result.json


def run_jobs(jobs: list[Job], course: Course, opts: Options, progress=None, *,
             released: bool = False, template: Path | None = None, prior: list | None = None):
    """Grade ``jobs`` with ``opts.workers`` workers.

    Returns the results in the order of ``jobs`` and the scratch folder that holds each job's
    products (``Result.job_dir``). The template course (see :func:`build_template`) is built here
    unless ``template`` is given; ``prior`` (see :func:`grader.gradebook.read_prior`) defaults to the course
    gradebook's. A remote worker is handed both instead.
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
                    _kill_group(proc.pid)
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


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------------------------------------
# the grading workers' fork server

# What the fork server imports (and warms up, grader._preload) once, for every worker it forks.
WORKER_PRELOAD = ("grader", "nbgrader.apps", "nbgrader.api", "grader.job", "grader.scheduler",
                  "grader._preload")


@dataclass
class Worker:
    """One grading worker of :class:`Workers`: its pid (also its process group and session) and,
    once it ended, its exit code (negative: the signal that killed it, ``None``: unknown, the fork
    server was lost)."""

    key: int
    pid: int | None = None
    exitcode: int | None = None
    ended: bool = False

    @property
    def alive(self) -> bool:
        return not self.ended


class Workers:
    """A fork server for the grading workers, started as a fresh interpreter.

    It imports nbgrader and warms up once (:data:`WORKER_PRELOAD`), then forks one worker per job,
    so each worker starts warm and clean: never a fork of the caller, whose threads and event-loop
    state a child must not inherit. It is a plain subprocess, so any process may start it, a
    daemonic one too (a Dask worker under its nanny, or any ``LocalCluster`` worker, which may not
    start ``multiprocessing`` children).

    Protocol, over a socket pair (pickled messages of :mod:`multiprocessing.connection`): the caller
    sends ``("start", key, payload)``, ``payload`` the pickle of ``(function, args)``; the server
    forks a worker, the leader of a session of its own, which calls ``function(*args)``, and answers
    ``("started", key, pid)``, then ``("exited", key, exitcode)`` when the worker ends. When the
    caller's end closes (the run is over, or the caller died), the server kills every worker still
    running and exits: no worker outlives the run that started it.
    """

    def __init__(self, preload: tuple[str, ...] = WORKER_PRELOAD):
        import socket
        import subprocess
        from multiprocessing.connection import Connection

        mine, theirs = socket.socketpair()
        code = ("import json, sys; sys.path[:] = json.loads(sys.argv[2]); "
                "from grader.scheduler import serve_workers; "
                "serve_workers(int(sys.argv[1]), sys.argv[3:])")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code, str(theirs.fileno()), json.dumps(sys.path), *preload],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            theirs.close()
        self.conn = Connection(mine.detach())
        self.workers: dict[int, Worker] = {}
        self._keys = 0

    def start(self, target, *args) -> Worker:
        """Fork a worker that calls ``target(*args)`` (both pickled: module-level functions and
        plain data); return it once it runs."""
        import pickle

        worker = Worker(self._keys)
        self._keys += 1
        self.workers[worker.key] = worker
        if self.conn is None:
            worker.ended = True
            return worker
        try:
            self.conn.send(("start", worker.key, pickle.dumps((target, args))))
            while worker.pid is None and self.conn is not None:
                self._handle(self.conn.recv())
        except (OSError, EOFError):
            self._lost()
        return worker

    def wait(self, timeout: float) -> None:
        """Take in what the server says within ``timeout`` seconds (sleep if it is gone)."""
        if self.conn is None:
            time.sleep(timeout)
            return
        try:
            ready = self.conn.poll(timeout)
            while ready:
                self._handle(self.conn.recv())
                ready = self.conn.poll(0)
        except (OSError, EOFError):
            self._lost()

    def join(self, worker: Worker, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for ``worker`` to end."""
        deadline = time.monotonic() + timeout
        while worker.alive and time.monotonic() < deadline:
            self.wait(max(0.0, min(0.05, deadline - time.monotonic())))

    def close(self) -> None:
        """Stop the server; it kills any worker still running."""
        import subprocess

        if self.conn is not None:
            self.conn.close()
            self.conn = None
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _handle(self, message) -> None:
        kind, key, value = message
        worker = self.workers[key]
        if kind == "started":
            worker.pid = value
        else:
            worker.exitcode, worker.ended = value, True
            del self.workers[key]

    def _lost(self) -> None:
        """The server is gone, and its workers with it."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        for worker in self.workers.values():
            worker.ended = True
        self.workers.clear()


def serve_workers(fd: int, preload: list[str]) -> None:
    """The fork server of :class:`Workers` (a fresh interpreter; ``fd`` is its end of the socket
    pair). Single-threaded, so forking it is safe."""
    import selectors
    from multiprocessing.connection import Connection

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is the caller's to handle
    for name in preload:
        try:
            __import__(name)
        except ImportError:
            pass
    conn = Connection(fd)
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ, None)
    children: dict[int, tuple[int, int]] = {}  # pid -> (key, pidfd)
    try:
        while True:
            for key, _ in sel.select():
                if key.data is None:  # a request, or the caller's end closed
                    try:
                        _, ident, payload = conn.recv()
                    except (EOFError, OSError):
                        return
                    pid = os.fork()
                    if pid == 0:
                        _worker_main(payload, [fd, sel.fileno(),
                                               *(pidfd for _, pidfd in children.values())])
                    pidfd = os.pidfd_open(pid)
                    children[pid] = (ident, pidfd)
                    sel.register(pidfd, selectors.EVENT_READ, pid)
                    conn.send(("started", ident, pid))
                else:  # a worker ended
                    pid = key.data
                    ident, pidfd = children.pop(pid)
                    sel.unregister(pidfd)
                    os.close(pidfd)
                    _, status = os.waitpid(pid, 0)
                    conn.send(("exited", ident, os.waitstatus_to_exitcode(status)))
    except (BrokenPipeError, ConnectionResetError):
        return  # the caller died
    finally:
        for pid in children:
            for kill in (os.killpg, os.kill):  # its group, and itself if it made none yet
                try:
                    kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass


def _worker_main(payload: bytes, inherited: list[int]) -> None:
    """In a worker just forked by :func:`serve_workers`: a session of its own, then the job
    (never returns)."""
    code = 1
    try:
        for fd in inherited:
            os.close(fd)
        os.setsid()  # one process group to kill if the job overruns
        signal.signal(signal.SIGINT, signal.default_int_handler)
        import pickle

        target, args = pickle.loads(payload)  # sent by the grading run itself, never by a student
        target(*args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - the parent reports a worker that ends without a result
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


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
    with gradebook.open_gradebook(course.root / "gradebook.db") as gb:
        roster = {s.id for s in gb.students if s.first_name or s.last_name or s.email}
        late = gradebook.late_penalties(course)
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
            except gradebook.MissingEntry:
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
            with gradebook.open_gradebook(job_dir / "gradebook.db") as job_gb:
                job_sub = job_gb.find_submission(r.assignment, r.student)
                for job_nb in job_sub.notebooks:
                    changed = old_answers.get(job_nb.name) != new_answers.get(job_nb.name)
                    for job_grade in job_nb.grades:
                        try:
                            grade = gb.find_grade(job_grade.name, job_nb.name, r.assignment,
                                                  r.student)
                        except gradebook.MissingEntry:
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
                        except gradebook.MissingEntry:
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
        except Exception:  # noqa: BLE001, S112 - an unreadable old copy counts as changed
            continue
        out[path.stem] = [(cells.grade_id(c), c.source) for c in nb.cells if cells.is_graded(c)]
    return out


def grade_course(course: Course, submitted: Path, opts: Options, *, release: bool = True,
                 csv_path: Path | None = None, progress=None, keep_work: bool = False,
                 client=None, found: tuple[list[Job], list[Result]] | None = None):
    """The whole pipeline behind ``make grade``; returns this run's results.

    ``grades.csv`` lists every submission graded so far (this run's and earlier runs'), each read
    back from the gradebook, so that it agrees with the formgrader. With a ``distributed.Client``
    (see :mod:`grader.distributed`) the jobs are graded on that Dask cluster; the merge still runs
    here, once. ``found`` is what :func:`scan` found in ``submitted``, if the caller scanned it.
    Without ``release``, an assignment the gradebook does not know yet (a fresh clone has no
    ``gradebook.db``) is recorded in it before any grading (:func:`record_assignments`).
    """
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
    if not jobs:
        results, work_root = [], None
    elif client is not None:
        from .distributed import run_jobs_on_cluster

        results, work_root = run_jobs_on_cluster(jobs, course, opts, client, progress,
                                                 released=release)
    else:
        results, work_root = run_jobs(jobs, course, opts, progress, released=release)
    results += unknown
    try:
        merge(results, course)
        report.save_status(results, course.root / report.STATUS_FILE)
        gradebook.read_back(results, course)
        write_report(course, csv_path)
    finally:
        if work_root is not None and keep_work:
            print(f"Scratch folders kept in {work_root}")
        elif work_root is not None:
            shutil.rmtree(work_root, ignore_errors=True)
    return results


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
