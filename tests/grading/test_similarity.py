"""grader/similarity.py: submissions that are suspiciously alike are flagged, honest ones are not.

The class is made here (tests/grading/similarity_class.py): five students who answered a made-up
assignment independently, and copies dressed up as students dress them (names renamed, functions
reordered, comments and blank lines changed, dead code added, code moved into a cell of their own).
"""

from __future__ import annotations

import csv
import itertools
import os
import subprocess
import sys
import time

import nbformat
import pytest
import similarity_class as C
from coursekit import REPO

from grader import cli, report, similarity
from grader.types import FAILED, GRADED, MANUAL, REVIEW, Result

RELEASE = similarity.release_code(C.release())


def _doc(answers, extra=()):
    return similarity.student_code(C.submission(answers, extra), C.release())


def _flagged(pairs):
    return {(p.student_a, p.student_b) for p in pairs if p.flagged}


@pytest.fixture(scope="module")
def honest():
    return {name: _doc(C.honest(name)) for name in C.HONEST}


def test_a_disguised_copy_is_flagged_and_nobody_else(honest):
    answers, extra = C.disguise(C.honest("chen"))
    docs = {**honest, "copier": _doc(answers, extra)}
    assert "my own working here" in docs["copier"] and "_unused_helper" in docs["copier"]
    pairs = similarity.compare(docs, RELEASE, assignment="quiz")
    assert _flagged(pairs) == {("chen", "copier")}, [
        (p.student_a, p.student_b, round(p.similarity, 2), p.overlap) for p in pairs[:5]]
    top = pairs[0]
    assert (top.student_a, top.student_b, top.assignment) == ("chen", "copier", "quiz")
    assert 0.8 <= top.similarity <= 1.0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_disguise_alone_still_leaves_the_pair_flagged(honest, seed):
    """The copy of each honest student, compared with that student only (no class to discount)."""
    for name in C.HONEST:
        answers, extra = C.disguise(C.honest(name), seed=seed)
        pairs = similarity.compare({name: honest[name], "copier": _doc(answers, extra)}, RELEASE)
        assert _flagged(pairs) == {tuple(sorted((name, "copier")))}, (name, pairs)


def test_independent_correct_solutions_are_not_flagged_even_two_alone(honest):
    """Every two honest students, compared alone: nothing is discounted as common, and the
    shared one-liner sigmoid and the shapes every training loop has must not make them alike."""
    for a, b in itertools.combinations(sorted(honest), 2):
        pairs = similarity.compare({a: honest[a], b: honest[b]}, RELEASE)
        assert not _flagged(pairs), [(p.student_a, p.student_b, p.similarity, p.overlap)
                                     for p in pairs]
    assert not _flagged(similarity.compare(honest, RELEASE))


def test_the_same_one_liner_alone_is_not_suspicious():
    """Two students who answered only the sigmoid, the way everybody writes it: their shared code
    is all they wrote, but far too little to mean anything."""
    docs = {"a": _doc({"sigmoid": C.SIGMOID}), "b": _doc({"sigmoid": C.SIGMOID})}
    pairs = similarity.compare(docs, RELEASE)
    assert pairs and pairs[0].similarity == pytest.approx(1.0)
    assert not _flagged(pairs), "a one-line answer must not make a pair suspicious"


BLOCK = '''
def load_and_standardise(X_raw, y_raw):
    keep = np.isfinite(X_raw).all(axis=1)
    X_clean, y_clean = X_raw[keep], y_raw[keep]
    mu, sd = X_clean.mean(axis=0), X_clean.std(axis=0) + 1e-12
    X_std = (X_clean - mu) / sd
    order = np.argsort(y_clean, kind="stable")
    counts = np.bincount(y_clean.astype(int), minlength=2)
    print("class balance:", counts / counts.sum())
    return X_std[order], y_clean[order], mu, sd


def confusion_table(y_true, y_pred, n_classes=2):
    table = np.zeros((n_classes, n_classes), dtype=int)
    for t, p in zip(y_true.astype(int), y_pred.astype(int)):
        table[t, p] += 1
    precision = np.diag(table) / np.maximum(table.sum(axis=0), 1)
    recall = np.diag(table) / np.maximum(table.sum(axis=1), 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    for k in range(n_classes):
        print(f"class {k}: precision {precision[k]:.3f} recall {recall[k]:.3f} f1 {f1[k]:.3f}")
    return table, precision, recall, f1
'''


def test_code_many_students_share_is_discounted(honest):
    """A helper the lecture handed out, pasted by most of the class: two students who share it
    look alike on their own, but not among a class where it is common."""
    docs = {name: _doc(C.honest(name), [BLOCK]) for name in C.HONEST}
    pair = {k: docs[k] for k in ("ana", "chen")}
    assert _flagged(similarity.compare(pair, RELEASE)) == {("ana", "chen")}, (
        "the shared helper alone should look suspicious without a class")
    assert not _flagged(similarity.compare(docs, RELEASE)), (
        "a helper five of five students share is common code and must not count")


