"""Time of the similarity check (grader/similarity.py) on a generated class, against copydetect's
own CopyDetector on the same code, measured in the same run.

The class is tests/grading/similarity_class.py's: every answer is one of five honest students'
(shared by about a fifth of the class), with a few names renamed and an exploration cell of the
student's own, plus two disguised copies. The script prints both times, their ratio, and which
pairs each flagged (ours must find exactly the two copies).

    .venv/bin/python benchmarks/bench_similarity.py            # 300 students
    .venv/bin/python benchmarks/bench_similarity.py --n 100
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "grading")]

# Both imports need the paths just set: the script runs from a checkout, not an installed package.
import similarity_class as C  # noqa: E402

from grader import similarity  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300, help="generated students (default 300)")
    args = parser.parse_args()
    cls = C.generated_class(args.n)
    answers, extra = C.disguise(cls["s007"][0], seed=3)
    cls["copy-of-s007"] = (answers, extra + cls["s007"][1])
    answers, extra = C.disguise(cls["s123"][0], seed=4)
    answers["written_lr"] = cls["s123"][0]["written_lr"]  # as the class wrote it: common text
    cls["copy-of-s123"] = (answers, extra + [cls["s123"][1][0].replace("\n", "\n\n# check\n")])
    release = C.release()
    docs = {s: similarity.student_code(C.submission(a, e), release) for s, (a, e) in cls.items()}
    boilerplate = similarity.release_code(release)
    import copydetect  # imported before timing: its import (matplotlib) is not the comparison

    start, cpu = time.perf_counter(), time.process_time()
    pairs = similarity.compare(docs, boilerplate)
    ours, ours_cpu = time.perf_counter() - start, time.process_time() - cpu
    flagged = sorted((p.student_a, p.student_b) for p in pairs if p.flagged)

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "class").mkdir()
        (Path(tmp) / "release").mkdir()
        for student, code in docs.items():
            (Path(tmp) / "class" / f"{student}.py").write_text(code)
        (Path(tmp) / "release" / "release.py").write_text(boilerplate)
        start, cpu = time.perf_counter(), time.process_time()
        detector = copydetect.CopyDetector(test_dirs=[f"{tmp}/class"],
                                           boilerplate_dirs=[f"{tmp}/release"],
                                           extensions=["py"], silent=True, autoopen=False,
                                           out_file=f"{tmp}/report.html")
        detector.run()
        theirs, theirs_cpu = time.perf_counter() - start, time.process_time() - cpu
        copied = detector.get_copied_code_list()
    n = len(docs)
    print(f"{n} submissions, {n * (n - 1) // 2} pairs")
    print("(wall-clock and CPU seconds; on a busy machine the CPU time is what an idle one takes)")
    print(f"grader.similarity.compare:   {ours:7.1f} s wall {ours_cpu:7.1f} s CPU   "
          f"flagged {flagged}")
    print(f"copydetect.CopyDetector.run: {theirs:7.1f} s wall {theirs_cpu:7.1f} s CPU   pairs over "
          f"its display threshold: {len(copied)} (no discount of common code)")
    print(f"ratio (ours / CopyDetector): {ours / theirs:.2f} wall, {ours_cpu / theirs_cpu:.2f} CPU")
    return 0 if flagged == [("copy-of-s007", "s007"), ("copy-of-s123", "s123")] else 1


if __name__ == "__main__":
    sys.exit(main())
