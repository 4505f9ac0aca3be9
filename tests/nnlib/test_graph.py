"""nnlib.graph: the slides' Examples 1 and 2 drawn with matplotlib, checked via the Text artists."""

import matplotlib.pyplot as plt  # the Agg backend comes from conftest.py (MPLBACKEND)
import pytest

from nnlib.autograd import Value
from nnlib.graph import draw_graph, graph_layout, node_text


@pytest.fixture(autouse=True)
def _no_show_and_close(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("draw_graph must not call plt.show()")

    monkeypatch.setattr(plt, "show", refuse)
    yield
    plt.close("all")


def example_1():
    x, y, z = Value(4.0, "x"), Value(-3.0, "y"), Value(5.0, "z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    f.backward()
    return f


def texts(ax):
    """Text artists with their positions ({text: (x, y)}); arrows are annotations with no text."""
    return {t.get_text(): t.get_position() for t in ax.texts if t.get_text()}


def test_example_1_shows_labels_values_gradients_and_operations():
    ax = draw_graph(example_1())
    found = texts(ax)
    boxes = {"x\n4\ngrad 5", "y\n-3\ngrad 5", "z\n5\ngrad 1", "q\n1\ngrad 5", "f\n5\ngrad 1"}
    assert set(found) == boxes | {"+", "*"}
    assert len([t for t in ax.texts if t.get_text()]) == 7  # 5 values, 2 operations
    assert len([t for t in ax.texts if not t.get_text()]) == 6  # arrows: 2 into each op, 1 out
    assert not ax.axison and "f" in ax.get_title()


def test_layout_is_layered_left_to_right():
    found = texts(draw_graph(example_1()))
    x_of = {text.split("\n")[0]: pos[0] for text, pos in found.items()}
    assert x_of["x"] == x_of["y"] < x_of["+"] < x_of["q"]
    assert x_of["q"] < x_of["*"] < x_of["f"]
    assert x_of["z"] < x_of["*"]
    assert found["x\n4\ngrad 5"][1] > found["y\n-3\ngrad 5"][1]  # first input on top


def test_example_2_with_max():
    x, y, z = Value(1.0, "x"), Value(2.0, "y"), Value(0.0, "z")
    a = x + y
    a.label = "a"
    b = y.max(z)
    b.label = "b"
    f = a * b
    f.label = "f"
    f.backward()
    found = texts(draw_graph(f))
    assert {"x\n1\ngrad 2", "y\n2\ngrad 5", "z\n0\ngrad 0", "a\n3\ngrad 2", "b\n2\ngrad 3",
            "f\n6\ngrad 1", "+", "max", "*"} == set(found)
    layout = graph_layout(f)
    assert layout[id(y)][0] == 0 and layout[id(a)][0] == layout[id(b)][0] == 1
    assert layout[id(f)] == (2, 0)


def test_constants_sit_next_to_their_use_and_unlabelled_nodes_show_numbers():
    x = Value(2.0, "x")
    f = (x * x + x) * 3.0
    f.backward()
    layout = graph_layout(f)
    three = f.parents[1]
    assert layout[id(three)][0] == layout[id(f)][0] - 1  # not pushed back to column 0
    assert node_text(three) == "3\ngrad 6"
    assert node_text(x, show_grad=False) == "x\n2"


def test_draws_into_a_given_axes_and_can_hide_gradients():
    fig, ax = plt.subplots()
    returned = draw_graph(example_1(), ax=ax, show_grad=False, title="Example 1")
    assert returned is ax and plt.get_fignums() == [fig.number]
    assert not any("grad" in t for t in texts(ax)) and "x\n4" in texts(ax)
    assert ax.get_title() == "Example 1"


def test_bad_input():
    with pytest.raises(TypeError, match="root must be a nnlib.autograd.Value"):
        draw_graph(3.0)
    big = Value(0.0)
    for _ in range(150):
        big = big + 1.0
    with pytest.raises(ValueError, match="more than max_nodes=200"):
        draw_graph(big)
