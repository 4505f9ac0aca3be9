"""The course in a real browser: a throwaway copy of the course, served by `make lab`, and Chromium.

The copy keeps the repository's own gradebook, submissions and notebooks untouched; JupyterLab is
started by the Makefile target a student runs (with the running interpreter's virtual environment,
never reinstalling it), on a free port with a token, and its whole process group is stopped
afterwards. Chromium is Debian's (``/usr/bin/chromium``, or ``$COURSE_CHROMIUM``), driven by
Playwright; without it every browser test is skipped with the reason.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from labkit import REPO, VENV, copy_course, serve_lab, stop_group

ARTIFACTS = REPO / "test-artifacts" / "e2e"
TOKEN = "course-e2e-browser-token"
# JupyterLab settings of the test server: no news or update prompts over the notebooks, and every
# cell in the page (JupyterLab 4 otherwise renders only the cells near the viewport).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def shot():
    """``shot(page, name)`` saves a screenshot as test-artifacts/e2e/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    return save


@pytest.fixture(scope="module")
def course(chromium, tmp_path_factory) -> Path:
    """A fresh copy of the course: its notebooks, nbgrader config and bundled samples."""
    return copy_course(tmp_path_factory.mktemp("e2e") / "course")


class Grading:
    """``python -m grader`` on the copy, in the background: the release first, then the grading."""

    def __init__(self, course: Path, log: Path):
        self.course, self.log = course, log
        self.released = threading.Event()
        self.returncodes: list[int] = []
        self.procs: list[subprocess.Popen] = []
        self.marker = f"--course {course}"
        self._stopped = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _step(self, *args: str) -> int:
        env = dict(
            os.environ,
            PATH=f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            MPLBACKEND="Agg",
        )
        with open(self.log, "a") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "grader", *args, "--course", str(self.course)],
                cwd=self.course,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc.wait()

    def _run(self):
        # `grader run` is `grader release` followed by `grader run --no-release`; split, the
        # student's exercise can be written once its release is in place.
        self.returncodes.append(self._step("release"))
        self.released.set()
        if self.returncodes[0] == 0 and not self._stopped:
            self.returncodes.append(
                self._step("run", "--no-release", "--workers", "2", "--no-progress")
            )

    def wait_released(self, timeout: float = 120) -> None:
        assert self.released.wait(timeout), (
            f"grader release did not finish:\n{self.log.read_text()}"
        )
        assert self.returncodes[0] == 0, f"grader release failed:\n{self.log.read_text()}"

    def wait(self, timeout: float = 240) -> str:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"grading did not finish:\n{self.log.read_text()}"
        assert self.returncodes == [0, 0], (
            f"grading failed {self.returncodes}:\n{self.log.read_text()}"
        )
        return self.log.read_text()

    def stop(self) -> None:
        self._stopped = True
        for proc in self.procs:
            stop_group(proc, self.marker, "python -m grader")
        self._thread.join(30)


@pytest.fixture(scope="module")
def grading(course, tmp_path_factory):
    """Grades the bundled samples in the copy while the student scenarios run."""
    g = Grading(course, tmp_path_factory.mktemp("grading") / "grader.log")
    try:
        yield g
    finally:
        g.stop()


class Lab:
    """A running `make lab`: its URLs, and the environment its server (and so its kernels) got."""

    def __init__(self, base: str, env: dict[str, str], log: Path):
        self.base, self.env, self.log = base, env, log

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}?token={TOKEN}"


def _server_env(proc: subprocess.Popen) -> dict[str, str]:
    import psutil

    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            if any("jupyter" in part for part in child.cmdline()[:2]):
                return child.environ()
        except psutil.Error:
            continue
    raise RuntimeError("no jupyter process under make lab")


@pytest.fixture(scope="module")
def lab(course, tmp_path_factory) -> Lab:
    """`make lab` in the copy, started from a shell like a student's (no MPLBACKEND of ours)."""
    state = tmp_path_factory.mktemp("lab")
    with serve_lab(course, state, TOKEN, settings=LAB_SETTINGS) as (base, proc):
        yield Lab(base, _server_env(proc), state / "lab.log")


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"({exc})"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test's report ends with the server's log (a kernel that died, a server
    error) and the background grading's, which the screenshot cannot show."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    funcargs = getattr(item, "funcargs", {})
    if isinstance(funcargs.get("lab"), Lab):
        report.sections.append(("JupyterLab server log (end)", _tail(funcargs["lab"].log)))
    if isinstance(funcargs.get("grading"), Grading):
        report.sections.append(("background grading log (end)", _tail(funcargs["grading"].log)))


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(60_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture
def log_in(browser, hub):
    """Log in as one of ``hub.names`` through the hub's login page; returns the page once that
    user's JupyterLab shows nbgrader's menu (``hub``: the module's own running hub)."""
    from hubkit import PASSWORD  # the throw-away hub's shared password

    contexts = []

    def open_as(key: str):
        user = hub.names[key]
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(90_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{hub.url}/hub/login")
        page.fill("#username_input", user)
        page.fill("#password_input", PASSWORD)
        page.click("#login_submit")
        # The hub starts the user's server and sends the browser on to its JupyterLab.
        page.wait_for_url(re.compile(rf"/user/{re.escape(user)}/lab"), timeout=180_000)
        page.locator(".lm-MenuBar-item", has_text="Nbgrader").first.wait_for(timeout=120_000)
        return page

    yield open_as
    for context in contexts:
        context.close()
