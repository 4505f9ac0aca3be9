"""``python -m grader``: the instructor's commands.

``run``      regenerate releases, grade ``submitted/`` (or the bundled samples), write grades.csv
``report``   rewrite ``grades.csv`` from the gradebook (after manual grading in the formgrader)
``release``  only regenerate ``exercises/`` from ``solutions/``
``check``    integrity findings for one submitted notebook against its release
``similarity``  submissions of an assignment that are suspiciously alike (also the end of ``run``)
``export``   the grades as the LMS imports them: ``--to canvas|moodle FILE``
``serve``    feedback on submit: grade each submission in the exchange's inbound as it arrives
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .course import REPO, Course
from .types import Options

# Each command imports what it needs inside its function, on purpose: the pipeline imports nbgrader,
# nbconvert and Dask (seconds), which ``--help``, ``check`` or ``release`` never need.


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="grade every submission")
    run.add_argument("--course", type=Path, default=REPO, help="course root (default: this repo)")
    run.add_argument("--submitted", type=Path, default=None,
                     help="folder of <student>/<assignment>/ submissions (default: submitted/, "
                          "or the bundled samples when that is empty)")
    run.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1)
    run.add_argument("--timeout", type=_positive_int, default=None,
                     help="seconds per cell (default: c.Execute.timeout of grader_config.py)")
    run.add_argument("--job-timeout", type=float, default=300.0,
                     help="wall-clock seconds for one submission (default 300)")
    run.add_argument("--memory-mb", type=_positive_int, default=4096)
    run.add_argument("--csv", type=Path, default=None, help="default: <course>/grades.csv")
    run.add_argument("--no-release", action="store_true", help="do not regenerate exercises/")
    run.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="grade on the Dask distributed cluster of this scheduler "
                          "(e.g. tcp://10.0.0.5:8786); default: grade on this machine")
    run.add_argument("--no-progress", action="store_true")
    run.add_argument("--keep-work", action="store_true",
                     help="keep the scratch folders (job logs, kernel logs) and print where")
    run.add_argument("--timings", type=Path, default=None, metavar="FILE",
                     help="write the seconds of each job's stages and of the run's parts to FILE "
                          "(JSON; benchmarks/bench_grading.py's profile)")
    run.add_argument("--no-similarity", action="store_true",
                     help="do not compare the submissions afterwards (python -m grader similarity)")
    sub.add_parser("release", help="regenerate exercises/ from solutions/").add_argument(
        "--course", type=Path, default=REPO)
    rep = sub.add_parser("report", help="rewrite grades.csv from the gradebook and print the "
                                        "grades (manual grades and late penalties included)")
    rep.add_argument("--course", type=Path, default=REPO)
    rep.add_argument("--csv", type=Path, default=None, help="default: <course>/grades.csv")
    sim = sub.add_parser("similarity", help="flag submissions of an assignment that are "
                         "suspiciously alike: similarity.csv and similarity/<assignment>.html "
                         "beside grades.csv, findings in grades.csv (nothing is deducted)")
    sim.add_argument("--course", type=Path, default=REPO)
    sim.add_argument("--submitted", type=Path, default=None,
                     help="folder of <student>/<assignment>/ submissions (default: submitted/, or "
                          "the bundled samples when that is empty); submissions graded earlier "
                          "(autograded/) are compared too")
    sim.add_argument("--assignment", action="append", default=None,
                     help="only this assignment (repeatable; default: every assignment)")
    sim.add_argument("--csv", type=Path, default=None,
                     help="the grades.csv to add the findings to (default: <course>/grades.csv)")
    exp = sub.add_parser("export", help="write the grades as Canvas's gradebook import or "
                                        "Moodle's grade import CSV (scores after late penalties; "
                                        "no submission: an empty cell)")
    exp.add_argument("--to", required=True, choices=("canvas", "moodle"))
    exp.add_argument("file", type=Path)
    exp.add_argument("--course", type=Path, default=REPO)
    exp.add_argument("--roster", type=Path, default=None,
                     help="id,first_name,last_name,email[,section,canvas_id,sis_user_id,"
                          "sis_login_id,id_number] (default: <course>/students.csv)")
    exp.add_argument("--assignment", action="append", default=None,
                     help="only this assignment (repeatable; default: every assignment)")
    serve = sub.add_parser("serve", help="feedback on submit: grade each new submission in "
                                         "nbgrader's inbound and publish its feedback page")
    serve.add_argument("--course", type=Path, default=Path.cwd(),
                       help="course folder (default: the current folder)")
    serve.add_argument("--exchange", type=Path, default=None,
                       help="nbgrader's exchange root (default: the course's Exchange.root)")
    serve.add_argument("--state", type=Path, default=None,
                       help="where the queue and service.log are kept (default: "
                            "<course>/.feedback-service)")
    serve.add_argument("--workers", type=_positive_int, default=None,
                       help="submissions graded at once (default: c.FeedbackService.workers, "
                            "else the number of cores)")
    serve.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="grade on the Dask cluster of this scheduler (default: "
                            "c.FeedbackService.scheduler, else on this machine)")
    serve.add_argument("--mode", choices=("points", "messages", "full"), default=None,
                       help="what a graded page shows (default: c.FeedbackService.mode)")
    serve.add_argument("--min-interval", type=float, default=None, metavar="SECONDS",
                       help="seconds between two gradings of one student's work on one "
                            "assignment (default: c.FeedbackService.min_interval)")
    serve.add_argument("--poll", type=float, default=None, metavar="SECONDS",
                       help="seconds between two looks at the inbound (default 1)")
    serve.add_argument("--timeout", type=_positive_int, default=None,
                       help="seconds per cell (default: c.Execute.timeout of grader_config.py)")
    serve.add_argument("--job-timeout", type=float, default=300.0)
    serve.add_argument("--memory-mb", type=_positive_int, default=4096)
    serve.add_argument("--once", action="store_true",
                       help="grade what is in the inbound now, then exit")
    serve.add_argument("--allow-unsandboxed", action="store_true",
                       help="serve even where grading kernels cannot be isolated (no root, no "
                            "user namespaces): students' code then reads what this account "
                            "reads, the hidden tests and the other submissions included")
    check = sub.add_parser("check", help="integrity findings for one submitted notebook")
    check.add_argument("notebook", type=Path)
    check.add_argument("release", type=Path)
    return parser


def main(argv=None) -> int:
    import warnings

    args = build_parser().parse_args(argv)
    # nbgrader's gradebook code triggers SQLAlchemy "not in session" warnings that are harmless
    # here.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    if args.command == "check":
        return _check(args)
    if args.command == "export":  # the gradebook is all it needs
        from . import export

        return export.main(args.course.resolve(), args.to, args.file, args.roster,
                           args.assignment)
    course = Course(args.course.resolve())
    if not course.assignments():
        print(f"error: {course.solutions} holds no assignment", file=sys.stderr)
        return 2
    if args.command == "report":
        from . import report, scheduler

        results = scheduler.write_report(course, args.csv)
        print(report.table(results))
        print(f"\nGrades: {args.csv or course.root / 'grades.csv'}")
        return 0
    if args.command == "similarity":
        return _similarity(course, args.submitted or _default_submitted(course),
                           args.assignment or course.assignments(), args.csv)
    if args.command == "serve":
        return _serve(args, course)
    if args.command == "release":
        from .course import api_for

        api = api_for(course.root)
        for a in course.assignments():
            out = api.generate_assignment(a, force=True)
            print(f"{a}: {'released' if out['success'] else 'FAILED'}")
            if not out["success"]:
                print(out.get("error", ""), file=sys.stderr)
                return 1
        return 0
    return _run(args, course)


def _run(args, course: Course) -> int:
    submitted = args.submitted
    if submitted is None:
        submitted = course.root / "submitted"
        if not any(submitted.glob("*/*")):
            submitted = course.root / "samples" / "submitted"
            print(f"No submissions in {course.root / 'submitted'}: grading the bundled samples in "
                  f"{submitted} instead.")
    if not submitted.is_dir():
        print(f"error: --submitted {submitted} is not a folder", file=sys.stderr)
        return 2
    opts = _options(args, course, args.workers)
    started = None
    if not args.scheduler:
        # The fork server and the zygote first: they import and warm up while this process
        # imports nbgrader and builds the template course (grader.prestart).
        from . import prestart

        started = prestart.start(course, [a for a in course.assignments()
                                          if any(submitted.glob(f"*/{a}"))], opts)
    try:
        return _grade(args, course, submitted, opts, started)
    finally:
        if started is not None:
            started.close()  # when the run's executor did not take them over


def _grade(args, course: Course, submitted: Path, opts, started) -> int:
    from . import report, sandbox, scheduler

    client = None
    if args.scheduler:  # before anything is written: a missing cluster changes nothing
        client = _connect(args.scheduler, "; nothing was graded or written")
        if client is None:
            return 2
    jobs, unknown = scheduler.scan(submitted, course.assignments())
    where = (f"on the Dask cluster at {args.scheduler} "
             f"({len(client.nthreads())} worker(s))" if client else
             f"with {opts.workers} worker(s)")
    name, warning = sandbox.mode()
    print(f"Grading {len(jobs)} submission(s) {where}; sandbox: {name}.")
    if warning:
        print(warning)
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), unit="submission", file=sys.stderr)
    timings: dict = {}
    status, said = [0], []

    def similarity() -> None:  # beside the merge; grades.csv is then written once, with the flags
        status[0] = _compare(course, submitted, course.assignments(), args.csv, quiet=True,
                             say=said.append)

    results = scheduler.grade_course(course, submitted, opts, release=not args.no_release,
                                     csv_path=args.csv, progress=(lambda r: bar.update()) if bar
                                     else None, keep_work=args.keep_work, client=client,
                                     found=(jobs, unknown), timings=timings, started=started,
                                     alongside=None if args.no_similarity else similarity)
    if args.timings is not None:
        import json

        args.timings.write_text(json.dumps({
            "run": timings,
            "jobs": [{"student": r.student, "assignment": r.assignment, "status": r.status,
                      "seconds": r.seconds, "timings": r.timings} for r in results]}, indent=1))
    if client is not None:
        client.close()
    if bar:
        bar.close()
    for line in said:
        print(line)
    if not args.no_similarity and results:
        report.add_similarity(results, (args.csv or course.root / "grades.csv").parent /
                              "similarity.csv")
    print(report.table(results))
    print(f"\nGrades: {args.csv or course.root / 'grades.csv'}; feedback: "
          f"{course.root / 'feedback'}/<student>/<assignment>/")
    return status[0]


def _options(args, course: Course, workers: int) -> Options:
    """The jobs' limits from the command line (``--timeout``, ``--job-timeout``, ``--memory-mb``),
    the cell timeout defaulting to the course's ``c.Execute.timeout``."""
    from . import sandbox
    from .course import nbgrader_config

    timeout = args.timeout or nbgrader_config(course.root).Execute.timeout
    return Options(timeout=int(timeout), job_timeout=args.job_timeout, workers=workers,
                   limits=sandbox.Limits(memory_bytes=args.memory_mb * 1024**2))


