"""Build the course site into _site/: the executed lectures and the exercise releases as HTML.

    python site/build.py            (or `make site`)

The sources are copied into build/site/src first (lectures/*.ipynb, exercises/*/*.ipynb from the
student release, never solutions/, and site/index.md), so the build reads one consistent snapshot
and the links between them (`02_activation_functions.ipynb`, `../exercises/...`) keep their
meaning. Sphinx + MyST-NB then execute every lecture once, with the venv's own python3 kernel and
the tests' settings (one BLAS/OpenMP thread, a headless matplotlib backend), and write _site/.
Every build starts afresh, so the pages always show what the current code computes.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SITE = REPO / "site"
OUT = REPO / "_site"
WORK = REPO / "build" / "site"


def _missing_releases() -> list[str]:
    """Exercises whose source is in solutions/ but whose release is not (yet) in exercises/."""
    return sorted(
        str(nb.relative_to(REPO / "solutions"))
        for nb in REPO.glob("solutions/*/*.ipynb")
        if not (REPO / "exercises" / nb.relative_to(REPO / "solutions")).is_file()
    )


def stage(src: Path, attempts: int = 15) -> list[Path]:
    """Copy the pages of the site into ``src`` and return the notebooks copied.

    `make release` deletes and rewrites a release; a build that starts meanwhile waits for it.
    """
    for _ in range(attempts):
        if not _missing_releases():
            break
        time.sleep(2)
    else:
        raise SystemExit(f"no release in exercises/ for {_missing_releases()}: run `make release`")
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    shutil.copy2(SITE / "index.md", src / "index.md")
    copied = []
    for pattern in ("lectures/*.ipynb", "exercises/*/*.ipynb"):
        for nb in sorted(REPO.glob(pattern)):
            target = src / nb.relative_to(REPO)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(nb, target)
            copied.append(target)
    if not any(p.parts[-2] == "lectures" for p in copied):
        raise SystemExit("no lectures/*.ipynb found")
    return copied


def python3_kernel(jupyter_dir: Path) -> None:
    """A `python3` kernel spec that runs this interpreter (the venv's), found before any other."""
    spec = jupyter_dir / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
            }
        )
    )
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(jupyter_dir), *filter(None, [os.environ.get("JUPYTER_PATH")])]
    )


def kernel_environment() -> None:
    """The tests' kernel set-up: one BLAS/OpenMP thread, headless plotting.

    The tests use MPLBACKEND=Agg, which draws nothing into a notebook's outputs; the site needs the
    figures, so its kernels use matplotlib's inline backend: just as headless (it renders with Agg
    to PNG) but it puts every figure into the cell's output.
    """
    os.environ.update(
        {
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )


def build(out: Path = OUT, work: Path = WORK, quiet: bool = False) -> float:
    """Build the site into ``out``; return the seconds it took. Raises SystemExit on failure."""
    from sphinx.cmd.build import build_main

    start = time.monotonic()
    src = work / "src"
    pages = stage(src)
    python3_kernel(work / "jupyter")
    kernel_environment()
    # MyST-NB writes the figures next to the output folder (html/../jupyter_execute), so Sphinx
    # writes into the work folder and the finished site replaces ``out`` (a failed build keeps
    # the last good site).
    html = work / "html"
    for old in (html, work / "jupyter_execute"):
        if old.exists():
            shutil.rmtree(old)
    args = ["-b", "html", "-E", "-c", str(SITE), "-d", str(work / "doctrees"), str(src), str(html)]
    if quiet:
        args.insert(0, "-q")
    status = build_main(args)
    if status != 0:
        raise SystemExit(f"sphinx-build failed with exit status {status}")
    missing = [p for p in pages if not (html / p.relative_to(src)).with_suffix(".html").is_file()]
    if missing:
        raise SystemExit(f"no page was written for {[str(p.relative_to(src)) for p in missing]}")
    (html / ".nojekyll").touch()
    if out.exists():
        shutil.rmtree(out)
    shutil.move(html, out)
    return time.monotonic() - start


def main() -> None:
    seconds = build(quiet="-q" in sys.argv[1:])
    print(
        f"course site built in {seconds:.0f} s: {OUT.relative_to(REPO)}/index.html "
        f"(view it with: python -m http.server -d {OUT.relative_to(REPO)})"
    )


if __name__ == "__main__":
    main()
