"""The Python sources pass ``ruff check`` with the repository's rules, as ``make lint`` runs it."""

import re
import subprocess
import sys
import tomllib

from coursekit import REPO


def lint_paths() -> list[str]:
    """The paths the Makefile's ``lint`` target hands to ruff, so that the two never drift apart."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    m = re.search(r"^lint:.*\n\t\$\(BIN\)/ruff check ([^\n]+)$", makefile, re.MULTILINE)
    assert m, "the Makefile's lint target no longer runs `$(BIN)/ruff check PATHS`"
    return m.group(1).split()


def test_make_lint_covers_the_python_sources():
    assert {"nnlib", "grader", "hub", "site", "tests", "benchmarks"} <= set(lint_paths())


def test_the_rules_are_named_not_ruffs_default():
    """ruff's default selection changes between releases; the rules we mean are listed, with the
    line length, import order, bugbear and unused-noqa checks among them."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"]
    selected = set(config.get("lint", {}).get("select", []))
    assert {"E", "W", "F", "I", "B", "UP", "RUF100"} <= selected, selected
    assert config["line-length"] == 100


def test_ruff_finds_nothing():
    paths = lint_paths()
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *paths], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, (
        f"ruff check {' '.join(paths)} (make lint):\n{proc.stdout}{proc.stderr}")
