"""nnlib.autograd: the slides' examples, every operation against torch, and very deep graphs."""

import math
import sys

import numpy as np
import pytest
import torch

from nnlib.autograd import Value

RNG = np.random.default_rng(3)


def test_slide_example_1():
    x, y, z = Value(4.0), Value(-3.0), Value(5.0)
    q = x + y
    f = q * z
    f.backward()
    assert (q.data, f.data) == (1.0, 5.0)
    assert (x.grad, y.grad, z.grad, q.grad) == (5.0, 5.0, 1.0, 5.0)


def test_slide_example_2():
    x, y, z = Value(1.0), Value(2.0), Value(0.0)
    a = x + y
    b = y.max(z)
    f = a * b
    f.backward()
    assert (a.data, b.data, f.data) == (3.0, 2.0, 6.0)
    assert (x.grad, y.grad, z.grad) == (2.0, 5.0, 0.0)


OPS = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "radd": (lambda a, b: 2.5 + a * b, lambda a, b: 2.5 + a * b),
    "rsub": (lambda a, b: 1.0 - a, lambda a, b: 1.0 - a),
    "rdiv": (lambda a, b: 3.0 / b, lambda a, b: 3.0 / b),
    "pow": (lambda a, b: b**3 + a**2.5, lambda a, b: b**3 + a**2.5),
    "neg": (lambda a, b: -a * b, lambda a, b: -a * b),
    "tanh": (lambda a, b: (a * b).tanh(), lambda a, b: torch.tanh(a * b)),
    "sigmoid": (lambda a, b: (a - b).sigmoid(), lambda a, b: torch.sigmoid(a - b)),
    "relu": (lambda a, b: (a - b).relu() + (b - a).relu(), lambda a, b: torch.relu(a - b) + torch.relu(b - a)),
    "exp_log": (lambda a, b: (a * b).exp() + a.log(), lambda a, b: torch.exp(a * b) + torch.log(a)),
    "max": (lambda a, b: a.max(b) * b, lambda a, b: torch.maximum(a, b) * b),
    "reuse": (lambda a, b: a * a + a * b, lambda a, b: a * a + a * b),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_operations_match_torch_autograd(name):
    ours, theirs = OPS[name]
    for _ in range(5):
        va, vb = RNG.uniform(0.2, 2.0), RNG.normal()
        a, b = Value(va), Value(vb)
        out = ours(a, b)
        out.backward()
        ta = torch.tensor(va, dtype=torch.float64, requires_grad=True)
        tb = torch.tensor(vb, dtype=torch.float64, requires_grad=True)
        tout = theirs(ta, tb)
        tout.backward()
        assert out.data == pytest.approx(tout.item(), rel=1e-12)
        for ours_leaf, torch_leaf in ((a, ta), (b, tb)):
            expected = 0.0 if torch_leaf.grad is None else torch_leaf.grad.item()
            assert ours_leaf.grad == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_max_splits_the_gradient_at_a_tie_like_torch():
    a, b = Value(1.0), Value(1.0)
    a.max(b).backward()
    ta, tb = (torch.tensor(1.0, requires_grad=True) for _ in range(2))
    torch.maximum(ta, tb).backward()
    assert (a.grad, b.grad) == (ta.grad.item(), tb.grad.item()) == (0.5, 0.5)


def test_gradients_accumulate_in_leaves_like_torch():
    x = Value(3.0)
    f = x * x + x
    f.backward()
    f.backward()
    tx = torch.tensor(3.0, requires_grad=True)
    tf = tx * tx + tx
    tf.backward(retain_graph=True)
    tf.backward()
    assert x.grad == tx.grad.item() == 14.0
    assert f.grad == 1.0
    f.zero_grad()
    assert x.grad == 0.0 and f.grad == 0.0


def test_a_chain_deeper_than_the_recursion_limit():
    depth = 100_000
    assert depth > sys.getrecursionlimit()
    x = Value(0.5)
    out = x
    for _ in range(depth):
        out = out * 1.0 + 0.0
    out.backward()
    assert x.grad == 1.0


def test_sigmoid_is_stable():
    assert Value(-1000.0).sigmoid().data == 0.0
    assert math.isclose(Value(1000.0).sigmoid().data, 1.0)


def test_bad_input():
    with pytest.raises(TypeError, match="data must be a real number"):
        Value("3")
    with pytest.raises(TypeError, match="only a plain number exponent"):
        Value(2.0) ** Value(2.0)
    with pytest.raises(TypeError, match="cannot combine a Value"):
        Value(1.0) + "a"
    with pytest.raises(ValueError, match="log needs a positive value"):
        Value(0.0).log()
    with pytest.raises(ZeroDivisionError):
        Value(1.0) / 0.0
