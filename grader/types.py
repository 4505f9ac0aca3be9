"""The shared types of the grading pipeline: a job, its result, the run's options, the status words.

Every other module takes these from here; nothing here grades.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .sandbox import Limits

# A result's status: graded; autograded, but a written answer waits for a person; a finding (an
# integrity or clean-room check, a similar submission, a student off the roster) for a person to
# look at; or not graded at all, with the reason.
GRADED = "graded"
MANUAL = "needs manual grading"
REVIEW = "needs review"
FAILED = "failed"
STATUSES = (GRADED, MANUAL, REVIEW, FAILED)


@dataclass
class Job:
    student: str
    assignment: str
    submission: Path  # the student's folder for this assignment


@dataclass
class Result:
    student: str
    assignment: str
    status: str
    reason: str = ""
    score: float | None = None
    max_score: float | None = None
    grades: dict = field(default_factory=dict)  # grade_id -> [score, max]
    findings: list = field(default_factory=list)
    seconds: float = 0.0
    # Seconds spent in each stage of the job (see grader.job.STAGES), measured in the worker; only
    # the stages the job reached. For the benchmark's profile; never part of a grade.
    timings: dict = field(default_factory=dict)
    job_dir: str = ""
    # What the job's gradebook holds for the merge (grader.job.read_grades, after the clean-room
    # check): {"grades": [[notebook, cell, auto_score, needs_manual_grade], ...],
    #  "comments": [[notebook, cell, auto_comment], ...]}; None until the job has graded.
    cells: dict | None = None
    timestamp: str = ""  # the submission's timestamp.txt, as nbgrader's `submit` wrote it
    # Filled from the course gradebook after the merge, so that grades.csv says what the formgrader
    # shows: the score after the late penalty, the raw score, lateness, pending manual grading.
    raw_score: float | None = None
    late_penalty: float | None = None
    seconds_late: float | None = None
    needs_manual_grade: bool = False
    first_name: str = ""
    last_name: str = ""


@dataclass
class Options:
    timeout: int = 60  # per cell, as nbgrader's c.Execute.timeout
    job_timeout: float = 300.0  # wall clock for one whole job
    workers: int = max(1, os.cpu_count() or 1)
    limits: Limits = field(default_factory=Limits)
    max_output_chars: int = 10_000
    work_root: Path | None = None
    zygote: bool = True  # fork kernels from a process that imported them (grader.zygote)
    # Paths every kernel and probe of the run sees empty, besides the course's private ones (the
    # feedback service hides the exchange, where other students' submissions wait, and its state).
    hide: tuple[str, ...] = ()


def unknown_assignment(student: str, assignment: str, known: list[str]) -> Result:
    """The failed result of a submission to an assignment the course does not have."""
    return Result(student, assignment, FAILED,
                  f"no assignment {assignment!r} in solutions/ (closed, removed or misspelt); "
                  f"the course has {', '.join(known)}")
