"""nnlib.autograd: the slides' examples, each operation against torch.autograd, very deep graphs."""

import math
import sys
import warnings

import numpy as np
import pytest
import torch

from nnlib.autograd import Value

RNG = np.random.default_rng(3)


def test_slide_example_1():
    x, y, z = Value(4.0, "x"), Value(-3.0, "y"), Value(5.0, "z")
    q = x + y
    f = q * z
    f.backward()
    assert (q.data, f.data) == (1.0, 5.0)
    assert (x.grad, y.grad, z.grad, q.grad, f.grad) == (5.0, 5.0, 1.0, 5.0, 1.0)


def test_slide_example_2():
    x, y, z = Value(1.0, "x"), Value(2.0, "y"), Value(0.0, "z")
    a = x + y
    b = y.max(z)
    f = a * b
    f.backward()
    assert (a.data, b.data, f.data) == (3.0, 2.0, 6.0)
    assert (a.grad, b.grad) == (2.0, 3.0)  # ∂f/∂a = b, ∂f/∂b = a
    assert (x.grad, y.grad, z.grad) == (2.0, 5.0, 0.0)


def _torch_pair(va, vb):
    return (torch.tensor(va, dtype=torch.float64, requires_grad=True),
            torch.tensor(vb, dtype=torch.float64, requires_grad=True))


# name -> (expression on Values, the same expression on torch tensors); a in [0.2, 2], b ~ N(0, 1)
OPS = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: b / a, lambda a, b: b / a),
    "neg": (lambda a, b: -a * b, lambda a, b: -a * b),
    "radd": (lambda a, b: 2.5 + a * b, lambda a, b: 2.5 + a * b),
    "rsub": (lambda a, b: 1.0 - a * b, lambda a, b: 1.0 - a * b),
    "rmul": (lambda a, b: 3 * a + b, lambda a, b: 3 * a + b),
    "rdiv": (lambda a, b: 3.0 / a + b, lambda a, b: 3.0 / a + b),
    "pow_int": (lambda a, b: b**3 + a**2, lambda a, b: b**3 + a**2),
    "pow_float": (lambda a, b: a**2.5 + a**-0.5 * b, lambda a, b: a**2.5 + a**-0.5 * b),
    "tanh": (lambda a, b: (a * b).tanh(), lambda a, b: torch.tanh(a * b)),
    "sigmoid": (lambda a, b: (a - b).sigmoid(), lambda a, b: torch.sigmoid(a - b)),
    "relu": (lambda a, b: (a - b).relu() + (b - a).relu() * b,
             lambda a, b: torch.relu(a - b) + torch.relu(b - a) * b),
    "exp": (lambda a, b: (a * b).exp(), lambda a, b: torch.exp(a * b)),
    "log": (lambda a, b: (a * a + b * b).log() + a.log(),
            lambda a, b: torch.log(a * a + b * b) + torch.log(a)),
    "max": (lambda a, b: a.max(b) * b, lambda a, b: torch.maximum(a, b) * b),
    "max_number": (lambda a, b: b.max(0.5) + (a * b).max(-1.0),
                   lambda a, b: torch.clamp(b, min=0.5) + torch.clamp(a * b, min=-1.0)),
    "reuse": (lambda a, b: a * a + a * b - a, lambda a, b: a * a + a * b - a),
    "neuron": (lambda a, b: (0.7 * a - 1.3 * b + 0.2).tanh() * (a / (1 + b * b)).sigmoid(),
               lambda a, b: torch.tanh(0.7 * a - 1.3 * b + 0.2) * torch.sigmoid(a / (1 + b * b))),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_operations_match_torch_autograd(name):
    ours, theirs = OPS[name]
    for _ in range(8):
        va, vb = float(RNG.uniform(0.2, 2.0)), float(RNG.normal())
        a, b = Value(va), Value(vb)
        out = ours(a, b)
        out.backward()
        ta, tb = _torch_pair(va, vb)
        tout = theirs(ta, tb)
        tout.backward()
        assert out.data == pytest.approx(tout.item(), rel=1e-12, abs=1e-15)
        for leaf, tleaf in ((a, ta), (b, tb)):
            expected = 0.0 if tleaf.grad is None else tleaf.grad.item()
            assert leaf.grad == pytest.approx(expected, rel=1e-10, abs=1e-12), name


def test_max_matches_the_slides_indicator_away_from_ties():
    for va, vb in ((3.0, 1.0), (-1.0, 2.0)):
        a, b = Value(va), Value(vb)
        a.max(b).backward()
        assert (a.grad, b.grad) == (float(va > vb), float(va < vb))


