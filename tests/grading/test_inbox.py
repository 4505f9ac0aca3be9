"""The feedback service's queue (grader/inbox.py), with a clock of the test's own: the latest
submission wins, students are served oldest first, the rate limit holds, a restart loses and repeats
nothing, and a submission is picked up only once nbgrader has finished writing it."""

from __future__ import annotations

import os
import secrets

import pytest

from grader.inbox import DONE, GRADING, PENDING, SKIPPED, Inbox, is_ready, parse_name


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def stamp(second: int) -> str:
    return f"2026-12-06 08:{second // 60:02d}:{second % 60:02d}.000000 UTC"


def drop(inbound, student, assignment, second, *, secret=True):
    """A submission as ``nbgrader submit`` leaves it in the inbound."""
    folder = inbound / f"{student}+{assignment}+{stamp(second)}+{secrets.token_hex(4)}"
    folder.mkdir(parents=True)
    (folder / "activations.ipynb").write_text("{}")
    (folder / "timestamp.txt").write_text(stamp(second))
    if secret:
        (folder / "submission_secret.txt").write_text(secrets.token_hex(8))
    return folder


@pytest.fixture
def box(tmp_path):
    clock = Clock()
    inbox = Inbox(tmp_path / "state" / "queue.sqlite", tmp_path / "inbound", clock)
    inbox.test_clock = clock
    yield inbox
    inbox.close()


def test_a_students_latest_submission_replaces_the_ones_still_waiting(box, tmp_path):
    """Of three submissions of one student and assignment waiting together, only the latest is
    graded; the earlier two are recorded as skipped, with the newer timestamp."""
    inbound = tmp_path / "inbound"
    drop(inbound, "alice", "01_activations", 1)
    box.scan()
    drop(inbound, "alice", "01_activations", 2)
    drop(inbound, "alice", "01_activations", 3)
    new, skipped = box.scan()
    assert [e.timestamp for e in new] == [stamp(3)]
    assert [(e.timestamp, e.state, e.superseded_by) for e in skipped] == [
        (stamp(1), SKIPPED, stamp(2)), (stamp(2), SKIPPED, stamp(3))], (
        "each waiting one is replaced by the next, and recorded as such")
    assert [e.timestamp for e in box.pending()] == [stamp(3)]
    assert box.next_ready(0).timestamp == stamp(3)


def test_an_older_submission_arriving_late_does_not_replace_a_newer_one(box, tmp_path):
    inbound = tmp_path / "inbound"
    drop(inbound, "alice", "01_activations", 9)
    box.scan()
    drop(inbound, "alice", "01_activations", 4)  # e.g. copied in late by hand
    new, skipped = box.scan()
    assert new == [] and [(e.timestamp, e.superseded_by) for e in skipped] == [(stamp(4),
                                                                                 stamp(9))]
    assert [e.timestamp for e in box.pending()] == [stamp(9)]


def test_a_student_resubmitting_does_not_delay_the_others(box, tmp_path):
    """Oldest first across students: alice's twenty submissions keep one place in the queue, the
    one her wait began with; bob, who came after her first one, is graded before her next."""
    inbound, clock = tmp_path / "inbound", box.test_clock
    drop(inbound, "alice", "01_activations", 0)
    box.scan()
    box.start(box.next_ready(0))
    clock.now += 1
    drop(inbound, "alice", "01_activations", 1)  # waits: her first one is being graded
    box.scan()
    clock.now += 1
    drop(inbound, "bob", "01_activations", 2)
    box.scan()
    for second in range(3, 22):
        clock.now += 1
        drop(inbound, "alice", "01_activations", second)
        box.scan()
    busy = {("alice", "01_activations")}
    assert box.next_ready(0, busy).student == "bob", "alice's running job blocks only her"
    first = box.next_ready(0)
    assert (first.student, first.timestamp) == ("alice", stamp(21)), (
        "alice waited since before bob arrived: her latest submission goes first")
    assert box.position(box.get(first.name), 0) == 0
    bob = [e for e in box.pending() if e.student == "bob"][0]
    assert box.position(bob, 0) == 1
    assert len([e for e in box.pending() if e.student == "alice"]) == 2  # one running, one waiting


