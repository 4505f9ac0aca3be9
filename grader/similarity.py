"""Submissions of an assignment that are suspiciously alike, for a person to look at.

``python -m grader similarity`` (and the end of ``make grade``) compares, for every assignment, what
each student wrote (their answer cells and the cells they added) with every other student's, using
copydetect's winnowing fingerprints (the method of MOSS, offline), their code and their written text
(markdown answers and notes) each on its own:

- the code is tokenized and normalised first (every name becomes one symbol, comments, blank lines
  and spacing vanish), so renamed variables, moved functions, new comments or reformatting change
  little; written text is compared as it is (a copied paragraph with a few words changed still
  shares most of its runs of characters);
- code added around a copy does not hide it, because a part's similarity is the larger of the two
  shares (how much of *either* student's own code, or text, is found in the other's), and a pair's
  similarity is that of its code or of its text, whichever is flagged or higher;
- the release's code and text (stubs, test and read-only cells, questions) are boilerplate and
  never count;
- what many students share is discounted: a fingerprint found in ``common_fraction`` of the
  submissions, or in ``common_max_students`` of them in a large class, but always in at least
  ``common_min_students`` (by default: 10 % of the class, at least 3 and at most 10 submissions).
  Short answers such as a one-line sigmoid are written the same way by honest students;
- a pair is *flagged* when the similarity of its code or of its text reaches ``threshold`` and the
  two share at least ``min_overlap`` characters of it (of normalised code: every name counts as
  one), so that a couple of identical short lines never make a pair suspicious.

The settings are ``c.Similarity.*`` in ``grader_config.py``. Output, beside ``grades.csv``:
``similarity.csv`` (``assignment,student_a,student_b,similarity,flagged``, one row per pair that
shares anything after the discounts, most similar first) and ``similarity/<assignment>.html``, the
flagged pairs side by side with the shared regions highlighted. :mod:`grader.report` adds a finding
to each flagged student's row of ``grades.csv`` (status *needs review*, naming the other student).
Nothing is ever deducted: a person looks and decides.

Fingerprints use a stable hash of their own instead of Python's ``hash``, whose value changes from
one process to the next, so the same submissions give the same numbers in every run.

One module of about 500 lines on purpose: the extraction of what a student wrote, the fingerprints,
the discounts and the side-by-side report are one algorithm whose parts share their settings, and
nothing else in the grader uses any of them.
"""

from __future__ import annotations

import csv
import html
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np
from traitlets import Float, Integer, validate
from traitlets.config import Configurable

from . import cells
from .course import nbgrader_config
from .integrity import SubmissionUnreadable, read_notebook

CSV_NAME = "similarity.csv"
REPORT_DIR = "similarity"
COLUMNS = ["assignment", "student_a", "student_b", "similarity", "flagged"]


class Similarity(Configurable):
    """The settings of the comparison (``c.Similarity.*`` in ``grader_config.py``)."""

    threshold = Float(0.6, help="A pair whose similarity (0..1: the larger share of either "
                               "student's own code found in the other's) reaches this is flagged."
                      ).tag(config=True)
    min_overlap = Integer(120, help="...and only when the two share at least this many characters "
                                    "of it (normalised code: every name counts as one; text)."
                          ).tag(config=True)
    common_fraction = Float(0.1, help="Code found in at least this fraction of an assignment's "
                                      "submissions is common and never counts."
                            ).tag(config=True)
    common_min_students = Integer(3, help="...but in at least this many submissions (code two "
                                          "students share is what the comparison looks for)..."
                                  ).tag(config=True)
    common_max_students = Integer(10, help="...and code found in this many submissions is "
                                           "common in any class (as MOSS's -m option, whose "
                                           "default is 10).").tag(config=True)
    noise_threshold = Integer(25, help="copydetect's k: matches shorter than this many characters "
                                       "of normalised code are never seen.").tag(config=True)
    guarantee_threshold = Integer(25, help="copydetect's guarantee: matches at least this long are "
                                           "always seen (winnowing window = guarantee - noise + 1)."
                                  ).tag(config=True)

    @validate("threshold", "common_fraction")
    def _fraction(self, proposal):
        if not 0 <= proposal["value"] <= 1:
            raise ValueError(f"Similarity.{proposal['trait'].name} must be in [0, 1], "
                             f"got {proposal['value']}")
        return proposal["value"]

    @validate("min_overlap", "common_min_students", "common_max_students")
    def _non_negative(self, proposal):
        if proposal["value"] < 0:
            raise ValueError(f"Similarity.{proposal['trait'].name} must be >= 0, "
                             f"got {proposal['value']}")
        return proposal["value"]

    @validate("noise_threshold", "guarantee_threshold")
    def _positive(self, proposal):
        if proposal["value"] < 1:
            raise ValueError(f"Similarity.{proposal['trait'].name} must be >= 1, "
                             f"got {proposal['value']}")
        return proposal["value"]

    @property
    def window(self) -> int:
        return max(1, self.guarantee_threshold - self.noise_threshold + 1)


