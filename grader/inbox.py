"""The feedback service's record of nbgrader's inbound: what arrived, what waits, what is done.

``nbgrader submit`` puts each submission in ``<exchange>/<course>/inbound/`` as a folder named
``<student>+<assignment>+<timestamp>[+<random>]`` holding the notebooks, ``timestamp.txt`` and
``submission_secret.txt`` (written after the notebooks, then every file is made readable). The
folders are never changed afterwards, so they are the queue's source of truth; :class:`Inbox` keeps,
in one SQLite file, which of them it has seen and what became of each:

- ``pending``: waiting to be graded. At most one per student and assignment: when a newer one
  arrives, the older is ``skipped`` (recorded, with the newer one's timestamp), so the latest wins.
- ``grading``: handed to an executor. A service killed now finds it ``pending`` again on restart.
- ``done``: graded or failed, its result recorded in the same transaction that ends it, so a
  submission is done exactly once, whatever the moment the service was killed.

:meth:`Inbox.next_ready` picks the next submission to grade: oldest first across students (by when
the student's wait began, so resubmitting does not move a student ahead or behind), none of a
student and assignment whose previous grading started less than ``min_interval`` seconds ago (the
rate limit), none of one being graded.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

PENDING, GRADING, DONE, SKIPPED = "pending", "grading", "done", "skipped"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    name TEXT PRIMARY KEY,      -- the inbound folder's name
    student TEXT NOT NULL,
    assignment TEXT NOT NULL,
    timestamp TEXT NOT NULL,    -- nbgrader's, from the name
    arrived REAL NOT NULL,      -- when the service first saw it ready (time.time())
    state TEXT NOT NULL,
    started REAL,               -- when its (last) grading began
    finished REAL,
    superseded_by TEXT,         -- for a skipped one: the newer submission's timestamp
    result TEXT                 -- JSON: status, reason, score, max_score, grades, ...
);
CREATE INDEX IF NOT EXISTS by_key ON submissions (student, assignment, state);
"""


@dataclass(frozen=True)
class Entry:
    """One inbound submission as the inbox records it."""

    name: str
    student: str
    assignment: str
    timestamp: str
    arrived: float
    state: str
    started: float | None = None
    superseded_by: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.student, self.assignment


def parse_name(name: str) -> tuple[str, str, str] | None:
    """``(student, assignment, timestamp)`` of an inbound folder name, or None for anything else."""
    parts = name.split("+")
    if len(parts) not in (3, 4) or not all(parts[:3]) or name.startswith("."):
        return None
    return parts[0], parts[1], parts[2]


def is_ready(folder: Path) -> bool:
    """Whether ``nbgrader submit`` has finished with ``folder``: its secret (written after the
    notebooks) is there and every file can be read (the permissions are set last)."""
    try:
        for path in folder.iterdir():
            if path.is_file():
                with open(path, "rb"):
                    pass
        return (folder / "submission_secret.txt").is_file()
    except OSError:
        return False


