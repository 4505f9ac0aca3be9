"""A throw-away JupyterHub of the course, for tests/hub and tests/e2e (needs root).

``running_hub()`` sets it up with hub/setup_hub.py and hub/add_users.py exactly as ``make hub``
does, but in a temporary folder, on free loopback ports, with throw-away users
(``anntest-<random>-...``) and groups that are removed afterwards, together with every process they
ran. The environment the users' servers run in reuses this test run's packages (``--site-packages``)
instead of installing. Logins go through the hub's login form with a shared test password
(``ANN_HUB_TEST_MODE``).
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
import requests
from labkit import free_port

REPO = Path(__file__).resolve().parents[1]
PASSWORD = secrets.token_urlsafe(16)


PROXY = REPO / "node_modules" / ".bin" / "configurable-http-proxy"


def require_root_and_proxy() -> None:
    """Skip (not root, no npm) or fail (npm there but the proxy not installed) with the reason,
    before anything is created. The proxy is the checkout's own (package.json): make installs it
    into node_modules/ with npm, and hub/jupyterhub_config.py starts that one."""
    if os.geteuid() != 0:
        pytest.skip("the hub tests create Unix users and run servers as them: they need root "
                    "(CI runs as root)")
    if PROXY.exists():
        return
    if not shutil.which("npm"):
        pytest.skip("no npm: the hub's proxy (configurable-http-proxy) is installed with npm; "
                    "install Node.js with npm and `make test` installs it into node_modules/")
    pytest.fail(f"{PROXY.relative_to(REPO)} is missing: `make test` installs it (npm ci), or run "
                "`npm ci` in the checkout")


def readable_by_all(path: Path) -> bool:
    path = path.resolve()
    return all(p.stat().st_mode & 0o001 for p in [path, *path.parents]) and bool(
        path.stat().st_mode & 0o004)


def users_python() -> str:
    """An interpreter that other users can run (not one under root's home) and that can make a
    venv (the hub's environment); skip with the reason when there is none."""
    tried = []
    for candidate in ("/usr/bin/python3.11", sys._base_executable, sys.executable):
        if not candidate or not Path(candidate).exists() or candidate in tried:
            continue
        tried.append(candidate)
        if not readable_by_all(Path(candidate)):
            continue
        check = "import sys, venv; assert sys.version_info[:2] == (3, 11)"
        probe = subprocess.run([candidate, "-c", check], capture_output=True, check=False,
                               timeout=60)
        if probe.returncode == 0:
            return str(Path(candidate).resolve())
    pytest.skip("no Python 3.11 with venv that other users can run (tried "
                f"{', '.join(tried) or 'none'}): install Debian's python3.11 "
                "(apt-get install python3.11-venv)")


def shared_site_packages(tmp: Path) -> Path:
    """This run's site-packages, or (when it is not readable by others) a hard-linked copy."""
    site = Path(sysconfig.get_paths()["purelib"])
    if readable_by_all(site):
        return site
    prefix = tmp / "env"
    for part in ("lib", "share", "etc"):
        if (Path(sys.prefix) / part).exists():
            subprocess.run(["cp", "-al", str(Path(sys.prefix) / part), str(prefix / part)],
                           check=False)
            if not (prefix / part).exists():
                shutil.copytree(Path(sys.prefix) / part, prefix / part, symlinks=True)
    subprocess.run(["chmod", "-R", "a+rX", str(prefix)], check=True)
    return prefix / site.relative_to(sys.prefix)


def as_user(user: str, *cmd: str, cwd: str | Path = "/", env: dict | None = None):
    """Run ``cmd`` as ``user`` (its own uid and groups, like the spawner's processes)."""
    full = ["runuser", "-u", user, "--", "env", *(f"{k}={v}" for k, v in (env or {}).items()),
            *cmd]
    return subprocess.run(full, capture_output=True, text=True, cwd=cwd, timeout=120, check=False)


def wait_for(what: str, check, timeout: float, proc: subprocess.Popen | None = None, log=None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the hub exited with {proc.returncode} while waiting for {what}\n"
                        f"{log.read_text() if log else ''}")
        try:
            result = check()
            if result:
                return result
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout} s waiting for {what} (last error: {last})\n"
                f"{log.read_text()[-6000:] if log else ''}")


def start_jupyterhub(settings: dict, env: dict, log: Path) -> subprocess.Popen:
    """``jupyterhub -f hub/jupyterhub_config.py`` as make hub runs it, its output appended to
    ``log``."""
    with open(log, "a") as fh:
        return subprocess.Popen(
            [f"{settings['venv']}/bin/jupyterhub",
             "-f", str(REPO / "hub" / "jupyterhub_config.py")],
            cwd=settings["state_dir"], env=env, stdout=fh, stderr=subprocess.STDOUT,
            start_new_session=True)


