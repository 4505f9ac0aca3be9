"""The course's grading pipeline: nbgrader autograding made trustworthy for a class.

``python -m grader run`` (``make grade``) regenerates the releases, checks every submission against
its release, grades each (student, assignment) in its own scratch course and sandboxed kernel, in
parallel, re-runs the hidden checks outside the student's kernel, writes an honest report and flags
submissions that are suspiciously alike. See ``docs/grading.md`` for what is protected and what is
not.

Modules: ``course`` (where things are), ``integrity`` (submission vs release), ``sandbox`` (the
grading kernel), ``kernel_launcher`` (what runs inside it), ``probes`` (hidden checks outside the
kernel), ``job`` (one submission, stage by stage), ``scheduler`` (many in parallel, merged into
the course), ``report`` (grades.csv, the table), ``similarity`` (submissions that are suspiciously
alike: similarity.csv, the side-by-side report, findings), ``export`` (grades into Canvas or Moodle,
also as nbgrader exporter plugins), ``cells`` (the cell rules), ``patches`` (every change to a
third-party library's internals, version-guarded), ``cli``.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"

from . import patches as _patches

# Before anything imports jsonschema (nbformat, nbgrader and jupyter_server do): see grader.patches.
_patches.block_rfc3987_syntax()
