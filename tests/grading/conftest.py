"""Fixtures shared by the grading tests."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from grader import sandbox
from grader import zygote as zygote_mod


@pytest.fixture(scope="module")
def zygote():
    """A running zygote (the warm kernel factory) and one leased worker slot, for one module.

    Yields a dict: ``socket`` (the zygote's socket), ``work`` (its folder, readable by the sandbox
    uid), ``slot`` (the leased slot number) and ``proc`` (the zygote process).
    """
    work = Path(tempfile.mkdtemp(prefix="zygote-test-", dir="/var/tmp"))
    os.chmod(work, 0o711)
    proc = zygote_mod.start(work)
    socket_path = zygote_mod.wait_ready(proc)
    assert socket_path, (work / "zygote" / "zygote.log").read_text()
    with sandbox.lease_slots(1) as slots:
        yield {"socket": socket_path, "work": work, "slot": slots[0], "proc": proc}
    zygote_mod.stop(proc)
    # files a sandboxed kernel wrote may belong to another uid: rm, as root, removes them all
    subprocess.run(["rm", "-rf", str(work)], check=False)
