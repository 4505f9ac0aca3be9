#!/usr/bin/env python3
"""Set up (or refresh) the course's JupyterHub on this machine; run as root. Used by ``make hub``.

Standard library only, so that Debian's ``/usr/bin/python3.11`` can run it before any environment
exists. What it creates (defaults in brackets; every path is an option):

- ``PREFIX/venv`` [/opt/ann-course/venv]: the course environment, created by a Python every user can
  run (``--python``, /usr/bin/python3.11) and holding the course installed *non-editable*
  (``pip install '<checkout>[hub]'``): an editable install would point every user's kernel at the
  checkout, which may sit in root's home where nobody else can read it. Re-running refreshes it.
- ``PREFIX/venv/etc/jupyter/nbgrader_config.py``: the system-wide nbgrader config of everyone who
  uses this environment: course id ``ann-course``, the shared exchange.
- ``PREFIX/etc/roles/{student,instructor,grader}/``: per-role Jupyter config (which nbgrader server
  and JupyterLab extensions are on); the hub puts one of them on ``JUPYTER_CONFIG_PATH``.
- ``PREFIX/bin/ann-singleuser``: the command the hub starts for each user and for the formgrader.
- ``PREFIX/share/lectures``: a world-readable copy of lectures/, copied into a home on first start.
- ``EXCHANGE`` [/srv/nbgrader/exchange]: nbgrader's exchange, root-owned, mode 1777 (world-writable,
  sticky), as nbgrader documents; its ``ann-course/`` belongs to the instructors' group (2775).
- ``COURSE_DIR`` [/srv/ann-course/course]: the instructors' course folder (solutions/, gradebook.db,
  submitted/, ...), a copy of the checkout made on first set-up and never overwritten afterwards:
  the files git tracks and the untracked ones it does not ignore (``git ls-files --cached --others
  --exclude-standard``), so none of the checkout's own grading state (gradebook.db, grades.csv,
  .grader-status.json, submitted/, feedback/, .feedback-service/, _site/, .venv, node_modules,
  ...) reaches the class.
  Owned by the grader account and the instructors' group, mode 2770 (files 0660): students cannot
  read it. ``COURSE_DIR/exchange`` is a link to EXCHANGE, so the course's own config finds it.
- Unix groups for instructors [formgrade-ann-course] and students [nbgrader-ann-course], and the
  account [grader-ann-course] that runs the shared formgrader.
- ``EXCHANGE/ann-course/feedback/``: where feedback pages wait for the students' Fetch Feedback,
  owned by the grader account and the instructors' group, mode 2771 as nbgrader's release_feedback
  makes it for a group-shared course: the grader account (the feedback service) and instructors
  (release_feedback) write pages, students can open a page whose name they know (it is a hash of
  their submission's secret) and list nothing.
- ``COURSE_DIR/.feedback-service/``, mode 2770: the feedback service's queue and log.
- ``STATE_DIR`` [/srv/ann-course/hub], mode 0700: the hub's database and cookie secret.
- ``PREFIX/etc/hub.json``: all of the above, read by hub/jupyterhub_config.py and hub/add_users.py.

The hub runs the feedback service (``python -m grader serve``, see hub/jupyterhub_config.py) unless
it is turned off: ``--no-feedback-service`` (``--feedback-service`` turns it on again) is kept in
hub.json's ``feedback_service`` and stays so when a later run names neither;
``ANN_HUB_FEEDBACK=on|off`` overrides it when the hub starts.

``--site-packages DIR`` is for tests and development only: instead of installing, the environment
reuses the packages of an existing one (which must be readable by every user).
"""

from __future__ import annotations

import argparse
import fnmatch
import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
COURSE_ID = "ann-course"

# The bundled sample roster is tracked but is not the class: the class's roster comes with
# hub/add_users.py, and `make roster` in the course folder must not import the sample students.
SAMPLE_ROSTER = "students.csv"
SKIP_ANYWHERE = {"__pycache__", ".ipynb_checkpoints"}
# The feedback service's queue and log of a `python -m grader serve` run in the checkout: grading
# state of the checkout's own, which the class's course folder must not start with.
SKIP_TOP = {".feedback-service"}

