"""The course's JupyterHub, for real: Unix users, their own servers, the formgrader, the exchange.

One hub for the module (tests/hubkit.py): set up by hub/setup_hub.py and hub/add_users.py as
``make hub`` does, in a temporary folder with throw-away users, removed afterwards. Needs root
(useradd, servers as other uids) and the checkout's configurable-http-proxy, which ``make test``
installs into node_modules/ with npm (package.json); without root or npm these tests are skipped.
"""

from __future__ import annotations

import grp
import pwd
import stat
import subprocess
from pathlib import Path

import psutil
import pytest
from hubkit import PROXY, REPO, as_user, running_hub

ASSIGNMENT = "01_activations"
NOTEBOOK = "activations.ipynb"

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def hub():
    with running_hub() as h:
        yield h


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


def test_the_hub_runs_the_checkouts_own_proxy(hub):
    """The proxy is the version package.json pins, installed into node_modules/, even when another
    configurable-http-proxy is on PATH."""
    proxies = [p for p in psutil.Process(hub.proc.pid).children(recursive=True)
               if any("configurable-http-proxy" in a for a in p.cmdline())]
    assert proxies, "the hub started no configurable-http-proxy"
    scripts = {Path(a).resolve() for p in proxies for a in p.cmdline()
               if a.endswith("configurable-http-proxy")}
    assert scripts == {PROXY.resolve()}, f"the hub ran {scripts}, not the checkout's {PROXY}"


def test_the_course_folder_holds_nothing_git_ignores(hub):
    """make hub's course folder is what git has of the checkout: none of its grading state, built
    site or environments. Only what the set-up itself makes there (the class's own empty gradebook
    and the link to the exchange) is of the kind .gitignore names."""
    made = {"gradebook.db", "exchange"}
    files = [str(p.relative_to(hub.course)) for p in hub.course.rglob("*")
             if (p.is_file() or p.is_symlink()) and str(p.relative_to(hub.course)) not in made]
    assert "grader_config.py" in files and any(f.startswith("solutions/") for f in files)
    ignored = subprocess.run(["git", "-C", str(REPO), "check-ignore", "--no-index", "--stdin"],
                             input="\n".join(files), capture_output=True, text=True,
                             check=False).stdout.split()
    assert not ignored, (
        f"the class's course folder got ignored files of the checkout: {ignored[:10]}")


def test_each_user_has_their_own_server_under_their_own_uid(hub, sessions):
    pids = set()
    for k in ("s1", "s2", "i1"):
        user = hub.names[k]
        proc = server_process(user)
        pw = pwd.getpwnam(user)
        assert proc.uids().real == proc.uids().effective == pw.pw_uid, user
        assert proc.cwd() == pw.pw_dir
        # Students' files are private, instructors' stay shared with their group.
        status = Path(f"/proc/{proc.pid}/status").read_text().splitlines()
        umask = next(line.split()[1] for line in status if line.startswith("Umask:"))
        assert umask == ("0007" if k == "i1" else "0077"), (user, umask)
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
        hub.assignment_list(sessions["s1"], s1, action, ASSIGNMENT)
    fetched = hub.home(s1) / "ann-course" / ASSIGNMENT / NOTEBOOK  # path_includes_course
    assert fetched.stat().st_uid == pwd.getpwnam(s1).pw_uid

    # Collect (as the grader account) puts it into the course folder, where only graders read it.
    col = as_user(grader, "nbgrader", "collect", ASSIGNMENT, cwd=hub.course,
                  env=hub.nbgrader_env(grader, "grader"))
    assert col.returncode == 0, col.stdout + col.stderr
    collected = hub.course / "submitted" / s1 / ASSIGNMENT / NOTEBOOK
    assert collected.is_file()
    assert as_user(hub.names["s2"], "cat", str(collected)).returncode != 0
