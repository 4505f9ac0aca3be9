"""The Python sources pass ``ruff check`` with the repository's rules (``make lint``)."""

import subprocess
import sys

from coursekit import REPO

PATHS = ["nnlib", "grader", "tests", "benchmarks"]


def test_ruff_finds_nothing():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *PATHS], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"ruff check {' '.join(PATHS)} (make lint):\n{proc.stdout}{proc.stderr}"
