"""The course's JupyterHub, for real: Unix users, their own servers, the formgrader, the exchange.

One hub for the module, set up by hub/setup_hub.py and hub/add_users.py exactly as ``make hub`` does,
but in a temporary folder, on free loopback ports, with throw-away users (``anntest-<random>-...``)
and groups that are removed afterwards, together with every process they ran. The environment the
users' servers run in reuses this test run's packages (``--site-packages``) instead of installing.
Logins go through the hub's login form with a shared test password (``ANN_HUB_TEST_MODE``).

Needs root (useradd, servers as other uids) and configurable-http-proxy; CI has both.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import psutil
import pytest
import requests
from labkit import free_port

REPO = Path(__file__).resolve().parents[2]
TAG = f"anntest-{secrets.token_hex(3)}"
PASSWORD = secrets.token_urlsafe(16)
ASSIGNMENT = "01_activations"
NOTEBOOK = "activations.ipynb"

pytestmark = pytest.mark.hub


def readable_by_all(path: Path) -> bool:
    path = path.resolve()
    return all(p.stat().st_mode & 0o001 for p in [path, *path.parents]) and bool(
        path.stat().st_mode & 0o004)


def users_python() -> str:
    """An interpreter that other users can run (not one under root's home)."""
    for candidate in ("/usr/bin/python3.11", sys._base_executable, sys.executable):
        if candidate and Path(candidate).exists() and readable_by_all(Path(candidate)):
            return str(Path(candidate).resolve())
    pytest.fail("no Python 3.11 that other users can run: install Debian's python3.11 "
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


class Hub:
    def __init__(self, tmp: Path, settings: dict, url: str, proc, log: Path, names: dict):
        self.tmp, self.settings, self.url, self.proc, self.log = tmp, settings, url, proc, log
        self.names = names
        self.course = Path(settings["course_dir"])
        self.exchange = Path(settings["exchange"])
        self.venv = Path(settings["venv"])

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

    def xsrf(self, s: requests.Session, path: str) -> dict:
        """The XSRF header for POSTs to the server at ``path`` (its own ``_xsrf`` cookie)."""
        token = next(c.value for c in s.cookies if c.name == "_xsrf" and c.path.rstrip("/") == path)
        return {"X-XSRFToken": token}


@pytest.fixture(scope="module")
def hub():
    if os.geteuid() != 0:
        pytest.skip("the hub test creates Unix users and runs servers as them: it needs root "
                    "(CI runs as root)")
    if not shutil.which("configurable-http-proxy"):
        pytest.fail("configurable-http-proxy is missing: npm install -g configurable-http-proxy")
    python = users_python()
    tmp = Path(tempfile.mkdtemp(prefix=f"{TAG}-", dir="/tmp"))
    tmp.chmod(0o755)
    names = {"instructors": f"{TAG}-ins", "students": f"{TAG}-stu", "grader": f"{TAG}-g",
             "s1": f"{TAG}-s1", "s2": f"{TAG}-s2", "i1": f"{TAG}-i1"}
    users = [names[k] for k in ("s1", "s2", "i1", "grader")]
    proc = None
    log = tmp / "hub.log"
    t0 = time.monotonic()

    def note(what):
        print(f"[hub test] {time.monotonic() - t0:5.1f} s {what}", file=sys.stderr, flush=True)

    try:
        subprocess.run(
            [python, str(REPO / "hub" / "setup_hub.py"), "--prefix", str(tmp / "opt"),
             "--course-dir", str(tmp / "srv" / "course"), "--exchange", str(tmp / "srv" / "exchange"),
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
        settings = json.loads(settings_file.read_text())
        with open(log, "w") as fh:
            proc = subprocess.Popen(
                [f"{settings['venv']}/bin/jupyterhub", "-f", str(REPO / "hub" / "jupyterhub_config.py")],
                cwd=settings["state_dir"], env=env, stdout=fh, stderr=subprocess.STDOUT,
                start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        wait_for("the hub", lambda: requests.get(f"{url}/hub/api/", timeout=5).ok, 90, proc, log)
        note("hub up")
        wait_for("the formgrader service",
                 lambda: requests.get(f"{url}/services/ann-course/", timeout=5,
                                      allow_redirects=False).status_code in (302, 200),
                 90, proc, log)
        note("formgrader up")
        yield Hub(tmp, settings, url, proc, log, names)
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # the hub stops the servers and the service first
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for user in users:  # anything these throw-away users still run
            subprocess.run(["pkill", "-KILL", "-u", user], check=False)
        for user in users:
            subprocess.run(["userdel", "--remove", user], capture_output=True, check=False)
        for group in (names["instructors"], names["students"], *users):
            subprocess.run(["groupdel", group], capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def sessions(hub):
    """Two students and an instructor logged in, each with their own running server."""
    s = {k: hub.login(hub.names[k]) for k in ("s1", "s2", "i1")}
    for k, session in s.items():
        hub.start_server(session, hub.names[k])
    for k, session in s.items():
        hub.wait_ready(session, hub.names[k])
    return s


def server_process(user: str) -> psutil.Process:
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any("jupyterhub-singleuser" in a for a in p.info["cmdline"] or []) and \
                    p.environ().get("JUPYTERHUB_USER") == user:
                return p
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    pytest.fail(f"no jupyterhub-singleuser process for {user}")


def test_each_user_has_their_own_server_under_their_own_uid(hub, sessions):
    pids = set()
    for k in ("s1", "s2", "i1"):
        user = hub.names[k]
        proc = server_process(user)
        pw = pwd.getpwnam(user)
        assert proc.uids().real == proc.uids().effective == pw.pw_uid, user
        assert proc.cwd() == pw.pw_dir
        pids.add(proc.pid)
        r = sessions[k].get(f"{hub.url}/user/{user}/api/status", timeout=30)
        assert r.status_code == 200 and "started" in r.json(), (user, r.status_code, r.text[:300])
    assert len(pids) == 3
    # The lectures were copied into the home, as the user's own files.
    lectures = hub.home(hub.names["s1"]) / "lectures"
    assert any(lectures.glob("*.ipynb"))
    assert lectures.stat().st_uid == pwd.getpwnam(hub.names["s1"]).pw_uid


def test_a_student_cannot_enter_another_users_server(hub, sessions):
    s1, s2, i1 = hub.names["s1"], hub.names["s2"], hub.names["i1"]
    for other in (s2, i1):
        r = sessions["s1"].get(f"{hub.url}/user/{other}/api/contents", timeout=30)
        assert r.status_code in (403, 404), (other, r.status_code, r.url)
    # ... and the hub's API does not hand out another user's model either.
    r = sessions["s1"].get(f"{hub.url}/hub/api/users/{s2}", timeout=30,
                           headers=hub.xsrf(sessions["s1"], "/hub"))
    assert r.status_code in (403, 404)
    assert sessions["s1"].get(f"{hub.url}/user/{s1}/api/contents", timeout=30).status_code == 200


def test_only_instructors_reach_the_formgrader(hub, sessions):
    r = sessions["i1"].get(f"{hub.url}/services/ann-course/formgrader", timeout=60)
    assert r.status_code == 200, (r.status_code, r.url, r.text[:500])
    assert "<title>nbgrader formgrade</title>" in r.text
    api = sessions["i1"].get(f"{hub.url}/services/ann-course/formgrader/api/assignments",
                             timeout=60)
    assert api.status_code == 200 and ASSIGNMENT in {a["name"] for a in api.json()}
    # add_users.py put the roster's students into the gradebook the formgrader shows.
    students = sessions["i1"].get(f"{hub.url}/services/ann-course/formgrader/api/students",
                                  timeout=60).json()
    by_id = {st["id"]: st for st in students}
    assert by_id[hub.names["s1"]]["last_name"] == "Lovelace" and hub.names["s2"] in by_id
    # The instructor's own server has the course list (it points to the service), no formgrader.
    own = f"{hub.url}/user/{hub.names['i1']}"
    assert sessions["i1"].get(f"{own}/formgrader", timeout=30).status_code == 404
    assert sessions["i1"].get(f"{own}/formgraders", timeout=60).status_code == 200
    for k in ("s1", "s2"):
        r = sessions[k].get(f"{hub.url}/services/ann-course/formgrader", timeout=60)
        assert r.status_code in (403, 404), (k, r.status_code, r.url)
        assert "nbgrader formgrade" not in r.text
        # Their own servers have no formgrader and no course list, only the Assignment List.
        own = f"{hub.url}/user/{hub.names[k]}"
        assert sessions[k].get(f"{own}/formgrader", timeout=30).status_code == 404
        assert sessions[k].get(f"{own}/formgrader/api/assignments", timeout=30).status_code == 404
        assert sessions[k].get(f"{own}/formgraders", timeout=30).status_code == 404  # course list
        r = sessions[k].get(f"{own}/assignments", params={"course_id": "ann-course"}, timeout=60)
        assert r.status_code == 200 and r.json()["success"], r.text[:500]


def test_students_cannot_read_the_course_or_each_other(hub, sessions):
    s1, s2, i1 = hub.names["s1"], hub.names["s2"], hub.names["i1"]
    secret = as_user(s2, "sh", "-c", 'echo my answers > "$HOME/notes.txt"',
                     env={"HOME": str(hub.home(s2))})
    assert secret.returncode == 0, secret.stderr
    private = [hub.course / "gradebook.db", hub.course / "solutions" / ASSIGNMENT,
               hub.course / "solutions", hub.home(s2) / "notes.txt", hub.home(i1)]
    for path in private:
        assert path.exists(), path
        denied = as_user(s1, "ls", "-la", str(path) + ("/" if path.is_dir() else ""))
        if not path.is_dir():
            denied = as_user(s1, "cat", str(path))
        assert denied.returncode != 0 and "Permission denied" in denied.stderr, (path, denied)
    # The same commands work for those who should read: instructors read the course folder.
    for path in (hub.course / "gradebook.db", hub.course / "solutions" / ASSIGNMENT):
        ok = as_user(i1, "ls", str(path))
        assert ok.returncode == 0, (path, ok.stderr)
    assert as_user(i1, "head", "-c", "16", str(hub.course / "gradebook.db")).stdout.startswith(
        "SQLite format 3")
    # Modes as documented: homes 0700, the course folder 2770 with the instructors' group.
    for user in (s1, s2, i1):
        assert stat.S_IMODE(hub.home(user).stat().st_mode) == 0o700
    st = hub.course.stat()
    assert stat.S_IMODE(st.st_mode) == 0o2770
    assert st.st_gid == grp.getgrnam(hub.names["instructors"]).gr_gid
    assert stat.S_IMODE((hub.course / "gradebook.db").stat().st_mode) == 0o660


def test_exchange_release_fetch_submit_collect(hub, sessions):
    s1, i1, grader = hub.names["s1"], hub.names["i1"], hub.names["grader"]
    st = hub.exchange.stat()
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o1777 and st.st_uid == 0
    # An instructor releases from the course folder (its exchange/ is the shared one).
    rel = as_user(i1, "nbgrader", "release_assignment", ASSIGNMENT, cwd=hub.course,
                  env=hub.nbgrader_env(i1, "instructor"))
    assert rel.returncode == 0, rel.stdout + rel.stderr
    inbound = hub.exchange / "ann-course" / "inbound"
    outbound = hub.exchange / "ann-course" / "outbound" / ASSIGNMENT
    assert (outbound / NOTEBOOK).is_file()
    st = inbound.stat()  # students write into it and cannot list it; instructors read it
    assert stat.S_IMODE(st.st_mode) == 0o2773, oct(st.st_mode)
    assert st.st_gid == grp.getgrnam(hub.names["instructors"]).gr_gid
    assert not (outbound / "probes.json").exists()  # the hidden checks stay with the graders

    # The student sees it in the Assignment List of their own server, fetches and submits it.
    own = f"{hub.url}/user/{s1}"
    listed = sessions["s1"].get(f"{own}/assignments", params={"course_id": "ann-course"},
                                timeout=60).json()
    assert ASSIGNMENT in {a["assignment_id"] for a in listed["value"]}, listed
    for action in ("fetch", "submit"):
        r = sessions["s1"].post(f"{own}/assignments/{action}", timeout=120,
                                headers=hub.xsrf(sessions["s1"], f"/user/{s1}"),
                                data={"course_id": "ann-course", "assignment_id": ASSIGNMENT})
        assert r.status_code == 200 and r.json()["success"], (action, r.text[:2000])
    fetched = hub.home(s1) / "ann-course" / ASSIGNMENT / NOTEBOOK  # path_includes_course
    assert fetched.stat().st_uid == pwd.getpwnam(s1).pw_uid

    # Collect (as the grader account) puts it into the course folder, where only graders read it.
    col = as_user(grader, "nbgrader", "collect", ASSIGNMENT, cwd=hub.course,
                  env=hub.nbgrader_env(grader, "grader"))
    assert col.returncode == 0, col.stdout + col.stderr
    collected = hub.course / "submitted" / s1 / ASSIGNMENT / NOTEBOOK
    assert collected.is_file()
    assert as_user(hub.names["s2"], "cat", str(collected)).returncode != 0