@dataclass
class Pair:
    """Two students' submissions of one assignment, compared."""

    assignment: str
    student_a: str
    student_b: str
    similarity: float
    overlap: int  # characters the two share (normalised code, or text) in the part that decided
    flagged: bool
    slices_a: np.ndarray = field(default=None, repr=False)  # 2 x N: shared regions in a's code
    slices_b: np.ndarray = field(default=None, repr=False)


class _Fingerprint:
    """What :func:`copydetect.compare_files` reads of a ``CodeFingerprint``, built with a stable
    hash and with boilerplate and common code removed (see :func:`compare`)."""

    def __init__(self, text: str, k: int, window: int, *, code: bool = True, start: int = 0):
        # copydetect is imported where it is used, on purpose: it imports matplotlib.pyplot (about a
        # second), and report.py imports this module for every grades.csv.
        from copydetect.utils import filter_code, winnow

        self.raw_code = text
        self.k = k
        self.start = start  # where ``text`` begins in the student's whole document
        if code:
            self.filtered_code, self.offsets = filter_code(text, "answers.py", "python")
        else:  # written text is compared as it is
            self.filtered_code, self.offsets = text, np.array([])
        hashes = _kgram_hashes(self.filtered_code, k)
        if len(hashes):
            self._hashes, self._idx = winnow(hashes, window, remove_duplicates=False)
        else:
            self._hashes, self._idx = hashes, np.array([], dtype=int)
        self.hashes, self.hash_idx, self.token_coverage = set(), {}, 0  # see keep()

    def distinct(self) -> set:
        return set(self._hashes.tolist())

    def keep(self, dropped) -> None:
        """Use every fingerprint except those in ``dropped`` (boilerplate, common code)."""
        from copydetect.utils import get_token_coverage

        self.hash_idx: dict[int, list[int]] = {}
        for h, i in zip(self._hashes.tolist(), self._idx.tolist(), strict=True):
            if h not in dropped:
                self.hash_idx.setdefault(h, []).append(i)
        self.hashes = set(self.hash_idx)
        self.token_coverage = get_token_coverage(self.hash_idx, self.k, len(self.filtered_code))


_BASE = np.uint64(1_000_003)


def _kgram_hashes(text: str, k: int) -> np.ndarray:
    """A stable 64-bit hash of every k-character substring of ``text`` (a polynomial hash of the
    code points, mixed with splitmix64's finaliser), the same in every process.

    Returns
    -------
    numpy.ndarray of int64, shape (max(0, len(text) - k + 1),)
    """
    if len(text) < k:
        return np.empty(0, dtype=np.int64)
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    windows = np.lib.stride_tricks.sliding_window_view(codes.astype(np.uint64), k)
    powers = _BASE ** np.arange(k - 1, -1, -1, dtype=np.uint64)  # wraps mod 2**64, as meant
    with np.errstate(over="ignore"):
        h = (windows * powers).sum(axis=1, dtype=np.uint64)
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return h.view(np.int64)


WRITTEN = "# ==== written answers and notes ===="


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def student_code(submitted, release) -> str:
    """What a student wrote in one notebook: the code of their answer cells and of every code cell
    of their own, in notebook order, each under a comment naming it (comments never count), then,
    under the line ``WRITTEN``, the text of their written answers and of markdown cells of their
    own (compared as text, not normalised).

    Parameters
    ----------
    submitted, release : nbformat.NotebookNode
        The submitted notebook and its release. The release's answer cells are what a student
        fills in; its other cells are the instructor's and are left out.
    """
    answers = {cells.grade_id(c) for c in release.cells if cells.is_answer(c)}
    known = {cells.grade_id(c) for c in release.cells if cells.grade_id(c)}
    code, prose = [], []
    for index, cell in enumerate(submitted.get("cells", [])):
        kind = cell.get("cell_type")
        if kind not in ("code", "markdown"):
            continue
        gid = cells.grade_id(cell)
        if gid in answers:
            label = gid
        elif gid is None or gid not in known:
            label = f"extra cell {index + 1}"
        else:
            continue  # a locked or test cell: the release's, restored before grading
        (code if kind == "code" else prose).append(
            f"# ---- {label} ----\n{_source(cell).rstrip()}\n")
    return join(["\n".join(code)], ["\n".join(prose)])


