"""Feedback on submit (``python -m grader serve``), with real grading and nbgrader's own commands.

A student submits with ``nbgrader submit`` and reads the page with ``nbgrader fetch_feedback``;
the instructor's later batch gives the same scores. The service survives SIGKILL mid-burst without
losing or repeating a submission, gives every bad submission a page with the reason and carries on,
and holds a student to the rate limit while others are graded. No page shows a hidden test.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from coursekit import (
    BIN,
    REPO,
    answer_with_solutions,
    as_student,
    hidden_regions,
    make_course,
    nbgrader,
)

pytestmark = [pytest.mark.grading, pytest.mark.filterwarnings("ignore:.*not in session")]

SAMPLES = REPO / "samples" / "submitted"
ENV = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", MPLBACKEND="Agg")


def serve(course: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "grader", "serve", "--course", str(course),
                           "--poll", "0.2", *args], env=ENV, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def start(course: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "grader", "serve", "--course", str(course),
                             "--poll", "0.2", *args], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def stamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d} UTC"


def drop(course: Path, student: str, assignment: str, files: dict[str, bytes] | Path,
         exchange: Path | None = None) -> Path:
    """A submission as ``nbgrader submit`` leaves it in the inbound: written under a temporary
    name, then renamed into place. ``files``: a sample's folder, or name -> content; ``exchange``:
    the exchange root, by default the course's ``exchange/``."""
    inbound = (exchange or course / "exchange") / "ann-course" / "inbound"
    inbound.mkdir(parents=True, exist_ok=True)
    when = stamp()
    tmp = inbound.parent / f".incoming-{secrets.token_hex(4)}"
    if isinstance(files, Path):
        shutil.copytree(files, tmp, ignore=shutil.ignore_patterns("timestamp.txt",
                                                                  "submission_secret.txt"))
    else:
        tmp.mkdir()
        for name, data in files.items():
            (tmp / name).write_bytes(data)
    (tmp / "timestamp.txt").write_text(when)
    (tmp / "submission_secret.txt").write_text(secrets.token_hex(64))
    dest = inbound / f"{student}+{assignment}+{when}+{secrets.token_hex(4)}"
    tmp.rename(dest)
    time.sleep(0.002)  # distinct timestamps
    return dest


def page(course: Path, submission: Path, notebook: str) -> str:
    """The page *Fetch Feedback* would find for ``notebook`` of ``submission`` ("" if none)."""
    from nbgrader.utils import notebook_hash

    secret = (submission / "submission_secret.txt").read_text()
    path = (submission.parent.parent / "feedback" /
            f"{notebook_hash(secret=secret, notebook_id=notebook)}.html")
    return path.read_text() if path.exists() else ""


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", html,
                                                               flags=re.S)))


def rows(course: Path) -> list[tuple]:
    db = sqlite3.connect(course / ".feedback-service" / "queue.sqlite")
    try:
        return db.execute("SELECT name, student, assignment, state, result FROM submissions "
                          "ORDER BY name").fetchall()
    finally:
        db.close()


def done(course: Path) -> int:
    """Submissions with a recorded result (0 while the service is still creating its queue)."""
    if not (course / ".feedback-service" / "queue.sqlite").exists():
        return 0
    try:
        return sum(1 for r in rows(course) if r[3] == "done")
    except sqlite3.OperationalError:  # the file exists, its table not yet
        return 0


