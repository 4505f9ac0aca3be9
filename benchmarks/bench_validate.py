"""Validate's time against the notebook's own run time, for 02_single_layer and 06_mlp.

A student presses Validate after *Restart & Run All*; what they wait for beyond the notebook's own
run time is nbgrader's overhead. Measured in the same run, on the release filled in with the
solution's answers (every test passes, as after the last Validate of an evening):

- ``run``: the notebook's cells executed in an already started kernel (what *Run All* takes);
- ``kernel``: starting a fresh kernel until it answers (what *Restart* takes);
- ``validator``: ``nbgrader.validator.Validator.validate`` in this process, with the course's
  configuration, which is what JupyterLab's Validate button runs in the server (kernel start,
  execution, checks);
- ``cli``: ``nbgrader validate`` as a new process from the course root (Python and nbgrader
  imports, configuration, then the validator).

Each is the median of ``--repeat`` runs. The ratios: Validate against the notebook's own run
(``run``), and against what *Restart & Run All* takes (``kernel + run``), which is what a student
compares it with.

    .venv/bin/python benchmarks/bench_validate.py
    .venv/bin/python benchmarks/bench_validate.py --assignment 06_mlp --repeat 5
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
PYTHON = os.path.abspath(sys.executable)
NOTEBOOKS = {"02_single_layer": "single_layer", "06_mlp": "mlp"}


def answered(assignment: str) -> nbformat.NotebookNode:
    """The release with every answer cell filled in from the solution (markers removed)."""
    name = NOTEBOOKS[assignment]
    release = nbformat.read(REPO / "exercises" / assignment / f"{name}.ipynb", as_version=4)
    solution = nbformat.read(REPO / "solutions" / assignment / f"{name}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in solution.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = "\n".join(line for line in answers[meta["grade_id"]].splitlines()
                                    if not re.match(r"\s*### (BEGIN|END) SOLUTION", line))
    return release


def time_run_and_kernel(path: Path) -> tuple[float, float]:
    """(cells in a started kernel, kernel start) in seconds."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    with client.setup_kernel():
        started = time.perf_counter()
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        finished = time.perf_counter()
    return finished - started, started - start


def course_config():
    """The configuration the server's Validate handler loads: nbgrader_config.py of the course."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()


def time_validator(path: Path) -> float:
    from nbgrader.validator import Validator

    start = time.perf_counter()
    result = Validator(config=course_config()).validate(str(path))
    elapsed = time.perf_counter() - start
    if result:
        raise RuntimeError(f"the solution does not validate: {result}")
    return elapsed


def time_cli(path: Path) -> float:
    env = dict(os.environ, PATH=f"{Path(PYTHON).parent}{os.pathsep}{os.environ['PATH']}")
    start = time.perf_counter()
    out = subprocess.run([str(Path(PYTHON).parent / "nbgrader"), "validate", str(path)], cwd=REPO,
                         env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if "Success!" not in out.stdout:
        raise RuntimeError(f"nbgrader validate failed:\n{out.stdout}\n{out.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assignment", choices=sorted(NOTEBOOKS), action="append")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    print(f"{'assignment':<16} {'run':>6} {'kernel':>7} {'validator':>10} {'cli':>6}   "
          f"{'validator/run':>13} {'validator/(kernel+run)':>22} {'cli/run':>8}")
    for assignment in args.assignment or sorted(NOTEBOOKS):
        with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
            path = Path(tmp) / f"{NOTEBOOKS[assignment]}.ipynb"
            nbformat.write(answered(assignment), path)
            runs, kernels, validators, clis = [], [], [], []
            for _ in range(args.repeat):
                run, kernel = time_run_and_kernel(path)
                runs.append(run)
                kernels.append(kernel)
                validators.append(time_validator(path))
                clis.append(time_cli(path))
            run, kernel = statistics.median(runs), statistics.median(kernels)
            validator, cli = statistics.median(validators), statistics.median(clis)
            print(f"{assignment:<16} {run:6.2f} {kernel:7.2f} {validator:10.2f} {cli:6.2f}   "
                  f"{validator / run:13.2f} {validator / (kernel + run):22.2f} {cli / run:8.2f}")


if __name__ == "__main__":
    main()
