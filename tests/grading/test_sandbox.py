"""The sandbox's private /tmp keeps what the kernel needs when the course lives under /tmp."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from grader import sandbox

ROOT = os.geteuid() == 0 and shutil.which("unshare") is not None
UNUSED_UIDS = 64000  # for lease tests: far from sandbox.BASE_UID's range


def test_the_kernel_is_shown_its_interpreter_and_the_course_code():
    """prepare() lists the interpreter and the folder of nnlib/grader among the paths to keep."""
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        job = Path(tmp)
        sandbox.prepare(job, job / "work", sandbox.Slot(0))
        expose = json.loads((job / "sandbox.json").read_text())["expose"]
    assert os.path.realpath(sys.prefix) in expose, "the virtual environment must stay reachable"
    import nnlib

    assert str(Path(nnlib.__file__).resolve().parents[1]) in expose, (
        "the folder the kernel imports nnlib from must stay reachable")
    assert set(sandbox.CODE_ROOTS) <= set(expose)


@pytest.mark.skipif(not ROOT, reason="mount namespaces need root and unshare")
def test_private_tmp_binds_back_what_lives_under_tmp():
    """A clone in /tmp (CI) keeps its venv in the kernel's private /tmp; everything else is gone."""
    keep = Path(tempfile.mkdtemp(prefix="course-clone-", dir="/tmp"))
    other = Path(tempfile.mkdtemp(prefix="someone-else-", dir="/tmp"))
    try:
        (keep / "marker").write_text("venv")
        (other / "secret").write_text("x")
        code = ("import os, sys; from grader.kernel_launcher import _private_tmp; "
                f"_private_tmp([{str(keep)!r}]); "
                f"print(os.path.exists({str(keep / 'marker')!r}), "
                f"os.path.exists({str(other / 'secret')!r}))")
        out = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, "-c",
                              code], capture_output=True, text=True, check=True,
                             cwd=sandbox.CODE_ROOTS[0]).stdout.split()
        assert out == ["True", "False"], (
            f"inside the sandbox: kept path visible={out[0]}, another /tmp folder visible={out[1]}")
        assert (other / "secret").exists(), "the private /tmp must not touch the real one"
    finally:
        shutil.rmtree(keep)
        shutil.rmtree(other)


@pytest.mark.skipif(not ROOT, reason="mount namespaces need root and unshare")
def test_sandboxes_starting_at_the_same_moment_do_not_break_each_other():
    """Kernels and probes start side by side (two workers, Dask chunks): each binds back what it
    keeps through a folder in the machine's /dev/shm, which they all share. Sharing one name
    there once failed one start in three ("the kernel died" for a correct submission)."""
    from grader.kernel_launcher import STAGE

    keep = Path(tempfile.mkdtemp(prefix="course-clone-", dir="/tmp"))
    (keep / "marker").write_text("venv")
    code = ("import os; from grader.kernel_launcher import _private_tmp; "
            f"_private_tmp([{str(keep)!r}]); print(os.path.exists({str(keep / 'marker')!r}))")
    before = {p.name for p in Path(STAGE).iterdir()}
    failed = []
    try:
        for _ in range(3):
            starts = [subprocess.Popen(["unshare", "-m", "--propagation", "private",
                                        sys.executable, "-c", code], cwd=sandbox.CODE_ROOTS[0],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                      for _ in range(12)]
            for start in starts:
                out, err = start.communicate(timeout=60)
                if start.returncode or out.strip() != "True":
                    failed.append((err.strip().splitlines() or [out])[-1])
    finally:
        shutil.rmtree(keep)
    assert not failed, f"{len(failed)} of 36 sandboxes started together failed: {failed[:3]}"
    left = {p.name for p in Path(STAGE).iterdir()} - before
    assert not {n for n in left if n.startswith(".grader-stage")}, f"left behind in {STAGE}: {left}"


def test_grading_kernels_run_single_threaded_without_the_graders_secrets():
    """Parallel kernels on shared cores: spinning BLAS threads would inflate timed tests' CPU."""
    from grader.kernel_launcher import kernel_env

    env = kernel_env({"PATH": "/usr/bin", "JPY_SESSION": "secret", "GRADER_KEY": "k",
                      "OMP_NUM_THREADS": "8"})
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1"
    assert "JPY_SESSION" not in env and "GRADER_KEY" not in env
    assert env["HOME"] == "/tmp" and env["MPLBACKEND"] == "Agg" and env["PATH"] == "/usr/bin"


def test_grading_from_a_copy_keeps_the_installed_nnlib_and_hides_its_solutions(tmp_path):
    """`python -m grader` run inside a copy imports grader from the copy, while kernels import nnlib
    from the installed checkout: both must stay reachable, and both checkouts' hidden tests
    hidden."""
    copy = tmp_path / "course"
    shutil.copytree(Path(sandbox.__file__).parent, copy / "grader",
                    ignore=shutil.ignore_patterns("__pycache__"))
    code = ("import json, grader.sandbox as s; "
            "print(json.dumps([s.CODE_ROOTS, s._code_roots_private()]))")
    roots, private = json.loads(subprocess.run([sys.executable, "-c", code], cwd=copy,
                                               capture_output=True, text=True,
                                               check=True).stdout)
    import nnlib

    installed = str(Path(nnlib.__file__).resolve().parents[1])
    assert str(copy) in roots and installed in roots, roots
    assert str(Path(installed) / "solutions") in private, private


@pytest.mark.skipif(os.geteuid() != 0, reason="uids are only leased when grading as root")
def test_concurrent_grading_runs_never_share_a_uid(tmp_path, monkeypatch):
    """Two runs at once lease disjoint slots, and a slot is free again once its lease ends.

    Two runs that shared a uid killed each other's kernels (kill_uid after every job): the
    make-grade and adversarial tests, run side by side, saw 'the kernel died' for honest students.
    """
    # Apart from real grading runs: own locks, and uids no run uses (a lease kills what its uids
    # left behind, which would be a real run's kernels).
    monkeypatch.setattr(sandbox, "LOCK_DIR", tmp_path / "locks")
    monkeypatch.setattr(sandbox, "BASE_UID", UNUSED_UIDS)
    with sandbox.lease_slots(2) as first, sandbox.lease_slots(2) as second:
        assert len(set(first)) == 2 and len(set(second)) == 2
        assert not set(first) & set(second), f"runs share slots: {first} and {second}"
        # a separate process (a second `make grade`) is kept off both runs' slots too
        code = ("from pathlib import Path\nfrom grader import sandbox\n"
                f"sandbox.LOCK_DIR = Path({str(sandbox.LOCK_DIR)!r})\n"
                f"sandbox.BASE_UID = {UNUSED_UIDS}\n"
                "with sandbox.lease_slots(1) as s:\n    print(s[0])")
        other = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                   check=True).stdout)
        assert other not in set(first) | set(second)
    with sandbox.lease_slots(1) as again:
        assert again == [min(first + second)], "an ended lease must free its slots"