def join(codes: list[str], proses: list[str]) -> str:
    """One document of several notebooks' code and written parts (see :func:`student_code`)."""
    code = "\n".join(c for c in codes if c)
    prose = "\n".join(p for p in proses if p)
    return f"{code}\n{WRITTEN}\n{prose}" if prose else code


def split(doc: str) -> tuple[str, str]:
    """(code, written text) of a document of :func:`student_code` or :func:`join`."""
    code, _, prose = doc.partition(f"\n{WRITTEN}\n")
    return code, prose


def release_code(release) -> str:
    """The boilerplate of a release, as a document like :func:`student_code`'s: its answer cells
    as a student who wrote nothing would hand them in, every code cell (stubs, read-only and test
    cells) and every markdown cell (the questions)."""
    stubs_code, stubs_prose = split(student_code(release, release))  # labelled, as students'
    code = "\n".join(c.source for c in release.cells if c.cell_type == "code")
    prose = "\n".join(c.source for c in release.cells if c.cell_type == "markdown")
    return join([stubs_code, code], [stubs_prose, prose])


def compare(docs: dict[str, str], boilerplate: str = "", *, assignment: str = "",
            settings: Similarity | None = None) -> list[Pair]:
    """Compare every two students' code, and their written text, each part on its own.

    Parameters
    ----------
    docs : dict of str to str
        student -> what they wrote (see :func:`student_code` and :func:`join`).
    boilerplate : str
        What never counts (the release's, see :func:`release_code`).
    assignment : str
        Written into each pair.
    settings : Similarity, optional
        Thresholds and discounts; the defaults when omitted.

    Returns
    -------
    list of Pair
        One per pair of students that shares any code after the discounts (student_a < student_b),
        most similar first.
    """
    from copydetect import compare_files

    if not isinstance(docs, dict) or not all(isinstance(v, str) for v in docs.values()):
        raise TypeError("docs must map each student to what they wrote (a str)")
    settings = settings or Similarity()
    k, window = settings.noise_threshold, settings.window
    parts = {s: split(doc) for s, doc in sorted(docs.items())}
    bp_code, bp_text = split(boilerplate)
    prints = {}  # kind -> student -> fingerprint of that part of their document
    for kind, index, base in (("code", 0, bp_code), ("text", 1, bp_text)):
        prints[kind] = {
            s: _Fingerprint(p[index], k, window, code=kind == "code",
                            start=0 if kind == "code" else len(p[0]) + len(WRITTEN) + 2)
            for s, p in parts.items()}
        dropped = _Fingerprint(base, k, window, code=kind == "code").distinct() if base else set()
        counts: dict[int, int] = {}
        for fp in prints[kind].values():
            for h in fp.distinct():
                counts[h] = counts.get(h, 0) + 1
        common = max(settings.common_min_students, 2,
                     min(math.ceil(settings.common_fraction * len(parts)),
                         settings.common_max_students))
        dropped |= {h for h, n in counts.items() if n >= common}
        for fp in prints[kind].values():
            fp.keep(dropped)
    students = list(parts)
    pairs = []
    for i, a in enumerate(students):
        for b in students[i + 1:]:
            found = []  # (similarity, overlap, flagged, slices_a, slices_b) of each part
            for kind in ("code", "text"):
                fa, fb = prints[kind][a], prints[kind][b]
                if not fa.hashes or fa.hashes.isdisjoint(fb.hashes):
                    continue
                overlap, (sim_a, sim_b), (slices_a, slices_b) = compare_files(fa, fb)
                if overlap <= 0:
                    continue
                similarity = float(min(1.0, max(sim_a, sim_b)))
                found.append((similarity, int(overlap),
                              bool(similarity >= settings.threshold
                                   and overlap >= settings.min_overlap),
                              np.asarray(slices_a, dtype=int) + fa.start,
                              np.asarray(slices_b, dtype=int) + fb.start))
            if not found:
                continue
            best = max(found, key=lambda f: (f[2], f[0]))
            pairs.append(Pair(assignment, a, b, best[0], best[1], any(f[2] for f in found),
                              np.hstack([f[3] for f in found]),
                              np.hstack([f[4] for f in found])))
    pairs.sort(key=lambda p: (-p.similarity, p.student_a, p.student_b))
    return pairs


