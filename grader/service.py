"""Feedback on submit: ``python -m grader serve``, a third way in to the grading pipeline.

The service watches nbgrader's inbound (``<exchange>/<course>/inbound/``), grades each new
submission with the same jobs as ``make grade`` (the integrity check, the sandboxed kernel, the
clean-room probes; :class:`grader.pool.LocalExecutor`, kept warm between submissions, or a Dask
cluster) and publishes one page per notebook where the student's *Fetch Feedback* finds it
(:mod:`grader.pages`). It never writes the gradebook, ``autograded/`` or ``feedback/``: the final
grade stays the instructor's batch after the deadline (``nbgrader collect`` + ``make grade``), which
gives the same scores for the same submission.

- **Queue** (:mod:`grader.inbox`): one pending submission per student and assignment (the latest;
  earlier pending ones get a page saying so), graded oldest-first across students.
- **Rate limit**: a student's work on one assignment is graded at most once every
  ``min_interval`` seconds; a submission that must wait gets a "queued" page with the time.
- **Nothing lost**: the inbox is a SQLite file; a result is recorded in the transaction that ends
  its submission, after its pages are written, so a service killed at any moment grades on restart
  exactly what it had not finished, and records nothing twice.
- **Bad input**: a submission that cannot be graded (not a notebook, an unknown assignment, a
  kernel that dies) gets a page with the reason; the service goes on.
- **Log**: ``<state>/service.log``, one line for everything done with each submission.

Settings: ``c.FeedbackService.*`` in the course's ``grader_config.py`` (mode, rate limit, workers);
the command line overrides them.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import time
from contextlib import ExitStack
from dataclasses import asdict, replace
from pathlib import Path

import nbformat
from traitlets import Enum, Float, Integer, Unicode, validate
from traitlets.config import Configurable

from . import cells, gradebook, pages
from .course import Course, nbgrader_config
from .inbox import Entry, Inbox
from .pool import LocalExecutor
from .types import FAILED, GRADED, MANUAL, REVIEW, Job, Options, Result

STATE_DIR = ".feedback-service"
SCRATCH_NOTE = "scratch-folder"  # in the state folder: the running executor's scratch folder


class FeedbackService(Configurable):
    """The settings of the feedback service (``c.FeedbackService.*`` in ``grader_config.py``)."""

    mode = Enum(pages.MODES, default_value="points",
                help="What a graded page shows before the deadline: 'points' (the score and "
                     "each question's points), 'messages' (also each failing test's message) or "
                     "'full' (nbgrader's feedback page). Hidden tests' code never."
                ).tag(config=True)
    min_interval = Float(300.0, help="Seconds between two gradings of one student's work on one "
                                     "assignment; later submissions wait, the latest wins."
                         ).tag(config=True)
    poll_interval = Float(1.0, help="Seconds between two looks at the inbound folder."
                          ).tag(config=True)
    workers = Integer(0, help="Submissions graded at once (0: the number of cores)."
                      ).tag(config=True)
    sources_check = Float(10.0, help="Seconds between two looks at solutions/ for changes (the "
                                     "service then starts again from the new sources)."
                          ).tag(config=True)
    scheduler = Unicode("", help="A Dask scheduler's address (tcp://host:8786) to grade on; "
                               "empty: grade on this machine.").tag(config=True)

    @validate("min_interval", "poll_interval", "sources_check")
    def _not_negative(self, proposal):
        if proposal.value < 0:
            raise ValueError(f"{proposal.trait.name} must be at least 0 seconds, "
                             f"got {proposal.value}")
        return proposal.value


def settings(course: Course, **overrides) -> FeedbackService:
    """The course's ``c.FeedbackService`` settings, with ``overrides`` (None: not given)."""
    cfg = FeedbackService(config=nbgrader_config(course.root))
    for name, value in overrides.items():
        if value is not None:
            setattr(cfg, name, value)
    return cfg


