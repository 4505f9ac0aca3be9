"""The course as its users meet it: JupyterLab from `make lab`, in headless Chromium.

A student opens the start page, follows it to a lecture and runs it, plays with the lecture 8
playground, and validates an exercise with nbgrader's toolbar button; an instructor grades the
bundled samples and reads the grades in the formgrader. Everything happens in a throwaway copy of
the course (see conftest.py); each scenario leaves a screenshot of its end state in
test-artifacts/e2e/.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from urllib.parse import unquote, urlparse

import nbformat
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

pytestmark = pytest.mark.e2e

CURRENT = ".jp-NotebookPanel:not(.lm-mod-hidden)"
# True once every code cell of the current notebook has run (or one failed) and the kernel is idle.
RUN_FINISHED = """() => {
  const nb = document.querySelector('CURRENT');
  if (!nb) return false;
  const prompts = [...nb.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
    .map(e => e.textContent.trim());
  const status = nb.querySelector('.jp-Notebook-ExecutionIndicator');
  return prompts.length > 0 && !prompts.some(p => p.includes('*'))
    && status !== null && status.dataset.status === 'idle';
}""".replace("CURRENT", CURRENT)
# True once the kernel is idle and every code cell has an execution count, or one of them failed
# (the cells after it then never run). Idle alone is not enough: right after "Run All" the kernel
# may not have started on the first cell yet.
ALL_CELLS_RAN = r"""() => {
  const nb = document.querySelector('CURRENT');
  if (!nb) return false;
  const status = nb.querySelector('.jp-Notebook-ExecutionIndicator');
  if (status === null || status.dataset.status !== 'idle') return false;
  const prompts = [...nb.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
    .map(e => e.textContent.trim());
  const failed = [...nb.querySelectorAll(
      ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")]
    .some(e => /Traceback|Error/.test(e.textContent));
  return prompts.length > 0 && (prompts.every(p => /^\[\d+\]:$/.test(p)) || failed);
}""".replace("CURRENT", CURRENT)
TRACEBACK = re.compile(r"Traceback|^\w*(Error|Exception)\b", re.MULTILINE)


@pytest.fixture(scope="module", autouse=True)
def _grading_meanwhile(grading):
    """Start grading the bundled samples at once: it runs while the student scenarios do."""
    return grading


@contextmanager
def screenshot_at_end(shot, page, name):
    try:
        yield
    finally:
        shot(page, name)


def open_notebook(page, lab, path):
    page.goto(lab.url(f"lab/tree/{path}"))
    return wait_notebook(page, path.rsplit("/", 1)[-1])


def wait_notebook(page, name):
    """The notebook panel shown in the main area once ``name`` is its tab and its kernel is idle."""
    page.locator(".lm-TabBar-tab.lm-mod-current", has_text=name).first.wait_for()
    nb = page.locator(CURRENT)
    nb.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=120_000)
    return nb


def open_dialog(page) -> str | None:
    """The text of the dialog JupyterLab shows over the page, if any."""
    dialog = page.locator(".jp-Dialog")
    return dialog.first.inner_text() if dialog.count() else None


def menu(page, top, item):
    if (shown := open_dialog(page)) is not None:
        raise AssertionError(f"a dialog is open before the {top} menu: {shown!r}")
    page.locator(".lm-MenuBar-item", has_text=top).first.click()
    # A menu item's accessible name ends with its shortcut, if any ("Interrupt Kernel I, I").
    page.get_by_role("menuitem", name=re.compile(rf"^{re.escape(item)}( |$)")).click()


# True once some code cell of the current notebook is running or has run ("[*]:" or "[3]:").
SOME_CELL_STARTED = r"""() => {
  const nb = document.querySelector('CURRENT');
  return !!nb && [...nb.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
    .some(e => /^\[(\*|\d+)\]:$/.test(e.textContent.trim()));
}""".replace("CURRENT", CURRENT)


def run_from_menu(page, item, select=None, then=None, tries=3):
    """Choose a Run menu item (after ``select()``, then pressing ``then``) until some cell starts.

    A click that lands while the new notebook's kernel session is still being wired up is dropped
    by JupyterLab: the cells stay at "[ ]:" and the kernel idle (seen on a loaded CI machine). Each
    retry happens only when nothing at all has started, so no cell runs twice.
    """
    for attempt in range(tries):
        if select:
            select()
        menu(page, "Run", item)
        if then:
            page.keyboard.press(then)
        try:
            page.wait_for_function(SOME_CELL_STARTED, timeout=30_000)
            return
        except PlaywrightTimeoutError:
            if attempt == tries - 1:
                raise


def queue(page, cell, select, tries=3):
    """Make sure ``cell`` is queued or running. A Shift+Enter pressed as the Run menu closes may be
    lost (the notebook need not have the focus back yet), and the cell would never run. A queued
    cell shows "[*]:" at once, so the key is pressed again only for a cell that shows "[ ]:"."""
    prompt = cell.locator(".jp-InputPrompt").first
    for _ in range(tries):
        try:
            page.wait_for_function(r"el => /^\[(\*|\d+)\]:$/.test(el.textContent.trim())",
                                   arg=prompt.element_handle(), timeout=5_000)
            return
        except PlaywrightTimeoutError:
            select()
            page.keyboard.press("Shift+Enter")
    raise AssertionError(f"the cell never started: its prompt is {prompt.inner_text()!r}")


def cell_containing(nb, text):
    return nb.locator(".jp-CodeCell", has=nb.page.locator(".jp-InputArea", has_text=text)).first


def state(page, nb, cell) -> str:
    """What the notebook shows: the cell's prompt, the kernel's status, an open dialog."""
    prompt = cell.locator(".jp-InputPrompt").first.inner_text().strip()
    status = nb.locator(".jp-Notebook-ExecutionIndicator").first.get_attribute("data-status")
    prompts = [p.strip() for p in nb.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()]
    return (f"its prompt {prompt!r}, the kernel {status!r}, every prompt {prompts}, "
            f"dialog {open_dialog(page)!r}, errors {tracebacks(nb)}")


def tracebacks(nb) -> list[str]:
    texts = nb.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    return [t for t in texts.all_inner_texts() if TRACEBACK.search(t)]


# 1. ----------------------------------------------------------------------------------------------
def first_linked_lecture(page, course) -> tuple[str, object]:
    """The first lecture the start page links that exists in the course, and its link."""
    links = page.locator(f"{CURRENT} .jp-RenderedMarkdown a:not(.jp-InternalAnchorLink)")
    links.first.wait_for()
    for i in range(links.count()):
        path = unquote(urlparse(links.nth(i).get_attribute("href") or "").path)
        m = re.search(r"/lectures/([^/]+\.ipynb)$", path)
        if (
            m
            and m.group(1) != "00_start_here.ipynb"
            and (course / "lectures" / m.group(1)).is_file()
        ):
            return m.group(1), links.nth(i)
    pytest.fail("the start page links no lecture of the course")


def test_student_follows_the_start_page_to_a_lecture_and_runs_it(page, lab, course, shot):
    with screenshot_at_end(shot, page, "student_lecture"):
        open_notebook(page, lab, "lectures/00_start_here.ipynb")
        shot(page, "student_start_page")
        name, link = first_linked_lecture(page, course)
        link.click()
        nb = wait_notebook(page, name)
        run_from_menu(page, "Run All Cells")
        page.wait_for_function(ALL_CELLS_RAN, timeout=240_000)

        prompts = nb.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
        assert prompts and all(re.fullmatch(r"\[\d+\]:", p.strip()) for p in prompts), (
            f"not every cell of {name} ran: prompts {prompts}"
        )
        errors = tracebacks(nb)
        assert not errors, f"{name} raised in the lab:\n" + "\n\n".join(errors)

        images = nb.locator(".jp-OutputArea-output img[src^='data:image/png']")
        assert images.count() > 0, (
            f"{name} ran but shows no figure (kernel MPLBACKEND={lab.env.get('MPLBACKEND')!r})"
        )
        sizes = images.evaluate_all("imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])")
        assert all(w > 100 and h > 100 for w, h in sizes), f"figures not decoded: {sizes}"
        images.first.scroll_into_view_if_needed()


# 2. ----------------------------------------------------------------------------------------------
PLAYGROUND = "lectures/08_deep_learning_tools.ipynb"


def playground_cell_index(course) -> int:
    path = course / PLAYGROUND
    if not path.is_file():
        pytest.skip(f"{PLAYGROUND} is not part of the course yet")
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        if re.search(r"\bplayground\(", cell.source):
            return i
    pytest.skip(f"{PLAYGROUND} has no interactive playground (no playground(...) call)")


def test_student_trains_the_playground_with_its_controls(page, lab, course, shot):
    playground_cell_index(course)
    with screenshot_at_end(shot, page, "student_playground"):
        nb = open_notebook(page, lab, PLAYGROUND)
        cell = cell_containing(nb, "playground(")

        def select():
            cell.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Escape")

        run_from_menu(page, "Run All Above Selected Cell", select=select, then="Shift+Enter")
        queue(page, cell, select)

        train = cell.get_by_role("button", name="Train")
        try:
            train.wait_for(timeout=180_000)
        except PlaywrightTimeoutError:
            shown = state(page, nb, cell)
            raise AssertionError(f"the playground shows no Train button: {shown}") from None
        output = cell.locator(".widget-output")
        # The live figure of the first training.
        output.locator("img[src^='data:image/png']").first.wait_for(timeout=180_000)
        # The cell trains once on its own (hundreds of epochs): stop it, then use the controls.
        if nb.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count() == 0:
            menu(page, "Kernel", "Interrupt Kernel")
        page.wait_for_function(RUN_FINISHED, timeout=60_000)
        expect_enabled(train)

        status = train.locator("xpath=following::*[contains(@class, 'widget-label')][1]")
        before_status = status.inner_text()
        before_figure = figure_src(output)
        dataset = cell.locator(".widget-dropdown select").first
        options = dataset.locator("option").all_inner_texts()
        choice = next(o for o in options if o != dataset.input_value())
        dataset.select_option(choice)
        epochs = cell.locator(
            ".widget-slider", has=page.locator(".widget-label", has_text="epochs")
        )
        readout = epochs.locator(".widget-readout")
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("12")
        page.keyboard.press("Enter")
        assert readout.inner_text().strip() == "12", "the epochs slider did not take 12"
        train.click()

        page.wait_for_function(
            "([el, before]) => el.textContent !== before && /\\b12\\b/.test(el.textContent)",
            arg=[status.element_handle(), before_status],
            timeout=60_000,
        )
        page.wait_for_function(RUN_FINISHED, timeout=120_000)
        expect_enabled(train)
        after_figure = figure_src(output)
        assert after_figure and after_figure != before_figure, (
            f"the figure did not change after training on {choice!r}"
        )


def expect_enabled(button):
    from playwright.sync_api import expect

    expect(button).to_be_enabled(timeout=60_000)


def figure_src(output):
    imgs = output.locator("img[src^='data:image/png']")
    return imgs.first.get_attribute("src") if imgs.count() else None


# 3. ----------------------------------------------------------------------------------------------
EXERCISE = "exercises/01_activations/activations.ipynb"
SOLUTION = "solutions/01_activations/activations.ipynb"
WRONG_SIGMOID_GRAD = (
    "def sigmoid_grad(z):\n    return sigmoid(z)  # the factor (1 - sigmoid(z)) is missing\n"
)


def answered(release, solution):
    """The release with every answer cell, code or written, filled in from the solution (markers
    removed): Validate also fails on a written answer left at "YOUR ANSWER HERE"."""
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in solution.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = "\n".join(
                line
                for line in answers[meta["grade_id"]].splitlines()
                if not re.match(r"\s*### (BEGIN|END) SOLUTION", line)
            )
    return release


def validate(page, nb):
    nb.page.get_by_role("button", name="Validate").first.click()
    dialog = page.locator(".jp-Dialog", has_text="Validation Results")
    dialog.locator(".validation-success, .validation-failed").first.wait_for(timeout=240_000)
    return dialog


def test_student_validates_an_exercise(page, lab, course, grading, shot):
    grading.wait_released()  # the instructor's release is in place before the student writes
    path = course / EXERCISE
    filled = answered(
        nbformat.read(path, as_version=4), nbformat.read(course / SOLUTION, as_version=4)
    )
    nbformat.write(filled, path)

    with screenshot_at_end(shot, page, "student_validate"):
        nb = open_notebook(page, lab, EXERCISE)
        dialog = validate(page, nb)
        assert dialog.locator(".validation-success").count() == 1, dialog.inner_text()
        assert "Success! Your notebook passes all the tests." in dialog.inner_text()
        shot(page, "student_validate_success")
        dialog.get_by_role("button", name=re.compile("ok|close", re.IGNORECASE)).first.click()
        dialog.wait_for(state="detached")

        # A wrong derivative, typed into the answer cell; Validate saves the notebook first.
        editor = cell_containing(nb, "def sigmoid_grad").locator(".cm-content")
        editor.click()
        page.keyboard.press("Control+A")
        page.keyboard.insert_text(WRONG_SIGMOID_GRAD)
        page.keyboard.press("Escape")
        dialog = validate(page, nb)
        text = dialog.inner_text()
        assert dialog.locator(".validation-failed").count() == 1, text
        assert "The following cell failed" in text and "Success!" not in text, text
        assert "sigmoid_grad(" in text and "Error" in text, (
            f"the failure does not show the sigmoid_grad test and its error:\n{text}"
        )

    saved = nbformat.read(path, as_version=4)
    assert any(c.source.strip() == WRONG_SIGMOID_GRAD.strip() for c in saved.cells), (
        "the typed answer is not what Validate saved"
    )


# 4. ----------------------------------------------------------------------------------------------
def expected_scores(course) -> dict[str, float]:
    """Per sample student, the points its documented mistakes leave (samples/expected/*.json)."""
    totals: dict[str, float] = {}
    for f in sorted((course / "samples" / "expected").glob("*.json")):
        for student, grades in json.loads(f.read_text()).items():
            totals[student] = totals.get(student, 0) + sum(grades.values())
    return totals


def test_instructor_sees_assignments_and_graded_samples_in_the_formgrader(
    page, lab, course, grading, shot
):
    assignments = sorted(p.name for p in (course / "solutions").iterdir() if p.is_dir())
    with screenshot_at_end(shot, page, "instructor_formgrader"):
        grading.wait()
        page.goto(lab.url("formgrader"))
        for a in assignments:
            page.locator("#main-table td", has_text=a).first.wait_for()
        shot(page, "instructor_assignments")

        page.get_by_role("link", name="Manage Students").click()
        expected = expected_scores(course)
        assert expected, "samples/expected holds no scores"
        rows = page.locator("#main-table tr", has=page.locator("td.score"))
        rows.nth(len(expected) - 1).wait_for()
        shown = {}
        for row in rows.all():
            score = row.locator("td.score").inner_text().split("/")[0].strip()
            shown[row.locator("td.id").inner_text().strip()] = float(score)
        wrong = {s: (shown.get(s), pts) for s, pts in expected.items() if shown.get(s) != pts}
        assert not wrong, (f"formgrader scores (shown, expected) differ: {wrong}; per question in "
                           f"the gradebook: {gradebook_detail(course, wrong)}\n"
                           f"{grading.log.read_text()[-3000:]}")


def gradebook_detail(course, students) -> dict:
    """Per student: {grade_id: score} from the copy's gradebook, to say which question differs."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in students:
            for sub in gb.student_submissions(student):
                out[student] = {g.name: g.score for nb in sub.notebooks for g in nb.grades}
    return out
