"""The nbgrader round trip for every assignment, run on a throwaway copy of the course.

For each assignment in ``solutions/``: the release nbgrader generates equals the committed
``exercises/`` (a stale release fails); the instructor's solution, submitted as a student's work,
gets full marks on every autograded question and its written answers wait for a person; the
untouched release gets zero everywhere, written answers included (nbgrader recognises the unchanged
stub); and each bundled sample submission in ``samples/`` gets exactly the per-question scores
recorded in ``samples/expected/<assignment>.json`` (autograded questions only) while its written
answers wait for manual grading. Correct work that gives a warning keeps its points: in every
assignment the sample ``sample-correct-warning`` has full marks, its warnings shown on stdout and
nothing on stderr (which nbgrader would count as a failed test).

Written answers: every assignment has at least one manually graded answer, and each has a rubric in
its question's read-only cell, inside a hidden-tests region. The rubric must never reach the
student's release, and must be in the autograded notebook the formgrader shows to graders.
"""

from __future__ import annotations

import html
import json
import re

import pytest
from coursekit import (
    REPO,
    assignment_names,
    autograded_ids,
    grades,
    load_json,
    make_course,
    manual_grade_ids,
    nbgrader,
    notebooks,
    rubrics,
    source,
    submit,
)

from nnlib.testing import PREFIX as WARNING_PREFIX

ASSIGNMENTS = assignment_names()
WARNING_SAMPLE = "sample-correct-warning"  # correct answers that warn, in every assignment
PARAMS = ASSIGNMENTS  # conftest.work_unit schedules each assignment as one unit
_GRADED: dict[str, tuple] = {}


def _samples(assignment: str) -> dict[str, list]:
    """Sample students who submitted ``assignment``: student id -> notebook paths."""
    root = REPO / "samples" / "submitted"
    if not root.is_dir():
        return {}
    return {d.name: notebooks(d / assignment) for d in sorted(root.iterdir())
            if (d / assignment).is_dir()}


def graded(assignment: str, tmp_path_factory):
    """Generate the release and autograde reference, blank and samples once per assignment."""
    if assignment not in _GRADED:
        course = make_course(tmp_path_factory.mktemp(f"course-{assignment}"), [assignment])
        nbgrader(course, "generate_assignment", assignment, "--force")
        release = course / "exercises" / assignment
        submit(course, "reference", assignment, notebooks(course / "solutions" / assignment))
        submit(course, "blank", assignment, notebooks(release))
        for student, files in _samples(assignment).items():
            submit(course, student, assignment, files)
        nbgrader(course, "autograde", assignment, "--force")
        _GRADED[assignment] = (course, grades(course, assignment))
    return _GRADED[assignment]


def _ids(assignment: str) -> tuple[set, set]:
    """(autograded grade_ids, manually graded grade_ids) of the assignment's source notebooks."""
    auto, manual = set(), set()
    for nb in notebooks(REPO / "solutions" / assignment):
        auto |= set(autograded_ids(nb))
        manual |= set(manual_grade_ids(nb))
    return auto, manual


def _lines(text: str) -> list[str]:
    """The distinctive lines of a text: stripped, at least 20 characters long."""
    return [line.strip() for line in text.splitlines() if len(line.strip()) >= 20]


def _canonical(path):
    nb = load_json(path)
    return json.dumps(nb, sort_keys=True, indent=1)


def test_there_is_at_least_one_assignment():
    assert ASSIGNMENTS, "solutions/ holds no assignment notebooks"


@pytest.mark.grading
@pytest.mark.parametrize("assignment", PARAMS)
def test_release_matches_generated(assignment, tmp_path_factory):
    course, _ = graded(assignment, tmp_path_factory)
    generated = course / "exercises" / assignment
    committed = REPO / "exercises" / assignment
    gen_files = sorted(p.relative_to(generated) for p in generated.rglob("*") if p.is_file())
    com_files = sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    assert gen_files == com_files, (
        f"exercises/{assignment} holds {com_files} but nbgrader generates {gen_files}: "
        "run `make release` and commit exercises/")
    for rel in gen_files:
        if rel.suffix == ".ipynb":
            same = _canonical(generated / rel) == _canonical(committed / rel)
        else:
            same = (generated / rel).read_bytes() == (committed / rel).read_bytes()
        assert same, (f"exercises/{assignment}/{rel} is stale or was edited by hand: "
                      "run `make release` and commit the result")


