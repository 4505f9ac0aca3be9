"""What the instructor reads: ``grades.csv`` and the table printed at the end of a run."""

from __future__ import annotations

import csv
from pathlib import Path

COLUMNS = ["student", "assignment", "status", "score", "max_score", "reason", "findings"]


def _fmt(x):
    return "" if x is None else f"{x:g}"


def write_csv(results, path: Path) -> None:
    """One row per (student, assignment): status (graded / needs review / failed) and why.

    A failed grading has an empty score, never 0, so that it cannot pass for a real zero.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for r in sorted(results, key=lambda r: (r.student, r.assignment)):
            writer.writerow([r.student, r.assignment, r.status,
                             _fmt(r.score if r.status != "failed" else None),
                             _fmt(r.max_score if r.status != "failed" else None),
                             r.reason, " | ".join(r.findings)])
    tmp.replace(path)  # a reader never sees a half-written file


def table(results) -> str:
    """A plain-text table of the results, one line per submission, and a count per status."""
    rows = [("student", "assignment", "score", "status", "reason")]
    for r in sorted(results, key=lambda r: (r.student, r.assignment)):
        score = "-" if r.status == "failed" or r.score is None else f"{r.score:g}/{r.max_score:g}"
        rows.append((r.student, r.assignment, score, r.status, r.reason[:70]))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4]
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 6)
    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    lines.append("")
    lines.append(", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    return "\n".join(lines)