def test_a_copied_written_answer_is_flagged_though_the_code_is_the_students_own(honest):
    """A paragraph copied with a few words changed, in a submission whose code is independent."""
    answers = {**C.honest("dora"), "written_lr": C.reword(C.WRITTEN["chen"])}
    assert answers["written_lr"] != C.WRITTEN["chen"]
    docs = {**{n: honest[n] for n in ("ana", "ben", "chen", "emil")}, "dora": _doc(answers)}
    assert _flagged(similarity.compare(docs, RELEASE)) == {("chen", "dora")}
    pair = {k: docs[k] for k in ("chen", "dora")}
    assert _flagged(similarity.compare(pair, RELEASE)) == {("chen", "dora")}


def test_copied_code_is_flagged_though_the_written_answers_differ(honest):
    answers = {**C.honest("ana"), "written_lr": C.WRITTEN["emil"]}
    pair = {"ana": honest["ana"], "copier": _doc(answers)}
    assert _flagged(similarity.compare(pair, RELEASE)) == {("ana", "copier")}


def test_the_question_pasted_into_an_answer_never_counts():
    docs = {s: _doc({"written_lr": f"{C.WRITTEN_QUESTION}\n\nI am not sure."}) for s in "ab"}
    assert not _flagged(similarity.compare(docs, RELEASE))


def test_the_release_code_never_counts():
    """Students who left the stubs and pasted the release's test cell into a cell of their own."""
    docs = {s: _doc({}, [C.TEST, C.SETUP]) for s in ("a", "b", "c")}
    assert similarity.compare(docs, RELEASE) == []
    assert similarity.compare({"a": docs["a"], "b": docs["b"]}, "") != [], (
        "without the release as boilerplate the same students would share code")


def test_student_code_keeps_answers_and_own_cells_only():
    nb = C.submission({"sigmoid": C.SIGMOID}, ["print('mine')"])
    nb.cells[0].source = "import os  # an edited locked cell: the release's is graded"
    nb.cells.append(nbformat.v4.new_markdown_cell("my notes"))
    code, text = similarity.split(similarity.student_code(nb, C.release()))
    assert "return 1 / (1 + np.exp(-z))" in code and "print('mine')" in code
    assert "import os" not in code and "Checks sigmoid" not in code and "my notes" not in code
    assert "# ---- sigmoid ----" in code and "# ---- extra cell" in code
    assert "my notes" in text and "YOUR ANSWER HERE" in text, "written answers and own notes"
    assert "Why does gradient descent diverge" not in text, "the question is the release's"


def test_numbers_are_the_same_in_every_process():
    """Python's own str hash changes per process; the fingerprints must not."""
    script = ("import sys, json, similarity_class as C; from grader import similarity as S\n"
              "a, e = C.disguise(C.honest('ana'))\n"
              "docs = {n: S.student_code(C.submission(C.honest(n)), C.release()) "
              "for n in C.HONEST}\n"
              "docs['x'] = S.student_code(C.submission(a, e), C.release())\n"
              "print(json.dumps([(p.student_a, p.student_b, p.similarity) for p in "
              "S.compare(docs, S.release_code(C.release()))]))\n")
    outs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed,
                   PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests" / "grading")]))
        proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              text=True, check=True, timeout=120)
        outs.append(proc.stdout)
    assert outs[0] == outs[1] and len(outs[0]) > 10


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="docs must map"):
        similarity.compare({"a": ["code"]})
    with pytest.raises(ValueError, match="Similarity.threshold must be in"):
        similarity.Similarity(threshold=1.5)
    with pytest.raises(ValueError, match="Similarity.noise_threshold must be >= 1"):
        similarity.Similarity(noise_threshold=0)


def _course(root, students):
    """A course with the made-up assignment 'quiz' released and ``students`` submitted."""
    for folder in ("solutions", "exercises"):
        (root / folder / "quiz").mkdir(parents=True)
        nbformat.write(C.release(), root / folder / "quiz" / "quiz.ipynb")
    for name, (answers, extra) in students.items():
        (root / "submitted" / name / "quiz").mkdir(parents=True)
        nbformat.write(C.submission(answers, extra), root / "submitted" / name / "quiz" /
                       "quiz.ipynb")
    return root


def _class():
    students = {n: (C.honest(n), []) for n in C.HONEST}
    students["copier"] = C.disguise(C.honest("ben"))
    return students


