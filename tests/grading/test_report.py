"""grader/report.py: the status file kept between runs, grades.csv and the printed table."""

from __future__ import annotations

import csv
import json

import pytest

from grader import report
from grader.types import FAILED, GRADED, REVIEW, Result


def _graded(student, assignment="01", **kw):
    kw.setdefault("score", 8.0)
    kw.setdefault("max_score", 10.0)
    return Result(student, assignment, kw.pop("status", GRADED), **kw)


def test_the_status_file_keeps_other_submissions_and_replaces_this_runs(tmp_path):
    path = tmp_path / report.STATUS_FILE
    report.save_status([_graded("bob"), _graded("alice", status=REVIEW, reason="1 finding(s)",
                                                findings=["f"])], path)
    report.save_status([_graded("bob", status=FAILED, reason="the kernel died")], path)
    rows = report.load_status(path)
    assert [(r["student"], r["status"]) for r in rows] == [("alice", REVIEW), ("bob", FAILED)]
    assert rows[1] == {"student": "bob", "assignment": "01", "status": FAILED,
                       "reason": "the kernel died", "findings": []}
    assert "score" not in rows[0], "scores come from the gradebook, not from the status file"
    assert not list(tmp_path.glob("*.tmp")), "the file is replaced whole"


def test_a_missing_status_file_is_no_record_and_a_broken_one_says_what_to_do(tmp_path):
    assert report.load_status(tmp_path / "missing.json") == []
    broken = tmp_path / report.STATUS_FILE
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="delete it and run make grade"):
        report.load_status(broken)


def test_unknown_keys_of_a_status_record_are_dropped(tmp_path):
    path = tmp_path / report.STATUS_FILE
    path.write_text(json.dumps([{"student": "a", "assignment": "01", "status": GRADED,
                                 "reason": "", "findings": [], "score": 3}]))
    assert report.load_status(path) == [{"student": "a", "assignment": "01", "status": GRADED,
                                         "reason": "", "findings": []}]


def test_grades_csv_has_every_column_sorted_rows_and_no_score_for_a_failure(tmp_path):
    path = tmp_path / "out" / "grades.csv"
    late = _graded("carol", raw_score=10.0, late_penalty=2.0, seconds_late=90000.0,
                   timestamp="2026-12-01 17:00:00 UTC", first_name="Carol", last_name="C")
    failed = Result("bob", "01", FAILED, "the kernel died", score=0.0, max_score=10.0,
                    raw_score=0.0, late_penalty=0.0, seconds_late=0.0)
    review = _graded("alice", raw_score=8.0, status=REVIEW, reason="2 finding(s) to review",
                     findings=["a: one", "b: two"])
    report.write_csv([late, failed, review], path)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == report.COLUMNS
    assert [r["student"] for r in rows] == ["alice", "bob", "carol"]
    assert rows[0]["findings"] == "a: one | b: two"
    assert rows[0]["late_penalty"] == "" and rows[0]["raw_score"] == "8"
    assert all(rows[1][c] == "" for c in ("score", "max_score", "raw_score", "late_penalty",
                                          "seconds_late")), "a failure must not pass for a zero"
    assert rows[1]["status"] == FAILED and rows[1]["reason"] == "the kernel died"
    assert (rows[2]["score"], rows[2]["raw_score"], rows[2]["late_penalty"]) == ("8", "10", "2")
    assert rows[2]["seconds_late"] == "90000" and rows[2]["first_name"] == "Carol"
    assert not list(path.parent.glob("*.tmp"))


def test_the_table_shows_scores_lateness_failures_and_a_count_per_status():
    results = [_graded("bob", late_penalty=1.5),
               Result("alice", "02", FAILED, "x" * 200, score=5.0, max_score=10.0),
               _graded("carol", status=REVIEW, reason="1 finding(s) to review"),
               _graded("dave", score=None)]
    lines = report.table(results).splitlines()
    assert lines[0].split() == ["student", "assignment", "score", "status", "reason"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    body = {line.split()[0]: line for line in lines[2:6]}
    assert list(body) == ["alice", "bob", "carol", "dave"]
    assert " - " in body["alice"] and "5/10" not in body["alice"], "a failure shows no score"
    assert body["alice"].rstrip().endswith("x" * 90) and "x" * 91 not in body["alice"]
    assert "8/10 (late: -1.5)" in body["bob"]
    assert "8/10" in body["carol"] and REVIEW in body["carol"]
    assert " - " in body["dave"], "no score yet is shown as -"
    assert lines[-2] == ""
    assert lines[-1] == f"1 {FAILED}, 2 {GRADED}, 1 {REVIEW}"


def test_what_runs_alongside_the_jobs_runs_in_its_own_thread_and_its_error_is_raised():
    """The similarity check of ``make grade`` runs beside the merge (scheduler._Beside): in a thread
    of its own, waited for before the report, and an error in it is raised in the run, not lost."""
    import threading

    from grader.scheduler import _Beside

    seen, gate = [], threading.Event()
    beside = _Beside(lambda: seen.append(threading.current_thread().name) or gate.wait(10))
    assert seen == [] or seen == ["grader-alongside"]
    gate.set()
    beside.join()
    assert seen == ["grader-alongside"]

    def broken():
        raise ValueError("similarity broke")

    with pytest.raises(ValueError, match="similarity broke"):
        _Beside(broken).join()
    _Beside(None).join()  # nothing to run, nothing to wait for
