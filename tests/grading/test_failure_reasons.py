"""The reason a failed job gets: one line an instructor can act on, never a stack of logs."""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import pytest
from nbformat import v4

from grader import forkserver, pool, sandbox, scheduler
from grader.course import Course
from grader.job import _why_nbgrader_failed, grade_job
from grader.types import FAILED, Job, Options, Result

DEAD = "the kernel died while running the notebook"
STUCK = "a cell ran past the time limit and the kernel did not stop"


@pytest.mark.parametrize(("log", "reason"), [
    ("...\nnbclient.exceptions.DeadKernelError: Kernel died\n",
     f"{DEAD} (os._exit, a crash or the memory limit)"),
    ("[AutogradeApp | ERROR] Kernel died before replying", DEAD),
    ("nbclient.exceptions.CellTimeoutError: A cell timed out", STUCK),
    ("Cell execution timed out", STUCK),
    ("RuntimeError: Kernel didn't respond in 60 seconds", "the kernel stopped responding"),
])
def test_known_failures_of_nbgrader_get_their_plain_reason(log, reason):
    assert _why_nbgrader_failed(log) == reason


def test_an_unknown_failure_quotes_the_logs_last_line_cut_short():
    log = "[AutogradeApp | INFO] start\n\nValueError: " + "v" * 300 + "\n\n"
    reason = _why_nbgrader_failed(log)
    assert reason.startswith("nbgrader could not grade it: ValueError: vvv")
    assert len(reason) == len("nbgrader could not grade it: ") + 200
    assert _why_nbgrader_failed("  \n") == "nbgrader could not grade it: no reason given"


def test_a_folder_for_no_assignment_fails_with_the_courses_assignments(tmp_path):
    for folder in ("alice/01_act", "alice/02_net", "alice/.ipynb_checkpoints", "bob/01_act"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "notes.txt").write_text("not a student")
    jobs, unknown = scheduler.scan(tmp_path, ["01_act", "03_mlp"])
    assert [(j.student, j.assignment) for j in jobs] == [("alice", "01_act"), ("bob", "01_act")]
    assert [(r.student, r.assignment, r.status) for r in unknown] == [("alice", "02_net", FAILED)]
    assert unknown[0].reason == ("no assignment '02_net' in solutions/ (closed, removed or "
                                 "misspelt); the course has 01_act, 03_mlp")
    assert scheduler.scan(tmp_path / "nowhere", ["01_act"]) == ([], [])


@pytest.fixture()
def template(tmp_path):
    """A template course with one release notebook (the gradebook is never opened here)."""
    root = tmp_path / "work" / "template"
    (root / "exercises" / "quiz").mkdir(parents=True)
    (root / "exercises" / "quiz" / "quiz.ipynb").write_text(
        json.dumps(v4.new_notebook(cells=[v4.new_code_cell("x = 1")])))
    (root / "gradebook.db").write_bytes(b"")
    return root


def _grade(tmp_path, template, submission: Path) -> Result:
    job_dir = Path(tempfile.mkdtemp(dir=template.parent, prefix="job-"))
    with sandbox.lease_slots(1) as slots:
        result = grade_job(Job("alice", "quiz", submission), Course(tmp_path / "course"),
                           template, job_dir, sandbox.Slot(slots[0]), Options(), [])
    assert pool._worker_result(Job("alice", "quiz", submission), job_dir, 0, None) == result, (
        "the worker's result.json is what the parent reads")
    return result


def test_a_missing_or_broken_notebook_fails_the_job_with_its_name(tmp_path, template):
    submission = tmp_path / "submitted" / "alice" / "quiz"
    submission.mkdir(parents=True)
    missing = _grade(tmp_path, template, submission)
    assert missing.status == FAILED
    assert missing.reason == "notebook quiz.ipynb is missing from the submission"
    (submission / "quiz.ipynb").write_text("{ not json")
    broken = _grade(tmp_path, template, submission)
    assert broken.status == FAILED
    assert broken.reason.startswith("quiz.ipynb is not valid notebook JSON (")
    (submission / "quiz.ipynb").write_text(json.dumps({"nbformat": 4, "cells": "no"}))
    invalid = _grade(tmp_path, template, submission)
    assert invalid.reason.startswith("quiz.ipynb is not a valid notebook (")
    assert invalid.score is None and invalid.findings == []


