"""What README.md (and hub/README.md) promise, checked against the files and the machine.

- The benchmark figures of README's tables are the ones docs/benchmarks.md and docs/grading.md
  report (the same measurement, to the README's rounding).
- The grading kernel's network: README says it has its own network namespace with only its own
  loopback wherever namespaces work, and that the grading run warns where they do not. Both are
  tried here on this machine.
- CI (.ci/run) runs the README's commands and installs nothing the README does not tell a newcomer
  to install (Chromium for the browser tests among them).
- Settings the README quotes (course id, cell timeout, late policy, collecting the latest
  submission, where `make lab` listens) are the ones grader_config.py and the Makefile set.
- The hub's proxy is pinned: package.json and package-lock.json name the same exact version.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from coursekit import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------
# benchmark figures

def _tables(text: str) -> list[list[list[str]]]:
    """The markdown tables of ``text``: lists of rows (header first, no separator row) of cells,
    with emphasis markers removed."""
    tables, current = [], []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("|") and line.endswith("|"):
            cells = [c.strip().replace("**", "") for c in line[1:-1].split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def _table(text: str, header: str) -> list[list[str]]:
    found = [t for t in _tables(text) if header in " | ".join(t[0])]
    assert len(found) == 1, f"expected one table whose header has {header!r}, found {len(found)}"
    return found[0]


def _row(table: list[list[str]], key: str) -> list[str]:
    found = [r for r in table[1:] if key in r[0]]
    assert len(found) == 1, f"expected one row with {key!r}, found {[r[0] for r in found]}"
    return found[0]


QUANTITY = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(ms|s|x)(?![\w-])")


def _quantity(cell: str) -> tuple[float, float, str] | None:
    """(value, half of the last printed digit, unit) of the one figure in ``cell``, in seconds for
    times; None when the cell has none."""
    found = QUANTITY.findall(cell)
    if not found:
        return None
    assert len(found) == 1, f"one figure per cell expected: {cell!r}"
    number, unit = found[0]
    decimals = len(number.partition(".")[2])
    value, half = float(number.replace(",", "")), 0.5 * 10.0 ** -decimals
    if unit == "ms":
        value, half, unit = value / 1000, half / 1000, "s"
    return value, half, unit


def _agree(readme_cell: str, doc_cell: str, divisor: int = 1) -> None:
    """The README's figure is the document's (divided by ``divisor``), to either's rounding."""
    mine, theirs = _quantity(readme_cell), _quantity(doc_cell)
    if mine is None or theirs is None:
        assert mine is None and theirs is None, (readme_cell, doc_cell)
        return
    (a, da, ua), (b, db, ub) = mine, theirs
    b, db = b / divisor, db / divisor
    # Equal, to the coarser rounding: the intervals the two printed figures stand for overlap.
    assert ua == ub and abs(a - b) < da + db - 1e-12, (
        f"README says {readme_cell!r}, the document {doc_cell!r}"
        + (f" (/{divisor} = {b:.4g})" if divisor != 1 else ""))
    assert ("missed" in readme_cell) == ("missed" in doc_cell), (readme_cell, doc_cell)


BENCH = (REPO / "docs" / "benchmarks.md").read_text(encoding="utf-8")
GRADING = (REPO / "docs" / "grading.md").read_text(encoding="utf-8")
AUTOGRAD = ("micrograd", "MLP 4-16-16-1")
MLP = ("1 thread (default)", "nnlib (NumPy, float64)")
# README's first table: row key -> {README column: (document, table header, row key, column)}
FIRST = {
    "MLP 4-16-16-1 on a batch of 32": {1: (BENCH, "micrograd", "MLP 4-16-16-1", 1),
                                       2: (BENCH, "micrograd", "MLP 4-16-16-1", 2),
                                       3: (BENCH, "micrograd", "MLP 4-16-16-1", 3)},
    "chain of depth 900": {1: (BENCH, "micrograd", "depth 900", 1),
                           2: (BENCH, "micrograd", "depth 900", 2),
                           3: (BENCH, "micrograd", "depth 900", 3)},
    "chain of depth 1,000,000": {1: (BENCH, "micrograd", "depth 1,000,000", 1)},
    "one epoch on digits": {1: (BENCH, "1 thread (default)", "nnlib (NumPy, float64)", 1),
                            2: (BENCH, "1 thread (default)", "torch (float32)", 1),
                            3: (BENCH, "1 thread (default)", "torch (float32)", 2)},
}
GRADING_HEADER = "quiz, 50"
for key, col in (("50 submissions of the fixture quiz", 1),
                 ("20 submissions of `01_activations`", 2), ("6 submissions of `06_mlp`", 3)):
    FIRST[key] = {1: (GRADING, GRADING_HEADER, "pipeline, 2 workers", col),
                  2: (GRADING, GRADING_HEADER, "plain `autograde` + `generate_feedback`", col),
                  3: (GRADING, GRADING_HEADER, "pipeline (2 workers) vs plain + feedback", col)}
