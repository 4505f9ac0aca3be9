"""Draw the computational graph of a :class:`~nnlib.autograd.Value` with matplotlib.

Values are rounded boxes showing the node's ``label``, its forward value and (after ``backward()``)
its gradient; each operation is a small circle between its inputs and its result. The layout is
layered from left to right, as on the slides' Examples 1 and 2: a node's column is the length of the
longest path to it from an input, inputs sit just left of their first use, and the rows of a column
follow the mean row of the nodes feeding them (which keeps crossings few). Only matplotlib is
needed; there is no system graphviz.

>>> from nnlib.autograd import Value
>>> x, y, z = Value(4.0, "x"), Value(-3.0, "y"), Value(5.0, "z")
>>> q = x + y; q.label = "q"
>>> f = q * z; f.label = "f"
>>> f.backward()
>>> ax = draw_graph(f)          # doctest: +SKIP
"""

from __future__ import annotations

__all__ = ["draw_graph", "graph_layout", "node_text"]

_X_STEP, _Y_STEP = 3.0, 1.6  # distance between columns and between rows (data units)
_VALUE_BOX = {"boxstyle": "round,pad=0.4", "fc": "#eef4ff", "ec": "#3465a4"}
_OP_BOX = {"boxstyle": "circle,pad=0.3", "fc": "#fff4d6", "ec": "#c4a000"}
_ARROW = {"arrowstyle": "->", "color": "0.35", "shrinkA": 0, "shrinkB": 0}


def graph_layout(root):
    """Column and row of every node of the graph that ends at ``root``.

    Parameters
    ----------
    root : Value

    Returns
    -------
    dict
        ``id(node) -> (column, row)``; column 0 is the leftmost, rows count from the top.
    """
    order = _drawing_order(root)
    column = {}
    for node in order:
        if node.parents:
            column[id(node)] = 1 + max(column[id(p)] for p in node.parents)
        else:
            column[id(node)] = 0
    # An input sits just left of its first (leftmost) use, not necessarily in column 0.
    first_use = {}
    for node in order:
        for p in node.parents:
            if not p.parents:
                first_use[id(p)] = min(first_use.get(id(p), column[id(node)]), column[id(node)])
    for key, c in first_use.items():
        column[key] = c - 1
    # Rows: inputs in the order they were first reached; others by the mean row of their parents.
    by_column: dict[int, list] = {}
    for node in order:
        by_column.setdefault(column[id(node)], []).append(node)
    row = {}
    for c in sorted(by_column):
        nodes = by_column[c]
        if c > 0:
            nodes = sorted(nodes, key=lambda n: _barycentre(n, row, nodes))
        for r, n in enumerate(nodes):
            row[id(n)] = r
    return {key: (column[key], row[key]) for key in column}


def _drawing_order(root):
    """Topological order (parents first) that reaches a node's parents left to right."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in reversed(node.parents))
    return order


def _barycentre(node, row, column_nodes):
    """Mean row of a node's already placed parents (its first-reached rank when there are none)."""
    rows = [row[id(p)] for p in node.parents if id(p) in row]
    rank = next(i for i, n in enumerate(column_nodes) if n is node)
    return (sum(rows) / len(rows) if rows else float(rank), rank)


def node_text(node, show_grad=True):
    """The text of a value box: label (if any), value and, optionally, gradient, one per line.

    Parameters
    ----------
    node : Value
    show_grad : bool, default True

    Returns
    -------
    str
        For example ``"x\\n4\\ngrad 5"`` (4 significant digits).
    """
    lines = [node.label] if node.label else []
    lines.append(f"{node.data:.4g}")
    if show_grad:
        lines.append(f"grad {node.grad:.4g}")
    return "\n".join(lines)


def draw_graph(root, ax=None, show_grad=True, title=None, max_nodes=200):
    """Draw the computational graph that computed ``root``, inputs on the left.

    Parameters
    ----------
    root : Value
        The output node.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure sized to the graph is made when omitted.
    show_grad : bool, default True
        Write each node's gradient under its value (call ``root.backward()`` first).
    title : str, optional
        Defaults to "Computational graph of <root's label>".
    max_nodes : int, default 200
        Larger graphs are refused with a ``ValueError``: they would not be readable.

    Returns
    -------
    matplotlib.axes.Axes
        Each value box and each operation circle is one of ``ax.texts``.
    """
    from .autograd import Value

    if not isinstance(root, Value):
        raise TypeError(f"root must be a nnlib.autograd.Value, got {type(root).__name__}")
    order = root.topological_order()
    if len(order) > max_nodes:
        raise ValueError(f"the graph has {len(order)} nodes, more than max_nodes={max_nodes}; "
                         "draw a smaller expression or raise max_nodes")
    layout = graph_layout(root)
    n_cols = 1 + max(c for c, _ in layout.values())
    n_rows: dict[int, int] = {}
    for c, r in layout.values():
        n_rows[c] = max(n_rows.get(c, 0), r + 1)
    tallest = max(n_rows.values())
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(2.4 * n_cols + 1.0, 1.3 * tallest + 1.2))

    def position(node):  # columns left to right, each column centred vertically
        c, r = layout[id(node)]
        return _X_STEP * c, ((n_rows[c] - 1) / 2 - r) * _Y_STEP

    for node in order:
        x, y = position(node)
        ax.text(x, y, node_text(node, show_grad), ha="center", va="center", fontsize=10,
                bbox=_VALUE_BOX, zorder=3)
        if not node.parents:
            continue
        ox = x - 0.45 * _X_STEP  # the operation's circle, just left of its result
        ax.text(ox, y, node.op, ha="center", va="center", fontsize=10, bbox=_OP_BOX, zorder=3)
        ax.annotate("", xy=(x - 0.55, y), xytext=(ox + 0.25, y), arrowprops=_ARROW, zorder=2)
        for parent in node.parents:
            px, py = position(parent)
            ax.annotate("", xy=(ox - 0.25, y), xytext=(px + 0.55, py), arrowprops=_ARROW,
                        zorder=2)
    ax.set_xlim(-1.3, _X_STEP * (n_cols - 1) + 1.3)
    half = 0.5 * _Y_STEP * tallest + 0.3
    ax.set_ylim(-half, half)
    ax.set_axis_off()
    if title is None:
        title = f"Computational graph of {root.label or 'the output'}: values" \
            + (" and gradients" if show_grad else "")
    ax.set_title(title)
    return ax
