"""Run nbgrader on a throwaway copy of the course, as an instructor would on the real one.

The tests never touch the repository's own gradebook or ``submitted/``: each builds a course in a
temporary folder whose ``nbgrader_config.py`` loads the repository's ``grader_config.py`` (so the real
settings are what is tested) and then points the course root, gradebook and exchange at the copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def assignment_names() -> list[str]:
    """The assignments: every folder of ``solutions/`` that holds a notebook."""
    root = REPO / "solutions"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def notebooks(folder: Path) -> list[Path]:
    """The notebooks directly inside ``folder``, sorted."""
    return sorted(p for p in folder.glob("*.ipynb"))


def make_course(root: Path, assignments: list[str]) -> Path:
    """Create a course at ``root`` with the given assignments' sources copied from ``solutions/``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"load_subconfig({str(REPO / 'grader_config.py')!r})\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///' + {str(root / 'gradebook.db')!r}\n"
        f"c.Exchange.root = {str(root / 'exchange')!r}\n"
    )
    for name in assignments:
        shutil.copytree(REPO / "solutions" / name, root / "solutions" / name,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return root


def nbgrader(course: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the nbgrader CLI in ``course``; raise with its whole log if it fails."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", MPLBACKEND="Agg")
    proc = subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, env=env, text=True,
                          capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n"
                           f"{proc.stdout}\n{proc.stderr}")
    return proc


def submit(course: Path, student: str, assignment: str, files: list[Path]) -> None:
    """Place ``files`` as ``student``'s submission of ``assignment`` (nbgrader's layout)."""
    dest = course / "submitted" / student / assignment
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy(f, dest / f.name)


def scores(course: Path, assignment: str) -> dict[str, dict[str, tuple[float, float]]]:
    """Per student, per ``grade_id``: (score, max_score) from the course's gradebook."""
    from nbgrader.api import Gradebook

    out: dict[str, dict[str, tuple[float, float]]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for sub in gb.assignment_submissions(assignment):
            per = out.setdefault(sub.student.id, {})
            for nb in sub.notebooks:
                for grade in nb.grades:
                    per[grade.name] = (float(grade.score), float(grade.max_score))
    return out


def load_json(path: Path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