def _connect(address: str, consequence: str = ""):
    """A Dask client for ``address``, or None after saying on stderr why there is none."""
    from .distributed import SchedulerUnavailable, connect

    try:
        return connect(address)
    except (SchedulerUnavailable, ValueError) as exc:
        print(f"error: --scheduler: {exc}{consequence}", file=sys.stderr)
        return None


def _serve(args, course: Course) -> int:
    from . import sandbox, service

    try:
        cfg = service.settings(course, mode=args.mode, min_interval=args.min_interval,
                               poll_interval=args.poll, workers=args.workers)
    except Exception as exc:  # noqa: BLE001 - traitlets' TraitError: a bad setting, said plainly
        print(f"error: {exc}", file=sys.stderr)
        return 2
    exchange, course_id = service.default_exchange(course)
    exchange = args.exchange.resolve() if args.exchange else exchange
    if not (exchange / course_id).is_dir():
        print(f"error: no course {course_id!r} in the exchange {exchange} (release an assignment "
              "first, or give --exchange)", file=sys.stderr)
        return 2
    opts = _options(args, course, cfg.workers or os.cpu_count() or 1)
    name, warning = sandbox.mode()
    if name == "none" and not args.allow_unsandboxed:
        print(f"error: {warning}\nThe feedback service runs every student's code as this account, "
              "which may read the course's sources and every submission; it does not start "
              "without a sandbox (run it as root, or where unprivileged user namespaces are "
              "allowed, or give --allow-unsandboxed if you accept that)", file=sys.stderr)
        return 2
    client = None
    if args.scheduler or cfg.scheduler:
        client = _connect(args.scheduler or cfg.scheduler)
        if client is None:
            return 2
    print(f"Feedback service for {course_id}: {exchange / course_id / 'inbound'}; sandbox: "
          f"{name}.", flush=True)
    if warning:
        print(warning, flush=True)
    try:
        service.Service(course, exchange, course_id,
                        args.state or course.root / service.STATE_DIR, cfg, opts,
                        client=client).run(once=args.once)
    except RuntimeError as exc:  # nbgrader could not build the course from solutions/
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if client is not None:
            client.close()
    return 0


