"""A scalar reverse-mode autograd engine: backpropagation in one page.

Every arithmetic operation on :class:`Value` objects records its inputs (``parents``) and its
*local* gradients ∂out/∂input (``local_grads``), building a computational graph. ``out.backward()``
then walks the graph from the output back to the leaves in reverse topological order and applies the
chain rule: each node adds ``local_grad × node.grad`` to the ``.grad`` of each of its parents.

Slide Example 1 (q = x + y, f = q·z):

>>> x, y, z = Value(4.0, "x"), Value(-3.0, "y"), Value(5.0, "z")
>>> f = (x + y) * z
>>> f.backward()
>>> x.grad, y.grad, z.grad
(5.0, 5.0, 1.0)

Slide Example 2 (f = (x + y)·max(y, z)):

>>> x, y, z = Value(1.0, "x"), Value(2.0, "y"), Value(0.0, "z")
>>> f = (x + y) * y.max(z)
>>> f.backward()
>>> x.grad, y.grad, z.grad
(2.0, 5.0, 0.0)

Design, compared with karpathy/micrograd which inspired it:

* local gradients are stored as numbers when the operation runs, not as closures: a node is six
  slots (``__slots__``), nothing else, so building a graph is cheap and the graph can be drawn
  (:func:`nnlib.graph.draw_graph`);
* the topological sort is iterative (an explicit stack), so a graph of a million nodes works, where
  a recursive sort stops near Python's recursion limit (depth ≈ 1,000);
* ``sigmoid``, ``log`` and ``max`` (the slides' Example 2) are there, and bad input raises a clear
  error.

Gradients follow PyTorch: leaves (nodes not produced by an operation) *accumulate* over repeated
``backward()`` calls until :meth:`Value.zero_grad`; intermediate nodes hold the gradient of the
latest pass.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["Value"]

# Local gradients shared by every node of an operation (tuples are immutable, so sharing is safe).
_ONE_ONE = (1.0, 1.0)
_ONE_MINUS_ONE = (1.0, -1.0)
_MINUS_ONE = (-1.0,)
_ONE = (1.0,)
_ZERO = (0.0,)
_EXP_MAX = math.log(1.7976931348623157e308)  # ≈ 709.78: exp of more overflows float64


def _as_float(x, name: str) -> float:
    """``x`` as a float, or ``TypeError`` naming ``name`` (bool is refused, like NumPy's ``**``)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number (int or float), got {type(x).__name__}")
    return float(x)


class Value:
    """A scalar node of a computational graph.

    Parameters
    ----------
    data : float
        The value (an int, float or NumPy scalar; a bool or a string is refused).
    label : str, optional
        A name shown when the graph is drawn.

    Attributes
    ----------
    data : float
        The forward value.
    grad : float
        ∂(output)/∂(this node) after ``output.backward()``.
    parents : tuple of Value
        The inputs of the operation that produced this node (empty for a leaf).
    op : str
        That operation's name (``""`` for a leaf), e.g. ``"+"``, ``"*"``, ``"max"``.
    local_grads : tuple of float
        ∂(this node)/∂(parent) for each parent, computed in the forward pass.
    """

    __slots__ = ("data", "grad", "label", "local_grads", "op", "parents")

    def __init__(self, data, label="", _parents=(), _op="", _local_grads=()):
        # The operations below only ever pass floats: the checks cost nothing on that path.
        if data.__class__ is not float:
            if isinstance(data, Value):
                raise TypeError("data must be a number; the argument is already a Value")
            data = _as_float(data, "data")
        if label.__class__ is not str:
            raise TypeError(f"label must be a string, got {type(label).__name__}")
        self.data = data
        self.grad = 0.0
        self.label = label
        self.parents = _parents
        self.op = _op
        self.local_grads = _local_grads

    # -- arithmetic --------------------------------------------------------------------------------
    def __add__(self, other):
        if other.__class__ is not Value:
            other = _lift(other)
        return Value(self.data + other.data, "", (self, other), "+", _ONE_ONE)

    def __sub__(self, other):
        if other.__class__ is not Value:
            other = _lift(other)
        return Value(self.data - other.data, "", (self, other), "-", _ONE_MINUS_ONE)

    def __mul__(self, other):
        if other.__class__ is not Value:
            other = _lift(other)
        return Value(self.data * other.data, "", (self, other), "*", (other.data, self.data))

    def __truediv__(self, other):
        if other.__class__ is not Value:
            other = _lift(other)
        if other.data == 0.0:
            raise ZeroDivisionError("division by a Value whose data is 0")
        inv = 1.0 / other.data
        return Value(self.data * inv, "", (self, other), "/", (inv, -self.data * inv * inv))

    def __pow__(self, exponent):
        """``self ** exponent`` for a plain number ``exponent`` (a Value exponent is refused)."""
        if isinstance(exponent, (Value, bool)) or not isinstance(exponent, numbers.Real):
            raise TypeError("only a number exponent is supported (Value ** int/float), got "
                            f"{type(exponent).__name__}")
        p, x = float(exponent), self.data
        if x < 0.0 and not p.is_integer():
            raise ValueError(f"a negative base ({x}) to a non-integer power ({p}) is not real")
        if x == 0.0 and p < 0.0:
            raise ZeroDivisionError(f"0 to the negative power {p}")
        if p == 0.0:
            local = 0.0
        elif x == 0.0 and p < 1.0:
            local = math.inf  # d/dx x**p at 0 for 0 < p < 1, as torch
        else:
            local = p * x ** (p - 1.0)
        return Value(x**p, "", (self,), f"**{p:g}", (local,))

    def __rpow__(self, base):
        raise TypeError("number ** Value is not supported: the exponent must be a number; "
                        "write (Value(log(base)) * v).exp() for base ** v")

    def __neg__(self):
        return Value(-self.data, "", (self,), "neg", _MINUS_ONE)

    def __radd__(self, other):  # other + self
        return _lift(other) + self

    def __rsub__(self, other):  # other - self
        return _lift(other) - self

    def __rmul__(self, other):  # other * self
        return _lift(other) * self

    def __rtruediv__(self, other):  # other / self
        return _lift(other) / self

    # -- non-linearities ---------------------------------------------------------------------------
    def relu(self):
        """max(0, x); the gradient at x = 0 is 0, as in PyTorch."""
        x = self.data
        if x > 0.0:
            return Value(x, "", (self,), "relu", _ONE)
        return Value(0.0, "", (self,), "relu", _ZERO)

    def tanh(self):
        """tanh(x), with local gradient 1 − tanh²(x)."""
        t = math.tanh(self.data)
        return Value(t, "", (self,), "tanh", (1.0 - t * t,))

    def sigmoid(self):
        """σ(x) = 1/(1 + e^−x), with local gradient σ(1 − σ); never overflows (uses e^−|x|)."""
        x = self.data
        e = math.exp(-abs(x))
        s = 1.0 / (1.0 + e) if x >= 0.0 else e / (1.0 + e)
        return Value(s, "", (self,), "sigmoid", (s * (1.0 - s),))

    def exp(self):
        """e^x, with local gradient e^x; ``OverflowError`` above x ≈ 709.78 (float64's limit)."""
        if self.data > _EXP_MAX:
            raise OverflowError(f"exp({self.data:g}) overflows float64 (the limit is x ≈ 709.78)")
        e = math.exp(self.data)
        return Value(e, "", (self,), "exp", (e,))

    def log(self):
        """Natural logarithm, with local gradient 1/x; ``ValueError`` for x ≤ 0."""
        x = self.data
        if not x > 0.0:
            raise ValueError(f"log needs a positive value, got {x}")
        return Value(math.log(x), "", (self,), "log", (1.0 / x,))

    def max(self, other):
        """max(self, other), the slides' Example 2 gate: the gradient goes to the larger input.

        Away from a tie the local gradients are the slide's 1(self > other) and 1(self < other).
        At a tie (self == other) the gradient is split, ½ to each input, as ``torch.maximum`` does
        (the slide's indicators would give 0 to both, losing the gradient).

        Parameters
        ----------
        other : Value or float

        Returns
        -------
        Value
        """
        if other.__class__ is not Value:
            other = _lift(other)
        a, b = self.data, other.data
        if a > b:
            return Value(a, "", (self, other), "max", (1.0, 0.0))
        if a < b:
            return Value(b, "", (self, other), "max", (0.0, 1.0))
        return Value(a, "", (self, other), "max", (0.5, 0.5))

    # -- backpropagation ---------------------------------------------------------------------------
    def topological_order(self) -> list[Value]:
        """Every node of the graph that ends here, each after all of its parents.

        An iterative depth-first search with an explicit stack: no recursion, so depth is unlimited.

        Returns
        -------
        list of Value
            Leaves first, ``self`` last.
        """
        return _topological_order(self, reset_grads=False, leaves=True)

    def backward(self):
        """Fill ``.grad`` of every node of the graph with ∂self/∂node (reverse-mode chain rule).

        Leaves accumulate: a second ``backward()`` adds to their ``.grad`` (as in PyTorch) until
        :meth:`zero_grad`. Intermediate nodes are reset, so they hold this pass's gradient.
        """
        order = _topological_order(self, reset_grads=True, leaves=False)
        self.grad += 1.0
        for node in reversed(order):
            parents = node.parents
            if parents:
                g = node.grad
                if len(parents) == 2:
                    a, b = parents
                    da, db = node.local_grads
                    a.grad += da * g
                    b.grad += db * g
                else:
                    parents[0].grad += node.local_grads[0] * g

    def zero_grad(self):
        """Set ``.grad`` to 0 on every node of the graph that ends here."""
        for node in _topological_order(self, reset_grads=False, leaves=True):
            node.grad = 0.0

    def __repr__(self):
        name = f"{self.label}=" if self.label else ""
        return f"Value({name}{self.data:.6g}, grad={self.grad:.6g})"


def _lift(other) -> Value:
    """A number as a leaf Value; anything else is a ``TypeError``."""
    if other.__class__ is float:  # the common case first: a plain float constant
        return Value(other)
    if other.__class__ is Value:
        return other
    if isinstance(other, bool) or not isinstance(other, numbers.Real):
        raise TypeError(f"cannot combine a Value with {type(other).__name__}; "
                        "use a Value or a real number")
    return Value(float(other))


def _topological_order(root: Value, reset_grads: bool, leaves: bool) -> list[Value]:
    """Post-order DFS with an explicit stack; ``None`` on the stack marks "parents are done".

    A node is marked visited when it is expanded (not when pushed), so a node reached twice is
    expanded once, within the first branch that pops it, and always lands after its parents. The
    loop allocates nothing per node, which keeps Python's garbage collector quiet on huge graphs.
    ``backward`` leaves the leaves out (``leaves=False``): they only receive gradients, so their
    place in the order does not matter.
    """
    order = []
    visited = set()
    stack = [root]
    push, pop, emit, mark = stack.append, stack.pop, order.append, visited.add
    while stack:
        node = pop()
        if node is None:  # all parents of the node below the marker are in `order`
            emit(pop())
            continue
        if node in visited:
            continue
        mark(node)
        parents = node.parents
        if parents:
            if reset_grads:
                node.grad = 0.0
            push(node)
            push(None)
            for parent in parents:
                if (leaves or parent.parents) and parent not in visited:
                    push(parent)
        else:
            emit(node)
    return order