@pytest.mark.grading
@pytest.mark.parametrize("assignment", PARAMS)
def test_solution_scores_full_marks(assignment, tmp_path_factory):
    _, result = graded(assignment, tmp_path_factory)
    got = result["reference"]
    auto, manual = _ids(assignment)
    assert got, f"no grade cells were found in solutions/{assignment}"
    assert set(got) == auto | manual, f"the gradebook holds {sorted(got)}"
    lost = {gid: (g["score"], g["max_score"]) for gid, g in got.items()
            if gid in auto and (g["needs_manual_grade"] or g["auto_score"] != g["max_score"])}
    assert not lost, f"the solution of {assignment} loses points (score, max): {lost}"
    scored = {gid: got[gid] for gid in manual
              if not got[gid]["needs_manual_grade"] or got[gid]["auto_score"] is not None}
    assert not scored, (f"the model answers of {assignment} must wait for a person, but autograde "
                        f"scored them: {scored}")


@pytest.mark.grading
@pytest.mark.parametrize("assignment", PARAMS)
def test_blank_release_scores_zero(assignment, tmp_path_factory):
    _, result = graded(assignment, tmp_path_factory)
    got = result["blank"]
    auto, manual = _ids(assignment)
    assert set(got) == auto | manual, f"the gradebook holds {sorted(got)}"
    scored = {gid: (g["score"], g["max_score"]) for gid, g in got.items() if g["score"] != 0}
    assert not scored, f"the untouched release of {assignment} earns points (score, max): {scored}"
    waiting = sorted(gid for gid, g in got.items() if g["needs_manual_grade"])
    assert not waiting, (f"an untouched written answer is a 0 that needs nobody, but {waiting} of "
                         f"{assignment} wait for manual grading")
    assert all(got[gid]["auto_score"] == 0 for gid in manual), (
        f"autograde did not score the untouched written answers of {assignment} 0: "
        f"{ {gid: got[gid] for gid in manual} }")


@pytest.mark.grading
@pytest.mark.parametrize("assignment", PARAMS)
def test_samples_score_as_expected(assignment, tmp_path_factory):
    samples = _samples(assignment)
    expected_file = REPO / "samples" / "expected" / f"{assignment}.json"
    if not samples:
        assert not expected_file.exists(), f"{expected_file} names samples that do not exist"
        pytest.skip(f"no sample submissions for {assignment}")
    expected = load_json(expected_file)
    assert sorted(expected) == sorted(samples), (
        f"samples/expected/{assignment}.json lists {sorted(expected)}, samples/submitted holds "
        f"{sorted(samples)}")
    auto, manual = _ids(assignment)
    _, result = graded(assignment, tmp_path_factory)
    for student, want in expected.items():
        assert set(want) == auto, (
            f"samples/expected/{assignment}.json must give {student}'s points for exactly the "
            f"autograded questions {sorted(auto)}, got {sorted(want)}")
        got = {gid: result[student][gid]["score"] for gid in auto}
        assert got == pytest.approx(want), f"{student} on {assignment}: got {got}, expected {want}"
        not_waiting = {gid: result[student][gid] for gid in manual
                       if not result[student][gid]["needs_manual_grade"]
                       or result[student][gid]["auto_score"] is not None}
        assert not not_waiting, (f"{student} wrote answers to {sorted(manual)} of {assignment}; "
                                 f"they must wait for manual grading: {not_waiting}")


@pytest.mark.grading
@pytest.mark.parametrize("assignment", PARAMS)
def test_a_warning_of_correct_code_is_shown_and_costs_nothing(assignment, tmp_path_factory):
    """nbgrader scores a test cell 0 for any output on stderr, where Python's warnings go. Every
    assignment's setup cell sends them to stdout (nnlib.testing.warnings_to_stdout), so correct work
    that warns keeps its points: each assignment has a sample, WARNING_SAMPLE, whose correct answers
    give warnings (in test cells or scratch cells), and autograded it has full marks, nothing on
    stderr and the warnings shown on stdout."""
    submitted = REPO / "samples" / "submitted" / WARNING_SAMPLE / assignment
    assert submitted.is_dir(), (f"{assignment} needs a sample {WARNING_SAMPLE}: correct answers "
                                "that give a warning, which must keep full marks")
    course, result = graded(assignment, tmp_path_factory)
    auto, _ = _ids(assignment)
    lost = {gid: (result[WARNING_SAMPLE][gid]["score"], result[WARNING_SAMPLE][gid]["max_score"])
            for gid in auto
            if result[WARNING_SAMPLE][gid]["score"] != result[WARNING_SAMPLE][gid]["max_score"]}
    assert not lost, f"correct work that warns lost points on {assignment} (score, max): {lost}"
    shown, on_stderr = [], []
    for nb in notebooks(course / "autograded" / WARNING_SAMPLE / assignment):
        for cell in load_json(nb)["cells"]:
            for out in cell.get("outputs", []):
                if out.get("output_type") != "stream":
                    continue
                text = "".join(out["text"]) if isinstance(out["text"], list) else out["text"]
                if out["name"] == "stderr":
                    on_stderr.append(f"{cell.get('id')}: {text[:200]}")
                elif WARNING_PREFIX in text:
                    shown.append(cell.get("id"))
    assert not on_stderr, f"{WARNING_SAMPLE} wrote to stderr on {assignment}: {on_stderr}"
    assert shown, (f"no warning of {WARNING_SAMPLE} was shown on stdout on {assignment}: its "
                   "answers must give one, and the setup cell must call warnings_to_stdout()")