def wait_for(predicate, timeout: float = 240, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def hidden_code(assignment: str) -> list[str]:
    """Every line of the assignment's hidden tests that the release does not show anyway."""
    lines = []
    for path in (REPO / "solutions" / assignment).glob("*.ipynb"):
        release = (REPO / "exercises" / assignment / path.name).read_text()
        for cell in nbformat.read(path, as_version=4).cells:
            for region in hidden_regions(cell.source):
                lines += [ln.strip() for ln in region.splitlines()
                          if len(ln.strip()) > 12 and json.dumps(ln.strip())[1:-1] not in release]
    assert len(lines) > 20, "the hidden tests were not found"
    return lines


def assert_no_hidden_code(page_html: str, assignment: str) -> None:
    """No hidden test's line in the page's text (tags, e.g. code highlighting, and whitespace
    left out)."""
    shown = " ".join(html.unescape(re.sub(r"<[^>]+>", "", page_html)).split())
    for line in hidden_code(assignment):
        assert " ".join(line.split()) not in shown, f"a page shows a hidden test's line: {line!r}"


def test_the_hidden_code_check_sees_a_line_through_highlighting():
    line = hidden_code("01_activations")[0]
    highlighted = "".join(f'<span class="n">{html.escape(word)}</span> ' for word in line.split())
    with pytest.raises(AssertionError, match="hidden test's line"):
        assert_no_hidden_code(f"<pre>{highlighted}</pre>", "01_activations")


@pytest.fixture
def course(tmp_path):
    root = make_course(tmp_path / "course", ["01_activations", "02_single_layer"])
    nbgrader(root, "generate_assignment", "01_activations", "--force")
    nbgrader(root, "generate_assignment", "02_single_layer", "--force")
    (root / "exchange" / "ann-course").mkdir(parents=True)
    return root


# -- a student's loop, with nbgrader's own commands --------------------------------------------


def answer(notebook: Path, wrong: str | None = None) -> None:
    """Answer with the instructor's solutions; ``wrong``: the grade id of an answer in which the
    student writes sigmoid as 1 / (1 - exp(-z)) (a sign slip)."""
    mistake = ("def sigmoid(z):\n    z = np.asarray(z, dtype=float)\n"
               "    return 1.0 / (1.0 - np.exp(-z))\n")
    answer_with_solutions(notebook, REPO / "solutions" / "01_activations" / notebook.name,
                          {wrong: mistake} if wrong else None)


def test_a_student_submits_fetches_feedback_fixes_it_and_the_batch_agrees(course, tmp_path):
    """nbgrader submit -> the service -> nbgrader fetch_feedback, twice; then the instructor's
    collect + grader run give the service's score for the latest submission."""
    nbgrader(course, "release_assignment", "01_activations", "--force")
    home = tmp_path / "alice"
    as_student(course, home, "alice", "fetch_assignment", "01_activations")
    nb = home / "ann-course" / "01_activations" / "activations.ipynb"
    sigmoid_id = next(c.metadata["nbgrader"]["grade_id"]
                      for c in nbformat.read(nb, as_version=4).cells
                      if c.metadata.get("nbgrader", {}).get("solution")
                      and "def sigmoid(" in c.source)
    answer(nb, wrong=sigmoid_id)
    as_student(course, home, "alice", "submit", "01_activations")
    serve(course, "--once", "--min-interval", "0", "--mode", "messages")
    as_student(course, home, "alice", "fetch_feedback", "01_activations")
    first = sorted((home / "ann-course" / "01_activations" / "feedback").glob("*/activations.html"))
    assert len(first) == 1, "one page for the one submission"
    shown = text(first[0].read_text())
    score = re.search(r"Autograded score: (\S+) / (\S+)", shown)
    assert score and float(score[1]) < float(score[2]), shown[:1500]
    assert "test_sigmoid " in shown and "lost points" in shown, shown[:2000]
    assert "graded by your instructor later" in shown, "the written answer waits for a person"
    assert_no_hidden_code(first[0].read_text(), "01_activations")

    answer(nb)  # fixed
    time.sleep(1.1)  # nbgrader's timestamps: a new folder
    as_student(course, home, "alice", "submit", "01_activations")
    serve(course, "--once", "--min-interval", "0", "--mode", "messages")
    as_student(course, home, "alice", "fetch_feedback", "01_activations")
    pages = sorted((home / "ann-course" / "01_activations" / "feedback").glob("*/activations.html"))
    assert len(pages) == 2, "a page per submission, under its own timestamp"
    second = text(pages[-1].read_text())
    full = re.search(r"Autograded score: (\S+) / (\S+)", second)
    assert full and full[1] == full[2], second[:1500]
    assert "Every autograded question has full marks" in second
    assert text(pages[0].read_text()) == shown, "the first submission's page is unchanged"

    # The instructor's batch after the deadline: the latest submission, the same score.
    nbgrader(course, "collect", "01_activations")
    proc = subprocess.run([sys.executable, "-m", "grader", "run", "--course", str(course),
                           "--no-release", "--no-similarity", "--no-progress"], env=ENV,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    import csv

    with open(course / "grades.csv", newline="") as fh:
        batch = {r["student"]: r for r in csv.DictReader(fh)}
    assert float(batch["alice"]["raw_score"]) == float(full[1]), (batch["alice"], full[0])
    assert batch["alice"]["status"] == "needs manual grading"
    latest = [json.loads(r[4]) for r in rows(course) if r[1] == "alice"][-1]
    assert latest["score"] == float(batch["alice"]["raw_score"])
    assert latest["status"] == batch["alice"]["status"], "the service's result is the batch's"


# -- faults ----------------------------------------------------------------------------------


# How the log says a submission's result was recorded: its status and score, or why it failed.
ENDED = r"(?:graded|needs manual grading|needs review), [\d.]+ / |failed: "


def test_killed_mid_burst_and_restarted_it_loses_and_repeats_nothing(course):
    """SIGKILL while submissions are being graded and more arrive; a restart grades exactly the
    rest, every submission ends with one recorded result and its final page."""
    samples = [p for p in sorted(SAMPLES.glob("*/0[12]_*"))][:8]
    proc = start(course, "--workers", "1", "--min-interval", "0")
    try:
        dropped = [drop(course, f"s{i}", p.name, p) for i, p in enumerate(samples[:6])]
        wait_for(lambda: done(course) >= 2, what="two results before the kill")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert done(course) < 6, "the kill came mid-burst"
    states = [r[3] for r in rows(course)]
    scratch = Path((course / ".feedback-service" / "scratch-folder").read_text())
    assert scratch.is_dir(), "a killed run leaves its scratch folder behind"
    dropped += [drop(course, f"s{i}", p.name, p) for i, p in enumerate(samples[6:], start=6)]
    serve(course, "--once", "--workers", "1", "--min-interval", "0")

    table = rows(course)
    assert len(table) == len(dropped) and {r[3] for r in table} == {"done"}, (states, table)
    log = (course / ".feedback-service" / "service.log").read_text()
    for folder in dropped:
        who = " ".join(folder.name.split("+")[:3])
        ended = re.findall(rf"{re.escape(who)}: (?:{ENDED})", log)
        assert len(ended) == 1, f"{who}: {len(ended)} results in the log\n{log}"
        shown = text(page(course, folder, next(folder.glob('*.ipynb')).stem))
        assert "Autograded score" in shown or "could not be graded" in shown, shown[:500]
    if "grading" in states:
        assert "to grade again: the service stopped while grading it" in log
    assert not scratch.exists(), "the restart removes the killed run's scratch folder"


def test_each_bad_submission_gets_a_page_with_the_reason_and_the_next_is_graded(course):
    nbgrader(course, "db", "student", "add", "alice", "--first-name=Alice", "--last-name=A")
    release = course / "exercises" / "01_activations" / "activations.ipynb"
    killer = nbformat.read(SAMPLES / "sample-overflow" / "01_activations" / "activations.ipynb",
                           as_version=4)
    answer_cell = next(c for c in killer.cells if c.metadata.get("nbgrader", {}).get("solution")
                       and c.cell_type == "code")
    answer_cell.source += "\nimport os\nos._exit(3)\n"
    bad = {
        "not valid notebook JSON": drop(course, "bob", "01_activations",
                                        {"activations.ipynb": b"{not json"}),
        "no assignment '07_rnn'": drop(course, "carol", "07_rnn",
                                       {"rnn.ipynb": release.read_bytes()}),
        "the kernel died": drop(course, "dave", "01_activations",
                                {"activations.ipynb": nbformat.writes(killer).encode()}),
    }
    off_roster = drop(course, "mallory", "01_activations", SAMPLES / "sample-partial" /
                      "01_activations")
    good = drop(course, "alice", "01_activations", SAMPLES / "sample-overflow" / "01_activations")
    serve(course, "--once", "--workers", "1", "--min-interval", "0", "--mode", "messages")

    for why, folder in bad.items():
        shown = text(page(course, folder, next(folder.glob("*.ipynb")).stem))
        assert "could not be graded" in shown and why in html.unescape(shown), (
            why, shown[:800])
    roster = text(page(course, off_roster, "activations"))
    assert "Autograded score" in roster and "not on the class roster" in roster, roster[:800]
    shown = text(page(course, good, "activations"))
    assert re.search(r"Autograded score: 15 / 18", shown), shown[:800]
    assert "test_sigmoid_stable" in shown and "overflow" in shown.lower(), (
        "messages mode shows the failing test's hint")
    assert_no_hidden_code(page(course, good, "activations"), "01_activations")
    log = (course / ".feedback-service" / "service.log").read_text()
    assert log.count(": failed: ") == 3 and "mallory 01_activations" in log
    status = {r[1]: json.loads(r[4])["status"] for r in rows(course)}
    assert status["mallory"] == "needs review", "off the roster, as make grade says"
    assert status["alice"] == "needs manual grading", "the written answer waits, as in grades.csv"


def test_a_student_over_the_rate_limit_waits_and_their_latest_submission_is_graded(course):
    """One grading per 8 s per student and assignment: alice's second and third submissions come
    within it; the second is replaced by the third, which waits (its page says until when) and is
    graded when allowed; bob, meanwhile, is graded at once."""
    work = SAMPLES / "sample-overflow" / "01_activations"
    proc = start(course, "--workers", "1", "--min-interval", "8", "--mode", "full")
    try:
        first = drop(course, "alice", "01_activations", work)
        wait_for(lambda: done(course) == 1, what="alice's first grading")
        second = drop(course, "alice", "01_activations", work)
        wait_for(lambda: "queued" in text(page(course, second, "activations")), what="a page")
        assert "will be graded at" in text(page(course, second, "activations"))
        third = drop(course, "alice", "01_activations", work)
        bob = drop(course, "bob", "01_activations", work)
        wait_for(lambda: "replaced by a later submission" in page(course, second, "activations"),
                 what="the second replaced")
        wait_for(lambda: "Autograded score" in page(course, bob, "activations"), what="bob")
        assert "Autograded score" not in page(course, third, "activations"), (
            "alice's third submission was graded inside the rate limit")
        wait_for(lambda: "Autograded score" in page(course, third, "activations"), what="third")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    table = {r[0]: r for r in rows(course)}
    assert table[second.name][3] == "skipped" and table[third.name][3] == "done"
    started = {r[0]: json.loads(r[4]) for r in rows(course) if r[4]}
    assert first.name in started and third.name in started and second.name not in started
    full_page = page(course, third, "activations")
    assert "Autograded score: 15 / 18" in text(full_page) and "hidden tests ran here" in full_page
    assert_no_hidden_code(full_page, "01_activations")


@pytest.fixture
def outside_tmp():
    """A folder outside /tmp and /var/tmp, which the sandbox replaces anyway: there, only the
    service's hiding keeps a kernel from seeing what it holds (as on a hub, under /srv)."""
    if not os.access("/srv", os.W_OK):
        pytest.skip("needs a writable /srv (root): under /tmp the sandbox hides everything anyway")
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="ann-service-test-", dir="/srv"))
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_students_code_sees_neither_the_inbound_nor_the_services_records(outside_tmp):
    """Other students' submissions wait in the exchange (outside the course folder, as on a hub),
    their results in the service's state: a notebook that looks for them, with its output on the
    full page, finds neither."""
    course = make_course(outside_tmp / "course", ["01_activations"])
    nbgrader(course, "generate_assignment", "01_activations", "--force")
    exchange = outside_tmp / "exchange"
    (exchange / "ann-course").mkdir(parents=True)
    other = drop(course, "alice", "01_activations", SAMPLES / "sample-overflow" / "01_activations",
                 exchange)
    serve(course, "--once", "--min-interval", "0", "--exchange", str(exchange))
    nb = nbformat.read(SAMPLES / "sample-overflow" / "01_activations" / "activations.ipynb",
                       as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")
                and c.cell_type == "code")
    inbound, state = other.parent, course / ".feedback-service"
    cell.source += (f"\nimport os as _os\nprint('LOOKED', sorted(_os.listdir({str(inbound)!r})) "
                    f"if _os.path.isdir({str(inbound)!r}) else 'nothing', "
                    f"_os.path.exists({str(state / 'queue.sqlite')!r}))\n")
    eve = drop(course, "eve", "01_activations", {"activations.ipynb": nbformat.writes(nb).encode()},
               exchange)
    serve(course, "--once", "--min-interval", "0", "--mode", "full", "--exchange", str(exchange))
    shown = html.unescape(text(page(course, eve, "activations")))
    seen = re.findall(r"LOOKED [^(].{0,80}", shown)
    assert seen and seen[0].split()[1:3] in (["[]", "False"], ["nothing", "False"]), (
        seen or shown[:1000])
    assert "alice" not in shown


