"""nnlib.losses against torch.nn.functional (float64): values, gradients and error paths."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlib import losses as L
from nnlib.activations import log_softmax
from nnlib.gradcheck import check_gradient

RNG = np.random.default_rng(1)
T = lambda a: torch.tensor(a)  # noqa: E731


def torch_loss_and_grad(fn, x, *args, **kwargs):
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = fn(t, *args, **kwargs)
    (grad,) = torch.autograd.grad(out.sum(), t)
    return out.detach().numpy(), grad.numpy()


def check(ours, ours_grad, theirs, x, args=(), targs=None, kwargs=None):
    kwargs = kwargs or {}
    value, grad = torch_loss_and_grad(theirs, x, *(targs if targs is not None else args), **kwargs)
    np.testing.assert_allclose(ours(x, *args, **kwargs), value, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours_grad(x, *args, **kwargs), grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_regression_losses(reduction):
    x, t = RNG.normal(size=(3, 5)), RNG.normal(size=(3, 5))
    for ours, grad, theirs in ((L.mse_loss, L.mse_loss_grad, F.mse_loss),
                               (L.l1_loss, L.l1_loss_grad, F.l1_loss)):
        check(ours, grad, theirs, x, (t,), (T(t),), {"reduction": reduction})


@pytest.mark.parametrize("kwargs", [{}, {"reduction": "sum"}, {"reduction": "none"},
                                    {"weight": "w"}, {"weight": "w", "reduction": "none"},
                                    {"ignore_index": 2}, {"label_smoothing": 0.2},
                                    {"weight": "w", "label_smoothing": 0.3, "ignore_index": 1}])
def test_cross_entropy_and_nll_with_class_indices(kwargs):
    x = RNG.normal(size=(7, 4)) * 3
    y = RNG.integers(0, 4, 7)
    w = RNG.uniform(0.2, 3, 4)
    ours = {k: (w if v == "w" else v) for k, v in kwargs.items()}
    theirs = {k: (T(w) if v == "w" else v) for k, v in kwargs.items()}
    value, grad = torch_loss_and_grad(F.cross_entropy, x, T(y), **theirs)
    np.testing.assert_allclose(L.cross_entropy(x, y, **ours), value, rtol=1e-10)
    np.testing.assert_allclose(L.cross_entropy_grad(x, y, **ours), grad, rtol=1e-9, atol=1e-14)
    ours.pop("label_smoothing", None)
    theirs.pop("label_smoothing", None)
    lp = log_softmax(x, dim=1)
    value, grad = torch_loss_and_grad(F.nll_loss, lp, T(y), **theirs)
    np.testing.assert_allclose(L.nll_loss(lp, y, **ours), value, rtol=1e-10)
    np.testing.assert_allclose(L.nll_loss_grad(lp, y, **ours), grad, rtol=1e-9, atol=1e-14)


def test_cross_entropy_probability_targets_and_extra_dims():
    x = RNG.normal(size=(5, 3))
    p = RNG.dirichlet(np.ones(3), 5)
    w = np.array([1.0, 2.0, 0.5])
    check(L.cross_entropy, L.cross_entropy_grad, F.cross_entropy, x, (p,), (T(p),),
          {"weight": None, "label_smoothing": 0.1})
    value, grad = torch_loss_and_grad(F.cross_entropy, x, T(p), weight=T(w))
    np.testing.assert_allclose(L.cross_entropy(x, p, weight=w), value, rtol=1e-10)
    np.testing.assert_allclose(L.cross_entropy_grad(x, p, weight=w), grad, rtol=1e-9)
    x3, y3 = RNG.normal(size=(2, 3, 4)), RNG.integers(0, 3, (2, 4))
    check(L.cross_entropy, L.cross_entropy_grad, F.cross_entropy, x3, (y3,), (T(y3),))
    x1 = RNG.normal(size=4)
    check(L.cross_entropy, L.cross_entropy_grad, F.cross_entropy, x1, (np.int64(2),), (T(2),))


def test_cross_entropy_is_stable_for_huge_logits():
    x = np.array([[1e4, 0.0, -1e4], [1000.0, 1000.0, -1000.0]])
    y = np.array([1, 0])
    with np.errstate(all="raise", under="ignore"):
        value = L.cross_entropy(x, y, reduction="none")
    np.testing.assert_allclose(value, [1e4, np.log(2)])
    assert np.all(np.isfinite(L.cross_entropy_grad(x, y)))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_binary_cross_entropy(reduction):
    x = RNG.uniform(0.01, 0.99, 8)
    x[0], x[1] = 0.0, 1.0
    y = RNG.uniform(0, 1, 8)
    w = RNG.uniform(0.5, 2, 8)
    value, _ = torch_loss_and_grad(F.binary_cross_entropy, x, T(y), weight=T(w), reduction=reduction)
    np.testing.assert_allclose(L.binary_cross_entropy(x, y, weight=w, reduction=reduction), value,
                               rtol=1e-10)
    inner = x[2:]
    check(L.binary_cross_entropy, L.binary_cross_entropy_grad, F.binary_cross_entropy, inner,
          (y[2:],), (T(y[2:]),), {"reduction": reduction})


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_hinge_embedding_and_margin_ranking(reduction):
    x = RNG.normal(size=(3, 5))
    y = np.sign(RNG.normal(size=(3, 5)))
    check(L.hinge_embedding_loss, L.hinge_embedding_loss_grad, F.hinge_embedding_loss, x, (y,),
          (T(y),), {"margin": 0.7, "reduction": reduction})
    a, b, t = RNG.normal(size=6), RNG.normal(size=6), np.sign(RNG.normal(size=6))
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    out = F.margin_ranking_loss(ta, tb, T(t), margin=0.3, reduction=reduction)
    out.sum().backward()
    np.testing.assert_allclose(L.margin_ranking_loss(a, b, t, margin=0.3, reduction=reduction),
                               out.detach().numpy(), rtol=1e-12)
    ga, gb = L.margin_ranking_loss_grad(a, b, t, margin=0.3, reduction=reduction)
    np.testing.assert_allclose(ga, ta.grad.numpy())
    np.testing.assert_allclose(gb, tb.grad.numpy())


@pytest.mark.parametrize("reduction", ["none", "mean", "sum", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    lp = log_softmax(RNG.normal(size=(4, 3)), dim=1)
    q = RNG.dirichlet(np.ones(3), 4)
    q[0, 1] = 0.0
    q[0] /= q[0].sum()
    target = np.log(np.maximum(q, 1e-300)) if log_target else q
    check(L.kl_div, L.kl_div_grad, F.kl_div, lp, (target,), (T(target),),
          {"reduction": reduction, "log_target": log_target})


def test_slide_table_losses_and_gradients():
    z = RNG.normal(size=9) * 3
    y = np.sign(RNG.normal(size=9))
    np.testing.assert_allclose(L.squared_error(z, y), 0.5 * (y - z) ** 2)
    np.testing.assert_allclose(L.logistic_loss(z, y), np.log1p(np.exp(-y * z)))
    np.testing.assert_allclose(L.hinge_loss(z, y), np.maximum(0, 1 - y * z))
    assert L.logistic_loss(-1e4, 1.0) == 1e4  # stable: no overflow of exp(1e4)
    for loss, grad in ((L.squared_error, L.squared_error_grad),
                       (L.logistic_loss, L.logistic_loss_grad), (L.hinge_loss, L.hinge_loss_grad)):
        for red in ("sum", "mean"):
            err = check_gradient(lambda v: loss(v, y, reduction=red),
                                 lambda v: grad(v, y, reduction=red), z)
            assert err < 1e-6, f"{loss.__name__}: {err}"


def test_mse_gradient_has_the_factor_two():
    x, t = np.array([3.0]), np.array([1.0])
    assert L.mse_loss_grad(x, t)[0] == 4.0


BAD = [
    (lambda: L.mse_loss(np.ones(3), np.ones(4)), ValueError, "same shape"),
    (lambda: L.cross_entropy(np.ones((2, 3)), [0, 3]), ValueError, "out of range for 3 classes"),
    (lambda: L.cross_entropy(np.ones((2, 3)), [0, 1, 2]), ValueError, "one class index per sample"),
    (lambda: L.nll_loss(np.ones((2, 3)), [0.5, 1]), TypeError, "integer class indices"),
    (lambda: L.cross_entropy(np.ones((2, 3)), [0, 1], weight=[1, 2]), ValueError, "one entry per"),
    (lambda: L.cross_entropy(np.ones((2, 3)), [0, 1], weight=[1, -2, 1]), ValueError, "non-negative"),
    (lambda: L.cross_entropy(np.ones((1, 2)), [[1.5, -0.5]]), ValueError, "probabilities"),
    (lambda: L.hinge_embedding_loss(np.ones(3), np.array([0.3, -1.2, 1.0])), ValueError, "-1 or \\+1"),
    (lambda: L.margin_ranking_loss(np.ones(2), np.ones(2), np.array([0.0, 1.0])), ValueError, "-1 or"),
    (lambda: L.hinge_loss(np.ones(2), np.array([0, 1])), ValueError, "2\\*label - 1"),
    (lambda: L.binary_cross_entropy(np.array([1.2]), np.array([1.0])), ValueError, "input must hold"),
    (lambda: L.binary_cross_entropy(np.array([0.2]), np.array([-1.0])), ValueError, "target must"),
    (lambda: L.kl_div(np.array([0.5, 0.1]), np.array([0.5, 0.5])), ValueError, "log-probabilities"),
    (lambda: L.kl_div(np.log([0.5, 0.5]), np.array([1.3, -0.3])), ValueError, "target must hold"),
    (lambda: L.mse_loss(np.ones(2), np.ones(2), reduction="avg"), ValueError, "reduction must be"),
    (lambda: L.kl_div(np.log([0.5]), [1.0], reduction="batchsum"), ValueError, "reduction must be"),
    (lambda: L.l1_loss("1", [1]), TypeError, "input must be numeric"),
]


@pytest.mark.parametrize("call,error,message", BAD, ids=[m for _, _, m in BAD])
def test_bad_input_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(2, 5), st.integers(0, 2**31 - 1))
def test_cross_entropy_properties(n, c, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c)) * 10
    y = rng.integers(0, c, n)
    loss = L.cross_entropy(x, y)
    assert loss >= 0
    perm = rng.permutation(n)
    np.testing.assert_allclose(L.cross_entropy(x[perm], y[perm]), loss, rtol=1e-12)
    np.testing.assert_allclose(L.cross_entropy(x + 5.0, y), loss, rtol=1e-9, atol=1e-12)
