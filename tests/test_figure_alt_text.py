"""Every lecture figure carries alternative text, and every lecture draws in the course's style.

A code cell that draws a figure carries cell metadata ``{"mystnb": {"image": {"alt": "..."}}}``:
one or two sentences saying what the figure shows. MyST-NB turns it into the ``alt`` of the
figure's ``<img>`` on the course site (tests/site/test_site.py checks the built pages); without it
the image's alt is its file name, a string of hex digits for a screen reader.

The lectures are stored without outputs, so a figure is recognised by its source: a cell that
shows one (``plt.show()``), creates one (``plt.subplots``, ``plt.figure``) or calls a drawing helper
(``nnlib.plotting.plot_*``, ``nnlib.graph.draw_graph``, ``nnlib.playground.playground``). A
notebook stored with outputs is judged by them as well: any cell with an image output. The site
test covers what this misses, since the built pages hold the executed outputs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LECTURES = sorted((REPO / "lectures").glob("*.ipynb"))
DRAWS = re.compile(
    r"\bplt\.(show|subplots|subplot|figure|imshow|plot|scatter|hist)\("
    r"|\b(plot_network|plot_activation|plot_loss_curves|plot_confusion_matrix"
    r"|plot_decision_boundary|draw_graph|playground)\("
    r"|\bdisplay\(\s*\w*fig"
)
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")


def _code_cells(nb: Path) -> list[dict]:
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    return [c for c in cells if c["cell_type"] == "code"]


def _source(cell: dict) -> str:
    src = "".join(cell["source"])
    return "\n".join(line.split("#", 1)[0] for line in src.splitlines())  # comments do not draw


def draws_figure(cell: dict) -> bool:
    """Whether the cell shows a figure: by its source, or by an image among its outputs."""
    has_image = any(
        any(kind in out.get("data", {}) for kind in IMAGE_TYPES) for out in cell.get("outputs", [])
    )
    return has_image or bool(DRAWS.search(_source(cell)))


def alt_text(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt")


def alt_problem(alt: str | None) -> str | None:
    """Why ``alt`` does not describe a figure, or None."""
    if not isinstance(alt, str) or not alt.strip():
        return "no mystnb.image.alt"
    if alt.lstrip().startswith("<") or "Figure size" in alt:
        return f"matplotlib's placeholder as alt: {alt!r}"
    if len(alt.split()) < 8:
        return f"too short to say what the figure shows: {alt!r}"
    return None


def test_the_figure_detector_sees_the_lectures_figures():
    """Not vacuous: the lectures draw figures, and the detector tells drawing from computing."""
    assert sum(draws_figure(c) for nb in LECTURES for c in _code_cells(nb)) >= 30
    assert draws_figure({"source": ["fig, ax = plt.subplots()\n", "ax.plot(x, y)\n"]})
    assert draws_figure({"source": ["ax = draw_graph(f)\n"]})
    assert draws_figure({"source": ["pg = playground(dataset='spiral')\n"]})
    assert not draws_figure({"source": ["h = train_playground(settings)\n"]})
    assert draws_figure({"source": ["x = 1"], "outputs": [{"data": {"image/png": "iVBOR"}}]})
    assert not draws_figure({"source": ["loss = fit(net, X, y)  # plt.show() later\n"]})
    assert alt_problem(None) and alt_problem("")
    assert alt_problem("<Figure size 640x480 with 1 Axes>")
    assert alt_problem("A plot.")
    assert alt_problem("The loss falls with the epoch from 2.3 to 0.1, then levels off.") is None


@pytest.mark.parametrize("nb", LECTURES, ids=[nb.stem for nb in LECTURES])
def test_every_figure_has_alt_text(nb):
    figures = [c for c in _code_cells(nb) if draws_figure(c)]
    missing = [f"{c.get('id')}: {alt_problem(alt_text(c))}" for c in figures
               if alt_problem(alt_text(c))]
    assert not missing, (
        f"{nb.name}: cells that draw a figure need cell metadata "
        '{"mystnb": {"image": {"alt": "<what the figure shows>"}}}:\n' + "\n".join(missing)
    )
    alts = [alt_text(c) for c in figures]
    repeated = {a for a in alts if alts.count(a) > 1}
    assert not repeated, f"{nb.name}: several figures share one description: {repeated}"
    stray = [c.get("id") for c in _code_cells(nb) if alt_text(c) and c not in figures]
    assert not stray, f"{nb.name}: alt text on cells that draw nothing: {stray}"


@pytest.mark.parametrize("nb", LECTURES, ids=[nb.stem for nb in LECTURES])
def test_lectures_draw_in_the_course_style(nb):
    """The colour-blind-safe style (nnlib.plotting.use_course_style) is set before any figure."""
    cells = _code_cells(nb)
    first_figure = next((i for i, c in enumerate(cells) if draws_figure(c)), None)
    if first_figure is None:
        return
    styled = next(
        (i for i, c in enumerate(cells) if re.search(r"\buse_course_style\(\)", _source(c))), None
    )
    assert styled is not None and styled <= first_figure, (
        f"{nb.name}: call nnlib.plotting.use_course_style() in the set-up cell, before the first "
        f"figure (cell {cells[first_figure].get('id')})"
    )
    tab10 = [c.get("id") for c in cells if re.search(r"[\"']tab:(red|green)[\"']", _source(c))]
    assert not tab10, (
        f"{nb.name}: cells {tab10} name tab10's red or green, which red-green colour-blind "
        "readers cannot tell apart; use the cycle's colours 'C0', 'C1', ..."
    )