@pytest.mark.skipif(os.geteuid() != 0, reason="uids are only leased when grading as root")
def test_a_lease_that_cannot_be_met_says_why(tmp_path, monkeypatch):
    """Asking for more slots than exist fails with a message naming the lock folder."""
    monkeypatch.setattr(sandbox, "LOCK_DIR", tmp_path / "locks")
    monkeypatch.setattr(sandbox, "BASE_UID", UNUSED_UIDS)
    monkeypatch.setattr(sandbox, "SLOT_COUNT", 3)
    with pytest.raises(RuntimeError, match="grading slots are free"), sandbox.lease_slots(4):
        pass


def _hide_with(tmp_path, monkeypatch, on_mount):
    """kernel_launcher._hide on one private file, with mount(2) replaced by ``on_mount``."""
    from grader import kernel_launcher

    path = tmp_path / ".grader-status.json"
    path.write_text("{}")
    mounted = []

    def fake_mount(source, target, fstype=None, flags=0, data=None):
        on_mount(path, len(mounted))
        mounted.append((source, target))

    monkeypatch.setattr(kernel_launcher, "_mount", fake_mount)
    kernel_launcher._hide([str(path)])
    return mounted


def _enoent(what):
    import errno

    return OSError(errno.ENOENT, f"mount /dev/null on {what}: No such file or directory")


def test_a_private_file_replaced_while_it_is_hidden_is_still_hidden(tmp_path, monkeypatch):
    """The grader replaces its status file while kernels start: a mount that finds the name
    missing for a moment is tried again, and the file ends up covered."""
    calls = []

    def replaced_once(path, n):
        calls.append(n)
        if len(calls) == 1:
            raise _enoent(path)

    assert _hide_with(tmp_path, monkeypatch, replaced_once) == [
        ("/dev/null", str(tmp_path / ".grader-status.json"))]
    assert len(calls) == 2


def test_a_private_file_that_is_gone_is_skipped_not_fatal(tmp_path, monkeypatch):
    """A file deleted between the look and the mount has nothing left to hide: the kernel starts."""
    def deleted(path, n):
        path.unlink()
        raise _enoent(path)

    assert _hide_with(tmp_path, monkeypatch, deleted) == []


def test_other_mount_errors_still_stop_the_kernel(tmp_path, monkeypatch):
    """Only a missing name is retried: a refused mount is not a reason to start unhidden."""
    import errno

    def refused(path, n):
        raise OSError(errno.EPERM, "mount: Operation not permitted")

    with pytest.raises(OSError, match="not permitted"):
        _hide_with(tmp_path, monkeypatch, refused)