def read_assignment(sources: list[Path],
                    release_dir: Path) -> tuple[dict[str, str], str, list[str]]:
    """What each student wrote for the assignment of ``release_dir``, the release's code, and the
    notebooks that could not be read (left out, with the reason).

    Parameters
    ----------
    sources : list of Path
        Folders of ``<student>/<assignment>/`` submissions, in order of preference: a student's
        submission is read from the first folder that has it (``submitted/``, then ``autograded/``
        for the submissions graded in earlier runs).
    release_dir : Path
        ``exercises/<assignment>``: its notebooks say which cells are answers, its code is
        boilerplate.
    """

    releases = {p.name: nbformat.read(p, as_version=4)
                for p in sorted(release_dir.glob("*.ipynb"))}
    parts = [split(release_code(nb)) for nb in releases.values()]
    boilerplate = join([c for c, _ in parts], [p for _, p in parts])
    docs, skipped = {}, []
    assignment = release_dir.name
    for source in sources:
        if not Path(source).is_dir():
            continue
        for student in sorted(p for p in Path(source).iterdir() if p.is_dir()):
            folder = student / assignment
            if student.name in docs or not folder.is_dir():
                continue
            codes, proses = [], []
            for name, release in releases.items():
                try:
                    code, prose = split(student_code(read_notebook(folder / name), release))
                except SubmissionUnreadable as exc:
                    skipped.append(f"{student.name}/{assignment}: {exc}")
                    continue
                codes.append(code)
                proses.append(prose)
            docs[student.name] = join(codes, proses)
    return docs, boilerplate, skipped


def run(course_root: Path, submitted: Path, assignments: list[str], *, out_dir: Path | None = None,
        also: list[Path] = (), settings: Similarity | None = None) -> tuple[list[Pair], list[str]]:
    """Compare the submissions of each assignment and write ``similarity.csv`` (this run's
    assignments replace their earlier rows, other assignments' rows are kept) and
    ``similarity/<assignment>.html`` in ``out_dir`` (default: the course root).

    Parameters
    ----------
    course_root : Path
        The course (its ``exercises/`` and ``grader_config.py`` settings).
    submitted : Path
        Folder of ``<student>/<assignment>/`` submissions.
    assignments : list of str
        The assignments to compare; one with no submission is skipped.
    also : list of Path
        More folders of submissions, for students not in ``submitted`` (``autograded/``).
    settings : Similarity, optional
        Default: ``c.Similarity`` of ``grader_config.py``.

    Returns
    -------
    pairs : list of Pair
    skipped : list of str
        What was left out (an unreadable notebook, an assignment without a release), and why.
    """
    if settings is None:
        settings = Similarity(config=nbgrader_config(Path(course_root)))
    out_dir = Path(out_dir or course_root)
    submitted = Path(submitted)
    if not submitted.is_dir():
        raise ValueError(f"submitted: {submitted} is not a folder")
    all_pairs, skipped = [], []
    compared = []
    for assignment in assignments:
        release = Path(course_root) / "exercises" / assignment
        if not any(release.glob("*.ipynb")):
            if not any(any(Path(src).glob(f"*/{assignment}")) for src in [submitted, *also]):
                continue  # nothing to compare
            skipped.append(f"{assignment}: no release in {release.parent} to tell answers from "
                           "the instructor's code (run make release)")
            continue
        docs, boilerplate, left_out = read_assignment([submitted, *also], release)
        skipped += left_out
        if not docs:
            continue
        pairs = compare(docs, boilerplate, assignment=assignment, settings=settings)
        write_html(out_dir / REPORT_DIR / f"{assignment}.html", assignment, pairs, docs, settings)
        all_pairs += pairs
        compared.append(assignment)
    write_csv(all_pairs, out_dir / CSV_NAME, replace=compared)
    return all_pairs, skipped


