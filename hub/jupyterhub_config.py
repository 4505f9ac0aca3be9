"""JupyterHub configuration of the course on one machine (``make hub``).

Reads the paths that hub/setup_hub.py chose from ``hub.json`` (``ANN_HUB_SETTINGS``, by default
/opt/ann-course/etc/hub.json). Each student and instructor is a Unix user with their own
single-user server (LocalProcessSpawner); the formgrader runs once, as a hub service named after the
course (``ann-course``) under the grader account, in the course folder; only the instructors' group
may open it (nbgrader's "one class, multiple graders" set-up). Feedback on submit: a second
service, ``ann-course-feedback`` (no URL: a process the hub starts, restarts when it dies and stops
with itself), runs ``python -m grader serve`` as the grader account in the course folder; it grades
each new submission in the exchange's inbound and leaves a feedback page for the student's Fetch
Feedback.

Environment (all optional):

- ``ANN_HUB_IP`` / ``ANN_HUB_PORT``: where the proxy listens (127.0.0.1:8000). For a class, put the
  hub behind HTTPS (a TLS-terminating reverse proxy, or ``c.JupyterHub.ssl_cert``/``ssl_key``).
- ``ANN_HUB_API_PORT``, ``ANN_HUB_INTERNAL_PORT``, ``ANN_HUB_FORMGRADER_PORT``: loopback ports of
  the proxy's API (8001), the hub itself (8081) and the formgrader service (9999).
- ``ANN_HUB_PROXY``: the configurable-http-proxy to start. By default the checkout's own,
  ``node_modules/.bin/configurable-http-proxy`` (``make hub`` installs it there with ``npm ci`` from
  package-lock.json); one on ``PATH`` only when the checkout has none.
- ``ANN_HUB_FEEDBACK``: ``on`` or ``off``, the feedback service for this run of the hub; without
  it, hub.json's ``feedback_service`` decides (``hub/setup_hub.py --no-feedback-service`` writes
  false; on by default).
- ``ANN_HUB_TEST_MODE=1`` together with ``ANN_HUB_TEST_PASSWORD``: tests and local trials only, log
  in with one shared password instead of the Unix password (JupyterHub's
  SharedPasswordAuthenticator). Without both, users log in with their Unix password through PAM.
"""

import grp
import json
import os
import pwd
import shutil

c = get_config()  # noqa: F821

settings_file = os.environ.get("ANN_HUB_SETTINGS", "/opt/ann-course/etc/hub.json")
if not os.path.exists(settings_file):
    raise SystemExit(f"{settings_file} is missing: run `make hub` (hub/setup_hub.py) first")
with open(settings_file, encoding="utf-8") as fh:
    S = json.load(fh)

COURSE_ID = S["course_id"]
FEEDBACK_SERVICE = f"{COURSE_ID}-feedback"
ROLES = os.path.join(S["prefix"], "etc", "roles")
LAUNCHER = os.path.join(S["prefix"], "bin", "ann-singleuser")
PATH = f"{S['venv']}/bin:/usr/local/bin:/usr/bin:/bin"
# The proxy that make installs into the checkout (package.json pins its version).
CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT_PROXY = os.path.join(CHECKOUT, "node_modules", ".bin", "configurable-http-proxy")


def proxy_command() -> str:
    """ANN_HUB_PROXY, else the checkout's proxy, else one on PATH; a clear message when none."""
    chosen = os.environ.get("ANN_HUB_PROXY") or (
        PROJECT_PROXY if os.path.exists(PROJECT_PROXY) else shutil.which("configurable-http-proxy"))
    if not chosen or not os.path.exists(chosen):
        raise SystemExit(f"configurable-http-proxy is missing ({chosen or PROJECT_PROXY}): run "
                         f"`make hub` (it installs it into {CHECKOUT}/node_modules with npm) or "
                         "`npm ci` in the checkout; it needs Node.js and npm")
    return chosen


def group_members(name: str) -> set[str]:
    """Users of a Unix group: its listed members and those whose primary group it is."""
    try:
        g = grp.getgrnam(name)
    except KeyError:
        return set()
    return set(g.gr_mem) | {p.pw_name for p in pwd.getpwall() if p.pw_gid == g.gr_gid}


def feedback_service_on() -> bool:
    """ANN_HUB_FEEDBACK (on/off) when set, else hub.json's ``feedback_service`` (default on)."""
    value = os.environ.get("ANN_HUB_FEEDBACK", "").strip().lower()
    if not value:
        return bool(S.get("feedback_service", True))
    if value in ("on", "1", "yes", "true"):
        return True
    if value in ("off", "0", "no", "false"):
        return False
    raise SystemExit(f"ANN_HUB_FEEDBACK={os.environ['ANN_HUB_FEEDBACK']!r}: expected on or off")


instructors = group_members(S["instructors_group"]) - {S["grader_user"]}
students = group_members(S["students_group"]) - instructors

# --- where the hub listens; its state ---------------------------------------------------------
ip = os.environ.get("ANN_HUB_IP", "127.0.0.1")
c.JupyterHub.bind_url = f"http://{ip}:{int(os.environ.get('ANN_HUB_PORT', '8000'))}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("ANN_HUB_INTERNAL_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = (
    f"http://127.0.0.1:{int(os.environ.get('ANN_HUB_API_PORT', '8001'))}")