FEEDBACK_HEADER = "bench_feedback.py"
FIRST["feedback on submit: 60 submissions"] = {
    1: (GRADING, FEEDBACK_HEADER, "burst: first arrival", 1),
    2: (GRADING, FEEDBACK_HEADER, "batch: `grader run", 1),
    3: (GRADING, FEEDBACK_HEADER, "burst / batch", 1)}
# README's second table (per submission = the document's total / number of submissions).
SECOND = {"fixture quiz, 50": (1, 50), "`01_activations`, 20": (2, 20), "`06_mlp`, 6": (3, 6)}
SECOND_ROWS = {1: ("floor (warm kernel", True), 2: ("pipeline, 1 worker", True),
               3: ("1 worker per submission / floor", False), 4: ("2 workers vs 1", False),
               5: ("Dask (2 workers) vs 1 local worker", False)}


def _benchmark_section() -> str:
    return README.split("\n## Benchmarks", 1)[1].split("\n## ", 1)[0]


def test_readme_benchmark_figures_are_the_documents():
    first = _table(_benchmark_section(), "baseline")
    assert {r[0] for r in first[1:]} and all(
        sum(k in r[0] for k in FIRST) == 1 for r in first[1:]), (
        "every row of README's benchmark table must be compared with the documents: "
        f"{[r[0] for r in first[1:]]}")
    for key, columns in FIRST.items():
        row = _row(first, key)
        figures = {i for i, cell in enumerate(row) if i and _quantity(cell)}
        assert figures <= set(columns), f"README row {key!r} has figures no test compares"
        for col, (doc, header, doc_key, doc_col) in columns.items():
            _agree(row[col], _row(_table(doc, header), doc_key)[doc_col])

    second = _table(_benchmark_section(), "floor per submission")
    assert len(second) - 1 == len(SECOND), [r[0] for r in second]
    grading = _table(GRADING, GRADING_HEADER)
    for key, (doc_col, count) in SECOND.items():
        row = _row(second, key)
        for col, (doc_key, per_submission) in SECOND_ROWS.items():
            _agree(row[col], _row(grading, doc_key)[doc_col], count if per_submission else 1)


def test_the_figure_comparison_catches_a_disagreement():
    """The check itself: a figure off by one printed digit, or a wrong unit, fails it."""
    _agree("2.7 s", "2,698 ms")
    _agree("0.26 s", "5.1 s", 20)
    for mine, theirs in (("1.7x faster", "1.62x"), ("32.5 ms", "32.6 ms"), ("2.7 ms", "2,698 ms"),
                         ("9.0x", "9.0x, missed")):
        with pytest.raises(AssertionError):
            _agree(mine, theirs)


# --------------------------------------------------------------------------------------------
# the grading kernel's network

def test_readme_states_the_network_namespace():
    assert "network is not blocked" not in README
    assert re.search(r"network namespace with only its own\s+loopback", README), (
        "README.md's protections must say the kernel has its own network namespace")
    deploy = (REPO / "deploy" / "README.md").read_text(encoding="utf-8")
    assert "does not block the network" not in deploy and "own network\nnamespace" in deploy


CONNECT = textwrap.dedent("""
    import os, socket, sys
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind != "none":
        from grader import kernel_launcher
        kernel_launcher._isolate(kind, {"workdir": os.getcwd()})
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
        print("connected")
    except OSError as exc:
        print(f"refused: {exc}")
""")