class Inbox:
    """The record kept in ``path`` (SQLite, created when missing) of the inbound folder ``inbound``.

    Parameters
    ----------
    path : Path
        The SQLite file.
    inbound : Path
        nbgrader's ``<exchange>/<course>/inbound``.
    clock : callable, optional
        Seconds since the epoch (``time.time``); tests pass their own.
    """

    def __init__(self, path: Path, inbound: Path, clock=time.time):
        self.path, self.inbound, self.clock = Path(path), Path(inbound), clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None)  # explicit transactions below
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a committed end survives a power cut too
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- arrivals --------------------------------------------------------------------------------

    def recover(self) -> list[Entry]:
        """After a restart: what was being graded when the service stopped is pending again (its
        result was never recorded). Returns those entries."""
        entries = self._select("state = ?", (GRADING,))
        with self._transaction():
            for e in entries:
                self._supersede_or(e, PENDING)
        return [self.get(e.name) for e in entries]

    def scan(self) -> tuple[list[Entry], list[Entry]]:
        """Record the submissions that arrived since the last scan.

        Returns the new entries still pending and every entry this scan skipped: an older pending
        one a new arrival replaced (also one that arrived in this very scan), or a new arrival
        older than the one already waiting.
        """
        try:
            names = sorted(p.name for p in self.inbound.iterdir())
        except FileNotFoundError:
            return [], []
        known = {row[0] for row in self.db.execute("SELECT name FROM submissions")}
        fresh = []
        for name in names:
            parsed = parse_name(name)
            if name in known or parsed is None or not is_ready(self.inbound / name):
                continue
            fresh.append((parsed[2], name, parsed))  # nbgrader's timestamps sort as times
        fresh.sort()
        new, skipped = [], []
        now = self.clock()
        with self._transaction():
            for _, name, (student, assignment, timestamp) in fresh:
                older = self._select("student = ? AND assignment = ? AND state = ?",
                                     (student, assignment, PENDING))
                self.db.execute("INSERT INTO submissions (name, student, assignment, timestamp, "
                                "arrived, state) VALUES (?, ?, ?, ?, ?, ?)",
                                (name, student, assignment, timestamp, now, PENDING))
                new.append(name)
                for e in older:
                    if e.timestamp <= timestamp:
                        self._skip(e, timestamp)
                        skipped.append(e.name)
                    else:  # an older submission arriving late: the one waiting still wins
                        self._skip(Entry(name, student, assignment, timestamp, now, PENDING),
                                   e.timestamp)
                        skipped.append(name)
        return ([self.get(n) for n in new if n not in skipped], [self.get(n) for n in skipped])

    # -- choosing and finishing ---------------------------------------------------------------

    def next_ready(self, min_interval: float, busy: set[tuple[str, str]] = frozenset()
                   ) -> Entry | None:
        """The pending submission to grade next, or None (see the module's docstring)."""
        now = self.clock()
        best = None
        for e in self._select("state = ?", (PENDING,)):
            if e.key in busy or self.wait_until(e, min_interval) > now:
                continue
            order = self._order(e)
            if best is None or order < best[0]:
                best = (order, e)
        return None if best is None else best[1]

    def wait_until(self, entry: Entry, min_interval: float) -> float:
        """When ``entry``'s student and assignment may be graded again (the rate limit)."""
        row = self.db.execute("SELECT MAX(started) FROM submissions WHERE student = ? AND "
                              "assignment = ? AND started IS NOT NULL AND name != ?",
                              (entry.student, entry.assignment, entry.name)).fetchone()
        return (row[0] or float("-inf")) + min_interval

    def position(self, entry: Entry, min_interval: float) -> int:
        """How many pending submissions of other students are ahead of ``entry``."""
        mine = self._order(entry)
        return sum(1 for e in self._select("state = ?", (PENDING,))
                   if e.key != entry.key and self._order(e) < mine)

    def start(self, entry: Entry) -> Entry:
        """Mark ``entry`` as being graded, now."""
        with self._transaction():
            self.db.execute("UPDATE submissions SET state = ?, started = ? WHERE name = ?",
                            (GRADING, self.clock(), entry.name))
        return self.get(entry.name)

    def finish(self, entry: Entry, result: dict) -> bool:
        """Record ``entry``'s result and end it; False (and nothing written) when it had ended
        already."""
        with self._transaction():
            cur = self.db.execute("UPDATE submissions SET state = ?, finished = ?, result = ? "
                                  "WHERE name = ? AND state = ?",
                                  (DONE, self.clock(), json.dumps(result), entry.name, GRADING))
        return cur.rowcount == 1

    # -- reading --------------------------------------------------------------------------------

    def get(self, name: str) -> Entry:
        rows = self._select("name = ?", (name,))
        if not rows:
            raise KeyError(f"no submission {name!r} in {self.path}")
        return rows[0]

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, COUNT(*) FROM submissions GROUP BY state"))

    def results(self) -> list[tuple[Entry, dict]]:
        """Every ended submission with its result, oldest first."""
        rows = self.db.execute(f"SELECT {_COLUMNS}, result FROM submissions WHERE state = ? "
                               "ORDER BY finished, name", (DONE,)).fetchall()
        return [(Entry(*row[:-1]), json.loads(row[-1])) for row in rows]

    def pending(self) -> list[Entry]:
        return self._select("state IN (?, ?)", (PENDING, GRADING))

    # -- internals ------------------------------------------------------------------------------

    def _select(self, where: str, params: tuple) -> list[Entry]:
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM submissions WHERE {where} "
                               "ORDER BY arrived, name", params).fetchall()
        return [Entry(*row) for row in rows]

    def _order(self, entry: Entry) -> tuple:
        """Its place in the queue: when its student's wait began, then nbgrader's timestamps (of
        the submission that began the wait, then its own: arrivals seen in one scan share a
        time)."""
        since, first = self._waiting_since(entry)
        return since, first, entry.timestamp, entry.name

    def _waiting_since(self, entry: Entry) -> tuple[float, str]:
        """When the student's wait for this grading began, and the timestamp of the submission
        that began it: the earliest arrival, since their last grading began, of a submission of
        the same assignment."""
        last = self.db.execute("SELECT MAX(started) FROM submissions WHERE student = ? AND "
                               "assignment = ? AND name != ? AND started IS NOT NULL",
                               (entry.student, entry.assignment, entry.name)).fetchone()[0]
        row = self.db.execute("SELECT arrived, timestamp FROM submissions WHERE student = ? AND "
                              "assignment = ? AND arrived > ? ORDER BY arrived, timestamp "
                              "LIMIT 1", (entry.student, entry.assignment,
                                          float("-inf") if last is None else last)).fetchone()
        return (row[0], row[1]) if row else (entry.arrived, entry.timestamp)

    def _skip(self, entry: Entry, by_timestamp: str) -> None:
        self.db.execute("UPDATE submissions SET state = ?, superseded_by = ?, finished = ? "
                        "WHERE name = ?", (SKIPPED, by_timestamp, self.clock(), entry.name))

    def _supersede_or(self, entry: Entry, state: str) -> None:
        newer = self._select("student = ? AND assignment = ? AND state = ? AND name != ?",
                             (entry.student, entry.assignment, PENDING, entry.name))
        if any(e.timestamp >= entry.timestamp for e in newer):
            self._skip(entry, max(e.timestamp for e in newer))
        else:
            self.db.execute("UPDATE submissions SET state = ?, started = NULL WHERE name = ?",
                            (state, entry.name))

    def _transaction(self):
        return _Transaction(self.db)


_COLUMNS = "name, student, assignment, timestamp, arrived, state, started, superseded_by"


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on an error)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, *_):
        self.db.execute("ROLLBACK" if kind else "COMMIT")


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
