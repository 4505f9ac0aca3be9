"""nbgrader's whole cycle around ``make grade``, with nbgrader's own commands, as a class runs it.

The instructor sets a due date and imports the roster (``nbgrader db ...``), releases the assignment
to the exchange; two students fetch it and submit (one correct, one wrong, both after the due
date); the instructor collects, grades with ``python -m grader run``, grades a question by hand as
the formgrader does, grants an extension, grades again, and releases feedback; each student fetches
it. What plain nbgrader does must hold: timestamps and lateness in the gradebook, the late penalty
of the course's plugin, the full instructor notebook (hidden tests) in ``autograded/`` but never in
the student's feedback, manual grades and comments kept by a regrade, and ``grades.csv`` agreeing
with what the formgrader reads.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from coursekit import BIN, answer_with_solutions, as_student, make_course, nbgrader

pytestmark = [pytest.mark.grading, pytest.mark.filterwarnings("ignore:.*not in session")]

ASSIGNMENT = "01_activations"


def _grader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-m", "grader", *args, "--course", str(course)],
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _answer_wrongly(release: Path) -> None:
    """A student who gets every code answer wrong the same way: returns zeros."""
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            cell.source = cell.source.replace("raise NotImplementedError()", "return 0 * z")
        elif meta.get("solution"):
            cell.source = "I do not know."
    nbformat.write(nb, release)


def _rows(path: Path) -> dict:
    with open(path, newline="") as fh:
        return {(r["student"], r["assignment"]): r for r in csv.DictReader(fh)}


def _manual_ids(course: Path) -> list[tuple[str, str]]:
    """(notebook, grade_id) of the questions a person grades (no autograder score)."""
    out = []
    for path in sorted((course / "solutions" / ASSIGNMENT).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and meta.get("solution") and cell.cell_type == "markdown":
                out.append((path.stem, meta["grade_id"]))
    return out


@pytest.fixture(scope="module")
def cls(tmp_path_factory):
    """The class after release, fetch, submit, collect and a first ``make grade``."""
    root = tmp_path_factory.mktemp("class")
    course = make_course(root / "course", [ASSIGNMENT])
    os.chmod(root, 0o755)
    os.chmod(course, 0o755)
    (course / "exchange").mkdir(mode=0o777)
    os.chmod(course / "exchange", 0o1777)
    due = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).replace(microsecond=0)
    nbgrader(course, "db", "assignment", "add", ASSIGNMENT,
             f"--duedate={due.strftime('%Y-%m-%d %H:%M:%S')} UTC")
    roster = course / "students.csv"
    roster.write_text("id,first_name,last_name,email\n"
                      "alice,Alice,Noether,alice@example.org\n"
                      "bob,Bob,Dirac,bob@example.org\n")
    nbgrader(course, "db", "student", "import", str(roster))
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    nbgrader(course, "release_assignment", ASSIGNMENT, "--force")
    homes = {s: root / "home" / s for s in ("alice", "bob")}
    for student, home in homes.items():
        as_student(course, home, student, "fetch_assignment", ASSIGNMENT)
        fetched = next((home / "ann-course" / ASSIGNMENT).glob("*.ipynb"))
        if student == "alice":
            answer_with_solutions(fetched, course / "solutions" / ASSIGNMENT / fetched.name)
        else:
            _answer_wrongly(fetched)
        as_student(course, home, student, "submit", ASSIGNMENT)
    nbgrader(course, "collect", ASSIGNMENT)
    first = _grader(course, "run", "--workers", "2", "--no-progress")
    return course, homes, due, first.stdout


def test_collect_kept_the_submission_times(cls):
    course, *_ = cls
    for student in ("alice", "bob"):
        assert (course / "submitted" / student / ASSIGNMENT / "timestamp.txt").is_file()


def test_timestamps_and_lateness_reach_the_gradebook_and_grades_csv(cls):
    course, _, _due, _stdout = cls
    from nbgrader.api import Gradebook

    rows = _rows(course / "grades.csv")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in ("alice", "bob"):
            sub = gb.find_submission(ASSIGNMENT, student)
            stamp = (course / "submitted" / student / ASSIGNMENT / "timestamp.txt").read_text()
            from nbgrader.utils import parse_utc

            assert sub.timestamp == parse_utc(stamp), "the gradebook lost the submission time"
            assert sub.total_seconds_late > 2 * 86400 - 60
            row = rows[(student, ASSIGNMENT)]
            assert float(row["seconds_late"]) == pytest.approx(sub.total_seconds_late, abs=1)
            assert row["timestamp"].startswith(sub.timestamp.strftime("%Y-%m-%d %H:%M:%S"))


def test_the_course_late_policy_applies(cls):
    """Two days and some seconds late: three started days, 30 % of the raw score (grader_config)."""
    course, *_ = cls
    rows = _rows(course / "grades.csv")
    alice = rows[("alice", ASSIGNMENT)]
    raw = float(alice["raw_score"])
    assert raw > 0 and float(alice["max_score"]) > 0
    assert float(alice["late_penalty"]) == pytest.approx(0.3 * raw)
    assert float(alice["score"]) == pytest.approx(0.7 * raw)


def test_names_come_from_the_roster(cls):
    course, *_ = cls
    rows = _rows(course / "grades.csv")
    assert (rows[("alice", ASSIGNMENT)]["first_name"], rows[("alice", ASSIGNMENT)]["last_name"]) \
        == ("Alice", "Noether")
    assert rows[("bob", ASSIGNMENT)]["last_name"] == "Dirac"


def test_grades_csv_agrees_with_the_formgrader(cls):
    """The formgrader reads NbGraderAPI; every number it shows equals grades.csv's."""
    course, *_ = cls
    from grader.course import api_for

    api = api_for(course)
    rows = _rows(course / "grades.csv")
    for sub in api.get_submissions(ASSIGNMENT):
        row = rows[(sub["student"], ASSIGNMENT)]
        assert float(row["raw_score"]) == pytest.approx(sub["score"])
        assert float(row["max_score"]) == pytest.approx(sub["max_score"])
        assert (row["status"] == "needs manual grading") == bool(sub["needs_manual_grade"])
    for row in rows.values():
        assert float(row["score"]) == pytest.approx(float(row["raw_score"])
                                                    - float(row["late_penalty"]))


