"""The course's plotting style can be read with a colour-vision deficiency.

Colour blindness is simulated with colorspacious (Machado, Oliveira & Fernandes 2009, severity
100: a dichromat, the hardest case of each kind) and colours are compared in CAM02-UCS (Luo, Cui &
Li 2006), where Euclidean distance approximates perceived difference.

The threshold, a distance of 10: one unit is about a just-noticeable difference between two large
patches side by side. A curve is a thin line or a few-pixel marker, and its colour has to be
matched with a legend entry elsewhere on the figure, not compared side by side; the difference
needed grows steeply as marks shrink (Stone, Szafir & Setlur 2014 measure several times the
large-patch difference for marks of a line's width). Ten units leaves that margin. Matplotlib's
default cycle, tab10, falls to 1.6 (orange and green for a protanope) and 5.2 (green and red for a
deuteranope); Tableau's colour-blind palette keeps every pair above 12 for every kind of colour
blindness. The test below checks that the measure indeed fails tab10, so it can fail.
"""

import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pytest

from nnlib import plotting as P

colorspacious = pytest.importorskip("colorspacious", reason="pip install colorspacious (dev extra)")

MIN_DISTANCE = 10.0  # CAM02-UCS; see the module docstring
VISION = {
    "normal vision": None,
    "deuteranopia": "deuteranomaly",
    "protanopia": "protanomaly",
    "tritanopia": "tritanomaly",
}


@pytest.fixture(autouse=True)
def _restore_rcparams():
    with matplotlib.rc_context():
        yield
    plt.close("all")


def seen(colors, cvd_type):
    """The colours (anything matplotlib accepts) as a person with ``cvd_type`` sees them, in
    CAM02-UCS coordinates, shape (n_colors, 3)."""
    rgb = np.array([mcolors.to_rgb(c) for c in colors])
    if cvd_type is not None:
        cvd = {"name": "sRGB1+CVD", "cvd_type": cvd_type, "severity": 100}
        rgb = np.clip(colorspacious.cspace_convert(rgb, cvd, "sRGB1"), 0, 1)
    return colorspacious.cspace_convert(rgb, "sRGB1", "CAM02-UCS")


def too_close(colors, cvd_type):
    """Pairs of colours closer than MIN_DISTANCE for ``cvd_type``, with their distance."""
    jab = seen(colors, cvd_type)
    return [
        (colors[i], colors[j], round(float(np.linalg.norm(jab[i] - jab[j])), 1))
        for i, j in itertools.combinations(range(len(colors)), 2)
        if np.linalg.norm(jab[i] - jab[j]) < MIN_DISTANCE
    ]


def course_cycle():
    P.use_course_style()
    return matplotlib.rcParams["axes.prop_cycle"].by_key()


@pytest.mark.parametrize("vision", VISION)
def test_every_pair_of_the_cycles_colours_stays_apart(vision):
    colors = course_cycle()["color"]
    assert len(colors) >= 8, "the cycle has too few colours for the lectures' figures"
    close = too_close(colors, VISION[vision])
    assert not close, (
        f"with {vision}, these colours of the course's cycle are closer than {MIN_DISTANCE} "
        f"(CAM02-UCS) and would be taken for each other: {close}"
    )


@pytest.mark.parametrize("vision", ["deuteranopia", "protanopia"])
def test_the_measure_fails_matplotlibs_default_cycle(vision):
    """tab10, matplotlib's default, confuses red and green: the check must notice."""
    assert too_close(list(mcolors.TABLEAU_COLORS.values()), VISION[vision])


def test_each_colour_of_the_cycle_has_its_own_line_style():
    cycle = course_cycle()
    styles = [str(s) for s in cycle["linestyle"]]
    assert len(styles) == len(cycle["color"]) == len(set(styles)), (
        "every colour needs a line style of its own, so curves differ by more than colour"
    )
    _, ax = plt.subplots()
    lines = [ax.plot([0, 1], [k, k])[0] for k in range(3)]
    assert [mcolors.to_hex(line.get_color()).upper() for line in lines] == list(P.COLORS[:3])
    dashes = [line.get_linestyle() for line in lines]
    assert len(set(dashes)) == 3, f"three curves drawn one after another look alike: {dashes}"
    marker_only = ax.plot([0, 1], [0, 1], "o")[0]  # a format string still decides
    assert marker_only.get_linestyle() == "None"


@pytest.mark.parametrize("vision", VISION)
def test_the_default_colormap_keeps_its_order_in_lightness(vision):
    """An image read by lightness alone (or in greyscale) still goes from low to high."""
    P.use_course_style()
    cmap = plt.get_cmap(matplotlib.rcParams["image.cmap"])
    lightness = seen(cmap(np.linspace(0, 1, 64))[:, :3], VISION[vision])[:, 0]
    assert np.all(np.diff(lightness) > 0), f"{cmap.name} is not monotone in lightness ({vision})"


def test_the_helpers_separate_curves_and_classes_without_relying_on_red_and_green():
    ax = P.plot_loss_curves({"loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 2.0]})
    train, val = ax.get_lines()
    assert train.get_linestyle() != val.get_linestyle(), "training and validation differ by dashes"
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = np.arange(30) % 3
    ax = P.plot_decision_boundary(lambda pts: (pts[:, 0] > 0).astype(int) + (pts[:, 1] > 0),
                                  X, y, resolution=20)
    samples = ax.collections[-1]
    faces = samples.to_rgba(samples.get_array()[:3])[:, :3]  # the samples of classes 0, 1, 2
    expected = np.array([mcolors.to_rgb(c) for c in P.COLORS[:3]])
    np.testing.assert_allclose(faces, expected, atol=1e-6)