# The console scripts a user's server and terminal need (used with --site-packages only).
SCRIPTS = {
    "jupyterhub": "jupyterhub.app:main",
    "jupyterhub-singleuser": "jupyterhub.singleuser:main",
    "jupyter": "jupyter_core.command:main",
    "jupyter-lab": "jupyterlab.labapp:main",
    "nbgrader": "nbgrader.apps.nbgraderapp:main",
    "alembic": "alembic.config:main",
}

# nbgrader's extensions per role (nbgrader's JupyterHub guide, "one class, multiple graders"):
# students and instructors get the Assignment List in their own servers, the shared grader server
# (a hub service) gets the formgrader and the Create Assignment toolbar.
NBG = "nbgrader.server_extensions."
ROLES = {
    "student": {
        "server": {"formgrader": False, "course_list": False, "assignment_list": True,
                   "validate_assignment": True},
        "lab_disabled": ["formgrader", "create-assignment", "course-list"],
    },
    "instructor": {
        "server": {"formgrader": False, "course_list": True, "assignment_list": True,
                   "validate_assignment": True},
        "lab_disabled": ["formgrader"],
    },
    "grader": {
        "server": {"formgrader": True, "course_list": False, "assignment_list": False,
                   "validate_assignment": True},
        "lab_disabled": ["assignment-list", "course-list"],
    },
}

SINGLEUSER = """#!/bin/sh
# Started by the course's JupyterHub for every user (and for the shared formgrader), as that user.
# ANN_UMASK: 0077 for students (private files), 0007 for the instructors' group-shared
# course folder.
umask "${{ANN_UMASK:-0077}}"
# First start: the user gets their own, writable copy of the lectures.
if [ -n "$ANN_LECTURES" ] && [ -d "$ANN_LECTURES" ] && [ ! -e "$HOME/lectures" ]; then
    cp -r "$ANN_LECTURES" "$HOME/lectures"
fi
exec {venv}/bin/jupyterhub-singleuser "$@"
"""


