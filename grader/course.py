"""Where the course keeps things, and nbgrader's configuration for a course root.

The course root is the repository root: ``solutions/`` (sources), ``exercises/`` (releases),
``submitted/<student>/<assignment>/`` (submissions), ``samples/submitted/`` (the bundled samples),
``gradebook.db``, ``autograded/`` and ``feedback/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from . import patches

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Course:
    """A course folder laid out as above."""

    root: Path

    @property
    def solutions(self) -> Path:
        return self.root / "solutions"

    @property
    def exercises(self) -> Path:
        return self.root / "exercises"

    def assignments(self) -> list[str]:
        """Assignments with a notebook in ``solutions/``, sorted."""
        if not self.solutions.is_dir():
            return []
        return sorted(p.name for p in self.solutions.iterdir()
                      if p.is_dir() and any(p.glob("*.ipynb")))

    def private_paths(self) -> list[Path]:
        """What a student's code must never see."""
        names = ("solutions", "samples", "submitted", "autograded", "feedback", "gradebook.db",
                 "grades.csv", ".grader-status.json", "students.csv", "exchange", ".git",
                 "similarity.csv", "similarity", ".feedback-service")
        return [self.root / n for n in names if (self.root / n).exists()]


def nbgrader_config(course_root: Path, *, timeout: int | None = None,
                    kernel_name: str | None = None, ipc_path: Path | None = None,
                    gradebook: Path | None = None) -> Config:
    """The course's ``grader_config.py`` (the course folder's own, else the repository's) with the
    course root (and gradebook) at ``course_root``.

    Parameters
    ----------
    course_root : Path
        The course folder (``solutions/``, ``exercises/``, ``gradebook.db``...).
    timeout : int, optional
        Seconds per cell (``Execute.timeout``).
    kernel_name : str, optional
        The kernelspec nbgrader starts (``Execute.kernel_name``).
    ipc_path : Path, optional
        Talk to the kernel over Unix sockets at this path prefix instead of TCP ports: parallel
        kernels then never race for the same port.
    gradebook : Path, optional
        The gradebook's file (default: ``course_root/gradebook.db``).
    """
    # A course folder has its own copy (the hub's is a copy of the checkout, graded by a
    # non-editable install of this package); a scratch course made by the grader has none.
    own = (course_root / "grader_config.py").is_file()
    loader = PyFileConfigLoader("grader_config.py", path=str(course_root if own else REPO))
    cfg = loader.load_config()
    cfg.CourseDirectory.root = str(course_root)
    cfg.CourseDirectory.db_url = f"sqlite:///{gradebook or course_root / 'gradebook.db'}"
    cfg.Exchange.root = str(course_root / "exchange")
    if timeout is not None:
        cfg.Execute.timeout = int(timeout)
    if kernel_name is not None:
        cfg.Execute.kernel_name = kernel_name
    if ipc_path is not None:
        cfg.KernelManager.transport = "ipc"
        cfg.KernelManager.ip = str(ipc_path)
    return cfg


def api_for(course_root: Path, **kwargs):
    """An in-process ``NbGraderAPI`` for ``course_root``."""
    # Imported here, on purpose: nbgrader's applications import Jupyter's server stack (about a
    # second), and every grader process imports this module, the sandboxed kernel's side too.
    from nbgrader.apps import NbGraderAPI

    patches.in_process_alembic()
    from nbgrader.coursedir import CourseDirectory

    cfg = nbgrader_config(course_root, **kwargs)
    return NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