class Service:
    """The service for ``course``, reading ``exchange/<course id>/inbound``.

    Parameters
    ----------
    course : Course
    exchange : Path
        nbgrader's exchange root (``Exchange.root``).
    course_id : str
        ``CourseDirectory.course_id``.
    state : Path
        Where the inbox (``queue.sqlite``) and ``service.log`` are kept.
    cfg : FeedbackService
    opts : Options
        The jobs' limits, as ``make grade`` has them.
    client : distributed.Client, optional
        Grade on this Dask cluster instead of this machine.
    """

    def __init__(self, course: Course, exchange: Path, course_id: str, state: Path,
                 cfg: FeedbackService, opts: Options, client=None, clock=time.time):
        self.exchange_course = Path(exchange) / course_id
        self.state = Path(state)
        # The kernels never see the exchange (other students' submissions wait there) or the
        # service's state (their results), wherever these are.
        hide = {os.path.realpath(p) for p in (self.exchange_course, self.state)}
        opts = replace(opts, hide=(*opts.hide, *sorted(hide)))
        self.course, self.cfg, self.opts, self.client = course, cfg, opts, client
        self.state.mkdir(parents=True, exist_ok=True, mode=0o770)
        self.inbox = Inbox(self.state / "queue.sqlite", self.exchange_course / "inbound", clock)
        self.log = _logger(self.state / "service.log")
        self.clock = clock
        self.running: dict[str, Entry] = {}  # name -> entry handed to the executor
        self.stopping = False

    # -- the loop ---------------------------------------------------------------------------------

    def run(self, once: bool = False) -> int:
        """Serve until SIGTERM/SIGINT (or, with ``once``, until what is in the inbound now is
        done); returns the number of submissions finished.

        When ``solutions/`` changes (a fixed test, a new assignment), no new grading starts until
        the running ones end; then the executor is started again from the new sources, so that
        every submission is graded as ``make grade`` would grade it now.
        """
        finished = 0
        with ExitStack() as stack:
            # First of all: a stop while the executor warms up (seconds) ends the run cleanly.
            for sig in (signal.SIGTERM, signal.SIGINT):
                stack.callback(signal.signal, sig, signal.signal(sig, self._stop))
            current = ExitStack()
            stack.callback(lambda: current.close())
            self._remove_stale_scratch()
            sources = self._sources()
            executor = current.enter_context(self._executor())
            self._note_scratch(executor)
            executor.warm(stop=lambda: self.stopping)
            self.feedback_dir = pages.ensure_feedback_dir(self.exchange_course)
            for entry in self.inbox.recover():
                self.log.info("%s: to grade again: the service stopped while grading it",
                              _who(entry))
            self.log.info("started: %s, mode %s, one grading per %g s per student and "
                          "assignment, %d worker(s)", self.exchange_course / "inbound",
                          self.cfg.mode, self.cfg.min_interval, self.opts.workers)
            last_scan, last_check = float("-inf"), time.monotonic()
            changed = False
            while not self.stopping:
                if time.monotonic() - last_scan >= self.cfg.poll_interval:
                    self._take_arrivals()
                    last_scan = time.monotonic()
                if not changed and time.monotonic() - last_check >= self.cfg.sources_check:
                    changed, last_check = self._sources() != sources, time.monotonic()
                if changed and not self.running:
                    sources, changed = self._sources(), False
                    fresh = ExitStack()
                    try:
                        rebuilt = fresh.enter_context(self._executor())
                        rebuilt.warm(stop=lambda: self.stopping)
                    except Exception as exc:  # noqa: BLE001 - e.g. a notebook saved half-edited: keep serving
                        fresh.close()
                        self.log.error("solutions/ changed, but nbgrader cannot build the course "
                                       "from it (%s: %s); grading goes on with the sources as "
                                       "they were until solutions/ changes again",
                                       type(exc).__name__, str(exc)[:300])
                    else:
                        current.close()
                        current, executor = fresh, rebuilt
                        self._note_scratch(executor)
                        self.log.info("solutions/ changed: grading with the new sources")
                if not changed:
                    self._start_ready(executor)
                for name, result in executor.poll(0.05 if self.running else 0.2):
                    self._finish(self.running.pop(name), result)
                    finished += 1
                if once and not self.running and not self.inbox.pending():
                    break
            self.log.info("stopped: %d submission(s) finished in this run, %s", finished,
                          self.inbox.counts())
        return finished

    def _sources(self) -> list[tuple]:
        """What the jobs are built from: every file of ``solutions/`` (name, size, time) and the
        assignments' due dates in the course gradebook."""
        out: list[tuple] = []
        if (self.course.root / "gradebook.db").exists():
            due = gradebook.read_due_dates(self.course, self.course.assignments())
            out += sorted((a, str(d)) for a, d in due.items())
        for path in sorted(self.course.solutions.rglob("*")):
            if path.is_file() and ".ipynb_checkpoints" not in path.parts:
                st = path.stat()
                out.append((str(path.relative_to(self.course.solutions)), st.st_size,
                            st.st_mtime_ns))
        return out

    def _note_scratch(self, executor) -> None:
        """Where the executor keeps its scratch courses, for :meth:`_remove_stale_scratch`."""
        (self.state / SCRATCH_NOTE).write_text(str(executor.work_root or ""))

    def _remove_stale_scratch(self) -> None:
        """The scratch folder of a run that was killed (SIGKILL leaves it behind), removed."""
        note = self.state / SCRATCH_NOTE
        old = Path(note.read_text().strip()) if note.exists() else None
        if old and old.name.startswith("grading-") and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
            self.log.info("removed the scratch folder %s of a run that did not end cleanly", old)

    def _stop(self, *_):
        self.stopping = True

    def _executor(self):
        if self.client is not None:
            from .distributed import ClusterExecutor  # on purpose here: Dask only when asked

            return ClusterExecutor(self.course, self.opts, self.course.assignments(), self.client)
        return LocalExecutor(self.course, self.opts, self.course.assignments())

    # -- the steps ------------------------------------------------------------------------------

    def _take_arrivals(self) -> None:
        new, skipped = self.inbox.scan()
        for entry in skipped:
            self.log.info("%s: skipped, a later submission (%s) replaces it", _who(entry),
                          entry.superseded_by)
            self._publish(entry, pages.skipped_page(entry.assignment, entry.timestamp,
                                                    entry.superseded_by))
        for entry in new:
            wait = self.inbox.wait_until(entry, self.cfg.min_interval)
            if wait > self.clock():
                when = time.strftime("%H:%M:%S UTC", time.gmtime(wait))
                self.log.info("%s: arrived; rate limit, waits until %s", _who(entry), when)
                page = pages.queued_page(entry.assignment, entry.timestamp, not_before=when,
                                         min_interval=self.cfg.min_interval)
            else:
                ahead = self.inbox.position(entry, self.cfg.min_interval) + len(self.running)
                self.log.info("%s: arrived; queued, %d ahead", _who(entry), ahead)
                page = pages.queued_page(entry.assignment, entry.timestamp, ahead=ahead)
            self._publish(entry, page)

    def _start_ready(self, executor) -> None:
        while executor.free > 0:
            busy = {e.key for e in self.running.values()}
            entry = self.inbox.next_ready(self.cfg.min_interval, busy)
            if entry is None:
                return
            entry = self.inbox.start(entry)
            job = Job(entry.student, entry.assignment, self.exchange_course / "inbound" /
                      entry.name)
            prior = (gradebook.read_prior(self.course, [job])[0]
                     if entry.assignment in self.course.assignments() else None)
            self.running[entry.name] = entry
            executor.submit(job, prior, key=entry.name)
            self.log.info("%s: grading", _who(entry))

    def _finish(self, entry: Entry, result: Result) -> None:
        try:
            graded = None
            if result.status != FAILED:
                graded = read_graded(result, self.course)
                _status_as_the_batch(result, graded)
            self._publish_result(entry, result, graded)
        except Exception as exc:  # noqa: BLE001 - the page is rendered from the student's work: a failure is theirs alone
            result = Result(entry.student, entry.assignment, FAILED,
                            f"its feedback could not be written ({type(exc).__name__}: {exc})")
            self._publish(entry, pages.failed_page(entry.assignment, entry.timestamp,
                                                   result.reason))
        finally:
            if result.job_dir:
                shutil.rmtree(result.job_dir, ignore_errors=True)
        record = {k: v for k, v in asdict(result).items() if k not in ("job_dir", "findings")}
        record["findings"] = len(result.findings)
        if not self.inbox.finish(entry, record):
            self.log.warning("%s: already recorded; this result was not recorded again",
                             _who(entry))
            return
        if result.status == FAILED:
            self.log.info("%s: failed: %s", _who(entry), result.reason)
        else:
            self.log.info("%s: %s, %g / %g in %.1f s%s", _who(entry), result.status,
                          result.score or 0, result.max_score or 0, result.seconds,
                          f", {len(result.findings)} finding(s) for the instructor"
                          if result.findings else "")

    def _publish_result(self, entry: Entry, result: Result, graded: pages.Graded | None) -> None:
        if graded is None:
            self._publish(entry, pages.failed_page(entry.assignment, entry.timestamp,
                                                   result.reason.rstrip(".")))
            return
        if self.cfg.mode == "full" and not graded.full_pages:
            self.log.warning("%s: nbgrader rendered no feedback page; the points page is shown "
                             "instead", _who(entry))
        for notebook in self._notebooks(entry):
            self._publish(entry, pages.graded_page(entry.assignment, entry.timestamp, graded,
                                                   self.cfg.mode, notebook), notebook)

    # -- pages ------------------------------------------------------------------------------------

    def _notebooks(self, entry: Entry) -> list[str]:
        """The notebook ids *Fetch Feedback* looks for: those of the submission itself."""
        folder = self.exchange_course / "inbound" / entry.name
        return sorted(p.stem for p in folder.glob("*.ipynb"))

    def _publish(self, entry: Entry, page: str, notebook: str | None = None) -> None:
        folder = self.exchange_course / "inbound" / entry.name
        try:
            secret = (folder / "submission_secret.txt").read_text()
        except OSError as exc:
            self.log.warning("%s: no page written, its secret cannot be read (%s)", _who(entry),
                             exc)
            return
        names = [notebook] if notebook else self._notebooks(entry)
        if not names:
            self.log.warning("%s: no page written, it holds no notebook", _who(entry))
        for name in names:
            try:
                pages.publish(self.feedback_dir, secret, name, page)
            except OSError as exc:
                self.log.error("%s: the page of %s could not be written to %s (%s)", _who(entry),
                               name, self.feedback_dir, exc)