def wait_jupyterhub(proc: subprocess.Popen, env: dict, log: Path) -> None:
    """Until the hub answers and the formgrader service is up (fails when the hub exits)."""
    url = f"http://127.0.0.1:{env['ANN_HUB_PORT']}"
    wait_for("the hub", lambda: requests.get(f"{url}/hub/api/", timeout=5).ok, 90, proc, log)
    wait_for("the formgrader service",
             lambda: requests.get(f"{url}/services/ann-course/", timeout=5,
                                  allow_redirects=False).status_code in (302, 200),
             90, proc, log)


def stop_jupyterhub(proc: subprocess.Popen) -> None:
    """SIGTERM, as an admin's Ctrl-C or systemd: the hub stops the servers and its services."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def service_processes(name: str, user: str | None = None) -> list[psutil.Process]:
    """The processes a hub-managed service ``name`` runs as (JupyterHub gives each the
    JUPYTERHUB_SERVICE_NAME variable), those of ``user`` only when given."""
    found = []
    for p in psutil.process_iter(["username"]):
        if user is not None and p.info["username"] != user:
            continue
        try:
            if p.environ().get("JUPYTERHUB_SERVICE_NAME") == name:
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


class Hub:
    def __init__(self, tmp: Path, settings: dict, url: str, proc, log: Path, names: dict,
                 env: dict):
        self.tmp, self.settings, self.url, self.proc, self.log = tmp, settings, url, proc, log
        self.names, self.env = names, env
        self.course = Path(settings["course_dir"])
        self.exchange = Path(settings["exchange"])
        self.venv = Path(settings["venv"])

    def stop(self) -> None:
        """Stop the hub (SIGTERM) and wait for it."""
        stop_jupyterhub(self.proc)

    def restart(self, **env: str) -> None:
        """Stop the hub, then start it again on the same set-up and ports with ``env`` added to
        (or, for an empty value, removed from) the environment it started with."""
        self.stop()
        for key, value in env.items():
            if value:
                self.env[key] = value
            else:
                self.env.pop(key, None)
        self.proc = start_jupyterhub(self.settings, self.env, self.log)
        wait_jupyterhub(self.proc, self.env, self.log)

    def release(self, assignment: str, due: str = "2099-01-01 00:00:00 UTC") -> None:
        """Instructor i1 releases ``assignment`` with nbgrader's commands, as in a class: the due
        date, the gradebook's record, the exchange."""
        user = self.names["i1"]
        for step in (["db", "assignment", "add", assignment, f"--duedate={due}"],
                     ["generate_assignment", assignment, "--force"],
                     ["release_assignment", assignment]):
            done = as_user(user, "nbgrader", *step, cwd=self.course,
                           env=self.nbgrader_env(user, "instructor"))
            assert done.returncode == 0, done.stdout + done.stderr

    def grade_as_root(self) -> subprocess.CompletedProcess:
        """``python -m grader run`` on the collected submissions of the course folder, as root, as
        ``sudo make grade`` does there (its releases as they are)."""
        return subprocess.run(
            [sys.executable, "-m", "grader", "run", "--course", str(self.course), "--no-release",
             "--workers", "1", "--no-progress"],
            cwd=self.course, capture_output=True, text=True, timeout=600, check=False,
            env={**os.environ, "MPLBACKEND": "Agg",
                 "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})

    def home(self, user: str) -> Path:
        return Path(pwd.getpwnam(user).pw_dir)

    def nbgrader_env(self, user: str, role: str) -> dict:
        return {"PATH": f"{self.venv}/bin:/usr/bin:/bin", "HOME": str(self.home(user)),
                "JUPYTER_CONFIG_PATH": f"{self.settings['prefix']}/etc/roles/{role}"}

    def login(self, user: str) -> requests.Session:
        s = requests.Session()
        s.get(f"{self.url}/hub/login", timeout=30).raise_for_status()
        r = s.post(f"{self.url}/hub/login", timeout=60, allow_redirects=False,
                   data={"username": user, "password": PASSWORD, "_xsrf": s.cookies["_xsrf"]})
        assert r.status_code == 302, f"login of {user}: {r.status_code} {r.text[:500]}"
        return s

    def start_server(self, s: requests.Session, user: str) -> None:
        r = s.post(f"{self.url}/hub/api/users/{user}/server", timeout=60,
                   headers=self.xsrf(s, "/hub"))
        assert r.status_code in (201, 202), f"starting {user}'s server: {r.status_code} {r.text}"

    def wait_ready(self, s: requests.Session, user: str) -> None:
        def ready():
            r = s.get(f"{self.url}/hub/api/users/{user}", timeout=30,
                      headers=self.xsrf(s, "/hub"))
            r.raise_for_status()
            return r.json()["servers"].get("", {}).get("ready")

        wait_for(f"{user}'s server", ready, 120, self.proc, self.log)
        # Open it as a browser does: the server's OAuth hand-shake with the hub sets its cookie.
        r = s.get(f"{self.url}/user/{user}/lab", timeout=60)
        assert r.status_code == 200 and r.url.startswith(f"{self.url}/user/{user}/"), r.url

    def assignment_list(self, s: requests.Session, user: str, action: str,
                        assignment: str) -> dict:
        """Press an Assignment List button (``fetch``, ``submit``, ``fetch_feedback``) as the
        logged-in ``user``: the request JupyterLab's extension sends to nbgrader in their
        server."""
        r = s.post(f"{self.url}/user/{user}/assignments/{action}", timeout=120,
                   headers=self.xsrf(s, f"/user/{user}"),
                   data={"course_id": "ann-course", "assignment_id": assignment})
        assert r.status_code == 200 and r.json()["success"], (action, r.text[:2000])
        return r.json()

    def xsrf(self, s: requests.Session, path: str) -> dict:
        """The XSRF header for POSTs to the server at ``path`` (its own ``_xsrf`` cookie)."""
        token = next(c.value for c in s.cookies if c.name == "_xsrf" and c.path.rstrip("/") == path)
        return {"X-XSRFToken": token}



@contextmanager
def running_hub(env: dict[str, str] | None = None, course_config: str = ""):
    """Yield a running :class:`Hub` with students ``s1``, ``s2`` and instructor ``i1``.

    ``env``: more variables for the hub (e.g. ``ANN_HUB_FEEDBACK``); ``course_config``: lines
    appended to the course folder's grader_config.py before the hub starts (e.g. the feedback
    service's settings)."""
    require_root_and_proxy()
    extra_env = dict(env or {})
    tag = f"anntest-{secrets.token_hex(3)}"
    python = users_python()
    tmp = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir="/tmp"))
    tmp.chmod(0o755)
    names = {"instructors": f"{tag}-ins", "students": f"{tag}-stu", "grader": f"{tag}-g",
             "s1": f"{tag}-s1", "s2": f"{tag}-s2", "i1": f"{tag}-i1"}
    users = [names[k] for k in ("s1", "s2", "i1", "grader")]
    proc = hub = None
    log = tmp / "hub.log"
    t0 = time.monotonic()

    def note(what):
        print(f"[hub test] {time.monotonic() - t0:5.1f} s {what}", file=sys.stderr, flush=True)

    try:
        subprocess.run(
            [python, str(REPO / "hub" / "setup_hub.py"), "--prefix", str(tmp / "opt"),
             "--course-dir", str(tmp / "srv" / "course"),
             "--exchange", str(tmp / "srv" / "exchange"),
             "--state-dir", str(tmp / "srv" / "hub"), "--home-base", str(tmp / "home"),
             "--python", python, "--instructors-group", names["instructors"],
             "--students-group", names["students"], "--grader-user", names["grader"],
             "--site-packages", str(shared_site_packages(tmp))],
            check=True, capture_output=True, text=True, timeout=300)
        note("set up")
        settings_file = tmp / "opt" / "etc" / "hub.json"
        roster = tmp / "roster.csv"
        roster.write_text("id,first_name,last_name,email\n"
                          f"{names['s1']},Ada,Lovelace,ada@example.org\n"
                          f"{names['s2']},Alan,Turing,\n")
        env = {**os.environ, "ANN_HUB_SETTINGS": str(settings_file)}
        subprocess.run([python, str(REPO / "hub" / "add_users.py"), "--roster", str(roster),
                        "--instructors", names["i1"]], check=True, env=env, capture_output=True,
                       text=True, timeout=120)
        note("users added")
        port = free_port()
        env.update({"ANN_HUB_TEST_MODE": "1", "ANN_HUB_TEST_PASSWORD": PASSWORD,
                    "ANN_HUB_PORT": str(port), "ANN_HUB_API_PORT": str(free_port()),
                    "ANN_HUB_INTERNAL_PORT": str(free_port()),
                    "ANN_HUB_FORMGRADER_PORT": str(free_port())})
        env.update(extra_env)
        settings = json.loads(settings_file.read_text())
        if course_config:
            with open(Path(settings["course_dir"]) / "grader_config.py", "a") as fh:
                fh.write("\n" + course_config.strip("\n") + "\n")
        log.write_text("")
        proc = start_jupyterhub(settings, env, log)
        hub = Hub(tmp, settings, f"http://127.0.0.1:{port}", proc, log, names, env)
        wait_jupyterhub(proc, env, log)
        note("hub and formgrader up")
        yield hub
    finally:
        if hub is not None:
            proc = hub.proc  # the one started last (Hub.restart)
        if proc is not None:
            stop_jupyterhub(proc)  # the hub stops the servers and the services first
        for user in users:  # anything these throw-away users still run
            subprocess.run(["pkill", "-KILL", "-u", user], check=False)
        for user in users:
            subprocess.run(["userdel", "--remove", user], capture_output=True, check=False)
        for group in (names["instructors"], names["students"], *users):
            subprocess.run(["groupdel", group], capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)