def test_run_writes_the_csv_the_report_and_findings_in_grades_csv(tmp_path):
    root = _course(tmp_path, _class())
    (root / "submitted" / "broken" / "quiz").mkdir(parents=True)
    (root / "submitted" / "broken" / "quiz" / "quiz.ipynb").write_text("{ not json")
    settings = similarity.Similarity()
    _, skipped = similarity.run(root, root / "submitted", ["quiz"], settings=settings)
    assert skipped and "broken" in skipped[0] and "not valid notebook JSON" in skipped[0]
    with open(root / "similarity.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["assignment", "student_a", "student_b", "similarity",
                                     "flagged"]
        rows = list(reader)
    assert rows and all(0 <= float(r["similarity"]) <= 1 for r in rows)
    assert {r["flagged"] for r in rows} <= {"true", "false"}
    assert [(r["student_a"], r["student_b"]) for r in rows if r["flagged"] == "true"] == [
        ("ben", "copier")]
    assert rows == sorted(rows, key=lambda r: -float(r["similarity"]))
    page = (root / "similarity" / "quiz.html").read_text()
    assert "ben and copier" in page and page.count("<mark>") >= 4
    assert "ana and" not in page, "only flagged pairs are shown side by side"
    # grades.csv beside it: both students of the flagged pair need review, naming the other
    results = [Result("ben", "quiz", GRADED, score=2.0, max_score=2.0),
               Result("copier", "quiz", MANUAL, "1 question(s) need manual grading",
                      score=1.0, max_score=2.0),
               Result("ana", "quiz", GRADED, score=2.0, max_score=2.0),
               Result("broken", "quiz", FAILED, "not valid notebook JSON")]
    report.write_csv(results, root / "grades.csv")
    with open(root / "grades.csv", newline="") as fh:
        grades = {r["student"]: r for r in csv.DictReader(fh)}
    assert grades["ben"]["status"] == REVIEW and "with copier's" in grades["ben"]["findings"]
    assert grades["copier"]["status"] == REVIEW and "with ben's" in grades["copier"]["findings"]
    assert "need manual grading" in grades["copier"]["reason"], "the manual grading note stays"
    assert grades["ben"]["score"] == "2" and grades["copier"]["score"] == "1", "never deducted"
    assert grades["ana"]["status"] == GRADED and grades["ana"]["findings"] == ""
    assert grades["broken"]["status"] == FAILED
    report.write_csv(results, root / "grades.csv")  # again: the same findings, not twice
    with open(root / "grades.csv", newline="") as fh:
        again = {r["student"]: r for r in csv.DictReader(fh)}
    assert again == grades


def test_another_assignment_keeps_its_rows_and_earlier_gradings_are_compared(tmp_path):
    root = _course(tmp_path, _class())
    similarity.write_csv([similarity.Pair("other", "x", "y", 0.9, 300, True)],
                         root / "similarity.csv")
    # ben was graded in an earlier run: only autograded/ has his notebook now
    (root / "autograded").mkdir()
    (root / "submitted" / "ben").rename(root / "autograded" / "ben")
    similarity.run(root, root / "submitted", ["quiz"], also=[root / "autograded"])
    rows = similarity.read_csv(root / "similarity.csv")
    assert {r["assignment"] for r in rows} == {"other", "quiz"}
    assert ("ben", "copier") in {(r["student_a"], r["student_b"]) for r in rows
                                 if r["flagged"] == "true"}


def test_the_command_compares_and_says_what_it_flagged(tmp_path, capsys):
    root = _course(tmp_path, _class())
    assert cli.main(["similarity", "--course", str(root)]) == 0
    out = capsys.readouterr().out
    assert "quiz: ben and copier are" in out and "1 pair(s) flagged" in out
    assert (root / "similarity.csv").exists() and (root / "similarity" / "quiz.html").exists()
    assert cli.main(["similarity", "--course", str(root), "--assignment", "nope"]) == 2


def test_a_class_of_300_is_compared_and_the_planted_copies_found():
    """300 generated submissions (every answer shared by about a fifth of the class, each with
    their own exploration cell) and two disguised copies: only the copies are flagged. The time
    is printed (benchmarks/bench_similarity.py compares it with a baseline)."""
    cls = C.generated_class(300)
    answers, extra = C.disguise(cls["s007"][0], seed=3)
    cls["copy-of-s007"] = (answers, extra + cls["s007"][1])
    answers, extra = C.disguise(cls["s123"][0], seed=4)
    answers["written_lr"] = cls["s123"][0]["written_lr"]  # as the class wrote it: common text
    cls["copy-of-s123"] = (answers, extra + [cls["s123"][1][0].replace("\n", "\n\n# check\n")])
    docs = {s: _doc(a, e) for s, (a, e) in cls.items()}
    start, cpu = time.perf_counter(), time.process_time()
    pairs = similarity.compare(docs, RELEASE)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"\n{len(docs)} submissions, {len(docs) * (len(docs) - 1) // 2} pairs compared in "
          f"{seconds:.1f} s ({cpu:.1f} s CPU)")
    assert _flagged(pairs) == {("copy-of-s007", "s007"), ("copy-of-s123", "s123")}


def test_an_assignment_without_a_release_is_left_out_with_the_reason(tmp_path):
    root = _course(tmp_path, _class())
    for nb in (root / "exercises" / "quiz").glob("*.ipynb"):
        nb.unlink()
    pairs, skipped = similarity.run(root, root / "submitted", ["quiz", "other"])
    assert pairs == [] and len(skipped) == 1, skipped
    assert "quiz: no release" in skipped[0] and "make release" in skipped[0]