def test_the_rate_limit_holds_a_students_next_grading(box, tmp_path):
    """With a 300 s limit, alice's next submission waits until 300 s after her last grading
    began; bob is not held up by her limit."""
    inbound, clock = tmp_path / "inbound", box.test_clock
    drop(inbound, "alice", "01_activations", 0)
    box.scan()
    first = box.start(box.next_ready(300))
    box.finish(first, {"status": "graded"})
    clock.now += 60
    drop(inbound, "alice", "01_activations", 60)
    drop(inbound, "bob", "01_activations", 61)
    box.scan()
    alice = [e for e in box.pending() if e.student == "alice"][0]
    assert box.wait_until(alice, 300) == first.started + 300
    assert box.next_ready(300).student == "bob"
    box.start(box.next_ready(300))
    assert box.next_ready(300) is None, "alice must wait"
    clock.now = first.started + 300
    assert box.next_ready(300).name == alice.name
    assert box.next_ready(0) is not None


def test_a_restart_grades_again_only_what_was_unfinished_and_records_each_once(box, tmp_path):
    """Killed while grading: on restart the submission is pending again; one already done stays
    done; a result is recorded once even if the finish is attempted twice."""
    inbound = tmp_path / "inbound"
    drop(inbound, "alice", "01_activations", 0)
    drop(inbound, "bob", "01_activations", 1)
    box.scan()
    done = box.start(box.next_ready(0))
    assert box.finish(done, {"status": "graded", "score": 3})
    running = box.start(box.next_ready(0))
    box.close()

    again = Inbox(box.path, inbound, box.test_clock)  # the service restarted
    try:
        recovered = again.recover()
        assert [e.name for e in recovered] == [running.name]
        assert again.get(running.name).state == PENDING
        assert again.get(done.name).state == DONE
        assert again.scan() == ([], []), "nothing is recorded twice on a rescan"
        entry = again.start(again.next_ready(0))
        assert entry.name == running.name
        assert again.finish(entry, {"status": "graded", "score": 5})
        assert not again.finish(entry, {"status": "graded", "score": 5}), "recorded twice"
        assert [(e.student, r["score"]) for e, r in again.results()] == [("alice", 3),
                                                                          ("bob", 5)]
    finally:
        again.close()


def test_a_restart_skips_an_interrupted_grading_that_a_newer_submission_replaced(box, tmp_path):
    inbound = tmp_path / "inbound"
    drop(inbound, "alice", "01_activations", 0)
    box.scan()
    running = box.start(box.next_ready(0))
    drop(inbound, "alice", "01_activations", 5)
    box.scan()
    box.recover()
    assert box.get(running.name).state == SKIPPED
    assert [e.timestamp for e in box.pending()] == [stamp(5)]


def test_a_submission_is_taken_only_once_nbgrader_has_finished_writing_it(box, tmp_path):
    """nbgrader writes the secret after the notebooks and makes the files readable last."""
    inbound = tmp_path / "inbound"
    folder = drop(inbound, "alice", "01_activations", 0, secret=False)
    assert not is_ready(folder) and box.scan() == ([], [])
    (folder / "submission_secret.txt").write_text("s")
    if os.geteuid() != 0:  # root reads anything: the permission half only means something without
        (folder / "activations.ipynb").chmod(0)
        assert not is_ready(folder)
        (folder / "activations.ipynb").chmod(0o644)
    new, _ = box.scan()
    assert [e.student for e in new] == ["alice"]
    assert box.get(new[0].name).state == PENDING != GRADING


@pytest.mark.parametrize("name", ["alice+01_activations", ".hidden+a+b", "a++b", "a+b+c+d+e",
                                  "notes.txt"])
def test_names_that_are_not_nbgraders_inbound_layout_are_left_alone(name, box, tmp_path):
    assert parse_name(name) is None
    (tmp_path / "inbound" / name).mkdir(parents=True)
    (tmp_path / "inbound" / name / "submission_secret.txt").write_text("s")
    assert box.scan() == ([], [])


def test_nbgraders_names_with_and_without_the_random_part_are_read():
    assert parse_name(f"alice+01_activations+{stamp(0)}+ab12") == ("alice", "01_activations",
                                                                   stamp(0))
    assert parse_name(f"bob+02_single_layer+{stamp(1)}") == ("bob", "02_single_layer", stamp(1))


def test_submissions_seen_in_one_scan_queue_by_their_timestamps_not_their_names(box, tmp_path):
    """zoe submitted before adam, and both arrived between two looks at the inbound: zoe goes
    first, and their pages say 0 and 1 ahead."""
    inbound = tmp_path / "inbound"
    drop(inbound, "zoe", "01_activations", 1)
    drop(inbound, "adam", "01_activations", 2)
    drop(inbound, "mia", "02_single_layer", 3)
    new, _ = box.scan()
    assert len({e.arrived for e in new}) == 1, "one scan, one arrival time"
    assert [box.position(e, 0) for e in new] == [0, 1, 2]
    order = []
    while (entry := box.next_ready(0)) is not None:
        order.append(box.start(entry).student)
    assert order == ["zoe", "adam", "mia"]
