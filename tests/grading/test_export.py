"""grader/export.py: the grades as Canvas's gradebook import and Moodle's grade import read them.

A small course gradebook is built with nbgrader's API (two assignments, a late submission, a failed
grading, a student with no submission, a real zero and a student missing from the roster); the
files are checked against each format's documented columns, and the roster read back from each
file must be the roster that went in.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import subprocess

import pytest
from coursekit import BIN, REPO

from grader import cli, export, report

pytestmark = pytest.mark.filterwarnings("ignore:.*not in session")

ROSTER = [
    {"id": "alice", "first_name": "Alice", "last_name": "Noether", "email": "alice@uni.example",
     "section": "Tue", "sis_user_id": "S-001"},
    {"id": "bob", "first_name": "Bob", "last_name": "Dirac", "email": "bob@uni.example",
     "section": "Wed", "sis_user_id": ""},
    {"id": "carol", "first_name": "Carol", "last_name": "de Broglie, Jr.",
     "email": "carol@uni.example", "section": "Tue", "sis_user_id": "S-003"},
    {"id": "erin", "first_name": "Erin", "last_name": "Meitner", "email": "erin@uni.example",
     "section": "Wed", "sis_user_id": "S-005"},
]
DUE = dt.datetime(2026, 11, 20, 12, 0)


def _submit(gb, assignment, student, score, *, late_seconds=0.0):
    gb.add_submission(assignment, student, timestamp=DUE + dt.timedelta(seconds=late_seconds))
    grade = gb.find_grade("q1", "nb", assignment, student)
    grade.auto_score = score
    gb.db.commit()


@pytest.fixture
def course(tmp_path):
    from nbgrader.api import Gradebook

    from grader import patches

    root = tmp_path / "course"
    root.mkdir()
    with open(root / "students.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, list(ROSTER[0]))
        writer.writeheader()
        writer.writerows(ROSTER)
    patches.in_process_alembic()
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for name in ("01_first", "02_second"):
            gb.add_assignment(name, duedate=DUE)
            gb.add_notebook("nb", name)
            gb.add_grade_cell("q1", "nb", name, max_score=10.0, cell_type="code")
        for person in ROSTER:
            gb.add_student(person["id"], first_name=person["first_name"],
                           last_name=person["last_name"], email=person["email"])
        gb.add_student("dave", first_name="Dave", last_name="Offroster")
        _submit(gb, "01_first", "alice", 8.0, late_seconds=90_000)  # 2 started days: -20 %
        _submit(gb, "02_second", "alice", 10.0)
        _submit(gb, "01_first", "bob", 0.0)  # a real zero; bob never submitted 02_second
        _submit(gb, "01_first", "carol", 7.0)  # then her regrade failed (status file)
        _submit(gb, "02_second", "dave", 5.0)
    (root / report.STATUS_FILE).write_text(json.dumps(
        [{"student": "carol", "assignment": "01_first", "status": "failed",
          "reason": "the kernel died", "findings": []}]))
    return root


def _read(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_canvas_file_has_the_documented_columns_and_scores_after_the_late_penalty(course, tmp_path):
    out = tmp_path / "canvas.csv"
    warnings = export.export(course, "canvas", out)
    rows = _read(out)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                       "01_first", "02_second"], (
        "Canvas's gradebook import columns, then one per assignment")
    assert rows[1][0].strip() == "Points Possible" and rows[1][1:] == ["", "", "", "", "10", "10"]
    body = {r[3]: r for r in rows[2:]}  # by SIS Login ID
    assert body["alice"][:5] == ["Noether, Alice", "", "S-001", "alice", "Tue"]
    assert body["alice"][5:] == ["6.4", "10"], "8 points, 1 day 1 hour late: 20 % off"
    assert body["bob"][5:] == ["0", ""], "a real zero stays 0; no submission is an empty cell"
    assert body["carol"][5:] == ["", ""], "a failed grading has no score, never 0"
    assert body["erin"][5:] == ["", ""], "a student with no submission at all keeps her row"
    assert body["dave"][5:] == ["", "5"], "a student off the roster is written, not dropped"
    assert len(warnings) == 1 and "dave" in warnings[0] and "not on the roster" in warnings[0]


def test_canvas_round_trip_gives_back_the_roster(course, tmp_path):
    out = tmp_path / "canvas.csv"
    export.export(course, "canvas", out)
    rows = _read(out)
    back = [{"id": r[3], "name": r[0], "sis_user_id": r[2], "section": r[4]} for r in rows[2:]]
    assert back[:len(ROSTER)] == [
        {"id": p["id"], "name": f"{p['last_name']}, {p['first_name']}",
         "sis_user_id": p["sis_user_id"], "section": p["section"]} for p in ROSTER
    ], "every roster student once, in roster order, with the identifiers Canvas matches on"
    assert [r["id"] for r in back[len(ROSTER):]] == ["dave"]


def test_moodle_file_has_its_columns_and_the_roster_round_trips(course, tmp_path):
    out = tmp_path / "moodle.csv"
    warnings = export.export(course, "moodle", out)
    with open(out, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["First name", "Last name", "ID number", "Email address",
                                     "01_first", "02_second"]
        rows = list(reader)
    back = [{"id": r["ID number"], "first_name": r["First name"], "last_name": r["Last name"],
             "email": r["Email address"]} for r in rows]
    assert back[:len(ROSTER)] == [{k: p[k] for k in ("id", "first_name", "last_name", "email")}
                                  for p in ROSTER]
    by_email = {r["Email address"]: r for r in rows}
    assert by_email["alice@uni.example"]["01_first"] == "6.4"
    assert by_email["bob@uni.example"]["02_second"] == "", "no submission: empty, not 0"
    assert by_email["bob@uni.example"]["01_first"] == "0"
    dave = [r for r in rows if r["ID number"] == "dave"]
    assert dave and dave[0]["02_second"] == "5", "off the roster: kept, with the course id"
    assert any("dave" in w and "not on the roster" in w for w in warnings)
    assert any("dave" in w and "no email" in w for w in warnings)


def test_the_command_writes_the_file_and_prints_the_warnings(course, tmp_path, capsys):
    out = tmp_path / "sub" / "grades-moodle.csv"
    code = cli.main(["export", "--to", "moodle", str(out), "--course", str(course),
                     "--assignment", "02_second"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert _read(out)[0][4:] == ["02_second"], "--assignment limits the columns"
    assert "warning: dave" in captured.err


def test_bad_input_is_named(course, tmp_path, capsys):
    (course / "bad.csv").write_text("id,name\nalice,Alice\n")
    with pytest.raises(ValueError, match="roster.*first_name"):
        export.export(course, "canvas", tmp_path / "x.csv", roster=course / "bad.csv")
    with pytest.raises(ValueError, match="to: must be one of canvas, moodle"):
        export.export(course, "blackboard", tmp_path / "x.csv")
    with pytest.raises(ValueError, match="assignment: no assignment 03_none"):
        export.export(course, "canvas", tmp_path / "x.csv", assignments=["03_none"])
    (course / "twice.csv").write_text("id,first_name,last_name,email\na,A,A,a@x\na,A,A,a@x\n")
    assert cli.main(["export", "--to", "canvas", str(tmp_path / "y.csv"), "--course", str(course),
                     "--roster", str(course / "twice.csv")]) == 2
    assert "lists 'a' twice" in capsys.readouterr().err
    assert not (tmp_path / "y.csv").exists()


def test_nbgrader_export_uses_the_plugin(course, tmp_path):
    """``nbgrader export --exporter=grader.export.CanvasExporter`` writes the same file."""
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"load_subconfig({str(REPO / 'grader_config.py')!r})\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(course / 'gradebook.db')!r}\n")
    ours = tmp_path / "ours.csv"
    export.export(course, "canvas", ours)
    for exporter, name in (("CanvasExporter", "plugin-canvas.csv"),
                           ("MoodleExporter", "plugin-moodle.csv")):
        dest = tmp_path / name
        env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
                   PYTHONPATH=str(REPO))
        proc = subprocess.run([str(BIN / "nbgrader"), "export",
                               f"--exporter=grader.export.{exporter}", f"--to={dest}"],
                              cwd=course, env=env, capture_output=True, text=True, timeout=120,
                              check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "dave has grades but is not on the roster" in proc.stderr
        if exporter == "CanvasExporter":
            assert _read(dest) == _read(ours)
        else:
            assert _read(dest)[0][:4] == export.MOODLE_COLUMNS
