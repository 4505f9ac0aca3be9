"""hub/add_users.py reads nbgrader's roster format and refuses what would make bad Unix users."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("add_users", REPO / "hub" / "add_users.py")
add_users = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(add_users)


def roster(tmp_path, text):
    path = tmp_path / "students.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_the_roster(tmp_path):
    rows = add_users.read_roster(roster(tmp_path, "id,first_name,last_name,email\n"
                                                  "sample-overflow,Ada, Lovelace ,ada@example.org\n"
                                                  "sample-partial,,,\n"))
    assert rows == [
        {"id": "sample-overflow", "first_name": "Ada", "last_name": "Lovelace",
         "email": "ada@example.org"},
        {"id": "sample-partial", "first_name": "", "last_name": "", "email": ""},
    ]


def test_the_sample_students_are_valid_user_names():
    for folder in (REPO / "samples" / "submitted").iterdir():
        assert add_users.check_name(folder.name, "id") == folder.name


@pytest.mark.parametrize("text, message", [
    ("id,first_name,email\nsam,S,s@x\n", "missing column(s) last_name"),
    ("id,first_name,last_name,email\nSam,S,T,\n", "line 2: id 'Sam' is not a valid user name"),
    ("id,first_name,last_name,email\nok,A,B,\n../x,A,B,\n", "line 3: id '../x'"),
    ("id,first_name,last_name,email\n" + "a" * 33 + ",A,B,\n", "at most 32 characters"),
    ("id,first_name,last_name,email\nsam,A,B,\nsam,C,D,\n", "duplicate id(s) sam"),
])
def test_bad_rosters_are_refused_with_the_reason(tmp_path, text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        add_users.read_roster(roster(tmp_path, text))


def test_instructor_names_are_checked_too():
    with pytest.raises(ValueError, match="--instructors: name 'root;rm'"):
        add_users.check_name("root;rm", "--instructors: name")
