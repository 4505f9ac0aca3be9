"""The course's late policy, as a plugin of nbgrader's own late-submission mechanism.

nbgrader computes how late a submission is (its ``timestamp.txt`` against the assignment's due date
plus any extension) and asks ``AssignLatePenalties.plugin_class`` for the penalty of each notebook.
Its built-in :class:`~nbgrader.plugins.LateSubmissionPlugin` knows only "no penalty" and "zero";
this subclass adds the usual course rule, configured in ``grader_config.py``:

- a grace period (a submission a few minutes late is on time);
- then a fraction of the notebook's score per day or part of a day late;
- and zero from ``zero_after_days`` on.

Because it is an nbgrader plugin, plain ``nbgrader autograde``, the formgrader and ``make grade``
all apply the same rule.
"""

from __future__ import annotations

import math

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Enum, Float, validate


class PerDayLatePenalty(LateSubmissionPlugin):
    """A fraction of the score per started day late, after a grace period; zero after a cut-off."""

    penalty_method = Enum(("none", "zero", "per_day"), default_value="per_day",
                          help="'per_day' (this course's rule), or nbgrader's 'none' / 'zero'."
                          ).tag(config=True)
    grace_minutes = Float(15.0, help="Minutes past the due date that still count as on time."
                          ).tag(config=True)
    fraction_per_day = Float(0.1, help="Fraction of the score lost per day or part of a day late."
                             ).tag(config=True)
    zero_after_days = Float(7.0, help="From this many days late on, the score is zero."
                            ).tag(config=True)

    @validate("grace_minutes", "zero_after_days")
    def _non_negative(self, proposal):
        if proposal["value"] < 0:
            raise ValueError(f"{proposal['trait'].name} must be >= 0, got {proposal['value']}")
        return proposal["value"]

    @validate("fraction_per_day")
    def _fraction(self, proposal):
        if not 0 <= proposal["value"] <= 1:
            raise ValueError(f"fraction_per_day must be in [0, 1], got {proposal['value']}")
        return proposal["value"]

    def late_submission_penalty(self, student_id: str, score: float,
                                total_seconds_late: float) -> float | None:
        """The points to take off ``score`` for a notebook ``total_seconds_late`` seconds late."""
        if self.penalty_method != "per_day":
            return super().late_submission_penalty(student_id, score, total_seconds_late)
        return penalty(score, total_seconds_late, grace_minutes=self.grace_minutes,
                       fraction_per_day=self.fraction_per_day, zero_after_days=self.zero_after_days)


def penalty(score: float, seconds_late: float, *, grace_minutes: float = 15.0,
            fraction_per_day: float = 0.1, zero_after_days: float = 7.0) -> float:
    """The per-day rule on its own.

    Parameters
    ----------
    score : float
        The notebook's score before the penalty (>= 0).
    seconds_late : float
        Seconds past the due date (0 when on time).

    Returns
    -------
    float
        The penalty in points, between 0 and ``score``.

    Examples
    --------
    >>> penalty(10.0, 0)
    0.0
    >>> penalty(10.0, 10 * 60)            # inside the 15-minute grace period
    0.0
    >>> penalty(10.0, 3600)               # one started day late: 10 %
    1.0
    >>> penalty(10.0, 2 * 86400 + 1)      # three started days
    3.0
    >>> penalty(10.0, 8 * 86400)          # past the cut-off
    10.0
    """
    if score is None or seconds_late is None:
        raise TypeError("score and seconds_late must be numbers, not None")
    if seconds_late < 0:
        raise ValueError(f"seconds_late must be >= 0, got {seconds_late}")
    score = max(0.0, float(score))
    if seconds_late <= grace_minutes * 60:
        return 0.0
    if seconds_late >= zero_after_days * 86400:
        return score
    days = math.ceil(seconds_late / 86400)
    return min(score, round(score * fraction_per_day * days, 10))
