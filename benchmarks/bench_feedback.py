"""Feedback on submit under a deadline burst: the service against the batch, and at idle.

All measured in one run on this machine, each in a fresh copy of the course (its git-tracked files):

- burst: ``python -m grader serve`` (started first, warm: its template course built and one
  submission of each assignment graded, so that each assignment's reference probes exist, as they
  do on a hub long before a deadline; ``--min-interval 0``, one worker per core) while N
  submissions (default 60, distinct student/assignment pairs across the six assignments: the
  bundled samples, then the samples under new student names) arrive in its inbound at a steady
  pace within 10 s, each folder made whole and then renamed into the inbound, as ``nbgrader
  submit`` leaves it. Its figures: the time from the first arrival until the last submission's
  result is recorded (``done`` in ``queue.sqlite``, its pages written before), and each
  submission's latency, from when its folder appeared (this script's clock) to its result
  recorded (``finished`` in ``queue.sqlite``), p50 and p95;
- the baseline: the same N submissions in ``submitted/<student>/<assignment>/``, graded by
  ``python -m grader run --no-similarity`` (``make grade`` without the similarity check) with
  the same number of workers, its wall time; the burst as a multiple of it (target <= 1.2x);
- idle: single submissions of 01_activations, one at a time, the service idle and warm, from
  arrival to result recorded, p50 (target <= 5 s).

Every submission's score in the service (``queue.sqlite``'s result) must equal the batch's
(``grades.csv``'s ``raw_score``); the script says whether they do and lists any that differ.
The last line reads ``burst/batch: R.RRx; p50 S.S s; p95 S.S s; idle p50 S.S s``.

    .venv/bin/python benchmarks/bench_feedback.py           # 60 submissions within 10 s, 7 idle
    .venv/bin/python benchmarks/bench_feedback.py --quick   # 12 within 2 s, 3 idle
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench_grading import PYTHON, REPO, env

COURSE_ID = "ann-course"
IDLE_ASSIGNMENT = "01_activations"


def copy_course(dest: Path) -> Path:
    """A fresh course at ``dest``: the repository's git-tracked files, as a clone has them."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, names):
        src = REPO / name
        if src.is_file():  # tracked but deleted in this working tree: a clone would have it,
            (dest / name).parent.mkdir(parents=True, exist_ok=True)  # the course does not need it
            shutil.copy2(src, dest / name)
    return dest


def bundled_samples(samples: Path) -> dict[str, list[tuple[str, Path]]]:
    """``{assignment: [(student, folder), ...]}`` of ``samples/submitted``, sorted."""
    found: dict[str, list[tuple[str, Path]]] = {}
    for folder in sorted(samples.glob("*/*")):
        if folder.is_dir():
            found.setdefault(folder.name, []).append((folder.parent.name, folder))
    return dict(sorted(found.items()))


def plan(samples: dict[str, list[tuple[str, Path]]], n: int) -> list[tuple[str, str, Path]]:
    """``n`` distinct ``(student, assignment, sample folder)`` in the order they arrive.

    The bundled samples come first, one of each assignment in turn (its first sample, then its
    second, ...); after them the samples again under new student names (``<sample>-2``, ...), so
    that any ``n`` gives distinct student/assignment pairs spread over the assignments.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive number of submissions, got {n!r}")
    if not samples or not all(samples.values()):
        raise ValueError("samples must map each assignment to at least one sample")
    rounds = math.ceil(n / sum(len(v) for v in samples.values()))
    ranked = []
    for a_index, (assignment, items) in enumerate(samples.items()):
        for r in range(rounds):
            for index, (student, folder) in enumerate(items):
                name = student if r == 0 else f"{student}-{r + 1}"
                ranked.append(((r, index, a_index), (name, assignment, folder)))
    ranked.sort(key=lambda item: item[0])
    return [item for _, item in ranked[:n]]


def percentile(values, q: float) -> float:
    """The nearest-rank ``q`` percentile of ``values`` (``q`` in (0, 100])."""
    values = sorted(values)
    if not values:
        raise ValueError("values must hold at least one number")
    if not 0 < q <= 100:
        raise ValueError(f"q must be a percentage in (0, 100], got {q!r}")
    return values[math.ceil(q / 100 * len(values)) - 1]


def submit(exchange_course: Path, student: str, assignment: str, sample: Path
           ) -> tuple[str, float]:
    """Put a copy of ``sample`` in the inbound as ``nbgrader submit`` leaves it: notebooks,
    ``timestamp.txt``, ``submission_secret.txt``, the folder made whole under a temporary name
    and then renamed into the inbound. Returns the folder's name and when it appeared."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    name = f"{student}+{assignment}+{stamp}+{uuid.uuid4().hex}"
    staging = exchange_course / "staging" / name
    staging.parent.mkdir(exist_ok=True)
    shutil.copytree(sample, staging)
    (staging / "timestamp.txt").write_text(stamp)
    (staging / "submission_secret.txt").write_text(uuid.uuid4().hex)
    os.rename(staging, exchange_course / "inbound" / name)
    return name, time.time()


