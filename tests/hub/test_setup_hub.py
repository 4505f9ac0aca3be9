"""hub/setup_hub.py copies into the class's course folder what git has of the checkout, never the
checkout's own grading state (gradebook, grades.csv, the grader's status file, feedback, the built
site, environments): what a fresh clone has, plus the instructor's untracked, unignored files."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("setup_hub", REPO / "hub" / "setup_hub.py")
setup_hub = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(setup_hub)

TRACKED = ["grader_config.py", "nbgrader_config.py", "students.csv", ".gitignore",
           "solutions/01_activations/activations.ipynb", "lectures/00_start_here.ipynb",
           "hub/setup_hub.py"]
# Untracked and not ignored: an instructor's new work, which belongs to the course.
UNTRACKED = ["solutions/07_new/new.ipynb", "notes-for-graders.md"]
# What grading, testing and building leave in a checkout; .gitignore names every one.
STATE = ["gradebook.db", "grades.csv", ".grader-status.json", ".nbgrader.log",
         "submitted/alice/01_activations/activations.ipynb",
         "autograded/alice/01_activations/activations.ipynb",
         "feedback/alice/01_activations/activations.html", "release/01_activations/a.ipynb",
         "exchange/ann-course/inbound/x.ipynb", "_site/index.html", "build/site/x.html",
         "node_modules/.bin/configurable-http-proxy", ".venv/bin/python",
         "ann_course.egg-info/PKG-INFO", "lectures/__pycache__/x.pyc",
         "solutions/01_activations/.ipynb_checkpoints/activations-checkpoint.ipynb",
         "test-artifacts/e2e/shot.png", ".pytest_cache/v/x", "grades.csv.tmp", "similarity.csv",
         "similarity/01_activations.html"]
# The feedback service's queue and log (python -m grader serve in the checkout): state of the
# checkout's own, left out by hub/setup_hub.py whether or not .gitignore names it.
SERVICE_STATE = [".feedback-service/queue.sqlite", ".feedback-service/service.log"]


def _write(root: Path, rel: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(f"{rel}\n")


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=Course", "-c", "user.email=course@example.org",
                           "-C", str(root), *args], capture_output=True, text=True,
                          check=True).stdout


def _checkout(root: Path, git: bool) -> Path:
    """A checkout with the repository's .gitignore, tracked files, and the state grading leaves."""
    root.mkdir()
    for rel in TRACKED:
        _write(root, rel)
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    if git:
        _git(root, "init", "-q")
        _git(root, "add", "--", *TRACKED)
        _git(root, "commit", "-q", "-m", "course")
    for rel in UNTRACKED + STATE + SERVICE_STATE:
        _write(root, rel)
    return root


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() or p.is_symlink()}


@pytest.fixture(params=["git checkout", "not a git checkout"])
def checkout(request, tmp_path, monkeypatch):
    git = request.param == "git checkout"
    if git and not shutil.which("git"):
        pytest.skip("git is not installed")
    src = _checkout(tmp_path / "checkout", git)
    monkeypatch.setattr(setup_hub, "CHECKOUT", src)  # what `make hub` copies
    return src


def test_the_course_folder_gets_the_course_and_none_of_the_checkouts_state(checkout, tmp_path,
                                                                            capsys):
    dest = tmp_path / "course"
    setup_hub.copy_course(dest)
    copied = _files(dest)
    leaked = sorted(set(STATE + SERVICE_STATE) & copied)
    assert not leaked, f"grading state of the checkout reached the class's course folder: {leaked}"
    expected = (set(TRACKED) | set(UNTRACKED)) - {"students.csv"}
    assert copied == expected, (sorted(copied - expected), sorted(expected - copied))
    assert (dest / "grader_config.py").read_text() == "grader_config.py\n"
    says = capsys.readouterr().out
    assert ("not a git checkout" in says) == (not (checkout / ".git").exists()), says


def test_nothing_git_ignores_in_this_checkout_would_be_copied():
    """The real checkout, as `make hub` would copy it now: no path .gitignore ignores, and every
    tracked file but the sample roster."""
    tracked = setup_hub.git_files(REPO)
    if tracked is None:
        pytest.skip(f"{REPO} is not a git checkout")
    files = setup_hub.course_files(REPO)
    ignored = subprocess.run(["git", "-C", str(REPO), "check-ignore", "--no-index", "--stdin"],
                             input="\n".join(files), capture_output=True, text=True,
                             check=False).stdout.split()
    assert not ignored, f"would copy ignored files: {ignored[:10]}"
    listed = set(subprocess.run(["git", "-C", str(REPO), "ls-files"], capture_output=True,
                                text=True, check=True).stdout.splitlines())
    missing = sorted(listed - set(files) - {"students.csv"})
    assert not [m for m in missing if (REPO / m).exists()], missing[:10]


def test_the_feedback_service_setting_stays_until_changed(tmp_path):
    """`make hub` runs hub/setup_hub.py each time: --no-feedback-service once keeps the service
    off in hub.json until --feedback-service; a new hub has it on."""
    hub_json = tmp_path / "hub.json"
    assert setup_hub.feedback_service(hub_json, None) is True  # a new hub
    hub_json.write_text('{"feedback_service": false}')
    assert setup_hub.feedback_service(hub_json, None) is False  # kept from the last set-up
    assert setup_hub.feedback_service(hub_json, True) is True
    hub_json.write_text('{"feedback_service": true}')
    assert setup_hub.feedback_service(hub_json, False) is False
    hub_json.write_text('{"course_id": "ann-course"}')  # written before the setting existed
    assert setup_hub.feedback_service(hub_json, None) is True
    # Neither flag: None, "as before".
    for flags, asked in (([], None), (["--no-feedback-service"], False),
                         (["--feedback-service"], True)):
        assert setup_hub.build_parser().parse_args(flags).feedback_service is asked, flags