def test_the_grading_kernel_reaches_no_port_of_the_machine_where_the_readme_says_so(tmp_path):
    """README: with namespaces (root, or user namespaces without root) the kernel's network is only
    its own loopback; without them, the run's warning says the network is open."""
    from grader import sandbox

    name, warning = sandbox.mode()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]

        def attempt(kind: str) -> str:
            proc = subprocess.run([sys.executable, "-c", CONNECT, kind, str(port)], cwd=tmp_path,
                                  capture_output=True, text=True, timeout=60, check=False)
            assert proc.returncode == 0, proc.stderr
            return proc.stdout.strip()

        assert attempt("none") == "connected", "baseline: the test's port must be reachable"
        if name in ("root", "user namespaces"):
            inside = attempt("root" if name == "root" else "user")
            assert inside.startswith("refused"), (
                f"mode {name!r}: a process in the grading kernel's namespaces reached the "
                f"machine's 127.0.0.1:{port} ({inside}), while README says only its own loopback "
                "is up")
        else:
            assert warning and "network" in warning, (name, warning)


# --------------------------------------------------------------------------------------------
# CI does what README says, and installs only what README says

CI = (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_ci_runs_the_readme_commands():
    for command in ("make test", "make site", "make e2e"):
        assert f"`{command}`" in README or f"{command}  " in README, command
        assert re.search(rf"^\s*{re.escape(command)}\s*$", CI, re.MULTILINE), (
            f".ci/run must run {command!r} on a line of its own")


def test_ci_installs_only_what_the_readme_names():
    code = "\n".join(ln for ln in CI.splitlines() if not ln.lstrip().startswith("#"))
    assert "npm install" not in code and "pip install" not in code, (
        ".ci/run installs something itself; the README's commands must do it")
    named = set()
    for m in re.finditer(r"apt-get install ([\w.\- ]+)`", README):
        named |= set(m.group(1).split())
    arrays = re.findall(r"packages\+=\(([^)]*)\)", code)
    installed = {p for group in arrays for p in group.split()}
    assert "chromium" in installed, "README says CI installs Chromium when it is missing"
    assert installed <= named, (
        f".ci/run installs {sorted(installed - named)}, which README does not name")
    assert re.findall(r"apt-get install[^\n]*", code) == [
        'apt-get install -y -qq "${packages[@]}" >/dev/null) \\'], (
        "every package .ci/run installs goes through its checked list")


# --------------------------------------------------------------------------------------------
# settings README quotes

def _course_config():
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("grader_config.py", path=str(REPO)).load_config()


def test_readme_quotes_the_course_settings():
    c = _course_config()
    assert c.CourseDirectory.course_id == "ann-course" and "(`ann-course`)" in README
    assert f"(`c.Execute.timeout`, {c.Execute.timeout} s)" in README
    assert f"A cell may run for {c.Execute.timeout} s" in README
    late = c.PerDayLatePenalty
    assert (f"{late.grace_minutes} minutes' grace, then {late.fraction_per_day:.0%} per started "
            f"day, zero after {late.zero_after_days} days").replace("%", " %") in README
    # "collecting takes each student's latest submission" (README, hub/README)
    assert c.ExchangeCollect["update"] is True
    assert "collecting takes each student's latest submission" in README
    assert "ExchangeCollect.update" in (REPO / "hub" / "README.md").read_text(encoding="utf-8")


def test_make_lab_listens_where_readme_says():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    host = re.search(r"^HOST\s*\?=\s*(\S+)", makefile, re.MULTILINE).group(1)
    port = re.search(r"^PORT\s*\?=\s*(\S+)", makefile, re.MULTILINE).group(1)
    assert f"`make lab` serves on http://{host}:{port}" in README


def test_the_hub_proxy_is_pinned():
    """README and hub/README: the proxy make installs is the version package-lock.json pins."""
    wanted = json.loads((REPO / "package.json").read_text())["dependencies"]
    version = wanted["configurable-http-proxy"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), (
        f"package.json must pin an exact version: {version}")
    lock = json.loads((REPO / "package-lock.json").read_text())["packages"]
    assert lock["node_modules/configurable-http-proxy"]["version"] == version
    assert lock[""]["dependencies"] == wanted, "package-lock.json is stale: run npm install"
    installed = REPO / "node_modules" / "configurable-http-proxy" / "package.json"
    if installed.exists():  # what make installed is what the lock file says
        assert json.loads(installed.read_text())["version"] == version
    assert "/node_modules/" in (REPO / ".gitignore").read_text().splitlines()
    assert "package-lock.json" in README and Path(REPO / "package-lock.json").is_file()
