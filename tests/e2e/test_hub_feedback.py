"""Feedback on submit on the course's JupyterHub, in Chromium: a student submits 01_activations with
one wrong formula, presses Fetch Feedback in JupyterLab's Assignment List and reads their score and
the question that lost points; fixes the formula, submits again and gets full autograded marks; the
instructor's batch after the deadline (collect as the grader account, `make grade`'s pipeline as
root) gives the same scores, and the written answer still waits for the instructor.

The hub is tests/hubkit.py's throw-away hub (root only), with the feedback service the hub starts
(python -m grader serve as the grader account) and, for the test, no rate limit between a student's
two submissions. Screenshots: test-artifacts/e2e/hub-feedback-*.png.
"""

from __future__ import annotations

import html
import re
import time

import nbformat
import pytest
from coursekit import scores
from hubkit import REPO, as_user, running_hub

ASSIGNMENT = "01_activations"
NOTEBOOK = "activations.ipynb"
PATIENCE = 60  # seconds from pressing Submit until the student must see the graded page
ROW = re.compile(r'<tr class="question (\w+)"><td>([^<]+)</td><td>([^<]+) / ([^<]+)</td>'
                 r"<td>([^<]*)")


@pytest.fixture(scope="module")
def hub(chromium):
    # The course's own rate limit (grader_config.py) would hold the second submission back.
    with running_hub(course_config="c.FeedbackService.min_interval = 0") as h:
        yield h


def answer(hub, student: str, wrong: bool) -> None:
    """The student's work in their fetched notebook: every function written (sigmoid_grad with
    a wrong formula when ``wrong``) and the written answer. Written into their own file, which
    stays theirs."""
    mine = hub.home(student) / "ann-course" / ASSIGNMENT / NOTEBOOK
    owner = mine.stat().st_uid
    solutions = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nbformat.read(
        REPO / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4).cells}
    nb = nbformat.read(mine, as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("solution"):
            continue
        if cell.cell_type == "markdown":
            cell.source = ("Each layer multiplies the gradient by sigma'(z) <= 1/4, so the first "
                           "layers of a deep sigmoid network hardly learn.")
            continue
        code = "\n".join(line for line in solutions[meta["grade_id"]].source.splitlines()
                         if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
        if wrong and meta["grade_id"] == "sigmoid_grad":
            assert "return s * (1.0 - s)" in code
            code = code.replace("return s * (1.0 - s)", "return s * (1.0 + s)")  # the slip
        cell.source = code
    nbformat.write(nb, mine)
    assert mine.stat().st_uid == owner


def submissions(hub, student: str) -> list[str]:
    """The timestamps of the student's submissions in the exchange's inbound, oldest first."""
    inbound = hub.exchange / "ann-course" / "inbound"
    return sorted(p.name.split("+")[2] for p in inbound.glob(f"{student}+{ASSIGNMENT}+*"))


def submit(page, hub, student: str) -> str:
    """Press Submit on the fetched assignment; the new submission's timestamp."""
    before = submissions(hub, student)
    page.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT).first \
        .get_by_role("button", name="Submit").click()
    deadline = time.monotonic() + 60
    while len(submissions(hub, student)) == len(before):
        assert time.monotonic() < deadline, "the submission did not reach the exchange"
        time.sleep(0.2)
    (new,) = sorted(set(submissions(hub, student)) - set(before))
    return new


def fetch_feedback(page, hub, student: str, timestamp: str, since: float) -> tuple[str, str]:
    """Fetch Feedback until the page of the submission made at ``timestamp`` is its graded one
    (a queued page first, maybe), as a student does: press the button, click "view feedback",
    open the page. Returns its text as the browser shows it, and its HTML in the student's
    home."""
    local = hub.home(student) / "ann-course" / ASSIGNMENT / "feedback" / timestamp / \
        NOTEBOOK.replace(".ipynb", ".html")
    seen = []
    while True:
        submitted = page.locator("#submitted_assignments_list .list_item", has_text=ASSIGNMENT)
        submitted.first.get_by_role("button", name="Fetch Feedback", exact=True).click()
        # The list is drawn again when the fetch is done; then the submission's row links it.
        submitted.first.get_by_role("button", name="Fetch Feedback", exact=True).wait_for()
        row = page.locator("#submitted_assignments_list .nested_list_item", has_text=timestamp)
        if row.get_by_text("view feedback").count():
            row.get_by_text("view feedback").click()
            page.locator(".jp-DirListing-item", has_text="activations.html").first.dblclick()
            viewer = page.frame_locator(".jp-HTMLViewer:visible iframe")
            viewer.locator("h1").wait_for()
            text = viewer.locator("main").inner_text()
            seen.append(text)
            if "Autograded score" in text:
                return text, local.read_text()
            page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current "
                         ".lm-TabBar-tabCloseIcon").click()
        assert time.monotonic() - since < PATIENCE, (
            f"no graded feedback {PATIENCE} s after submitting; the student saw: {seen}\n"
            + service_log(hub))
        time.sleep(2)