class Service:
    """``python -m grader serve`` on ``course`` for the length of a with block."""

    def __init__(self, course: Path, workers: int, log: Path):
        self.course, self.workers, self.out = course, workers, log
        self.exchange_course = course / "exchange" / COURSE_ID
        self.state = course / ".feedback-service"

    def __enter__(self):
        (self.exchange_course / "inbound").mkdir(parents=True, exist_ok=True)
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "grader", "serve", "--course", str(self.course), "--workers",
             str(self.workers), "--min-interval", "0"], cwd=self.course,
            env=dict(env(), MPLBACKEND="Agg"), stdout=self.out.open("w"),
            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 600
        log = self.state / "service.log"
        while not (log.exists() and " started: " in log.read_text()):
            self._check_alive()
            if time.monotonic() > deadline:
                raise SystemExit(f"the service did not start in 600 s; its output:\n{self.tail()}")
            time.sleep(0.1)
        self.ready = time.perf_counter() - self.started
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.out.read_text(errors="replace").splitlines()[-lines:])

    def _check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise SystemExit(f"the service exited ({self.proc.returncode}); its output:\n"
                             f"{self.tail()}")

    def rows(self, names) -> dict[str, dict]:
        """The queue's record of the submissions ``names`` (those it has seen)."""
        db = sqlite3.connect(f"file:{self.state / 'queue.sqlite'}?mode=ro", uri=True, timeout=30)
        try:
            marks = ",".join("?" * len(names))
            cur = db.execute("SELECT name, state, arrived, started, finished, result FROM "
                             f"submissions WHERE name IN ({marks})", list(names))
            return {r[0]: {"state": r[1], "arrived": r[2], "started": r[3], "finished": r[4],
                           "result": json.loads(r[5]) if r[5] else None} for r in cur}
        finally:
            db.close()

    def wait_done(self, names, timeout: float = 1800) -> dict[str, dict]:
        """Wait until every one of ``names`` has ended (done or skipped); their records."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.rows(names) if (self.state / "queue.sqlite").exists() else {}
            if len(rows) == len(names) and all(r["state"] in ("done", "skipped")
                                               for r in rows.values()):
                return rows
            self._check_alive()
            if time.monotonic() > deadline:
                raise SystemExit(f"{sum(r['state'] == 'done' for r in rows.values())} of "
                                 f"{len(names)} done after {timeout:.0f} s; the service's "
                                 f"output:\n{self.tail()}")
            time.sleep(0.1)


def batch(course: Path, arrivals: list[tuple[str, str, str]], inbound: Path, workers: int
          ) -> tuple[float, dict[tuple[str, str], dict], dict]:
    """The same submissions (``(name, student, assignment)`` in ``inbound``) graded by
    ``python -m grader run --no-similarity`` in ``course``: its wall time, grades.csv's rows and
    the timings it recorded (``--timings``)."""
    for name, student, assignment in arrivals:
        shutil.copytree(inbound / name, course / "submitted" / student / assignment)
    start = time.perf_counter()
    done = subprocess.run([PYTHON, "-m", "grader", "run", "--course", str(course), "--workers",
                           str(workers), "--no-similarity", "--no-progress", "--timings",
                           str(course / "timings.json")], cwd=course,
                          env=dict(env(), MPLBACKEND="Agg"), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"python -m grader run failed ({done.returncode}):\n"
                         f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    with open(course / "grades.csv", newline="") as fh:
        rows = {(r["student"], r["assignment"]): r for r in csv.DictReader(fh)}
    return seconds, rows, json.loads((course / "timings.json").read_text())


def compare(service: dict[tuple[str, str], dict], batch_rows: dict[tuple[str, str], dict]
            ) -> tuple[list[str], list[tuple[str, str]]]:
    """Where the service's results (queue.sqlite's) and the batch's (grades.csv) differ, per
    student and assignment: the raw scores (as grades.csv writes them), then the statuses (one
    ``(service's, batch's)`` pair for each submission whose statuses differ)."""
    scores, statuses = [], []
    for key, result in sorted(service.items()):
        row = batch_rows.get(key)
        if row is None:
            scores.append(f"{key[0]} {key[1]}: not in the batch's grades.csv")
            continue
        result = result or {}
        mine = "" if result.get("score") is None else f"{result['score']:g}"
        if mine != row["raw_score"]:
            scores.append(f"{key[0]} {key[1]}: service {mine or '-'}, batch "
                          f"{row['raw_score'] or '-'}")
        if result.get("status") != row["status"]:
            statuses.append((result.get("status"), row["status"]))
    return scores, statuses


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60, help="submissions in the burst")
    parser.add_argument("--within", type=float, default=10.0,
                        help="seconds over which the burst arrives")
    parser.add_argument("--idle", type=int, default=7, help="single submissions at idle")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--quick", action="store_true",
                        help="12 submissions within 2 s, 3 at idle")
    parser.add_argument("--keep", action="store_true",
                        help="keep the scratch courses (the service's log and queue) and print "
                             "where")
    args = parser.parse_args()
    if args.quick:
        args.n, args.within, args.idle = 12, 2.0, 3
    samples = bundled_samples(REPO / "samples" / "submitted")
    burst_plan = plan(samples, args.n)
    t_begin = time.perf_counter()
    load_before = load()
    tmp = Path(tempfile.mkdtemp(prefix="bench-feedback-"))
    try:
        course = copy_course(tmp / "service")
        with Service(course, args.workers, tmp / "service.out") as service:
            inbound = service.exchange_course / "inbound"
            # warm: one submission of each assignment, so that its reference probes exist
            t0 = time.perf_counter()
            warm = [submit(service.exchange_course, "warm-up", a, items[0][1])[0]
                    for a, items in samples.items()]
            service.wait_done(warm)
            t_warm = time.perf_counter() - t0
            time.sleep(2)

            arrivals, written = [], {}
            gap = args.within / args.n
            first = time.monotonic()
            for i, (student, assignment, folder) in enumerate(burst_plan):
                delay = first + i * gap - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                name, when = submit(service.exchange_course, student, assignment, folder)
                arrivals.append((name, student, assignment))
                written[name] = when
            spread = max(written.values()) - min(written.values())
            rows = service.wait_done([a[0] for a in arrivals])
            load_burst = load()

            time.sleep(2)
            idle_samples = samples[IDLE_ASSIGNMENT]
            idle = []
            for i in range(args.idle):
                student, folder = idle_samples[i % len(idle_samples)]
                name, when = submit(service.exchange_course, f"{student}-idle{i + 1}",
                                    IDLE_ASSIGNMENT, folder)
                row = service.wait_done([name])[name]
                idle.append(row["finished"] - when)
                time.sleep(1.5)
            t_service = service.ready
            log = (service.state / "service.log").read_text()

        batch_course = copy_course(tmp / "batch")
        load_batch = load()
        t_batch, batch_rows, timings = batch(batch_course, arrivals, inbound, args.workers)
        load_after_batch = load()
        pages_missing = [name for name, row in rows.items() if row["state"] == "done"
                         and not _pages_exist(service.exchange_course, inbound / name)]
    finally:
        if args.keep:
            print(f"scratch courses kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    states = [r["state"] for r in rows.values()]
    first_arrival = min(written.values())
    t_burst = max(r["finished"] or 0 for r in rows.values()) - first_arrival
    latency = [rows[n]["finished"] - written[n] for n, *_ in arrivals]
    seen = [rows[n]["arrived"] - written[n] for n, *_ in arrivals]
    queued = [rows[n]["started"] - rows[n]["arrived"] for n, *_ in arrivals]
    graded = [rows[n]["finished"] - rows[n]["started"] for n, *_ in arrivals]
    p50, p95 = statistics.median(latency), percentile(latency, 95)
    idle_p50 = statistics.median(idle)
    ratio = t_burst / t_batch
    differ, status_differ = compare({(s, a): rows[n]["result"] for n, s, a in arrivals},
                                    batch_rows)
    failed = sum(1 for n, *_ in arrivals if (rows[n]["result"] or {}).get("status") == "failed")

    print(f"{args.n} submissions ({len({a for _, a, _ in burst_plan})} assignments, "
          f"{len({(s, a) for s, a, _ in burst_plan})} distinct student/assignment pairs) arriving "
          f"over {spread:.1f} s; {args.workers} workers; {os.cpu_count()} cores; "
          f"all measured in this run ({time.perf_counter() - t_begin:.0f} s)")
    print(f"load: before {load_before}; after the burst {load_burst}; before the batch "
          f"{load_batch}; after it {load_after_batch} (other people's work included)")
    print(f"service start until ready (template course): {t_service:.1f} s; warm-up, one "
          f"submission of each assignment (reference probes): {t_warm:.1f} s")
    print(f"states after the burst: {dict((s, states.count(s)) for s in sorted(set(states)))}; "
          f"failed: {failed}; pages missing: {len(pages_missing)}")
    print(f"burst, mean per submission: folder to seen {statistics.mean(seen):.2f} s, seen to "
          f"grading {statistics.mean(queued):.2f} s, grading {statistics.mean(graded):.2f} s")
    run, jobs = timings["run"], timings["jobs"]
    print(f"batch parts: executor {run['jobs']:.1f} s (template course, reference probes, "
          f"{len(jobs)} jobs of mean {statistics.mean(j['seconds'] for j in jobs):.2f} s), merge "
          f"{run['merge']:.1f} s, report {run['report']:.1f} s, the rest (command start, "
          f"releases) {t_batch - run['jobs'] - run['merge'] - run['report']:.1f} s")
    job_seconds = [(rows[n]["result"] or {}).get("seconds", 0.0) for n, *_ in arrivals]
    print(f"workers busy grading: service {sum(job_seconds) / args.workers / t_burst:.0%} of the "
          f"burst (jobs of mean {statistics.mean(job_seconds):.2f} s); batch "
          f"{sum(j['seconds'] for j in jobs) / args.workers / run['jobs']:.0%} of its executor's "
          "time (the rest: waiting for work, starting jobs, recording results)")
    print(f"idle latencies ({IDLE_ASSIGNMENT}): " + ", ".join(f"{x:.1f}" for x in idle) + " s")
    print()
    print(f"  {'measure':<46} {'figure':>8}  {'target':<8} {'':<6}")
    table = [
        ("burst: first arrival to last feedback", f"{t_burst:.1f} s", "", ""),
        (f"batch: grader run --no-similarity, {args.workers} workers", f"{t_batch:.1f} s", "",
         ""),
        ("burst / batch", f"{ratio:.2f}x", "<= 1.2x", "met" if ratio <= 1.2 else "missed"),
        ("burst latency p50 (arrival to result)", f"{p50:.1f} s", "", ""),
        ("burst latency p95", f"{p95:.1f} s", "", ""),
        (f"idle latency p50 ({IDLE_ASSIGNMENT}, {len(idle)} alone)", f"{idle_p50:.1f} s",
         "<= 5 s", "met" if idle_p50 <= 5 else "missed"),
    ]
    for row in table:
        print(f"  {row[0]:<46} {row[1]:>8}  {row[2]:<8} {row[3]:<6}")
    print()
    if differ:
        print(f"scores DIFFER between the service and the batch for {len(differ)} of "
              f"{len(arrivals)}:")
        for line in differ:
            print(f"  {line}")
    else:
        print(f"scores agree: the service and the batch give each of the {len(arrivals)} "
              "submissions the same raw score")
    if status_differ:
        print(f"statuses differ for {len(status_differ)} of {len(arrivals)} (service's, "
              "batch's: count): " + "; ".join(f"{a!r}, {b!r}: {k}" for (a, b), k in
                                               sorted(Counter(status_differ).items())))
    if pages_missing:
        print("no feedback page for: " + ", ".join(pages_missing))
    if "ERROR" in log or "WARNING" in log:
        print("the service's log has warnings or errors:")
        for line in log.splitlines():
            if " ERROR " in line or " WARNING " in line:
                print(f"  {line}")
    print(f"burst/batch: {ratio:.2f}x; p50 {p50:.1f} s; p95 {p95:.1f} s; idle p50 {idle_p50:.1f} s")


def _pages_exist(exchange_course: Path, folder: Path) -> bool:
    """Whether every notebook of the submission in ``folder`` has its page where *Fetch
    Feedback* looks (``feedback/<md5(secret + notebook id)>.html``)."""
    from grader.pages import notebook_hash

    secret = (folder / "submission_secret.txt").read_text()
    return all((exchange_course / "feedback" /
                f"{notebook_hash(secret=secret, notebook_id=nb.stem)}.html").is_file()
               for nb in folder.glob("*.ipynb"))


if __name__ == "__main__":
    sys.exit(main())