c.ConfigurableHTTPProxy.should_start = True  # the real configurable-http-proxy, started by the hub
c.ConfigurableHTTPProxy.command = [proxy_command()]
c.JupyterHub.db_url = "sqlite:///" + os.path.join(S["state_dir"], "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(S["state_dir"], "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = os.path.join(S["state_dir"], "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops the users' servers

# --- who may log in ---------------------------------------------------------------------------
if os.environ.get("ANN_HUB_TEST_MODE") == "1" and os.environ.get("ANN_HUB_TEST_PASSWORD"):
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = os.environ["ANN_HUB_TEST_PASSWORD"]
else:
    c.JupyterHub.authenticator_class = "pam"
    # Checked at every login: a student added by hub/add_users.py can log in without a restart.
    c.PAMAuthenticator.allowed_groups = {S["instructors_group"], S["students_group"]}
c.Authenticator.allowed_users = instructors | students
c.Authenticator.admin_users = set()  # nobody may enter another user's server

# Hub groups mirror the Unix groups (at start-up; restart the hub after adding instructors).
c.JupyterHub.load_groups = {
    S["instructors_group"]: {"users": sorted(instructors)},
    S["students_group"]: {"users": sorted(students)},
}
c.JupyterHub.load_roles = [
    {
        "name": f"formgrade-{COURSE_ID}",
        "description": "instructors open the course's formgrader service",
        "groups": [S["instructors_group"]],
        "scopes": [f"access:services!service={COURSE_ID}", "list:services",
                   f"read:services!service={COURSE_ID}"],
    },
]

# --- the single-user servers -------------------------------------------------------------------
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [LAUNCHER]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.env_keep = ["LANG", "LC_ALL", "TZ"]  # not the hub's PATH or PYTHONPATH


def role_of(username: str) -> str:
    if username in group_members(S["instructors_group"]):
        return "instructor"
    if username in group_members(S["students_group"]):
        return "student"
    raise PermissionError(f"{username} is in neither {S['instructors_group']} nor "
                          f"{S['students_group']}")


def pre_spawn_hook(spawner):
    """Each role gets its own Jupyter config (which nbgrader extensions are on) and umask."""
    role = role_of(spawner.user.name)
    spawner.environment.update({
        "PATH": PATH,
        "JUPYTER_CONFIG_PATH": os.path.join(ROLES, role),
        # Students' files are their own; instructors share the course folder with their group.
        "ANN_UMASK": "0007" if role == "instructor" else "0077",
        "ANN_LECTURES": os.path.join(S["prefix"], "share", "lectures"),
    })


c.Spawner.pre_spawn_hook = pre_spawn_hook

# --- the formgrader: one shared server for all instructors ---------------------------------------
formgrader_port = int(os.environ.get("ANN_HUB_FORMGRADER_PORT", "9999"))
c.JupyterHub.services = [
    {
        "name": COURSE_ID,  # nbgrader requires the service to be named after the course
        "url": f"http://127.0.0.1:{formgrader_port}",
        "command": [LAUNCHER],
        "user": S["grader_user"],
        "cwd": S["course_dir"],
        "oauth_no_confirm": True,
        "environment": {
            "PATH": PATH,
            "JUPYTER_CONFIG_PATH": os.path.join(ROLES, "grader"),
            "ANN_UMASK": "0007",  # the course folder stays writable for the whole group
            "JUPYTERHUB_DEFAULT_URL": "/formgrader",
        },
    },
]

# --- feedback on submit: the grading service (python -m grader serve), no URL, run by the hub ---
# As the grader account (it reads the exchange's inbound, the course folder is its own), in the
# course folder, whose copy of grader/ and grader_config.py it uses, as `make grade` there does:
# mode and rate limit are c.FeedbackService.* in that grader_config.py. The hub restarts it when it
# exits and stops it with itself (SIGINT, SIGTERM after 10 s, SIGKILL after 5 s more). Its state and
# log: <course folder>/.feedback-service/.
if feedback_service_on():
    c.JupyterHub.services.append({
        "name": FEEDBACK_SERVICE,
        # umask first, as ann-singleuser does for the formgrader: what it writes into the course
        # folder (its queue and log) stays the instructors' group's.
        "command": ["/bin/sh", "-c", 'umask "$ANN_UMASK" && exec "$@"', FEEDBACK_SERVICE,
                    f"{S['venv']}/bin/python", "-m", "grader", "serve",
                    "--course", S["course_dir"], "--exchange", S["exchange"]],
        "user": S["grader_user"],
        "cwd": S["course_dir"],
        "environment": {
            "PATH": PATH,
            "JUPYTER_CONFIG_PATH": os.path.join(ROLES, "grader"),
            "ANN_UMASK": "0007",
            "MPLBACKEND": "Agg",  # headless, as `make grade`
            "PYTHONUNBUFFERED": "1",  # its messages reach the hub's log as they happen
            # It imports grader/ from the course folder: no __pycache__ of the grader's there.
            "PYTHONDONTWRITEBYTECODE": "1",
        },
    })
