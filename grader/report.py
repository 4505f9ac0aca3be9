"""What the instructor reads: ``grades.csv`` and the table printed at the end of a run.

Scores come from the course gradebook after the merge (see :func:`grader.gradebook.read_back`), so
they are what nbgrader's formgrader shows: manual grades included, the late penalty taken off. The
grading status of each submission (graded, needs review, failed, and why) is kept between runs in
``STATUS_FILE`` beside the gradebook, so ``grades.csv`` always lists every submission graded so far.
The flagged pairs of ``similarity.csv`` beside ``grades.csv`` (see :mod:`grader.similarity`) become
findings of both students' rows (status *needs review*); they never change a score.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from . import similarity
from .similarity import CSV_NAME
from .types import FAILED, REVIEW

COLUMNS = ["student", "first_name", "last_name", "assignment", "status", "score", "max_score",
           "raw_score", "late_penalty", "seconds_late", "timestamp", "reason", "findings"]
STATUS_FILE = ".grader-status.json"
_KEPT = ("student", "assignment", "status", "reason", "findings")


def _fmt(x):
    return "" if x is None else f"{x:g}"


def save_status(results, path: Path) -> None:
    """Record this run's statuses in ``path``, keeping other submissions' records."""
    path = Path(path)
    rows = {(r["student"], r["assignment"]): r for r in load_status(path)}
    for r in results:
        rows[(r.student, r.assignment)] = {k: getattr(r, k) for k in _KEPT}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(sorted(rows.values(), key=lambda r: (r["student"], r["assignment"])),
                              indent=1))
    os.replace(tmp, path)


def load_status(path: Path) -> list[dict]:
    """The records of :func:`save_status`; none when the file is missing."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        rows = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); delete it and run make grade "
                         "again to rebuild it") from None
    return [{k: row[k] for k in _KEPT if k in row} for row in rows]


def add_similarity(results, similarity_csv: Path) -> None:
    """Add a finding to each result whose submission ``similarity_csv`` flags as alike another
    student's, naming the other student; a graded submission (or one waiting for manual grading)
    then needs review. The score is never changed. Adding the same findings twice changes nothing.
    """

    flagged = similarity.findings(Path(similarity_csv))
    for r in results:
        new = [f for f in flagged.get((r.student, r.assignment), []) if f not in r.findings]
        if not new:
            continue
        r.findings.extend(new)
        if r.status != FAILED:
            r.status = REVIEW
        note = f"similar to another submission ({len(new)} pair(s), see findings)"
        if note not in r.reason:
            r.reason = f"{r.reason}; {note}" if r.reason else note


def write_csv(results, path: Path) -> None:
    """One row per (student, assignment): status (graded / needs manual grading / needs review /
    failed) and why, the score after the late penalty, the raw score, the penalty and the lateness.

    A failed grading has an empty score, never 0, so that it cannot pass for a real zero. The
    flagged pairs of the ``similarity.csv`` beside ``path`` are added to ``results`` first (see
    :func:`add_similarity`).
    """
    path = Path(path)

    add_similarity(results, path.parent / CSV_NAME)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for r in sorted(results, key=lambda r: (r.student, r.assignment)):
            failed = r.status == FAILED
            writer.writerow([r.student, r.first_name, r.last_name, r.assignment, r.status,
                             _fmt(None if failed else r.score),
                             _fmt(None if failed else r.max_score),
                             _fmt(None if failed else r.raw_score),
                             _fmt(None if failed else r.late_penalty),
                             _fmt(None if failed else r.seconds_late), r.timestamp,
                             r.reason, " | ".join(r.findings)])
    tmp.replace(path)  # a reader never sees a half-written file


def table(results) -> str:
    """A plain-text table of the results, one line per submission, and a count per status."""
    rows = [("student", "assignment", "score", "status", "reason")]
    for r in sorted(results, key=lambda r: (r.student, r.assignment)):
        score = "-" if r.status == FAILED or r.score is None else f"{r.score:g}/{r.max_score:g}"
        if r.status != FAILED and r.late_penalty:
            score += f" (late: -{r.late_penalty:g})"
        rows.append((r.student, r.assignment, score, r.status, r.reason[:90]))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True))
             + "  " + row[4] for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 6)
    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    lines.append("")
    lines.append(", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    return "\n".join(lines)
