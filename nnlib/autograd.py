"""A scalar reverse-mode autograd engine: backpropagation in one page.

Every arithmetic operation on :class:`Value` objects records its inputs and its *local* gradients
(∂out/∂input), building a computational graph. ``out.backward()`` then walks the graph from the output
back to the leaves in reverse topological order and applies the chain rule: each node adds
``local_grad × out.grad`` to its inputs' ``.grad``.

Differences from karpathy/micrograd, which inspired it: local gradients are stored as numbers instead
of closures (faster, and inspectable for drawing), the topological sort is iterative (graphs of a
million nodes work; a recursive sort hits Python's recursion limit near a depth of 1,000), and there
are ``sigmoid``, ``log`` and ``max`` (the slides' Example 2).

>>> x, y, z = Value(4.0, "x"), Value(-3.0, "y"), Value(5.0, "z")
>>> f = (x + y) * z
>>> f.backward()
>>> x.grad, y.grad, z.grad
(5.0, 5.0, 1.0)
"""

from __future__ import annotations

import math
import numbers

__all__ = ["Value"]


class Value:
    """A scalar node of a computational graph.

    Parameters
    ----------
    data : float
        The value.
    label : str, optional
        A name shown when the graph is drawn.

    Attributes
    ----------
    data : float
    grad : float
        ∂(output)/∂(this node) after ``output.backward()``; gradients accumulate, as in PyTorch.
    parents : tuple of Value
        The inputs of the operation that produced this node (empty for a leaf).
    op : str
        That operation's name ('' for a leaf).
    """

    __slots__ = ("data", "grad", "label", "op", "parents", "local_grads")

    def __init__(self, data, label="", *, _parents=(), _op="", _local_grads=()):
        if isinstance(data, Value):
            raise TypeError("data must be a number; the argument is already a Value")
        if isinstance(data, bool) or not isinstance(data, numbers.Real):
            raise TypeError(f"data must be a real number, got {type(data).__name__}")
        self.data = float(data)
        self.grad = 0.0
        self.label = str(label)
        self.parents = _parents
        self.op = _op
        self.local_grads = _local_grads

    # -- construction helpers --------------------------------------------------------------------
    @staticmethod
    def _lift(other) -> "Value":
        if isinstance(other, Value):
            return other
        if isinstance(other, bool) or not isinstance(other, numbers.Real):
            raise TypeError(f"cannot combine a Value with {type(other).__name__}")
        return Value(other)

    # -- arithmetic ------------------------------------------------------------------------------
    def __add__(self, other):
        other = Value._lift(other)
        return Value(self.data + other.data, _parents=(self, other), _op="+",
                     _local_grads=(1.0, 1.0))

    def __mul__(self, other):
        other = Value._lift(other)
        return Value(self.data * other.data, _parents=(self, other), _op="*",
                     _local_grads=(other.data, self.data))

    def __pow__(self, exponent):
        if isinstance(exponent, bool) or not isinstance(exponent, numbers.Real):
            raise TypeError("only a plain number exponent is supported: Value ** number")
        exponent = float(exponent)
        return Value(self.data ** exponent, _parents=(self,), _op=f"**{exponent:g}",
                     _local_grads=(exponent * self.data ** (exponent - 1),))

    def __neg__(self):
        return Value(-self.data, _parents=(self,), _op="neg", _local_grads=(-1.0,))

    def __sub__(self, other):
        other = Value._lift(other)
        return Value(self.data - other.data, _parents=(self, other), _op="-",
                     _local_grads=(1.0, -1.0))

    def __truediv__(self, other):
        other = Value._lift(other)
        if other.data == 0:
            raise ZeroDivisionError("division of a Value by zero")
        inv = 1.0 / other.data
        return Value(self.data * inv, _parents=(self, other), _op="/",
                     _local_grads=(inv, -self.data * inv * inv))

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return Value._lift(other) - self

    def __rtruediv__(self, other):
        return Value._lift(other) / self

    # -- non-linearities -------------------------------------------------------------------------
    def relu(self):
        """max(0, x); gradient 0 at x = 0, as in PyTorch."""
        return Value(max(self.data, 0.0), _parents=(self,), _op="relu",
                     _local_grads=(1.0 if self.data > 0 else 0.0,))

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, _parents=(self,), _op="tanh", _local_grads=(1.0 - t * t,))

    def sigmoid(self):
        x = self.data
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        return Value(s, _parents=(self,), _op="sigmoid", _local_grads=(s * (1.0 - s),))

    def exp(self):
        e = math.exp(self.data)
        return Value(e, _parents=(self,), _op="exp", _local_grads=(e,))

    def log(self):
        if self.data <= 0:
            raise ValueError(f"log needs a positive value, got {self.data}")
        return Value(math.log(self.data), _parents=(self,), _op="log",
                     _local_grads=(1.0 / self.data,))

    def max(self, other):
        """max(self, other), the slides' Example 2 gate: the gradient flows to the larger input.

        At a tie (self == other) the gradient is split equally, ½ to each, which is what
        ``torch.maximum`` does; the slide's indicator 1(y > z) gives 0 to both at a tie.
        """
        other = Value._lift(other)
        if self.data > other.data:
            grads = (1.0, 0.0)
        elif self.data < other.data:
            grads = (0.0, 1.0)
        else:
            grads = (0.5, 0.5)
        return Value(max(self.data, other.data), _parents=(self, other), _op="max",
                     _local_grads=grads)

    # -- backpropagation -------------------------------------------------------------------------
    def topological_order(self) -> list["Value"]:
        """Every node of the graph ending here, each after all of its inputs (iterative DFS)."""
        order, visited = [], set()
        stack = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            for parent in node.parents:
                if id(parent) not in visited:
                    stack.append((parent, False))
        return order

    def backward(self):
        """Fill ``.grad`` of every node with ∂self/∂node.

        As in PyTorch, leaves (inputs) accumulate: a second ``backward()`` adds to their ``.grad``
        until :meth:`zero_grad`. Intermediate nodes hold the gradient of the latest pass.
        """
        order = self.topological_order()
        for node in order:
            if node.parents:
                node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            g = node.grad
            for parent, local in zip(node.parents, node.local_grads):
                parent.grad += local * g

    def zero_grad(self):
        """Set ``.grad`` to 0 on every node of the graph ending here."""
        for node in self.topological_order():
            node.grad = 0.0

    def __repr__(self):
        name = f"{self.label}=" if self.label else ""
        return f"Value({name}{self.data:.6g}, grad={self.grad:.6g})"
