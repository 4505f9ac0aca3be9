"""The feedback service's pages: what a student sees for a submission, through nbgrader's own route.

``nbgrader release_feedback`` puts one HTML page per notebook of a submission at
``<exchange>/<course>/feedback/<md5(submission secret + notebook id)>.html``; the student's *Fetch
Feedback* (Assignment List, or ``nbgrader fetch_feedback``) finds it with the secret its own copy of
the submission holds, under that submission's timestamp. :func:`publish` writes the service's pages
the same way (atomically, readable by everyone who knows the name, as release_feedback's are).

What a graded page shows is the instructor's choice (``c.FeedbackService.mode``):

- ``"points"``: the autograded score and each question's points (which questions lost points);
- ``"messages"``: that, and the message of each failing test (the hints the tests were written to
  give, as the full page shows them);
- ``"full"``: nbgrader's feedback page, rendered through :class:`grader.feedback.HideHiddenTests`
  exactly as after the deadline.

No mode shows a hidden test's code, the clean-room checks' inputs or the instructor's findings
(integrity, probes): those are for the formgrader and ``grades.csv``. A page also says when the
submission is queued (and, under the rate limit, until when), superseded by a later one, late, or
could not be graded, and why.
"""

from __future__ import annotations

import html
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.utils import notebook_hash

MODES = ("points", "messages", "full")


@dataclass
class Question:
    """One graded cell of a submission, as a page shows it."""

    grade_id: str
    notebook: str
    score: float
    max_score: float
    manual: bool = False  # a written answer (or another cell) a person grades
    message: str = ""  # the failing test's error, "Name: message"

    @property
    def state(self) -> str:
        if self.manual:
            return "manual"
        return "full" if self.score >= self.max_score else "lost"


@dataclass
class Graded:
    """What a graded page needs of a job's result."""

    questions: list[Question] = field(default_factory=list)
    seconds_late: float = 0.0
    note: str = ""  # e.g. not on the roster
    full_pages: dict[str, str] = field(default_factory=dict)  # notebook id -> nbgrader's HTML
    pending: list[str] = field(default_factory=list)  # "notebook/grade id" a person must grade
    off_roster: bool = False


def _fmt(x: float) -> str:
    return f"{x:g}"


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem;
       color: #1a1a1a; line-height: 1.5; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #767676; padding: 0.3rem 0.7rem; text-align: left; vertical-align: top; }