def write_csv(pairs: list[Pair], path: Path, *, replace: list[str] | None = None) -> None:
    """Write ``pairs`` to ``path``; rows of assignments not in ``replace`` (default: those of
    ``pairs``) that the file already holds are kept."""
    path = Path(path)
    replace = set(replace if replace is not None else (p.assignment for p in pairs))
    kept = [row for row in read_csv(path) if row["assignment"] not in replace]
    rows = kept + [{"assignment": p.assignment, "student_a": p.student_a,
                    "student_b": p.student_b, "similarity": f"{p.similarity:.3f}",
                    "flagged": "true" if p.flagged else "false"} for p in pairs]
    rows.sort(key=lambda r: (r["assignment"], -float(r["similarity"]), r["student_a"],
                             r["student_b"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def read_csv(path: Path) -> list[dict]:
    """The rows of a ``similarity.csv``; none when the file is missing."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != COLUMNS:
            raise ValueError(f"{path} does not have the columns {','.join(COLUMNS)}; delete it "
                             "and run python -m grader similarity again")
        return list(reader)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; }
.pair { margin-bottom: 2.5em; }
.side { display: flex; gap: 1em; }
.side > div { flex: 1; min-width: 0; }
pre { background: #f6f8fa; padding: .6em; overflow-x: auto; font-size: 85%; }
mark { background: #ffd27a; }
table { border-collapse: collapse; } td, th { padding: .2em .8em; border-bottom: 1px solid #ddd; }
"""


def write_html(path: Path, assignment: str, pairs: list[Pair], docs: dict[str, str],
               settings: Similarity) -> None:
    """The flagged pairs of one assignment, side by side, the shared code highlighted."""
    from copydetect.utils import highlight_overlap

    esc = html.escape
    flagged = [p for p in pairs if p.flagged]
    out = [(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Similar submissions: "
           f"{esc(assignment)}</title><style>{_STYLE}</style></head><body>"),
           f"<h1>Similar submissions: {esc(assignment)}</h1>",
           (f"<p>{len(docs)} submission(s) compared; {len(flagged)} pair(s) flagged "
           f"(similarity &ge; {settings.threshold:g} and at least {settings.min_overlap} shared "
           "characters of normalised code, or of written text). Only what students wrote is "
           "compared, code and text each on its own; the release's code and text and what many "
           "submissions share never count. A flag asks a person to look: nothing is deducted."
           "</p>")]
    if flagged:
        out.append("<table><tr><th>student a</th><th>student b</th><th>similarity</th></tr>")
        out += [f"<tr><td><a href='#pair-{i}'>{esc(p.student_a)}</a></td>"
                f"<td>{esc(p.student_b)}</td><td>{p.similarity:.2f}</td></tr>"
                for i, p in enumerate(flagged)]
        out.append("</table>")
    for i, p in enumerate(flagged):
        out.append(f"<div class='pair' id='pair-{i}'><h2>{esc(p.student_a)} and "
                   f"{esc(p.student_b)}: similarity {p.similarity:.2f}</h2><div class='side'>")
        for student, slices in ((p.student_a, p.slices_a), (p.student_b, p.slices_b)):
            code = docs[student]
            marked = str(esc(code))
            if slices is not None and np.size(slices):
                marked, _ = highlight_overlap(code, np.asarray(slices, dtype=int), "<mark>",
                                              "</mark>", escape_html=True)
            out.append(f"<div><h3>{esc(student)}</h3><pre>{marked}</pre></div>")
        out.append("</div></div>")
    out.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(out), encoding="utf-8")
    os.replace(tmp, path)


def findings(path: Path) -> dict[tuple[str, str], list[str]]:
    """(student, assignment) -> a finding for each flagged pair of ``similarity.csv`` at ``path``
    that names the other student."""
    out: dict[tuple[str, str], list[str]] = {}
    for row in read_csv(path):
        if row["flagged"] != "true":
            continue
        a, b, assignment = row["student_a"], row["student_b"], row["assignment"]
        for me, other in ((a, b), (b, a)):
            out.setdefault((me, assignment), []).append(
                f"similar submission: {float(row['similarity']):.0%} alike with {other}'s "
                f"(see {REPORT_DIR}/{assignment}.html; nothing is deducted)")
    return out
