"""nbgrader configuration for the Artificial Neural Networks course.

nbgrader only auto-loads a file called ``nbgrader_config.py``; ours is a one-line loader of this
file, so that the CLI (``nbgrader ...``) and JupyterLab's formgrader, both started from the
repository root, see the same settings.

Layout (relative to the repository root, which is the course root):

- ``solutions/<assignment>/``  nbgrader *source*: solutions and hidden tests (instructors only)
- ``exercises/<assignment>/``  the student *release*, generated from ``solutions/`` by nbgrader
- ``submitted/<student>/<assignment>/``  collected submissions (not in git)
- ``autograded/`` and ``feedback/``  nbgrader's outputs (not in git)
- ``gradebook.db``  the SQLite gradebook (not in git)
"""

import os

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads the file)

COURSE_ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "ann-course"
c.CourseDirectory.root = COURSE_ROOT
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(COURSE_ROOT, "gradebook.db")
# Files that are never part of an assignment.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store",
                             "probes.json"]  # hidden checks, see grader/probes.py

# One cell may run for at most this many seconds when nbgrader executes a notebook (autograde,
# validate). nbgrader 0.9 reads the timeout from its Execute preprocessor.
c.Execute.timeout = 60
# A kernel that does not answer an interrupt is killed rather than hanging the batch.
c.Execute.interrupt_on_timeout = True

# Releases contain no outputs and no solution text; test cells are locked.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ClearOutput.enabled = True
c.LockCells.lock_grade_cells = True
c.LockCells.lock_readonly_cells = True
# The grading rubric of a written (manually graded) answer sits in its question's read-only cell
# between `### BEGIN HIDDEN TESTS` / `### END HIDDEN TESTS`: the release drops it, the gradebook
# keeps the full cell, and autograde restores it (locked cells are overwritten from the gradebook),
# so graders see it in the formgrader. nbgrader allows hidden regions only in test cells unless
# this check is off; tests/test_notebook_hygiene.py keeps them to test cells and read-only cells.
c.ClearHiddenTests.enforce_metadata = False

# Late submissions: nbgrader compares each submission's timestamp.txt (written by `nbgrader submit`,
# kept by `nbgrader collect`) with the assignment's due date (`nbgrader db assignment add NAME
# --duedate=...`) plus any extension, and asks this plugin for the penalty of each notebook. The
# course's rule: 15 minutes of grace, then 10 % of the score per started day, zero from 7 days on.
# `make grade` and plain `nbgrader autograde` apply the same rule; grades.csv shows seconds late and
# the penalty, as the formgrader does.
c.AssignLatePenalties.plugin_class = "grader.late.PerDayLatePenalty"
c.PerDayLatePenalty.grace_minutes = 15
c.PerDayLatePenalty.fraction_per_day = 0.10
c.PerDayLatePenalty.zero_after_days = 7

# Similar submissions (python -m grader similarity, also run by make grade, beside its merge;
# grader/similarity.py): a pair of an assignment's submissions is flagged for a person to look at
# when this share of either student's own code (the release's code and code many students share left
# out) is found in the other's, and they share at least min_overlap characters of normalised code.
# Nothing is deducted.
c.Similarity.threshold = 0.6
c.Similarity.min_overlap = 120

# Feedback: autograded/ keeps the instructor's full notebook (hidden tests and their tracebacks, for
# the formgrader); whoever renders feedback from it (make grade, the formgrader's button, or
# `nbgrader generate_feedback`) hides the hidden tests first (grader/feedback.py).
c.GenerateFeedback.preprocessors = [
    "grader.feedback.HideHiddenTests",
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# Students validate with the same kernel and timeout.
c.Validate.ignore_checksums = False

# The exchange that nbgrader's "Assignment List" (student) and release/collect (instructor) use. It
# lives inside the course folder so that a single-machine course works without a system-wide
# directory.
c.Exchange.root = os.path.join(COURSE_ROOT, "exchange")
# A fresh clone has no exchange (it is not in git); nbgrader's Assignment List refuses to start
# without one, so it is created here, world-writable with the sticky bit, as nbgrader's own
# set-up asks.
if not os.path.isdir(c.Exchange.root):
    try:
        os.makedirs(c.Exchange.root, exist_ok=True)
        os.chmod(c.Exchange.root, 0o1777)
    except OSError:  # a read-only checkout: nbgrader reports the missing exchange itself
        pass
c.Exchange.path_includes_course = True
# Collecting takes each student's latest submission: plain nbgrader keeps the copy an earlier
# collect made ("Submission already exists, use --update") and would grade a student who resubmitted
# after an instructor's mid-way look on the older work. The formgrader's Collect button updates
# already.
c.ExchangeCollect.update = True

# Validate (JupyterLab's button and `nbgrader validate`) prints each line of a failed test cell's
# code and error cut at Validator.width characters, 90 by default: the tests' hints, one line of up
# to a few hundred characters, ended mid-sentence. Lines up to this width are shown whole (it is
# also the length of the "=" line `nbgrader validate` prints between failed cells).
c.Validator.width = 1000

# Feedback on submit (python -m grader serve; on the course's hub a service started with the hub,
# see hub/README.md): each submission in the exchange's inbound is graded as it arrives, with the
# same pipeline as make grade, and its page published where the student's "Fetch Feedback" finds
# it. It never writes the gradebook: final grades stay the instructor's collect + make grade.
# What a graded page shows while the assignment is open: "points" (the autograded score and each
# question's points), "messages" (also each failing test's message, the hint it was written to
# give) or "full" (nbgrader's feedback page, hidden tests removed). No mode shows hidden tests.
c.FeedbackService.mode = "points"
# A student's work on one assignment is graded at most once in this many seconds, so that the
# hidden tests cannot be probed by resubmitting; a later submission waits (its page says until
# when), and only the latest waiting one is graded.
c.FeedbackService.min_interval = 120
