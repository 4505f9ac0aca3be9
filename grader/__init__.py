"""The course's grading pipeline: nbgrader autograding made trustworthy for a class.

``python -m grader run`` (``make grade``) regenerates the releases, checks every submission against
its release, grades each (student, assignment) in its own scratch course and sandboxed kernel, in
parallel, re-runs the hidden checks outside the student's kernel, writes an honest report and flags
submissions that are suspiciously alike. See ``docs/grading.md`` for what is protected and what is
not.

Modules, lowest layer first (a module imports only from its own layer or below;
``tests/grading/test_import_graph.py`` checks it):

- ``patches`` (every change to a third-party library's internals and every call of a private API,
  version-guarded), ``cells`` (the cell rules), ``late`` (the late-penalty plugin),
  ``kernel_launcher`` (what runs inside the grading kernel), ``probe_runner`` (what runs inside a
  clean-room probe), ``forkserver`` (the fork server the grading workers start from);
- ``course`` (where things are);
- ``sandbox`` (the grading kernel's limits and isolation), ``zygote`` (kernels forked from a warm
  process), ``feedback`` (what a student's feedback may show), ``integrity`` (submission vs
  release);
- ``types`` (Job, Result, Options, the status words), ``probes`` (hidden checks outside the
  kernel), ``similarity`` (submissions that are suspiciously alike: similarity.csv, the
  side-by-side report, findings), ``prestart`` (a local run's fork server and zygote, started
  first), ``inbox`` (the feedback service's durable queue of nbgrader's
  inbound), ``pages`` (the pages a student fetches as feedback while an assignment is open);
- ``gradebook`` (the one module that opens nbgrader's gradebook: due dates, prior manual work, late
  penalties, the read-back), ``report`` (grades.csv, the table);
- ``warm`` (the fork server's warm-up), ``job`` (one submission, stage by stage), ``releases`` (the
  releases and the template course), ``merge`` (job results into the course);
- ``pool`` (the local executor: jobs in parallel on this machine, its warm state kept while open);
- ``distributed`` (the Dask executor: jobs on a cluster, each worker running ``pool``);
- ``scheduler`` (the orchestration behind ``make grade``: scan, grade with either executor, merge,
  report), ``service`` (feedback on submit, ``python -m grader serve``: each submission in the
  exchange graded with either executor as it arrives), ``export`` (grades into Canvas or Moodle,
  also as nbgrader exporter plugins);
- ``cli`` (``python -m grader``, with ``__main__``), ``_preload`` (imported by the fork server
  only).
"""

__all__ = ["__version__"]
__version__ = "0.1.0"

from . import patches as _patches

# Before anything imports jsonschema (nbformat, nbgrader and jupyter_server do): see grader.patches.
_patches.block_rfc3987_syntax()