def test_autograded_keeps_hidden_tests_feedback_does_not(cls):
    course, *_ = cls
    source = next((course / "solutions" / ASSIGNMENT).glob("*.ipynb"))
    hidden, visible = [], []
    region = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.DOTALL)
    for cell in nbformat.read(source, as_version=4).cells:
        m = region.search(cell.source)
        if m:
            hidden += [ln.strip() for ln in m.group(1).splitlines() if len(ln.strip()) > 20]
        visible.append(region.sub("", cell.source))
    # A line the visible part repeats (the same assertion message) is no secret.
    visible_text = "\n".join(visible)
    hidden = [ln for ln in hidden if ln not in visible_text]
    assert hidden, "the assignment has no hidden tests to look for"
    for student in ("alice", "bob"):
        graded = "\n".join(c.source for c in nbformat.read(
            course / "autograded" / student / ASSIGNMENT / source.name, as_version=4).cells)
        missing = [ln for ln in hidden if ln not in graded]
        assert not missing, f"autograded/{student} lost hidden tests: {missing[:2]}"
        html = (course / "feedback" / student / ASSIGNMENT / f"{source.stem}.html").read_text()
        import html as html_mod

        shown = [ln for ln in hidden if ln in html_mod.unescape(html)]
        assert not shown, f"{student}'s feedback shows hidden tests: {shown[:2]}"
    bob = nbformat.read(course / "autograded" / "bob" / ASSIGNMENT / source.name, as_version=4)
    tracebacks = [o for c in bob.cells for o in c.get("outputs", [])
                  if o.get("output_type") == "error" and len(o.get("traceback", [])) > 1]
    assert tracebacks, "the instructor's copy lost the failed tests' full tracebacks"


def test_manual_grades_survive_a_regrade_and_an_extension_is_honoured(cls):
    """A person grades in the formgrader, the instructor grants alice an extension, grades again."""
    course, _homes, _due, _ = cls
    from nbgrader.api import Gradebook

    db = f"sqlite:///{course / 'gradebook.db'}"
    manual = _manual_ids(course)
    with Gradebook(db) as gb:
        sub = gb.find_submission(ASSIGNMENT, "bob")
        grade = sub.notebooks[0].grades[0]
        target = (sub.notebooks[0].name, grade.name)
        grade.manual_score = grade.max_score / 2
        comment = sub.notebooks[0].comments[0]
        comment.manual_comment = "Close: look at the sign of z."
        for nb, gid in manual:
            for student in ("alice", "bob"):
                g = gb.find_grade(gid, nb, ASSIGNMENT, student)
                g.manual_score = g.max_score
        gb.db.commit()
        gb.grant_extension(ASSIGNMENT, "alice", days=3)
    regrade = _grader(course, "run", "--workers", "2", "--no-progress", "--no-release")
    # a failed job would keep the old feedback, without the comment
    for student in ("alice", "bob"):
        row = _rows(course / "grades.csv")[(student, ASSIGNMENT)]
        assert row["status"] != "failed", f"{row}\n{regrade.stdout}"
    with Gradebook(db) as gb:
        grade = gb.find_grade(target[1], target[0], ASSIGNMENT, "bob")
        assert grade.manual_score == pytest.approx(grade.max_score / 2), "the regrade lost it"
        assert not grade.needs_manual_grade, "an unchanged submission was flagged again"
        comment = gb.find_submission(ASSIGNMENT, "bob").notebooks[0].comments[0]
        assert comment.manual_comment == "Close: look at the sign of z."
        alice = gb.find_submission(ASSIGNMENT, "alice")
        assert alice.extension is not None and alice.total_seconds_late == 0
        assert not alice.late_submission_penalty
    rows = _rows(course / "grades.csv")
    assert float(rows[("alice", ASSIGNMENT)]["late_penalty"]) == 0
    assert float(rows[("alice", ASSIGNMENT)]["score"]) == float(rows[("alice", ASSIGNMENT)]
                                                                ["max_score"])
    assert rows[("alice", ASSIGNMENT)]["status"] == "graded"
    assert float(rows[("bob", ASSIGNMENT)]["late_penalty"]) > 0
    # the clean-room check judges the autograder's verdict, never a person's manual score
    assert f"{target[1]}:" not in rows[("bob", ASSIGNMENT)]["findings"], rows[("bob", ASSIGNMENT)]


