"""Feedback on submit on the course's JupyterHub: the hub runs ``python -m grader serve`` as the
grader account, a submission made through a student's Assignment List gets its feedback page in the
exchange, the student's Fetch Feedback brings it home, and the service stops with the hub and stays
off when the admin turns it off.

One throw-away hub for the module (tests/hubkit.py), as ``make hub`` sets it up. Needs root and the
checkout's configurable-http-proxy; skipped with the reason otherwise.
"""

from __future__ import annotations

import grp
import pwd
import stat
from pathlib import Path

import psutil
import pytest
from hubkit import as_user, running_hub, service_processes, wait_for

ASSIGNMENT = "01_activations"
NOTEBOOK = "activations.ipynb"
SERVICE = "ann-course-feedback"

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def hub():
    with running_hub() as h:
        yield h


def running_service(hub, other_than: int | None = None) -> psutil.Process:
    """The service's process, the one the hub started (not its grading workers); wait for it, and
    for one other than the process ``other_than`` when given. The hub starts it through a shell
    that sets the umask and then executes it: a process still in that shell is not it yet."""
    def serving(p: psutil.Process) -> bool:
        try:
            return p.cmdline()[1:4] == ["-m", "grader", "serve"]
        except psutil.Error:
            return False

    def started():
        return [p for p in service_processes(SERVICE, hub.names["grader"])
                if p.ppid() == hub.proc.pid and p.pid != other_than and serving(p)]

    return wait_for(f"the {SERVICE} service's process", started, 120, hub.proc, hub.log)[0]


def feedback_page(hub, submission: Path) -> Path:
    """Where nbgrader's Fetch Feedback looks for the page of ``submission``'s notebook."""
    from nbgrader.utils import notebook_hash

    secret = (submission / "submission_secret.txt").read_text()
    digest = notebook_hash(secret=secret, notebook_id=Path(NOTEBOOK).stem)
    return hub.exchange / "ann-course" / "feedback" / f"{digest}.html"


def test_the_hub_runs_the_service_as_the_grader_account(hub):
    proc = running_service(hub)
    grader = pwd.getpwnam(hub.names["grader"])
    assert proc.uids().real == proc.uids().effective == grader.pw_uid
    # The instructors' group is its own (what it writes, they read).
    assert proc.gids().effective == grp.getgrnam(hub.names["instructors"]).gr_gid
    assert proc.cwd() == str(hub.course)
    cmd = proc.cmdline()
    assert cmd[0] == f"{hub.venv}/bin/python" and cmd[1:4] == ["-m", "grader", "serve"], cmd
    assert cmd[cmd.index("--course") + 1] == str(hub.course)
    assert cmd[cmd.index("--exchange") + 1] == str(hub.exchange)
    env = proc.environ()
    assert env["JUPYTER_CONFIG_PATH"] == f"{hub.settings['prefix']}/etc/roles/grader"
    assert env["PATH"].split(":")[0] == f"{hub.venv}/bin"
    status = Path(f"/proc/{proc.pid}/status").read_text().splitlines()
    umask = next(line.split()[1] for line in status if line.startswith("Umask:"))
    assert umask == "0007"  # its queue and log stay the instructors' group's


def test_the_set_up_gives_the_service_its_folders(hub):
    grader = pwd.getpwnam(hub.names["grader"]).pw_uid
    instructors = grp.getgrnam(hub.names["instructors"]).gr_gid
    # nbgrader's release_feedback mode for a group-shared course: students may open a page whose
    # name they know, not list the folder.
    for path, mode in ((hub.exchange / "ann-course" / "feedback", 0o2771),
                       (hub.course / ".feedback-service", 0o2770)):
        st = path.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (grader, instructors, mode), \
            (path, st.st_uid, st.st_gid, oct(st.st_mode))
    listing = as_user(hub.names["s1"], "ls", str(hub.exchange / "ann-course" / "feedback"))
    assert listing.returncode != 0 and "Permission denied" in listing.stderr


def test_a_submission_through_the_hub_gets_its_feedback(hub):
    """Released, fetched and submitted in the student's own server; the service (the grader
    account, unprivileged: user namespaces) grades it and the student's Fetch Feedback finds the
    page; the gradebook is not written."""
    s1 = hub.names["s1"]
    hub.release(ASSIGNMENT)
    gradebook = (hub.course / "gradebook.db").read_bytes()

    session = hub.login(s1)
    hub.start_server(session, s1)
    hub.wait_ready(session, s1)
    hub.assignment_list(session, s1, "fetch", ASSIGNMENT)
    hub.assignment_list(session, s1, "submit", ASSIGNMENT)  # the release as it is: no answers
    inbound = list((hub.exchange / "ann-course" / "inbound").glob(f"{s1}+{ASSIGNMENT}+*"))
    assert len(inbound) == 1, inbound
    page = feedback_page(hub, inbound[0])

    def graded():
        if not page.exists():
            return None
        text = page.read_text()
        return text if "Autograded score" in text else None

    text = wait_for(f"the feedback page {page}", graded, 600, hub.proc, hub.log)
    assert "Autograded score: 0 / 18" in text, text[:3000]  # the release's stubs raise
    assert text.count('<tr class="question lost') == 11, text[:3000]
    assert '<tr class="question manual' in text  # the written answer waits for the instructor
    st = page.stat()
    assert st.st_uid == pwd.getpwnam(hub.names["grader"]).pw_uid
    assert stat.S_IMODE(st.st_mode) == 0o644
    log = (hub.course / ".feedback-service" / "service.log").read_text()
    assert [line for line in log.splitlines() if s1 in line and ASSIGNMENT in line], log
    assert (hub.course / "gradebook.db").read_bytes() == gradebook, "it wrote the gradebook"
    # It runs the course folder's grader/ and leaves no compiled files of it there.
    assert not list(hub.course.glob("grader/**/*.pyc"))

    fetched = hub.assignment_list(session, s1, "fetch_feedback", ASSIGNMENT)
    timestamp = inbound[0].name.split("+")[2]
    home = hub.home(s1) / "ann-course" / ASSIGNMENT / "feedback" / timestamp / "activations.html"
    assert home.read_text() == text, fetched
    assert home.stat().st_uid == pwd.getpwnam(s1).pw_uid


def test_the_hub_starts_it_again_when_it_ends(hub):
    """An admin ends it (e.g. to take up changed settings in grader_config.py), or it dies: the
    hub starts it again."""
    first = running_service(hub)
    command = first.cmdline()
    first.terminate()
    psutil.wait_procs([first], timeout=60)
    again = running_service(hub, other_than=first.pid)
    assert again.cmdline() == command
    assert "Service ann-course-feedback exited" in hub.log.read_text()


def test_the_service_stops_with_the_hub_and_can_be_turned_off(hub):
    procs = service_processes(SERVICE)
    assert procs, "no service process to stop"
    hub.stop()
    gone, alive = psutil.wait_procs(procs, timeout=30)
    assert not alive, f"still running after the hub stopped: {alive}"
    assert not service_processes(SERVICE)

    before = len(hub.log.read_text())
    hub.restart(ANN_HUB_FEEDBACK="off")
    wait_for("the hub's start-up",
             lambda: "JupyterHub is now running" in hub.log.read_text()[before:], 90, hub.proc,
             hub.log)
    # Managed services are spawned before the hub says it runs.
    started = hub.log.read_text()[before:].split("JupyterHub is now running")[0]
    assert "Starting managed service ann-course at" in started  # the formgrader is still there
    assert SERVICE not in started, started[-3000:]
    assert not service_processes(SERVICE)