def test_max_splits_the_gradient_at_a_tie_like_torch_maximum():
    a, b = Value(1.5), Value(1.5)
    (a.max(b) * 4.0).backward()
    ta, tb = _torch_pair(1.5, 1.5)
    (torch.maximum(ta, tb) * 4.0).backward()
    assert (a.grad, b.grad) == (ta.grad.item(), tb.grad.item()) == (2.0, 2.0)


def test_relu_at_zero_has_torchs_zero_gradient():
    x = Value(0.0)
    x.relu().backward()
    t = torch.tensor(0.0, requires_grad=True)
    torch.relu(t).backward()
    assert x.grad == t.grad.item() == 0.0


def test_pow_at_zero_matches_torch():
    for p in (0, 0.5, 1.0, 2, 3):
        x = Value(0.0)
        (x**p).backward()
        t = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
        (t**p).backward()
        assert x.grad == t.grad.item(), p


def test_gradients_accumulate_in_leaves_like_torch_and_zero_grad_resets():
    x = Value(3.0)
    f = x * x + x
    f.backward()
    f.backward()
    tx = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    tf = tx * tx + tx
    tf.backward(retain_graph=True)
    tf.backward()
    assert x.grad == tx.grad.item() == 14.0
    assert f.grad == 1.0  # the output is not a leaf: it holds this pass's gradient
    f.zero_grad()
    assert x.grad == 0.0 and f.grad == 0.0
    f.backward()
    assert x.grad == 7.0


def test_a_shared_node_is_visited_once_and_after_its_parents():
    a = Value(2.0, "a")
    b = a * 3.0
    c = b * b
    d = b + c  # a diamond: b feeds c and d
    order = d.topological_order()
    assert len(order) == len({id(n) for n in order}) == 5  # a, 3.0, b, c, d
    position = {id(n): i for i, n in enumerate(order)}
    for node in order:
        assert all(position[id(p)] < position[id(node)] for p in node.parents)
    d.backward()
    assert a.grad == 3.0 * (1.0 + 2.0 * b.data)  # dd/db = 1 + 2b, db/da = 3


def test_a_chain_much_deeper_than_the_recursion_limit_without_recursion():
    depth = 100_000
    x, c = Value(0.5, "x"), Value(1.00001, "c")
    out = x
    for _ in range(depth):  # out = x * c**depth, one node per step
        out = out * c
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100)  # backward() must not recurse at all
    try:
        out.backward()
    finally:
        sys.setrecursionlimit(limit)
    assert x.grad == pytest.approx(1.00001**depth, rel=1e-9)
    assert c.grad == pytest.approx(depth * 0.5 * 1.00001 ** (depth - 1), rel=1e-9)
    assert len(out.topological_order()) == depth + 2


def test_extreme_inputs_are_stable():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for z in (-1e4, 1e4):
            s, t = Value(z).sigmoid(), Value(z).tanh()
            assert s.data == (1.0 if z > 0 else 0.0) and t.data == math.copysign(1.0, z)
            s.backward()
            assert s.local_grads == (0.0,)
    with pytest.raises(OverflowError, match=r"exp\(10000\) overflows"):
        Value(1e4).exp()
    assert Value(-1e4).exp().data == 0.0


def test_op_and_parents_describe_the_graph():
    x, y = Value(1.0, "x"), Value(2.0, "y")
    f = x.max(y)
    assert f.op == "max" and f.parents == (x, y) and f.local_grads == (0.0, 1.0)
    assert x.op == "" and x.parents == ()
    assert (x**2).op == "**2" and (-x).op == "neg"
    assert repr(Value(2.0, "w")) == "Value(w=2, grad=0)"


def test_bad_input_raises_clear_errors():
    with pytest.raises(TypeError, match="data must be a real number"):
        Value("3")
    with pytest.raises(TypeError, match="data must be a real number"):
        Value(True)
    with pytest.raises(TypeError, match="already a Value"):
        Value(Value(1.0))
    with pytest.raises(TypeError, match="label must be a string"):
        Value(1.0, label=3)
    with pytest.raises(TypeError, match="only a number exponent"):
        Value(2.0) ** Value(2.0)
    with pytest.raises(TypeError, match="the exponent must be a number"):
        2.0 ** Value(2.0)
    with pytest.raises(TypeError, match="cannot combine a Value with str"):
        Value(1.0) + "a"
    with pytest.raises(TypeError, match="cannot combine a Value with list"):
        [1.0] * Value(1.0)
    with pytest.raises(ValueError, match="log needs a positive value"):
        Value(0.0).log()
    with pytest.raises(ValueError, match="non-integer power"):
        Value(-2.0) ** 0.5
    with pytest.raises(ZeroDivisionError, match="data is 0"):
        Value(1.0) / 0.0
    with pytest.raises(ZeroDivisionError, match="negative power"):
        Value(0.0) ** -1
