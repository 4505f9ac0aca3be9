"""Draw the computational graph of a :class:`~nnlib.autograd.Value` with matplotlib.

Values are boxes showing ``label``, the forward value and (after ``backward()``) the gradient; each
operation is a small circle between its inputs and its result. Inputs are on the left, the output on
the right, as in the slides' Examples 1 and 2. Only matplotlib is needed (no system graphviz).
"""

from __future__ import annotations

__all__ = ["draw_graph", "graph_layout"]


def graph_layout(root):
    """Column and row of every node: column = longest path from a leaf, rows spread per column.

    Parameters
    ----------
    root : Value

    Returns
    -------
    dict
        ``id(node) -> (column, row)`` for every Value of the graph.
    """
    order = root.topological_order()
    column = {}
    for node in order:  # inputs come first
        column[id(node)] = 1 + max((column[id(p)] for p in node.parents), default=-1)
    rows: dict[int, int] = {}
    layout = {}
    for node in order:
        c = column[id(node)]
        layout[id(node)] = (c, rows.get(c, 0))
        rows[c] = rows.get(c, 0) + 1
    return layout


def draw_graph(root, ax=None, show_grad=True, title=None):
    """Draw the graph that computed ``root``.

    Parameters
    ----------
    root : Value
        The output node.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.
    show_grad : bool, default True
        Print each node's gradient under its value.
    title : str, optional
        Defaults to "Computational graph of <label>".

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    from .autograd import Value

    if not isinstance(root, Value):
        raise TypeError(f"root must be a nnlib.autograd.Value, got {type(root).__name__}")
    layout = graph_layout(root)
    order = root.topological_order()
    n_cols = 1 + max(c for c, _ in layout.values())
    n_rows = {}
    for c, r in layout.values():
        n_rows[c] = max(n_rows.get(c, 0), r + 1)
    tallest = max(n_rows.values())
    if ax is None:
        _, ax = plt.subplots(figsize=(2.6 * n_cols + 1, 1.5 * tallest + 1))

    def position(node):
        c, r = layout[id(node)]
        return 3.0 * c, ((n_rows[c] - 1) / 2 - r) * 1.6

    box = dict(boxstyle="round,pad=0.4", fc="#eef4ff", ec="#3465a4")
    for node in order:
        x, y = position(node)
        text = f"{node.label or node.op or 'value'}\n{node.data:.4g}"
        if show_grad:
            text += f"\ngrad {node.grad:.4g}"
        ax.text(x, y, text, ha="center", va="center", fontsize=10, bbox=box, zorder=3)
        if node.parents:
            ox, oy = x - 1.4, y
            ax.text(ox, oy, node.op, ha="center", va="center", fontsize=10, zorder=3,
                    bbox=dict(boxstyle="circle,pad=0.3", fc="#fff4d6", ec="#c4a000"))
            ax.annotate("", xy=(x - 0.55, y), xytext=(ox + 0.25, oy),
                        arrowprops=dict(arrowstyle="->", color="0.3"), zorder=2)
            for parent in node.parents:
                px, py = position(parent)
                ax.annotate("", xy=(ox - 0.25, oy), xytext=(px + 0.55, py),
                            arrowprops=dict(arrowstyle="->", color="0.3"), zorder=2)
    ax.set_xlim(-1.2, 3.0 * (n_cols - 1) + 1.2)
    ax.set_ylim(-0.9 * tallest - 0.4, 0.9 * tallest + 0.4)
    ax.set_axis_off()
    label = root.label or "the output"
    ax.set_title(title or f"Computational graph of {label}: forward values"
                 + (" and gradients" if show_grad else ""))
    return ax