def test_release_and_fetch_feedback_reach_the_students(cls):
    course, homes, *_ = cls
    nbgrader(course, "release_feedback", ASSIGNMENT)
    for student, home in homes.items():
        as_student(course, home, student, "fetch_feedback", ASSIGNMENT)
        pages = list((home / "ann-course" / ASSIGNMENT / "feedback").rglob("*.html"))
        assert len(pages) == 1, f"{student} fetched {len(pages)} feedback pages: {pages}"
        text = pages[0].read_text()
        assert "Score" in text or "score" in text
    bob_page = next((homes["bob"] / "ann-course" / ASSIGNMENT / "feedback").rglob("*.html"))
    bob_page = bob_page.read_text()
    assert "Close: look at the sign of z." in bob_page, "the instructor's comment did not reach bob"
    # the job starts from what a person entered: alice's page counts her manual grades
    alice_page = next((homes["alice"] / "ann-course" / ASSIGNMENT / "feedback").rglob("*.html"))
    shown = re.search(r"\(Score: ([0-9.]+) / ([0-9.]+)\)", alice_page.read_text())
    row = _rows(course / "grades.csv")[("alice", ASSIGNMENT)]
    assert shown and float(shown.group(1)) == pytest.approx(float(row["score"])), (
        f"alice's feedback page shows {shown and shown.group(0)}, the gradebook {row['score']}: "
        "the manual grades did not reach the job that rendered it")


def test_report_rewrites_grades_csv_from_the_gradebook(cls):
    """After manual grading in the formgrader, `python -m grader report` shows the new scores."""
    course, *_ = cls
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission(ASSIGNMENT, "bob")
        grade = sub.notebooks[0].grades[-1]
        grade.manual_score = grade.max_score
        gb.db.commit()
        expected = float(sub.score)
    out = _grader(course, "report").stdout
    assert "bob" in out
    row = _rows(course / "grades.csv")[("bob", ASSIGNMENT)]
    assert float(row["raw_score"]) == pytest.approx(expected)
    # the late penalty is the course policy applied to the new score, not the one autograde saw
    from grader.late import penalty

    owed = penalty(expected, float(row["seconds_late"]))
    assert float(row["late_penalty"]) == pytest.approx(owed), row
    assert float(row["score"]) == pytest.approx(expected - owed), row
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:  # the formgrader agrees
        sub = gb.find_submission(ASSIGNMENT, "bob")
        assert float(sub.late_submission_penalty) == pytest.approx(owed)


def test_a_resubmission_after_a_collect_is_collected(tmp_path):
    """The instructor collects once mid-way (to look at early work), a student submits again, and a
    plain `nbgrader collect` (the formgrader's button, or the command without --update) must take
    the newer submission: grader_config.py sets ExchangeCollect.update for the CLI and the
    formgrader."""
    course = make_course(tmp_path / "course", [ASSIGNMENT])
    for folder in (tmp_path, course):
        os.chmod(folder, 0o755)
    (course / "exchange").mkdir(mode=0o777)
    os.chmod(course / "exchange", 0o1777)
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    nbgrader(course, "release_assignment", ASSIGNMENT, "--force")
    home = tmp_path / "home" / "carol"
    as_student(course, home, "carol", "fetch_assignment", ASSIGNMENT)
    fetched = next((home / "ann-course" / ASSIGNMENT).glob("*.ipynb"))
    _answer_wrongly(fetched)
    as_student(course, home, "carol", "submit", ASSIGNMENT)
    nbgrader(course, "collect", ASSIGNMENT)
    collected = course / "submitted" / "carol" / ASSIGNMENT
    first = (collected / "timestamp.txt").read_text()
    assert "return 0 * z" in (collected / fetched.name).read_text()

    answer_with_solutions(fetched, course / "solutions" / ASSIGNMENT / fetched.name)
    as_student(course, home, "carol", "submit", ASSIGNMENT)
    log = nbgrader(course, "collect", ASSIGNMENT)
    second = (collected / "timestamp.txt").read_text()
    assert second > first, ("the second collect kept the first submission, as plain nbgrader does "
                            f"without --update:\n{log.stdout}{log.stderr}")
    assert "return 0 * z" not in (collected / fetched.name).read_text()
    # ... and a collect with nothing new keeps what it has.
    nbgrader(course, "collect", ASSIGNMENT)
    assert (collected / "timestamp.txt").read_text() == second