@pytest.mark.parametrize("assignment", PARAMS)
def test_every_assignment_has_a_written_answer_with_a_rubric(assignment):
    for nb in notebooks(REPO / "solutions" / assignment):
        found = rubrics(nb)
        if found:
            break
    else:
        pytest.fail(f"solutions/{assignment} has no manually graded answer cell")
    for nb in notebooks(REPO / "solutions" / assignment):
        for gid, rubric in rubrics(nb).items():
            assert "point" in rubric and len(_lines(rubric)) >= 3, (
                f"{nb.name} {gid}: the question's read-only cell holds no rubric between "
                f"BEGIN HIDDEN TESTS and END HIDDEN TESTS (what earns each point, common wrong "
                f"answers), got {rubric!r}")


@pytest.mark.parametrize("assignment", PARAMS)
def test_release_holds_no_rubric_and_no_model_answer(assignment):
    for nb in notebooks(REPO / "solutions" / assignment):
        release = REPO / "exercises" / assignment / nb.name
        text = "\n".join(source(c) for c in load_json(release)["cells"])
        for gid, rubric in rubrics(nb).items():
            leaked = [line for line in _lines(rubric) if line in text]
            assert not leaked, f"exercises/{assignment}/{nb.name} shows {gid}'s rubric: {leaked}"
        answers = {c["metadata"]["nbgrader"]["grade_id"]: source(c)
                   for c in load_json(release)["cells"]
                   if c["metadata"].get("nbgrader", {}).get("grade_id") in manual_grade_ids(nb)}
        assert set(answers) == set(manual_grade_ids(nb)), f"{release.name} lacks written answers"
        for gid, text in answers.items():
            assert text == "YOUR ANSWER HERE", (
                f"exercises/{assignment}/{nb.name} {gid}: the release must hold nbgrader's stub, "
                f"not the model answer: {text[:80]!r}")


@pytest.mark.grading
@pytest.mark.parametrize("assignment", PARAMS)
def test_rubric_reaches_graders_in_the_autograded_notebook(assignment, tmp_path_factory):
    course, result = graded(assignment, tmp_path_factory)
    for nb in notebooks(REPO / "solutions" / assignment):
        found = rubrics(nb)
        assert found, f"{nb.name} has no written answer"
        for student in result:
            autograded = course / "autograded" / student / assignment / nb.name
            text = "\n".join(source(c) for c in load_json(autograded)["cells"])
            for gid, rubric in found.items():
                missing = [line for line in _lines(rubric) if line not in text]
                assert not missing, (f"the formgrader's notebook of {student} "
                                     f"(autograded/{student}/{assignment}/{nb.name}) lacks {gid}'s "
                                     f"rubric: {missing}")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def _ngrams(text: str, n: int = 6) -> set[tuple]:
    """Runs of n words of a text's prose (math and code spans left out), to find it rendered."""
    prose = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`", " ", text, flags=re.DOTALL)
    words = _words(prose)
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def _html_ngrams(path, n: int = 6) -> set[tuple]:
    page = path.read_text(encoding="utf-8")
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.DOTALL | re.IGNORECASE)
    words = _words(html.unescape(re.sub(r"<[^>]+>", " ", page)))
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


@pytest.mark.grading
@pytest.mark.parametrize("assignment", PARAMS)
def test_feedback_shows_the_written_question_but_not_its_rubric(assignment, tmp_path_factory):
    """Feedback goes to the student: it renders the autograded notebook, rubric removed."""
    course, result = graded(assignment, tmp_path_factory)
    nbgrader(course, "generate_feedback", assignment, "--force")
    for nb in notebooks(REPO / "solutions" / assignment):
        release = load_json(REPO / "exercises" / assignment / nb.name)
        shown = _ngrams("\n".join(source(c) for c in release["cells"]))
        found = rubrics(nb)
        for student in result:
            submitted = load_json(course / "submitted" / student / assignment / nb.name)
            answers = "\n".join(source(c) for c in submitted["cells"]
                                if c["metadata"].get("nbgrader", {}).get("grade_id") in found)
            page = _html_ngrams(course / "feedback" / student / assignment / f"{nb.stem}.html")
            assert len(shown & page) > len(shown) / 2, (
                f"{student}'s feedback on {assignment} does not even show the release's text")
            for gid, rubric in found.items():
                private = _ngrams(rubric) - shown - _ngrams(answers)
                assert private, f"{gid}: the rubric repeats the question and the answer"
                leaked = private & page
                assert not leaked, (f"{student}'s feedback on {assignment} shows {gid}'s rubric: "
                                    f"{[' '.join(w) for w in sorted(leaked)[:5]]}")
