"""A class day on the course's JupyterHub, in Chromium: an instructor releases an exercise, a
student logs in through the hub's login page, fetches and submits it in JupyterLab's Assignment
List, the grader account collects it, root grades it (`make grade`'s pipeline), the instructor
releases the feedback and the student fetches it; the instructor sees the course in the formgrader;
students are kept out of the formgrader and of each other's servers.

The hub is tests/hubkit.py's throw-away hub (root only: Unix users). Screenshots of each end state
land in test-artifacts/e2e/hub-*.png.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hubkit import as_user, running_hub

ASSIGNMENT = "01_activations"
NOTEBOOK = "activations.ipynb"


@pytest.fixture(scope="module")
def hub(chromium):
    with running_hub() as h:
        yield h


def nbgrader_menu(page) -> list[str]:
    page.locator(".lm-MenuBar-item", has_text="Nbgrader").first.click()
    items = page.locator(".lm-Menu-item:visible .lm-Menu-itemLabel").all_inner_texts()
    page.keyboard.press("Escape")
    return [i.strip() for i in items if i.strip()]


def test_release_fetch_submit_collect(hub, log_in, shot):
    i1, s1, grader = hub.names["i1"], hub.names["s1"], hub.names["grader"]
    for step in (["db", "assignment", "add", ASSIGNMENT, "--duedate=2099-01-01 00:00:00 UTC"],
                 ["generate_assignment", ASSIGNMENT, "--force"],
                 ["release_assignment", ASSIGNMENT]):  # the README's week, step 1
        done = as_user(i1, "nbgrader", *step, cwd=hub.course,
                       env=hub.nbgrader_env(i1, "instructor"))
        assert done.returncode == 0, done.stdout + done.stderr

    page = log_in("s1")
    try:
        assert "Formgrader" not in nbgrader_menu(page)
        page.locator(".lm-MenuBar-item", has_text="Nbgrader").first.click()
        page.get_by_role("menuitem", name=re.compile(r"^Assignment List")).click()
        row = page.locator("#released_assignments_list .list_item", has_text=ASSIGNMENT)
        row.get_by_role("button", name="Fetch").click()
        fetched = page.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT).first
        fetched.get_by_role("button", name="Submit").click()
        page.locator("#submitted_assignments_list .list_item", has_text=ASSIGNMENT).first.wait_for()
    finally:
        shot(page, "hub-student-assignment-list")
    assert (hub.home(s1) / "ann-course" / ASSIGNMENT / NOTEBOOK).is_file()

    collected = as_user(grader, "nbgrader", "collect", ASSIGNMENT, cwd=hub.course,
                        env=hub.nbgrader_env(grader, "grader"))
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert (hub.course / "submitted" / s1 / ASSIGNMENT / NOTEBOOK).is_file()

    # Grading as root, as `sudo make grade` does, then the instructor releases the feedback.
    graded = hub.grade_as_root()
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    feedback_html = hub.course / "feedback" / s1 / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")
    assert feedback_html.is_file(), (
        graded.stdout[-3000:] + (hub.course / "grades.csv").read_text()
        + str(sorted(p.relative_to(hub.course) for p in (hub.course / "feedback").rglob("*"))))
    # After manual grading the feedback is rendered again with nbgrader's own command (here by
    # root with this run's interpreter: the hub's test environment borrows this run's packages for
    # an older Debian Python, and some of them, soupsieve for one, need a newer 3.11). As
    # hub/README.md says, root's files become group-writable, so any instructor can do it too; then
    # they release it.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    again = subprocess.run(["nbgrader", "generate_feedback", ASSIGNMENT, "--force"], cwd=hub.course,
                           env=env, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    subprocess.run(["chmod", "-R", "g+w", "autograded", "feedback"], cwd=hub.course, check=True)
    mine = hub.course / "feedback" / s1 / ASSIGNMENT
    assert as_user(i1, "touch", str(mine / "instructor-was-here")).returncode == 0
    (mine / "instructor-was-here").unlink()
    done = as_user(i1, "nbgrader", "release_feedback", ASSIGNMENT, cwd=hub.course,
                   env=hub.nbgrader_env(i1, "instructor"))
    assert done.returncode == 0, done.stdout + done.stderr

    # The student fetches it in the Assignment List and finds it in their home.
    try:
        page.locator("#submitted_assignments_list .list_item", has_text=ASSIGNMENT).first \
            .get_by_role("button", name="Fetch Feedback").click()
        feedback = hub.home(s1) / "ann-course" / ASSIGNMENT / "feedback"
        deadline = time.monotonic() + 60
        while not list(feedback.glob(f"*/{NOTEBOOK.replace('.ipynb', '.html')}")):
            assert time.monotonic() < deadline, f"no feedback in {feedback}"
            time.sleep(0.5)
        page.get_by_text("view feedback", exact=False).first.wait_for()
    finally:
        shot(page, "hub-student-feedback")

    teacher = log_in("i1")
    try:
        teacher.goto(f"{hub.url}/services/ann-course/formgrader")
        teacher.locator("#main-table td", has_text=ASSIGNMENT).first.wait_for()
        teacher.get_by_role("link", name="Manage Students").click()
        teacher.locator("#main-table td", has_text="Lovelace").first.wait_for()
    finally:
        shot(teacher, "hub-instructor-formgrader")


def test_students_are_kept_out_of_the_formgrader_and_other_servers(hub, log_in, shot):
    page = log_in("s2")
    try:
        response = page.goto(f"{hub.url}/services/ann-course/formgrader")
        assert response.status in (403, 404), (response.status, page.url)
        assert page.locator("#main-table").count() == 0
        for other in (hub.names["s1"], hub.names["i1"]):
            response = page.goto(f"{hub.url}/user/{other}/lab")
            assert response.status in (403, 404), (other, response.status, page.url)
    finally:
        shot(page, "hub-student-kept-out")