def _default_submitted(course: Course) -> Path:
    """``submitted/``, or the bundled samples when it holds no submission."""
    submitted = course.root / "submitted"
    if not any(submitted.glob("*/*")):
        submitted = course.root / "samples" / "submitted"
        print(f"No submissions in {course.root / 'submitted'}: comparing the bundled samples in "
              f"{submitted} instead.")
    return submitted


def _similarity(course: Course, submitted: Path, assignments, csv_path) -> int:
    """Compare the submissions (see grader.similarity), then rewrite grades.csv with the flags."""
    from . import scheduler

    status = _compare(course, submitted, assignments, csv_path)
    if status == 0 and (course.root / "gradebook.db").exists():
        scheduler.write_report(course, csv_path)  # grades.csv with the flags as findings
    return status


def _compare(course: Course, submitted: Path, assignments, csv_path, quiet=False,
             say=print) -> int:
    """Compare the submissions (see grader.similarity): ``similarity.csv`` and its pages beside
    ``grades.csv``; ``say`` what was flagged (each pair, unless ``quiet``)."""
    from . import similarity

    grades = Path(csv_path or course.root / "grades.csv")
    unknown = sorted(set(assignments) - set(course.assignments()))
    if unknown:
        print(f"error: --assignment: no assignment {', '.join(unknown)} in {course.solutions}",
              file=sys.stderr)
        return 2
    try:
        pairs, skipped = similarity.run(course.root, submitted, assignments,
                                        out_dir=grades.parent,
                                        also=[course.root / "autograded"])
    except Exception as exc:  # noqa: BLE001 - the grades are written; say what failed
        print(f"error: the similarity check failed ({type(exc).__name__}: {exc}); grades.csv "
              "is written without its findings", file=sys.stderr)
        return 1
    for note in skipped:
        say(f"similarity: left out {note}")
    flagged = [p for p in pairs if p.flagged]
    if not quiet:
        for p in flagged:
            say(f"{p.assignment}: {p.student_a} and {p.student_b} are {p.similarity:.0%} alike")
    say(f"Similar submissions: {len(flagged)} pair(s) flagged; "
        f"{grades.parent / similarity.CSV_NAME}, {grades.parent / similarity.REPORT_DIR}/")
    return 0


def _check(args) -> int:
    import nbformat

    from . import integrity

    try:
        submitted = integrity.read_notebook(args.notebook)
    except integrity.SubmissionUnreadable as exc:
        print(f"unreadable: {exc}")
        return 1
    _, findings = integrity.check_submission(submitted, nbformat.read(args.release, as_version=4))
    for f in findings:
        print(f)
    print(f"{len(findings)} finding(s)")
    return 1 if findings else 0
