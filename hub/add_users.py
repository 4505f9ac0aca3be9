#!/usr/bin/env python3
"""Create the class's Unix users from a roster; run as root after hub/setup_hub.py.

    python3 hub/add_users.py --roster students.csv --instructors alice,bob

The roster is nbgrader's student CSV: a header ``id,first_name,last_name,email`` and one student per
row; ``id`` becomes the Unix and hub user name (and the nbgrader student id). Each student gets a
home of mode 0700 and joins the students' group; each instructor joins the instructors' group (which
owns the course folder and may open the formgrader). Students are also added to the gradebook.
Existing users are kept and only added to their group, so the script can be run again with a longer
roster. It sets no passwords: give them with ``passwd``/``chpasswd`` (the hub logs in through PAM).
Restart the hub after adding instructors (its groups are read at start-up).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pwd
import re
import subprocess
import sys
from pathlib import Path

NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
COLUMNS = ("id", "first_name", "last_name", "email")


def read_roster(path: Path) -> list[dict]:
    """The roster's rows; a clear ValueError for a missing column or an unusable id."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"roster {path}: missing column(s) {', '.join(missing)}; "
                             f"expected the header {','.join(COLUMNS)}")
        rows = []
        for n, row in enumerate(reader, start=2):
            check_name(row["id"], f"roster {path}, line {n}: id")
            rows.append({k: (row[k] or "").strip() for k in COLUMNS})
    ids = [r["id"] for r in rows]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"roster {path}: duplicate id(s) {', '.join(dupes)}")
    return rows


def check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(f"{what} {name!r} is not a valid user name (lower-case letters, digits, "
                         "'_' and '-', starting with a letter or '_', at most 32 characters)")
    return name


def ensure_user(name: str, group: str, home_base: Path, comment: str) -> None:
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--home-dir", str(home_base / name),
                        "--shell", "/bin/bash", "--comment", comment, "-G", group, name],
                       check=True)
        pw = pwd.getpwnam(name)
        print(f"created {name} ({group})")
    else:
        subprocess.run(["usermod", "-a", "-G", group, name], check=True)
        print(f"kept {name}, in {group}")
    os.chmod(pw.pw_dir, 0o700)  # nobody else reads a student's (or instructor's) files


def add_to_gradebook(settings: dict, rows: list[dict]) -> None:
    """Students into the course's gradebook, as the grader account that owns it."""
    code = ("import json, sys\nfrom nbgrader.api import Gradebook\n"
            "with Gradebook(sys.argv[1]) as gb:\n"
            "    for r in json.load(sys.stdin):\n"
            "        gb.update_or_create_student(r['id'], first_name=r['first_name'],"
            " last_name=r['last_name'], email=r['email'] or None)\n")
    db = "sqlite:///" + os.path.join(settings["course_dir"], "gradebook.db")
    subprocess.run(["runuser", "-u", settings["grader_user"], "--",
                    "env", f"PATH={settings['venv']}/bin:/usr/bin:/bin",
                    os.path.join(settings["venv"], "bin", "python"), "-c", code, db],
                   input=json.dumps(rows), text=True, check=True, cwd=settings["course_dir"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--roster", type=Path, help="CSV with id,first_name,last_name,email")
    ap.add_argument("--instructors", default="", help="comma-separated user names")
    ap.add_argument("--settings", type=Path,
                    default=Path(os.environ.get("ANN_HUB_SETTINGS",
                                                "/opt/ann-course/etc/hub.json")))
    ap.add_argument("--no-gradebook", action="store_true", help="create the Unix users only")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("hub/add_users.py creates Unix users: run it as root")
    if not args.settings.exists():
        raise SystemExit(f"{args.settings} is missing: run `make hub` (hub/setup_hub.py) first")
    settings = json.loads(args.settings.read_text(encoding="utf-8"))
    home_base = Path(settings["home_base"])

    rows = read_roster(args.roster) if args.roster else []
    instructors = [check_name(n.strip(), "--instructors: name")
                   for n in args.instructors.split(",") if n.strip()]
    clash = sorted(set(instructors) & {r["id"] for r in rows})
    if clash:
        raise ValueError(f"--instructors and the roster both list {', '.join(clash)}")
    for name in instructors:
        ensure_user(name, settings["instructors_group"], home_base, f"{name} (instructor)")
    for r in rows:
        comment = f"{r['first_name']} {r['last_name']}".strip() or r["id"]
        ensure_user(r["id"], settings["students_group"], home_base, comment.replace(":", " "))
    if rows and not args.no_gradebook:
        add_to_gradebook(settings, rows)
    print(f"{len(instructors)} instructor(s), {len(rows)} student(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