tr.lost td:last-child { font-weight: bold; }
.banner { border: 2px solid #1a1a1a; padding: 0.5rem 1rem; margin: 1rem 0; }
pre { white-space: pre-wrap; margin: 0; }
"""


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            f"<main>\n<h1>{html.escape(title)}</h1>\n{body}\n</main>\n</body>\n</html>\n")


def _header(assignment: str, timestamp: str) -> str:
    return (f"<p>Your submission of <strong>{html.escape(assignment)}</strong> made at "
            f"{html.escape(timestamp)}.</p>")


FINAL_NOTE = ("<p>This is feedback while the assignment is open. Your grade is the one your "
              "instructor gives after the deadline, from your latest submission.</p>")


def queued_page(assignment: str, timestamp: str, *, ahead: int = 0,
                not_before: str | None = None, min_interval: float = 0) -> str:
    """The page of a submission waiting to be graded."""
    if not_before:
        why = (f"<p>Your submission is queued: each assignment's work of a student is graded at "
               f"most once every {_fmt(min_interval / 60)} minutes, and your previous one was "
               f"graded recently. This one will be graded at {html.escape(not_before)}. If you "
               "submit again before then, only your latest submission is graded.</p>")
    else:
        why = (f"<p>Your submission is queued: {ahead} other submission(s) are ahead of it. "
               "Fetch feedback again in a minute.</p>")
    return _page(f"{assignment}: queued", _header(assignment, timestamp) + why + FINAL_NOTE)


def skipped_page(assignment: str, timestamp: str, newer: str) -> str:
    """The page of a submission a later one replaced before it was graded."""
    return _page(f"{assignment}: replaced by a later submission", _header(assignment, timestamp) + (
        f"<p>This submission was not graded: you submitted again (at {html.escape(newer)}) "
        "before its turn came, and only your latest submission is graded. Fetch feedback for "
        "that one.</p>") + FINAL_NOTE)


def failed_page(assignment: str, timestamp: str, reason: str) -> str:
    """The page of a submission that could not be graded."""
    return _page(f"{assignment}: could not be graded", _header(assignment, timestamp) + (
        f"<p>Your submission could not be graded: {html.escape(reason)}.</p>"
        "<p>Check that you submitted the notebooks you fetched, that they open and run from top "
        "to bottom (Kernel, Restart Kernel and Run All Cells), and submit again. If this "
        "persists, tell your instructor.</p>") + FINAL_NOTE)


def graded_page(assignment: str, timestamp: str, graded: Graded, mode: str,
                notebook: str) -> str:
    """The page of a graded submission, for ``notebook``, as ``mode`` allows."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    auto = [q for q in graded.questions if not q.manual]
    manual = [q for q in graded.questions if q.manual]
    score, maximum = sum(q.score for q in auto), sum(q.max_score for q in auto)
    lost = [q for q in auto if q.state == "lost"]
    parts = [_header(assignment, timestamp),
             f'<p class="score"><strong>Autograded score: {_fmt(score)} / {_fmt(maximum)}'
             "</strong></p>"]
    if lost:
        parts.append(f"<p>Questions that lost points: "
                     f"{html.escape(', '.join(q.grade_id for q in lost))}.</p>")
    else:
        parts.append("<p>Every autograded question has full marks.</p>")
    if manual:
        parts.append(f"<p>Written answers ({_fmt(sum(q.max_score for q in manual))} points) are "
                     "graded by your instructor later.</p>")
    if graded.seconds_late > 0:
        parts.append(f"<p>This submission is {_late(graded.seconds_late)} after the due date: "
                     "the course's late penalty applies to the grade.</p>")
    if graded.note:
        parts.append(f"<p>{html.escape(graded.note)}</p>")
    parts.append(FINAL_NOTE)
    if mode == "full" and notebook in graded.full_pages:
        return _with_banner(graded.full_pages[notebook], "\n".join(parts))
    with_messages = mode in ("messages", "full")
    rows = ["<table>", "<caption>Points per question</caption>",
            '<tr><th scope="col">Question</th><th scope="col">Points</th>'
            f'<th scope="col">{"Note" if not with_messages else "Note and message"}</th></tr>']
    for q in graded.questions:
        note = {"manual": "graded by your instructor later", "lost": "lost points",
                "full": ""}[q.state]
        if with_messages and q.state == "lost" and q.message:
            note += f"<pre>{html.escape(q.message)}</pre>"
        rows.append(f'<tr class="question {q.state}"><td>{html.escape(q.grade_id)}</td>'
                    f"<td>{_fmt(q.score) if not q.manual else '&ndash;'} / "
                    f"{_fmt(q.max_score)}</td><td>{note}</td></tr>")
    rows.append("</table>")
    return _page(f"{assignment}: feedback", "\n".join(parts + rows))


def _late(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"


def _with_banner(page: str, banner: str) -> str:
    """nbgrader's page with the service's summary at the top of its body."""
    at = page.find("<body")
    end = page.find(">", at) if at >= 0 else -1
    block = f'<div class="banner" role="note">{banner}</div>'
    return page[:end + 1] + block + page[end + 1:] if end >= 0 else block + page


def publish(feedback_dir: Path, secret: str, notebook: str, page: str) -> Path:
    """Write ``page`` where *Fetch Feedback* finds it for ``notebook`` of the submission with
    ``secret``; atomic (a student fetching at that moment gets the old page or the new one)."""
    if not secret:
        raise ValueError("secret must be the submission's submission_secret.txt, got nothing")
    dest = feedback_dir / f"{notebook_hash(secret=secret, notebook_id=notebook)}.html"
    fd, tmp = tempfile.mkstemp(dir=feedback_dir, prefix=".page-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return dest


def ensure_feedback_dir(exchange_course: Path) -> Path:
    """``<exchange>/<course>/feedback``, created as ``nbgrader release_feedback`` creates it when
    missing (0711: students open pages by name, cannot list them; group-writable and setgid when
    the course folder is shared with a group, as with ``groupshared``)."""
    folder = exchange_course / "feedback"
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        shared = exchange_course.stat().st_mode & 0o2020 == 0o2020
        os.chmod(folder, 0o2771 if shared else 0o711)
    return folder