def service_log(hub) -> str:
    """The feedback service's log, or the end of the hub's when it has none."""
    log = hub.course / ".feedback-service" / "service.log"
    if log.exists():
        return log.read_text()
    return f"no {log}: did the hub start the service? The hub's log:\n{hub.log.read_text()[-4000:]}"


def table(page_html: str) -> dict[str, tuple[str, str, str, str]]:
    """grade id -> (state, score, max, note) of the page's table of questions."""
    return {m[1]: (m[0], html.unescape(m[2]), m[3], m[4]) for m in ROW.findall(page_html)}


def test_feedback_on_submit_then_the_instructors_batch(hub, log_in, shot):
    s1, grader = hub.names["s1"], hub.names["grader"]
    hub.release(ASSIGNMENT)

    page = log_in("s1")
    page.locator(".lm-MenuBar-item", has_text="Nbgrader").first.click()
    page.get_by_role("menuitem", name=re.compile(r"^Assignment List")).click()
    page.locator("#released_assignments_list .list_item", has_text=ASSIGNMENT) \
        .get_by_role("button", name="Fetch").click()
    page.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT).first.wait_for()

    # First try: one wrong formula.
    answer(hub, s1, wrong=True)
    since = time.monotonic()
    first = submit(page, hub, s1)
    try:
        shown, text = fetch_feedback(page, hub, s1, first, since)
    finally:
        shot(page, "hub-feedback-first")
    assert "Autograded score: 16 / 18" in shown, shown
    assert "Questions that lost points: test_sigmoid_grad." in shown
    rows = table(text)
    assert [g for g, r in rows.items() if r[0] == "lost"] == ["test_sigmoid_grad"], rows
    assert rows["test_sigmoid_grad"][1:3] == ("0", "2") and rows["test_sigmoid"][1:3] == ("2", "2")
    assert rows["written_sigmoid_depth"][0] == "manual"
    assert "graded by your instructor later" in rows["written_sigmoid_depth"][3]
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabCloseIcon") \
        .click()

    # The student fixes it and submits again: the second page has full autograded marks.
    answer(hub, s1, wrong=False)
    since = time.monotonic()
    second = submit(page, hub, s1)
    try:
        shown, text = fetch_feedback(page, hub, s1, second, since)
    finally:
        shot(page, "hub-feedback-second")
    assert "Autograded score: 18 / 18" in shown, shown
    assert "Every autograded question has full marks." in shown
    rows = table(text)
    assert {r[0] for g, r in rows.items() if g != "written_sigmoid_depth"} == {"full"}, rows
    assert rows["written_sigmoid_depth"][0] == "manual"
    # The first submission's page is still its own.
    earlier = hub.home(s1) / "ann-course" / ASSIGNMENT / "feedback" / first / "activations.html"
    assert "Autograded score: 16 / 18" in earlier.read_text()

    # After the deadline: the instructor's batch grades the latest submission the same way.
    collected = as_user(grader, "nbgrader", "collect", ASSIGNMENT, cwd=hub.course,
                        env=hub.nbgrader_env(grader, "grader"))
    assert collected.returncode == 0, collected.stdout + collected.stderr
    graded = hub.grade_as_root()
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    batch = scores(hub.course, ASSIGNMENT)[s1]
    assert set(batch) == set(rows), (sorted(batch), sorted(rows))
    for grade_id, (state, score, maximum, _note) in rows.items():
        got, most = batch[grade_id]
        assert float(maximum) == most, grade_id
        if state == "manual":
            assert got is None, f"{grade_id} should wait for the instructor, has {got}"
        else:
            assert got == float(score), (grade_id, got, score)
    assert "written_sigmoid_depth" in [g for g, (got, _) in batch.items() if got is None]
