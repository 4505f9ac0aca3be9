"""Run nbgrader on a throwaway copy of the course, as an instructor would on the real one.

The tests never touch the repository's own gradebook or ``submitted/``: each builds a course in a
temporary folder whose ``nbgrader_config.py`` loads the repository's ``grader_config.py`` (so the
real settings are what is tested) and then points the course root, gradebook and exchange at the
copy.
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
    """Create a course at ``root`` with the assignments' sources copied from ``solutions/``."""
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


PORT_RACE = "zmq.error.ZMQError: Address already in use"


def nbgrader(course: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the nbgrader CLI in ``course``; raise with its whole log if it fails."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", MPLBACKEND="Agg")
    for attempt in (1, 2):
        proc = subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, env=env, text=True,
                              capture_output=True, timeout=timeout, check=False)
        # jupyter_client picks a kernel's TCP ports free and binds them a moment later; with the
        # suite's workers starting kernels side by side, another kernel can take one in between
        # ("Address already in use"). That is the test machine's race, not the submission's:
        # nbgrader gets one more try. Any other failure is reported at once.
        if proc.returncode == 0 or attempt == 2 or PORT_RACE not in proc.stdout + proc.stderr:
            break
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


def scores(course: Path, assignment: str) -> dict[str, dict[str, tuple[float | None, float]]]:
    """Per student, per ``grade_id``: (score, max_score) from the course's gradebook.

    The score is None while a person still has to grade the cell (a written answer that is not the
    untouched release's stub): nbgrader's gradebook would report 0 there, which is not a grade.
    """
    return {student: {gid: (None if g["needs_manual_grade"] else g["score"], g["max_score"])
                      for gid, g in per.items()}
            for student, per in grades(course, assignment).items()}


def grades(course: Path, assignment: str) -> dict[str, dict[str, dict]]:
    """Per student, per ``grade_id``: the gradebook's record of that grade.

    Each record holds ``score``, ``max_score``, ``auto_score`` (None when autograde did not score
    the cell), ``manual_score`` and ``needs_manual_grade``.
    """
    from nbgrader.api import Gradebook

    out: dict[str, dict[str, dict]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for sub in gb.assignment_submissions(assignment):
            per = out.setdefault(sub.student.id, {})
            for nb in sub.notebooks:
                for grade in nb.grades:
                    per[grade.name] = {
                        "score": float(grade.score), "max_score": float(grade.max_score),
                        "auto_score": None if grade.auto_score is None else float(grade.auto_score),
                        "manual_score": (None if grade.manual_score is None
                                         else float(grade.manual_score)),
                        "needs_manual_grade": bool(grade.needs_manual_grade)}
    return out


def _nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def manual_grade_ids(notebook: Path) -> list[str]:
    """The ``grade_id``s of the cells a person grades: answer cells that are also grade cells."""
    cells = load_json(notebook)["cells"]
    return [_nbgrader_meta(c)["grade_id"] for c in cells
            if _nbgrader_meta(c).get("grade") and _nbgrader_meta(c).get("solution")]


def autograded_ids(notebook: Path) -> list[str]:
    """The ``grade_id``s nbgrader scores by itself: the test cells."""
    cells = load_json(notebook)["cells"]
    return [_nbgrader_meta(c)["grade_id"] for c in cells
            if _nbgrader_meta(c).get("grade") and not _nbgrader_meta(c).get("solution")]


HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


def source(cell) -> str:
    """A cell's source as one string (notebook JSON may store it as a list of lines)."""
    text = cell.get("source", "")
    return text if isinstance(text, str) else "".join(text)


def hidden_regions(text: str) -> list[str]:
    """The text between each ``BEGIN HIDDEN TESTS`` line and its ``END HIDDEN TESTS`` line, as
    nbgrader's ClearHiddenTests finds them (the delimiter lines themselves excluded)."""
    regions, current = [], None
    for line in text.split("\n"):
        if HIDDEN_BEGIN in line:
            current = []
        elif HIDDEN_END in line and current is not None:
            regions.append("\n".join(current).strip())
            current = None
        elif current is not None:
            current.append(line)
    return regions


def rubrics(notebook: Path) -> dict[str, str]:
    """Per manually graded ``grade_id`` of a source notebook: its rubric.

    The rubric is the hidden region of the question's read-only markdown cell, the nearest such
    cell before the answer cell. An answer without one maps to "".
    """
    cells = load_json(notebook)["cells"]
    out = {}
    for i, cell in enumerate(cells):
        meta = _nbgrader_meta(cell)
        if not (meta.get("grade") and meta.get("solution")):
            continue
        out[meta["grade_id"]] = ""
        for prev in reversed(cells[:i]):
            pmeta = _nbgrader_meta(prev)
            if prev["cell_type"] == "markdown" and pmeta.get("locked") and not pmeta.get("grade"):
                out[meta["grade_id"]] = "\n\n".join(hidden_regions(source(prev)))
                break
    return out


def load_json(path: Path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def as_student(course: Path, home: Path, student: str, *args: str) -> subprocess.CompletedProcess:
    """An nbgrader command run by ``student`` in their own folder (only the exchange is shared)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.course_id = 'ann-course'\n"
        f"c.Exchange.root = {str(course / 'exchange')!r}\n"
        "c.Exchange.path_includes_course = True\n")
    # HOME too: nbgrader keeps a student's record of submissions in their own data folder
    # (~/.local/share/jupyter/nbgrader_cache), and fetch_feedback fetches what that record lists; a
    # shared HOME would hand bob alice's feedback as well.
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", HOME=str(home),
               MPLBACKEND="Agg")
    env.pop("JUPYTER_DATA_DIR", None)
    proc = subprocess.run([str(BIN / "nbgrader"), *args, f"--student={student}"], cwd=home,
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"{student}: nbgrader {args}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def answer_with_solutions(release: Path, source: Path, instead: dict[str, str] | None = None
                          ) -> None:
    """Fill every answer cell of the fetched ``release`` with the instructor's solution from
    ``source``; ``instead``: grade id -> the student's own (e.g. wrong) answer for that cell."""
    import nbformat

    src = nbformat.read(source, as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in src.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    answers.update(instead or {})
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and gid in answers:
            cell.source = "\n".join(ln for ln in answers[gid].splitlines()
                                    if "### BEGIN SOLUTION" not in ln
                                    and "### END SOLUTION" not in ln)
    nbformat.write(nb, release)
