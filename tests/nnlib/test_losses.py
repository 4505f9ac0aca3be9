"""nnlib.losses against torch.nn.functional (float64) and finite differences; every error path."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlib import losses as L
from nnlib.activations import log_softmax
from nnlib.gradcheck import numerical_gradient, relative_error

RNG = np.random.default_rng(1)
REDUCTIONS = ["none", "mean", "sum"]


def T(a):
    return torch.tensor(a)


def torch_loss_and_grad(fn, x, *args, **kwargs):
    """torch's loss value and d(loss.sum())/d(input) at float64 ``x``."""
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = fn(t, *args, **kwargs)
    (grad,) = torch.autograd.grad(out.sum(), t)
    return out.detach().numpy(), grad.numpy()


def check_against_torch(ours, ours_grad, theirs, x, args, targs, kwargs=None, tkwargs=None):
    kwargs = kwargs or {}
    value, grad = torch_loss_and_grad(theirs, x, *targs, **(kwargs if tkwargs is None else tkwargs))
    mine = ours(x, *args, **kwargs)
    assert np.shape(mine) == np.shape(value)
    np.testing.assert_allclose(mine, value, rtol=1e-12, atol=1e-14)
    mine_grad = ours_grad(x, *args, **kwargs)
    assert mine_grad.shape == np.shape(x)
    np.testing.assert_allclose(mine_grad, grad, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------------------------------------
# values and gradients equal torch's


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses(reduction):
    x, t = RNG.normal(size=(3, 5)), RNG.normal(size=(3, 5))
    t[0, 0] = x[0, 0]  # l1's kink: sign(0) = 0, as torch
    for ours, grad, theirs in ((L.mse_loss, L.mse_loss_grad, F.mse_loss),
                               (L.l1_loss, L.l1_loss_grad, F.l1_loss)):
        check_against_torch(ours, grad, theirs, x, (t,), (T(t),), {"reduction": reduction})


def test_defaults_are_torchs():
    x, t = RNG.normal(size=4), RNG.normal(size=4)
    assert L.mse_loss(x, t) == pytest.approx(F.mse_loss(T(x), T(t)).item(), rel=1e-14)
    y = np.sign(RNG.normal(size=4))
    assert L.hinge_embedding_loss(x, y) == pytest.approx(
        F.hinge_embedding_loss(T(x), T(y)).item(), rel=1e-14)  # margin=1.0, reduction='mean'
    assert L.margin_ranking_loss(x, t, y) == pytest.approx(
        F.margin_ranking_loss(T(x), T(t), T(y)).item(), rel=1e-14)  # margin=0.0


CLASS_KWARGS = [{}, {"reduction": "sum"}, {"reduction": "none"}, {"weight": "w"},
                {"weight": "w", "reduction": "none"}, {"weight": "w", "reduction": "sum"},
                {"ignore_index": 2}, {"ignore_index": 2, "weight": "w"},
                {"label_smoothing": 0.2}, {"label_smoothing": 0.2, "reduction": "none"},
                {"weight": "w", "label_smoothing": 0.3, "ignore_index": 1}]


@pytest.mark.parametrize("kwargs", CLASS_KWARGS, ids=lambda k: "-".join(f"{a}={b}" for a, b in
                                                                        k.items()) or "defaults")
def test_cross_entropy_and_nll_with_class_indices(kwargs):
    x = RNG.normal(size=(7, 4)) * 3
    y = np.array([0, 1, 2, 3, 2, 1, 3])
    w = np.array([0.5, 2.0, 1.5, 0.0])  # a zero weight too
    ours = {k: (w if v == "w" else v) for k, v in kwargs.items()}
    theirs = {k: (T(w) if v == "w" else v) for k, v in kwargs.items()}
    check_against_torch(L.cross_entropy, L.cross_entropy_grad, F.cross_entropy, x, (y,), (T(y),),
                        ours, theirs)
    ours.pop("label_smoothing", None)
    theirs.pop("label_smoothing", None)
    check_against_torch(L.nll_loss, L.nll_loss_grad, F.nll_loss, log_softmax(x, dim=1), (y,),
                        (T(y),), ours, theirs)


def test_weighted_mean_divides_by_the_weights_of_the_targets():
    logp = log_softmax(RNG.normal(size=(4, 3)), dim=1)
    y = np.array([0, 2, 2, 1])
    w = np.array([1.0, 3.0, 0.5])
    by_hand = -sum(w[c] * logp[i, c] for i, c in enumerate(y)) / (1.0 + 0.5 + 0.5 + 3.0)
    assert L.nll_loss(logp, y, weight=w) == pytest.approx(by_hand, rel=1e-14)
    assert L.cross_entropy(logp, y, weight=w) == pytest.approx(by_hand, rel=1e-12)


@pytest.mark.parametrize("kwargs", [{}, {"label_smoothing": 0.1}, {"weight": "w"},
                                    {"weight": "w", "reduction": "none"},
                                    {"reduction": "sum", "label_smoothing": 0.4}])
def test_cross_entropy_with_probability_targets(kwargs):
    x = RNG.normal(size=(5, 3)) * 4
    p = RNG.dirichlet(np.ones(3), 5)
    p[0] = [0.0, 1.0, 0.0]
    w = np.array([1.0, 2.0, 0.5])
    ours = {k: (w if v == "w" else v) for k, v in kwargs.items()}
    theirs = {k: (T(w) if v == "w" else v) for k, v in kwargs.items()}
    check_against_torch(L.cross_entropy, L.cross_entropy_grad, F.cross_entropy, x, (p,), (T(p),),
                        ours, theirs)


def test_cross_entropy_shapes_beyond_a_batch_of_vectors():
    # (N, C, d): a class score per position, e.g. per pixel or per time step
    x3, y3 = RNG.normal(size=(2, 3, 4)), RNG.integers(0, 3, (2, 4))
    w = np.array([1.0, 0.2, 3.0])
    for kwargs in ({}, {"reduction": "none", "weight": w}, {"label_smoothing": 0.2, "weight": w}):
        tkwargs = {k: (T(v) if k == "weight" else v) for k, v in kwargs.items()}
        check_against_torch(L.cross_entropy, L.cross_entropy_grad, F.cross_entropy, x3, (y3,),
                            (T(y3),), kwargs, tkwargs)
    p3 = RNG.dirichlet(np.ones(3), (2, 4)).transpose(0, 2, 1)  # probabilities along dimension 1
    check_against_torch(L.cross_entropy, L.cross_entropy_grad, F.cross_entropy, x3, (p3,), (T(p3),))
    # a single unbatched sample: input (C,), target ()
    x1 = RNG.normal(size=4)
    for kwargs in ({}, {"reduction": "none"}, {"label_smoothing": 0.3}):
        check_against_torch(L.cross_entropy, L.cross_entropy_grad, F.cross_entropy, x1,
                            (np.int64(2),), (T(2),), kwargs)
        check_against_torch(L.nll_loss, L.nll_loss_grad, F.nll_loss, x1, (2,), (T(2),),
                            {k: v for k, v in kwargs.items() if k != "label_smoothing"})


def test_everything_ignored_gives_nan_like_torch():
    x, y = RNG.normal(size=(2, 3)), np.array([-100, -100])
    assert np.isnan(L.cross_entropy(x, y)) and np.isnan(F.cross_entropy(T(x), T(y)).item())
    assert L.cross_entropy(x, y, reduction="sum") == 0.0
    np.testing.assert_array_equal(L.cross_entropy(x, y, reduction="none"), [0.0, 0.0])


def test_cross_entropy_is_stable_for_huge_logits():
    x = np.array([[1e4, 0.0, -1e4], [1000.0, 1000.0, -1000.0], [1e3, -1e3, 0.0]])
    y = np.array([1, 0, 0])
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        value = L.cross_entropy(x, y, reduction="none")
        grad = L.cross_entropy_grad(x, y)
        smooth = L.cross_entropy(x, y, label_smoothing=0.1)
    np.testing.assert_allclose(value, [1e4, np.log(2), 0.0], atol=1e-300)
    np.testing.assert_allclose(grad, [[1 / 3, -1 / 3, 0], [-1 / 6, 1 / 6, 0], [0, 0, 0]],
                               atol=1e-16)
    assert smooth == pytest.approx(F.cross_entropy(T(x), T(y), label_smoothing=0.1).item(),
                                   rel=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(reduction):
    x = RNG.uniform(0.01, 0.99, 8)
    x[:4] = [0.0, 1.0, 0.0, 1.0]  # the clamped logs: log 0 -> -100
    y = RNG.uniform(0, 1, 8)
    y[:4] = [1.0, 0.0, 0.0, 1.0]
    w = RNG.uniform(0.5, 2, 8)
    check_against_torch(L.binary_cross_entropy, L.binary_cross_entropy_grad,
                        F.binary_cross_entropy, x, (y,), (T(y),),
                        {"weight": w, "reduction": reduction},
                        {"weight": T(w), "reduction": reduction})
    check_against_torch(L.binary_cross_entropy, L.binary_cross_entropy_grad,
                        F.binary_cross_entropy, x[4:], (y[4:],), (T(y[4:]),),
                        {"reduction": reduction})


def test_binary_cross_entropy_clamps_the_log_at_minus_100():
    np.testing.assert_array_equal(L.binary_cross_entropy([0.0, 1.0, 0.0], [1.0, 0.0, 0.0],
                                                         reduction="none"), [100.0, 100.0, 0.0])
    w = np.array([[1.0], [3.0]])  # a weight that broadcasts, as torch allows
    x, y = RNG.uniform(0.1, 0.9, (2, 3)), RNG.uniform(0, 1, (2, 3))
    check_against_torch(L.binary_cross_entropy, L.binary_cross_entropy_grad,
                        F.binary_cross_entropy, x, (y,), (T(y),), {"weight": w},
                        {"weight": T(w)})


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding_and_margin_ranking(reduction):
    x = RNG.normal(size=(3, 5))
    y = np.sign(RNG.normal(size=(3, 5)))
    x[0, 0], y[0, 0] = 0.7, -1.0  # the corner x = margin
    check_against_torch(L.hinge_embedding_loss, L.hinge_embedding_loss_grad,
                        F.hinge_embedding_loss, x, (y,), (T(y),),
                        {"margin": 0.7, "reduction": reduction})
    a, b, t = RNG.normal(size=6), RNG.normal(size=6), np.sign(RNG.normal(size=6))
    a[0], b[0], t[0] = 1.0, 0.7, 1.0  # the corner -y(x1 - x2) + margin = 0
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    out = F.margin_ranking_loss(ta, tb, T(t), margin=0.3, reduction=reduction)
    out.sum().backward()
    np.testing.assert_allclose(L.margin_ranking_loss(a, b, t, margin=0.3, reduction=reduction),
                               out.detach().numpy(), rtol=1e-14, atol=1e-15)
    ga, gb = L.margin_ranking_loss_grad(a, b, t, margin=0.3, reduction=reduction)
    np.testing.assert_allclose(ga, ta.grad.numpy(), rtol=1e-14)
    np.testing.assert_allclose(gb, tb.grad.numpy(), rtol=1e-14)


@pytest.mark.parametrize("reduction", [*REDUCTIONS, "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    lp = log_softmax(RNG.normal(size=(4, 3)), dim=1)
    q = RNG.dirichlet(np.ones(3), 4)
    q[0] = [0.3, 0.0, 0.7]  # 0 log 0 = 0
    target = np.log(np.maximum(q, 1e-300)) if log_target else q
    check_against_torch(L.kl_div, L.kl_div_grad, F.kl_div, lp, (target,), (T(target),),
                        {"reduction": reduction, "log_target": log_target})


def test_kl_div_is_zero_for_equal_distributions_and_positive_otherwise():
    p = RNG.dirichlet(np.ones(4), 3)
    assert L.kl_div(np.log(p), p, reduction="batchmean") == pytest.approx(0.0, abs=1e-15)
    assert L.kl_div(np.log(p[::-1]), p, reduction="batchmean") > 0


# the slide's table has no torch function, but torch computes the same formulas
TABLE = {
    "squared_error": (L.squared_error, L.squared_error_grad, lambda z, y: 0.5 * (y - z) ** 2),
    "logistic_loss": (L.logistic_loss, L.logistic_loss_grad, lambda z, y: F.softplus(-y * z)),
    "hinge_loss": (L.hinge_loss, L.hinge_loss_grad, lambda z, y: F.relu(1 - y * z)),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", sorted(TABLE))
def test_slide_table_equals_torch_formulas(name, reduction):
    ours, grad, formula = TABLE[name]
    z = np.concatenate([RNG.normal(size=12) * 3, [1.0, -1.0, 1e4, -1e4, 1e3]])
    y = np.concatenate([np.sign(RNG.normal(size=12)), [1.0, -1.0, 1.0, 1.0, -1.0]])  # kinks: yz = 1
    def theirs(t, y):
        out = formula(t, y)
        return out if reduction == "none" else getattr(out, reduction)()
    check_against_torch(ours, grad, theirs, z, (y,), (T(y),), {"reduction": reduction}, {})


def test_slide_table_values():
    assert L.squared_error(3.0, 1.0) == 2.0
    assert L.logistic_loss(0.0, 1.0) == pytest.approx(np.log(2), rel=1e-15)
    assert L.logistic_loss(-1e4, 1.0) == 1e4 and L.logistic_loss(1e4, 1.0) == 0.0  # no overflow
    assert L.hinge_loss(0.5, 1.0) == 0.5 and L.hinge_loss(2.0, 1.0) == 0.0
    assert L.hinge_loss(-2.0, -1.0) == 0.0 and L.hinge_loss(2.0, -1.0) == 3.0


def test_mse_gradient_has_the_factor_two():
    assert L.mse_loss_grad(np.array([3.0]), np.array([1.0]))[0] == 4.0


# ------------------------------------------------------------------------------------------------
# every gradient equals finite differences (independently of torch)

X = RNG.normal(size=(5, 4))
Y_REAL = RNG.normal(size=(5, 4))
Y_PM = np.sign(RNG.normal(size=(5, 4)))
P = RNG.uniform(0.05, 0.95, (5, 4))
Y01 = RNG.uniform(0, 1, (5, 4))
CLS = np.array([0, 3, 1, 3, 2])
W4 = np.array([0.5, 1.0, 2.0, 1.5])
Q = RNG.dirichlet(np.ones(4), 5)
LOGP = log_softmax(X, dim=1)

# name -> (loss, gradient, input, other positional arguments, keyword arguments)
GRADIENT_CASES = {
    "squared_error": (L.squared_error, L.squared_error_grad, X, (Y_REAL,), {}),
    "logistic_loss": (L.logistic_loss, L.logistic_loss_grad, 3 * X, (Y_PM,), {}),
    "hinge_loss": (L.hinge_loss, L.hinge_loss_grad, 3 * X, (Y_PM,), {}),
    "mse_loss": (L.mse_loss, L.mse_loss_grad, X, (Y_REAL,), {}),
    "l1_loss": (L.l1_loss, L.l1_loss_grad, X, (Y_REAL,), {}),
    "nll_loss": (L.nll_loss, L.nll_loss_grad, LOGP, (CLS,), {"weight": W4}),
    "nll_loss-ignore": (L.nll_loss, L.nll_loss_grad, LOGP, (CLS,), {"ignore_index": 3}),
    "cross_entropy": (L.cross_entropy, L.cross_entropy_grad, 3 * X, (CLS,), {}),
    "cross_entropy-weighted-smoothed": (L.cross_entropy, L.cross_entropy_grad, 3 * X, (CLS,),
                                        {"weight": W4, "label_smoothing": 0.2, "ignore_index": 1}),
    "cross_entropy-probabilities": (L.cross_entropy, L.cross_entropy_grad, 3 * X, (Q,),
                                    {"weight": W4, "label_smoothing": 0.1}),
    "binary_cross_entropy": (L.binary_cross_entropy, L.binary_cross_entropy_grad, P, (Y01,),
                             {"weight": W4}),
    "hinge_embedding_loss": (L.hinge_embedding_loss, L.hinge_embedding_loss_grad, X, (Y_PM,),
                             {"margin": 0.5}),
    "margin_ranking_loss-input1": (L.margin_ranking_loss,
                                   lambda *a, **k: L.margin_ranking_loss_grad(*a, **k)[0],
                                   X, (Y_REAL, Y_PM), {"margin": 0.2}),
    "kl_div": (L.kl_div, L.kl_div_grad, LOGP, (Q,), {}),
    "kl_div-log_target": (L.kl_div, L.kl_div_grad, LOGP, (np.log(Q),), {"log_target": True}),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", sorted(GRADIENT_CASES))
def test_every_gradient_equals_finite_differences(name, reduction):
    loss, grad, x, args, kwargs = GRADIENT_CASES[name]
    kwargs = {**kwargs, "reduction": reduction}
    numeric = numerical_gradient(lambda v: np.sum(loss(v, *args, **kwargs)), x)
    analytic = grad(x, *args, **kwargs)
    assert analytic.shape == x.shape
    assert relative_error(analytic, numeric) < 1e-6, (analytic, numeric)


def test_margin_ranking_gradient_of_the_second_input():
    a, b = RNG.normal(size=6), RNG.normal(size=6)
    t = np.sign(RNG.normal(size=6))
    numeric = numerical_gradient(lambda v: L.margin_ranking_loss(a, v, t, margin=0.1), b)
    np.testing.assert_allclose(L.margin_ranking_loss_grad(a, b, t, margin=0.1)[1], numeric,
                               atol=1e-9)


def test_the_inputs_are_not_modified():
    x, t = X.copy(), CLS.copy()
    L.cross_entropy_grad(x, t, weight=W4, label_smoothing=0.1)
    L.nll_loss_grad(x, t, ignore_index=3)
    L.mse_loss_grad(x, Y_REAL)
    np.testing.assert_array_equal(x, X)
    np.testing.assert_array_equal(t, CLS)


# ------------------------------------------------------------------------------------------------
# bad input gets a clear error that names the argument

BAD = [
    (lambda: L.mse_loss(np.ones(3), np.ones(4)), ValueError, "input and target must have the same"),
    (lambda: L.mse_loss(np.ones((3, 1)), np.ones(3)), ValueError, r"\(3, 1\) and \(3,\)"),
    (lambda: L.squared_error(np.ones(2), np.ones(3)), ValueError, "z and y must have the same"),
    (lambda: L.margin_ranking_loss(np.ones(2), np.ones(3), np.ones(2)), ValueError,
     "input1 and input2 must have the same"),
    (lambda: L.cross_entropy(np.ones((2, 3)), [0, 3]), ValueError,
     "target holds class index 3, out of range for 3 classes"),
    (lambda: L.nll_loss(np.ones((2, 3)), [-1, 0]), ValueError, "target holds class index -1"),
    (lambda: L.cross_entropy(np.ones((2, 3)), [0, 1, 2]), ValueError, "one class index per sample"),
    (lambda: L.nll_loss(np.ones((2, 3)), [0.5, 1]), TypeError, "target must hold integer class"),
    (lambda: L.cross_entropy(np.ones((2, 3)), [0.5, 1]), ValueError,
     "target must be class indices .* or class probabilities"),
    (lambda: L.cross_entropy(np.ones(3), 1, ignore_index=1.5), TypeError, "ignore_index must be"),
    (lambda: L.cross_entropy(np.ones((2, 3)), np.full((2, 3), 1 / 3), ignore_index=0), ValueError,
     "ignore_index=0 needs class-index targets"),
    (lambda: L.cross_entropy(1.0, 0), ValueError, "input must have a class dimension"),
    (lambda: L.cross_entropy(np.ones((2, 3)), [0, 1], weight=[1, 2]), ValueError,
     r"weight must have one entry per class, shape \(3,\)"),
    (lambda: L.nll_loss(np.ones((2, 3)), [0, 1], weight=[1, -2, 1]), ValueError,
     "weight must be non-negative"),
    (lambda: L.binary_cross_entropy(np.full(2, 0.5), np.ones(2), weight=[1, -1]), ValueError,
     "weight must be non-negative"),
    (lambda: L.binary_cross_entropy(np.full(2, 0.5), np.ones(2), weight=[1, 1, 1]), ValueError,
     "weight of shape"),
    (lambda: L.cross_entropy(np.ones((1, 2)), [[1.5, -0.5]]), ValueError,
     r"target must hold probabilities in \[0, 1\]"),
    (lambda: L.cross_entropy(np.ones(3), 1, label_smoothing=1.5), ValueError,
     r"label_smoothing must be in \[0, 1\]"),
    (lambda: L.hinge_embedding_loss(np.ones(3), np.array([0.3, -1.2, 1.0])), ValueError,
     "target must hold labels -1 or \\+1"),
    (lambda: L.hinge_embedding_loss_grad(np.ones(2), np.array([0.0, 1.0])), ValueError,
     "target must hold labels"),
    (lambda: L.margin_ranking_loss(np.ones(2), np.ones(2), np.array([0.0, 1.0])), ValueError,
     "target must hold labels -1 or"),
    (lambda: L.hinge_loss(np.ones(2), np.array([0, 1])), ValueError, r"y must .* 2\*label - 1"),
    (lambda: L.logistic_loss_grad(np.ones(2), np.array([1, 2])), ValueError, "y must hold labels"),
    (lambda: L.binary_cross_entropy(np.array([1.2]), np.array([1.0])), ValueError,
     r"input must hold probabilities in \[0, 1\]"),
    (lambda: L.binary_cross_entropy_grad(np.array([0.2]), np.array([-1.0])), ValueError,
     "target must hold probabilities"),
    (lambda: L.kl_div(np.array([0.5, 0.1]), np.array([0.5, 0.5])), ValueError,
     "input must hold log-probabilities"),
    (lambda: L.kl_div(np.log([0.5, 0.5]), np.array([1.3, -0.3])), ValueError, "target must hold"),
    (lambda: L.kl_div(np.log([0.5]), [0.1], log_target=True), ValueError, "target must hold log"),
    (lambda: L.mse_loss(np.ones(2), np.ones(2), reduction="avg"), ValueError,
     "reduction must be one of 'none', 'mean', 'sum', got 'avg'"),
    (lambda: L.cross_entropy_grad(np.ones((2, 2)), [0, 1], reduction="batchmean"), ValueError,
     "reduction must be one of"),
    (lambda: L.kl_div(np.log([0.5]), [1.0], reduction="batchsum"), ValueError,
     "reduction must be one of 'none', 'mean', 'sum', 'batchmean'"),
    (lambda: L.l1_loss("1", [1]), TypeError, "input must be numeric"),
    (lambda: L.mse_loss([1.0], None), TypeError, "target must be numeric"),
    (lambda: L.hinge_embedding_loss([1.0], [1.0], margin="1"), TypeError, "margin must be a real"),
]


@pytest.mark.parametrize("call,error,message", BAD, ids=[m for _, _, m in BAD])
def test_bad_input_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_what_torch_accepts_silently_is_refused():
    """The slides feed random normals as hinge-embedding targets; torch returns a number."""
    x, target = RNG.normal(size=(3, 5)), RNG.normal(size=(3, 5))
    assert np.isfinite(F.hinge_embedding_loss(T(x), T(target)).item())
    with pytest.raises(ValueError, match="target must hold labels -1 or \\+1"):
        L.hinge_embedding_loss(x, target)


# ------------------------------------------------------------------------------------------------
# properties


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(2, 5), st.integers(0, 2**32 - 1),
       st.floats(0.0, 1.0), st.floats(-50, 50))
def test_cross_entropy_properties(n, c, seed, smoothing, shift):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c)) * 10
    y = rng.integers(0, c, n)
    w = rng.uniform(0.1, 3, c)
    loss = L.cross_entropy(x, y, weight=w, label_smoothing=smoothing)
    assert loss >= 0
    # the mean is the mean over samples: permuting the batch changes nothing
    perm = rng.permutation(n)
    np.testing.assert_allclose(
        L.cross_entropy(x[perm], y[perm], weight=w, label_smoothing=smoothing), loss, rtol=1e-12)
    # softmax does not see a constant added to all scores
    np.testing.assert_allclose(L.cross_entropy(x + shift, y, weight=w, label_smoothing=smoothing),
                               loss, rtol=1e-9, atol=1e-12)
    # the gradient of each row sums to zero (the same shift direction)
    np.testing.assert_allclose(L.cross_entropy_grad(x, y).sum(axis=1), 0.0, atol=1e-15)
    # cross-entropy equals NLL of log-softmax
    np.testing.assert_allclose(L.cross_entropy(x, y, weight=w),
                               L.nll_loss(log_softmax(x, dim=1), y, weight=w), rtol=1e-12)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 8), st.integers(0, 2**32 - 1), st.sampled_from(["mean", "sum"]))
def test_losses_are_invariant_to_permuting_the_batch(n, seed, reduction):
    rng = np.random.default_rng(seed)
    x, t = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
    p, q = rng.uniform(0, 1, (n, 3)), rng.uniform(0, 1, (n, 3))
    pm = np.where(rng.random((n, 3)) < 0.5, -1.0, 1.0)
    lp, dist = log_softmax(x, dim=1), rng.dirichlet(np.ones(3), n)
    perm = rng.permutation(n)
    calls = [
        (L.mse_loss, (x, t)), (L.l1_loss, (x, t)), (L.binary_cross_entropy, (p, q)),
        (L.hinge_embedding_loss, (np.abs(x), pm)),  # its input is a distance
        (L.margin_ranking_loss, (x, t, pm)),
        (L.squared_error, (x, t)), (L.logistic_loss, (x, pm)), (L.hinge_loss, (x, pm)),
        (L.kl_div, (lp, dist)),
    ]
    for loss, args in calls:
        value = loss(*args, reduction=reduction)
        assert value >= 0, loss.__name__
        np.testing.assert_allclose(loss(*(a[perm] for a in args), reduction=reduction), value,
                                   rtol=1e-12, atol=1e-15, err_msg=loss.__name__)


@settings(max_examples=25, deadline=None)
@given(st.floats(-1e4, 1e4), st.sampled_from([-1.0, 1.0]))
def test_table_losses_are_finite_and_ordered(z, y):
    logistic, hinge = L.logistic_loss(z, y), L.hinge_loss(z, y)
    assert np.isfinite(logistic) and logistic >= 0 and hinge >= 0
    # the logistic loss is a smooth upper bound of max(0, -yz), never above it by more than log 2
    assert max(0.0, -y * z) <= logistic <= max(0.0, -y * z) + np.log(2) + 1e-12