def read_graded(result: Result, course: Course) -> pages.Graded:
    """What a graded page shows, from a finished job's scratch course (``result.job_dir``)."""
    job_dir = Path(result.job_dir)
    graded = pages.Graded()
    autograded = job_dir / "autograded" / result.student / result.assignment
    for path in sorted(autograded.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            meta = cells.nbgrader(cell)
            gid = meta.get("grade_id")
            if not (meta.get("grade") or meta.get("task")) or gid not in result.grades:
                continue
            score, maximum = result.grades[gid]
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            message = (f"{errors[0].get('ename', 'Error')}: {errors[0].get('evalue', '')}"[:1000]
                       if errors and cells.is_test(cell) else "")
            if not message and cells.is_test(cell) and score < maximum:
                message = ("A check run outside your notebook's kernel gave a different result "
                           "from the one in it.")
            graded.questions.append(pages.Question(gid, path.stem, score, maximum,
                                                   manual=not cells.is_test(cell),
                                                   message=message))
    feedback = job_dir / "feedback" / result.student / result.assignment
    graded.full_pages = {p.stem: p.read_text(encoding="utf-8") for p in feedback.glob("*.html")}
    if (job_dir / "gradebook.db").exists():
        with gradebook.open_gradebook(job_dir / "gradebook.db") as gb:
            sub = gb.find_submission(result.assignment, result.student)
            graded.seconds_late = float(sub.total_seconds_late or 0)
            graded.pending = [f"{nb.name}/{g.name}" for nb in sub.notebooks for g in nb.grades
                              if g.needs_manual_grade]
    if (course.root / "gradebook.db").exists():
        with gradebook.open_gradebook(course.root / "gradebook.db") as gb:
            roster = {s.id for s in gb.students if s.first_name or s.last_name or s.email}
        graded.off_roster = bool(roster) and result.student not in roster
        if graded.off_roster:
            graded.note = (f"{result.student} is not on the class roster: tell your instructor, "
                           "or your work may not reach the gradebook.")
    return graded


def _status_as_the_batch(result: Result, graded: pages.Graded) -> None:
    """The status ``make grade`` would report for this result (see :func:`grader.merge.merge` and
    :func:`grader.gradebook.read_back`): off the roster is for review, a question no person has
    graded yet makes it wait for manual grading."""
    if graded.off_roster and result.status == GRADED:
        result.status, result.reason = REVIEW, "not on the roster"
    result.raw_score, result.seconds_late = result.score, graded.seconds_late
    result.needs_manual_grade = bool(graded.pending)
    if graded.pending:
        note = (f"{len(graded.pending)} question(s) need manual grading: "
                f"{', '.join(graded.pending)}")
        if result.status == GRADED:
            result.status, result.reason = MANUAL, note
        elif note not in result.reason:
            result.reason = f"{result.reason}; {note}" if result.reason else note


def _who(entry: Entry) -> str:
    return f"{entry.student} {entry.assignment} {entry.timestamp}"


def _logger(path: Path) -> logging.Logger:
    log = logging.getLogger(f"grader.service.{path}")
    if not log.handlers:
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(stream)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


def default_exchange(course: Course) -> tuple[Path, str]:
    """The exchange root and course id the course's nbgrader configuration names."""
    cfg = nbgrader_config(course.root)
    return Path(os.path.realpath(cfg.Exchange.root)), cfg.CourseDirectory.course_id