@pytest.mark.parametrize("args, says", [
    (["--min-interval", "-5"], "min_interval must be at least 0 seconds, got -5"),
    (["--exchange", "/nonexistent-exchange"], "no course 'ann-course' in the exchange"),
])
def test_bad_settings_are_refused_with_the_reason_before_anything_runs(course, args, says):
    proc = subprocess.run([sys.executable, "-m", "grader", "serve", "--course", str(course),
                           "--once", *args], env=ENV, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 2 and says in proc.stderr, proc.stdout + proc.stderr
    assert not (course / ".feedback-service").exists(), "nothing is written"


def look_often(course: Path) -> None:
    """The course's own grader_config.py: the repository's, with solutions/ looked at twice a
    second."""
    (course / "grader_config.py").write_text(
        "c = get_config()\n"
        f"load_subconfig({str(REPO / 'grader_config.py')!r})\n"
        "c.FeedbackService.sources_check = 0.5\n")


def test_a_changed_solution_is_graded_with_from_the_next_submission_on(course):
    """The instructor gives test_sigmoid 4 points instead of 2 while the service runs: the next
    submission is graded against the new release, as make grade would grade it."""
    look_often(course)
    work = SAMPLES / "sample-overflow" / "01_activations"
    proc = start(course, "--workers", "1", "--min-interval", "0")
    try:
        before = drop(course, "alice", "01_activations", work)
        wait_for(lambda: "Autograded score" in page(course, before, "activations"), what="before")
        assert "Autograded score: 15 / 18" in text(page(course, before, "activations"))
        source = course / "solutions" / "01_activations" / "activations.ipynb"
        nb = nbformat.read(source, as_version=4)
        test = next(c for c in nb.cells
                    if c.metadata.get("nbgrader", {}).get("grade_id") == "test_sigmoid")
        test.metadata["nbgrader"]["points"] = 4
        nbformat.write(nb, source)
        time.sleep(1.5)  # the service's next look at solutions/
        after = drop(course, "bob", "01_activations", work)
        wait_for(lambda: "Autograded score" in page(course, after, "activations"), what="after")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    assert "Autograded score: 17 / 20" in text(page(course, after, "activations"))
    log = (course / ".feedback-service" / "service.log").read_text()
    assert "solutions/ changed: grading with the new sources" in log


def test_a_solution_saved_broken_leaves_the_service_grading_with_the_previous_sources(course):
    look_often(course)
    work = SAMPLES / "sample-overflow" / "01_activations"
    proc = start(course, "--workers", "1", "--min-interval", "0")
    try:
        wait_for(lambda: (course / ".feedback-service" / "service.log").exists()
                 and "started:" in (course / ".feedback-service" / "service.log").read_text(),
                 what="the service's start")
        (course / "solutions" / "01_activations" / "activations.ipynb").write_text("{ half-saved")
        time.sleep(1.5)
        after = drop(course, "bob", "01_activations", work)
        wait_for(lambda: "Autograded score" in page(course, after, "activations"), what="bob")
        assert proc.poll() is None, "the service is still running"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    assert "Autograded score: 15 / 18" in text(page(course, after, "activations"))
    log = (course / ".feedback-service" / "service.log").read_text()
    assert "nbgrader cannot build the course from it" in log, log[-2000:]


def test_a_new_due_date_counts_as_changed_sources(course):
    """The template course carries the due dates: a new one must make the service start again."""
    from grader import service
    from grader.course import Course
    from grader.types import Options

    c = Course(course)
    svc = service.Service(c, course / "exchange", "ann-course", course / ".feedback-service",
                          service.settings(c), Options(workers=1))
    before = svc._sources()
    nbgrader(course, "db", "assignment", "add", "01_activations",
             "--duedate=2026-12-01 00:00:00 UTC")
    assert svc._sources() != before
    svc.inbox.close()


def test_it_does_not_start_where_kernels_cannot_be_sandboxed(course):
    """Without namespaces a student's code would run as the service's account, which reads the
    hidden tests and every submission: the service refuses unless told to accept that."""
    env = dict(ENV, GRADER_SANDBOX_MODE=f"{os.geteuid()}:none")  # as sandbox.mode() found it
    proc = subprocess.run([sys.executable, "-m", "grader", "serve", "--course", str(course),
                           "--once"], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 2 and "does not start without a sandbox" in proc.stderr, (
        proc.stdout + proc.stderr)
    assert not (course / ".feedback-service").exists()
    accepted = subprocess.run([sys.executable, "-m", "grader", "serve", "--course", str(course),
                               "--once", "--allow-unsandboxed"], env=env, capture_output=True,
                              text=True, timeout=300, check=False)
    assert accepted.returncode == 0 and "sandbox: none" in accepted.stdout, (
        accepted.stdout + accepted.stderr)


def test_a_stop_during_the_warm_up_ends_it_before_the_next_assignment(monkeypatch):
    """The service warms every assignment's reference probes at start and after a change of
    solutions/ (seconds each under load); a hub that stops it meanwhile must not wait for all of
    them: ``warm`` asks ``stop`` before each assignment."""
    from grader import pool
    from grader.types import Options

    done = []
    monkeypatch.setattr(pool, "reference_probes",
                        lambda course, template, assignment, slot: done.append(assignment) or [])
    executor = pool.LocalExecutor(None, Options(), ["a1", "a2", "a3"])
    executor._free = ["a slot"]
    executor.warm(stop=lambda: len(done) >= 1)
    assert done == ["a1"], f"warmed {done} after the stop"
    executor.warm()
    assert done == ["a1", "a2", "a3"], "without a stop, every assignment is warmed once"