def test_an_error_of_the_grader_itself_fails_only_that_job_and_says_where(tmp_path, template):
    (template / "gradebook.db").unlink()  # the scratch course cannot be staged
    submission = tmp_path / "submitted" / "alice" / "quiz"
    submission.mkdir(parents=True)
    result = _grade(tmp_path, template, submission)
    assert result.status == FAILED
    assert result.reason.startswith("grading error: FileNotFoundError: ")
    assert "FileNotFoundError" in result.findings[0] and len(result.findings[0]) <= 500
    assert result.seconds > 0


def test_the_parent_names_a_job_over_its_time_limit_and_a_dead_worker(tmp_path):
    job = Job("alice", "quiz", tmp_path)
    overdue = pool._worker_result(job, tmp_path, -9, 300.0)
    assert (overdue.status, overdue.reason) == (FAILED, "grading took longer than 300 s")
    dead = pool._worker_result(job, tmp_path, -11, None)
    assert (dead.status, dead.reason) == (FAILED, "the grading worker died (exit code -11)")
    (tmp_path / "result.json").write_text('{"student": "alice"')  # cut short as it died
    assert pool._worker_result(job, tmp_path, 1, None).reason == (
        "the grading worker died (exit code 1)")
    (tmp_path / "result.json").write_text(json.dumps({"student": "alice", "assignment": "quiz",
                                                      "status": "graded", "score": 3.0}))
    assert pool._worker_result(job, tmp_path, 0, 2.0).reason == (
        "grading took longer than 2 s"), "a job over its limit fails whatever it wrote"
    assert pool._worker_result(job, tmp_path, 0, None).score == 3.0


def test_a_worker_is_its_own_process_group_as_soon_as_its_pid_is_known():
    """A job over its time is killed by group right after start: the group must exist by then."""
    workers = forkserver.Workers(preload=("grader",))
    try:
        started = [workers.start(time.sleep, 600) for _ in range(20)]
        groups = [os.getpgid(worker.pid) for worker in started]
        assert groups == [worker.pid for worker in started], (
            "a worker's pid was reported before it had its own process group")
    finally:
        workers.close()


def test_the_fork_server_reports_how_each_worker_ended_and_none_outlives_it():
    import psutil

    workers = forkserver.Workers(preload=("grader",))
    try:
        dead = workers.start(os._exit, 3)
        crashed = workers.start(int, "not a number")  # an error of the grader itself: exit code 1
        stuck = workers.start(time.sleep, 600)
        workers.join(dead, 60)
        workers.join(crashed, 60)
        assert (dead.exitcode, crashed.exitcode) == (3, 1)
        assert stuck.alive and os.getpgid(stuck.pid) == stuck.pid, "a worker is its own group"
        forkserver.kill_group(stuck.pid)  # as the parent does with a job over its time
        workers.join(stuck, 60)
        assert stuck.exitcode == -9
        left = psutil.Process(workers.start(time.sleep, 600).pid)
    finally:
        workers.close()

    def running():
        try:
            return left.is_running() and left.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    # SIGKILL is sent before the server exits, and delivered soon after
    deadline = time.monotonic() + 30
    while running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(), "a worker outlived its fork server"


def _workers_in(queue) -> None:
    workers = forkserver.Workers(preload=("grader",))
    try:
        worker = workers.start(os._exit, 0)
        workers.join(worker, 60)
        queue.put(worker.exitcode)
    finally:
        workers.close()


def test_a_daemonic_process_may_start_grading_workers():
    """Dask's workers run as daemonic processes, which may not start multiprocessing children."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    daemon = ctx.Process(target=_workers_in, args=(queue,), daemon=True)
    daemon.start()
    try:
        assert queue.get(timeout=120) == 0
    finally:
        daemon.join(30)
    assert daemon.exitcode == 0