def run(cmd, **kw):
    print("+", " ".join(map(str, cmd)), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def ensure_group(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        run(["groupadd", "--system", name])
        return grp.getgrnam(name).gr_gid


def ensure_grader_user(name: str, group: str, home_base: Path) -> pwd.struct_passwd:
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        run(["useradd", "--system", "--create-home", "--home-dir", home_base / name,
             "--shell", "/usr/sbin/nologin", "--gid", group, name])
        pw = pwd.getpwnam(name)
    run(["usermod", "-a", "-G", group, name])
    os.chmod(pw.pw_dir, 0o700)
    return pw


def readable_by_all(path: Path) -> bool:
    """Every component of ``path`` can be traversed by others and the path itself read."""
    path = path.resolve()
    for p in [path, *path.parents]:
        mode = p.stat().st_mode
        if not mode & 0o001:
            return False
    return bool(path.stat().st_mode & 0o004)


def make_venv(python: str, venv: Path, site_packages: Path | None, shared: bool = True) -> None:
    """``shared``: other users will run it, so check that they can (not for --files-only)."""
    if shared and not readable_by_all(Path(python)):
        raise SystemExit(f"--python {python} cannot be run by other users (it lives in an "
                         "unreadable folder such as root's home); use Debian's /usr/bin/python3.11")
    if not (venv / "bin" / "python").exists():
        run([python, "-m", "venv", *(["--without-pip"] if site_packages else []), venv])
    if site_packages is None:
        pip = [venv / "bin" / "python", "-m", "pip", "install", "--quiet"]
        run([*pip, "--upgrade", "pip"])
        # Non-editable: the files land in the venv, readable by all, whatever the checkout's place.
        run([*pip, "--upgrade", f"{CHECKOUT}[hub]"], cwd="/")
        return
    if shared and not readable_by_all(site_packages):
        raise SystemExit(f"--site-packages {site_packages} is not readable by other users")
    pyver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    own = next((venv / "lib").glob("python3*/site-packages"),
               venv / "lib" / pyver / "site-packages")
    # An import line in a .pth file runs at start-up: addsitedir also reads the folder's .pth files.
    (own / "_ann_course_shared.pth").write_text(
        f"import site; site.addsitedir({str(site_packages)!r})\n")
    # Jupyter's data (templates, JupyterLab extensions) and the files that enable server extensions
    # live beside that environment's site-packages, under its prefix: link them into this one.
    other = site_packages.parents[2]
    (venv / "share").mkdir(exist_ok=True)
    (venv / "etc" / "jupyter").mkdir(parents=True, exist_ok=True)
    links = [("share/jupyter", "share/jupyter")] + [
        (f"etc/jupyter/{p.name}", f"etc/jupyter/{p.name}")
        for p in (other / "etc" / "jupyter").glob("*") if p.name != "nbgrader_config.py"]
    for mine, theirs in links:
        if not (venv / mine).is_symlink() and not (venv / mine).exists():
            (venv / mine).symlink_to(other / theirs)
    for name, target in SCRIPTS.items():
        module, func = target.split(":")
        script = venv / "bin" / name
        script.write_text(f"#!{venv}/bin/python\nimport sys\nfrom {module} import {func}\n"
                          f"sys.exit({func}())\n")
        script.chmod(0o755)


def write_role_configs(etc: Path) -> None:
    for role, spec in ROLES.items():
        d = etc / "roles" / role
        (d / "labconfig").mkdir(parents=True, exist_ok=True)
        server = {"ServerApp": {"jpserver_extensions": {
            NBG + ext: on for ext, on in spec["server"].items()}}}
        (d / "jupyter_server_config.json").write_text(json.dumps(server, indent=2) + "\n")
        page = {"disabledExtensions": {f"@jupyter/nbgrader:{x}": True
                                       for x in spec["lab_disabled"]}}
        (d / "labconfig" / "page_config.json").write_text(json.dumps(page, indent=2) + "\n")
        if role in ("instructor", "grader"):
            # Files nbgrader writes into the course folder stay group-writable for other graders.
            (d / "nbgrader_config.py").write_text(
                "c = get_config()  # noqa: F821\nc.CourseDirectory.groupshared = True\n")


def write_global_nbgrader_config(venv: Path, exchange: Path) -> None:
    d = venv / "etc" / "jupyter"
    d.mkdir(parents=True, exist_ok=True)
    (d / "nbgrader_config.py").write_text(
        '"""System-wide nbgrader config of the course environment '
        '(written by hub/setup_hub.py)."""\n'
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
        "c.Exchange.path_includes_course = True  # as the course's own grader_config.py\n")


def git_files(src: Path) -> list[str] | None:
    """The files of the checkout ``src`` as git sees them: tracked, and untracked but not ignored
    (relative paths). None when ``src`` is not the top of a git checkout or git is missing."""
    # Root copying a checkout owned by someone else: git refuses such a repository unless told.
    git = ["git", "-c", f"safe.directory={src}", "-C", str(src)]
    try:
        top = subprocess.run([*git, "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, check=False)
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != src.resolve():
            return None
        out = subprocess.run([*git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return sorted({p for p in out.decode("utf-8", "surrogateescape").split("\0") if p})


def _ignore_patterns(src: Path) -> list[str]:
    """The patterns of ``src/.gitignore`` (comments and negations left out)."""
    try:
        lines = (src / ".gitignore").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith(("#", "!"))]


def _ignored(rel: str, patterns: list[str]) -> bool:
    """Whether the relative path ``rel`` (or a folder above it) matches a .gitignore pattern, in
    git's simple forms: ``name``, ``/top``, ``folder/`` and ``*`` globs."""
    parts = rel.split("/")
    for pat in patterns:
        anchored = pat.startswith("/") or "/" in pat.rstrip("/")
        body = pat.strip("/")
        for i in range(len(parts)):
            if anchored and fnmatch.fnmatchcase("/".join(parts[:i + 1]), body):
                return True
            if not anchored and fnmatch.fnmatchcase(parts[i], body):
                return True
    return False


def course_files(src: Path) -> list[str]:
    """What goes into the class's course folder: git's view of the checkout (tracked files and
    untracked ones that are not ignored); outside a git checkout every file that .gitignore's
    patterns do not match, with a message saying so."""
    files = git_files(src)
    if files is None:
        print(f"note: {src} is not a git checkout (or git is missing): copying every file that "
              f"{src / '.gitignore'}'s patterns do not match", flush=True)
        patterns = _ignore_patterns(src) + [".git/"]
        files = []
        for root, dirs, names in os.walk(src):
            rel_root = os.path.relpath(root, src)
            rel = [] if rel_root == "." else [rel_root]
            dirs[:] = sorted(d for d in dirs if not _ignored("/".join([*rel, d]), patterns))
            files += ["/".join([*rel, n]) for n in sorted(names)
                      if not _ignored("/".join([*rel, n]), patterns)]
    return [f for f in files if f != SAMPLE_ROSTER and not SKIP_ANYWHERE & set(f.split("/"))
            and f.split("/")[0] not in SKIP_TOP]


def copy_course(dest: Path, src: Path | None = None) -> list[str]:
    """Copy :func:`course_files` of ``src`` (the checkout) to ``dest`` (symbolic links stay links);
    return their relative paths."""
    src = CHECKOUT if src is None else src
    copied = []
    for rel in course_files(src):
        source, target = src / rel, dest / rel
        if not source.is_symlink() and not source.is_file():
            continue  # tracked but deleted in the working tree, or a submodule
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
        copied.append(rel)
    dest.mkdir(parents=True, exist_ok=True)
    return copied


def secure_course_dir(course: Path, uid: int, gid: int) -> None:
    """Owner: the grader account; group: instructors; dirs 2770, files 0660 (executables 0770)."""
    for root, _dirs, files in os.walk(course):
        os.chown(root, uid, gid)
        os.chmod(root, 0o2770)
        for f in files:
            p = os.path.join(root, f)
            if os.path.islink(p):
                continue
            os.chown(p, uid, gid)
            os.chmod(p, 0o770 if os.stat(p).st_mode & 0o100 else 0o660)


def feedback_service(hub_json: Path, asked: bool | None) -> bool:
    """Whether the hub runs the feedback service: as ``asked`` (--feedback-service or
    --no-feedback-service), else as the existing ``hub_json`` says, else on."""
    if asked is not None:
        return asked
    try:
        return bool(json.loads(hub_json.read_text()).get("feedback_service", True))
    except (OSError, ValueError):
        return True


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prefix", type=Path, default=Path("/opt/ann-course"))
    ap.add_argument("--course-dir", type=Path, default=Path("/srv/ann-course/course"))
    ap.add_argument("--exchange", type=Path, default=Path("/srv/nbgrader/exchange"))
    ap.add_argument("--state-dir", type=Path, default=Path("/srv/ann-course/hub"))
    ap.add_argument("--home-base", type=Path, default=Path("/home"),
                    help="where add_users.py creates homes")
    ap.add_argument("--python", default="/usr/bin/python3.11",
                    help="interpreter for the venv; every user must be able to run it")
    ap.add_argument("--instructors-group", default=f"formgrade-{COURSE_ID}")
    ap.add_argument("--students-group", default=f"nbgrader-{COURSE_ID}")
    ap.add_argument("--grader-user", default=f"grader-{COURSE_ID}")
    ap.add_argument("--no-feedback-service", dest="feedback_service", action="store_false",
                    default=None,
                    help="the hub does not run the feedback-on-submit service (python -m grader "
                         "serve) from now on; ANN_HUB_FEEDBACK=on|off overrides this when the "
                         "hub starts")
    ap.add_argument("--feedback-service", dest="feedback_service", action="store_true",
                    help="the hub runs it again (without either flag: as before, on for a new "
                         "hub)")
    ap.add_argument("--files-only", action="store_true",
                    help="only the environment, configs, launcher and lectures under --prefix "
                         "(a container image, see deploy/): no users, groups, exchange or "
                         "course folder")
    ap.add_argument("--site-packages", type=Path, default=None,
                    help="tests/development only: reuse this environment's packages, "
                         "install nothing")
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if os.geteuid() != 0 and not args.files_only:
        raise SystemExit("hub/setup_hub.py creates users, groups and folders: run it as root")
    os.umask(0o022)
    prefix, venv = args.prefix.resolve(), args.prefix.resolve() / "venv"
    for p in (prefix, prefix / "etc", prefix / "bin", prefix / "share"):
        p.mkdir(parents=True, exist_ok=True)
        os.chmod(p, 0o755)

    make_venv(args.python, venv, args.site_packages.resolve() if args.site_packages else None,
              shared=not args.files_only)
    write_global_nbgrader_config(venv, args.exchange.resolve())
    write_role_configs(prefix / "etc")
    launcher = prefix / "bin" / "ann-singleuser"
    launcher.write_text(SINGLEUSER.format(venv=venv))
    launcher.chmod(0o755)
    lectures = prefix / "share" / "lectures"
    shutil.rmtree(lectures, ignore_errors=True)
    shutil.copytree(CHECKOUT / "lectures", lectures,
                    ignore=shutil.ignore_patterns(*SKIP_ANYWHERE))
    if args.files_only:
        print(f"course environment and configs in {prefix}")
        return 0

    instructors_gid = ensure_group(args.instructors_group)
    ensure_group(args.students_group)
    args.home_base.mkdir(parents=True, exist_ok=True)
    grader = ensure_grader_user(args.grader_user, args.instructors_group, args.home_base)

    # The exchange: world-writable with the sticky bit, nbgrader's documented set-up.
    exchange = args.exchange.resolve()
    exchange.mkdir(parents=True, exist_ok=True)
    os.chown(exchange, 0, 0)
    os.chmod(exchange, 0o1777)
    # The course's part of it belongs to the instructors' group (setgid: inbound/, outbound/ and
    # feedback/ inherit the group), so that any instructor can release and any can collect: with
    # nbgrader's groupshared (the instructor and grader roles' config) the inbound folder is then
    # group-readable, students still only write into it.
    course_exchange = exchange / COURSE_ID
    course_exchange.mkdir(exist_ok=True)
    os.chown(course_exchange, grader.pw_uid, instructors_gid)
    os.chmod(course_exchange, 0o2775)

    # Feedback pages (nbgrader's outbound feedback, <hash>.html): written by the grader account
    # (the feedback service) and by instructors (release_feedback, group-shared); students only
    # open their own by name. The mode release_feedback gives it with CourseDirectory.groupshared.
    feedback = course_exchange / "feedback"
    feedback.mkdir(exist_ok=True)
    os.chown(feedback, grader.pw_uid, instructors_gid)
    os.chmod(feedback, 0o2771)

    course = args.course_dir.resolve()
    if not course.exists():
        course.parent.mkdir(parents=True, exist_ok=True)
        copy_course(course)
        secure_course_dir(course, grader.pw_uid, instructors_gid)
    else:  # an existing course folder is the instructors' work: fix its top level only
        os.chown(course, grader.pw_uid, instructors_gid)
        os.chmod(course, 0o2770)
    link = course / "exchange"
    if not link.is_symlink():
        if link.exists():
            raise SystemExit(f"{link} exists and is not a link to the exchange; move it away")
        link.symlink_to(exchange)
        os.lchown(link, grader.pw_uid, instructors_gid)
    gradebook = course / "gradebook.db"
    if not gradebook.exists():  # created by the grader account, so it stays the grader's file
        run(["runuser", "-u", args.grader_user, "--", "env", f"PATH={venv}/bin:/usr/bin:/bin",
             venv / "bin" / "python", "-c",
             "import sys; from nbgrader.api import Gradebook; Gradebook(sys.argv[1]).close()",
             f"sqlite:///{gradebook}"], cwd=course)
    os.chown(gradebook, grader.pw_uid, instructors_gid)
    os.chmod(gradebook, 0o660)

    # The feedback service's queue and log, shared with the instructors like the course folder.
    service_state = course / ".feedback-service"
    service_state.mkdir(exist_ok=True)
    os.chown(service_state, grader.pw_uid, instructors_gid)
    os.chmod(service_state, 0o2770)

    state = args.state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o700)

    settings = {
        "course_id": COURSE_ID,
        "prefix": str(prefix),
        "venv": str(venv),
        "course_dir": str(course),
        "exchange": str(exchange),
        "state_dir": str(state),
        "home_base": str(args.home_base.resolve()),
        "instructors_group": args.instructors_group,
        "students_group": args.students_group,
        "grader_user": args.grader_user,
        "feedback_service": feedback_service(prefix / "etc" / "hub.json", args.feedback_service),
    }
    (prefix / "etc" / "hub.json").write_text(json.dumps(settings, indent=2) + "\n")
    print(f"hub set up: settings in {prefix / 'etc' / 'hub.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
