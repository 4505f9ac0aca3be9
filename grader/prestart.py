"""What a local grading run starts first: its scratch folder, the workers' fork server and the
kernels' zygote.

Both are fresh interpreters that import and warm up for one to two seconds (the zygote longer when
it preloads PyTorch). ``python -m grader run`` starts them before its own imports, so that they
warm up while the command imports nbgrader and builds the template course;
:class:`grader.pool.LocalExecutor` takes them over, or starts them itself when it is handed none.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import sandbox
from . import zygote as zygote_mod
from .course import Course
from .forkserver import Workers
from .types import Options


@dataclass
class Started:
    """A run's scratch folder and the processes started in it (see :func:`start`).

    ``taken`` is set by the executor that takes them over, which then stops them and removes the
    folder; :meth:`close` does both only for what no executor took.
    """

    work_root: Path
    workers: Workers
    zygote: subprocess.Popen | None
    taken: bool = False

    def close(self) -> None:
        """Stop the fork server and the zygote, and remove the scratch folder, unless taken."""
        if self.taken:
            return
        self.workers.close()
        if self.zygote is not None:
            zygote_mod.stop(self.zygote)
        shutil.rmtree(self.work_root, ignore_errors=True)


def start(course: Course, assignments, opts: Options) -> Started:
    """Make the scratch folder (in ``opts.work_root``, default ``/var/tmp``) and start the fork
    server and, unless ``opts.zygote`` is off, the zygote, preloading what ``assignments``
    import (:func:`grader.zygote.preloads_for`)."""
    sandbox.mode()  # found out first (a throwaway process): both processes inherit the answer
    work_root = Path(tempfile.mkdtemp(prefix="grading-", dir=opts.work_root or "/var/tmp"))
    os.chmod(work_root, 0o711)
    # Workers fork from a clean fork server (nbgrader preloaded), never from the grading run's
    # process: a child forked after the parent ran nbgrader inherits its event-loop state and hangs
    # on timeouts. The server also renders one feedback page first (grader._preload).
    workers = Workers()
    zygote = None
    if opts.zygote:
        zygote = zygote_mod.start(work_root, zygote_mod.preloads_for(
            course.solutions / a for a in assignments))
    return Started(work_root, workers, zygote)
