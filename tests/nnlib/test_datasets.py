"""nnlib.datasets: offline, seeded, the documented shapes, and physically right."""

import socket

import numpy as np
import pytest

from nnlib import datasets as D

G = 9.81


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a dataset tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


# --- the Playground's four sets -------------------------------------------------------------------

@pytest.mark.parametrize("name", D.PLAYGROUND_SETS)
def test_playground_is_seeded_balanced_and_float64(name):
    X, y = D.make_playground(name, n_samples=301, noise=0.2, seed=3)
    X2, y2 = D.make_playground(name, n_samples=301, noise=0.2, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert X.shape == (301, 2) and X.dtype == np.float64
    assert y.shape == (301,) and y.dtype.kind == "i" and set(np.unique(y)) == {0, 1}
    assert abs(y.mean() - 0.5) < 0.1
    assert not np.array_equal(X, D.make_playground(name, n_samples=301, noise=0.2, seed=4)[0])
    assert np.abs(D.make_playground(name, noise=0.0)[0]).max() < 6.5


def test_playground_sets_have_their_shapes():
    X, y = D.make_playground("circle")
    r = np.hypot(*X.T)
    assert r[y == 0].max() < r[y == 1].min()  # a disc inside a ring
    X, y = D.make_playground("xor")
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(int))
    X, y = D.make_playground("gauss")
    np.testing.assert_allclose(X[y == 0].mean(axis=0), [-2, -2], atol=0.2)
    np.testing.assert_allclose(X[y == 1].mean(axis=0), [2, 2], atol=0.2)
    X, y = D.make_playground("spiral")
    np.testing.assert_allclose(X[y == 0].mean(axis=0), -X[y == 1].mean(axis=0), atol=1e-9)  # arms


@pytest.mark.parametrize("name", ["circle", "xor", "gauss"])
def test_playground_noise_mixes_the_classes(name):
    def nearest_neighbour_agreement(noise):
        X, y = D.make_playground(name, n_samples=400, noise=noise, seed=0)
        d = np.linalg.norm(X[:, None] - X[None], axis=-1)
        np.fill_diagonal(d, np.inf)
        return np.mean(y[d.argmin(axis=1)] == y)

    assert nearest_neighbour_agreement(0.0) > nearest_neighbour_agreement(0.5) + 0.1


# --- scikit-learn's bundled data ------------------------------------------------------------------

def test_iris_and_digits_load_from_local_files(no_network):
    X, y = D.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64 and y.shape == (1797,)
    assert X.min() == 0.0 and X.max() == 1.0 and set(y) == set(range(10))
    X, y, features, targets = D.load_iris()
    assert X.shape == (150, 4) and X.dtype == np.float64 and np.bincount(y).tolist() == [50] * 3
    assert features[0] == "sepal length (cm)" and targets == ["setosa", "versicolor", "virginica"]


# --- physics --------------------------------------------------------------------------------------

def test_damped_oscillator_follows_the_solution():
    t, x = D.make_damped_oscillator(n_samples=100, noise=0.0, omega=2.0, gamma=0.3)
    assert t.shape == (100, 1) and x.shape == (100,) and t.dtype == x.dtype == np.float64
    assert np.all(np.diff(t[:, 0]) >= 0) and 0 <= t.min() and t.max() <= 10.0
    omega_d = np.sqrt(2.0**2 - 0.3**2)
    np.testing.assert_allclose(x, np.exp(-0.3 * t[:, 0]) * np.cos(omega_d * t[:, 0]))
    t, noisy = D.make_damped_oscillator(n_samples=5000, noise=0.1, seed=1)
    clean = np.exp(-0.3 * t[:, 0]) * np.cos(omega_d * t[:, 0])
    assert np.std(noisy - clean) == pytest.approx(0.1, rel=0.05)


def test_oscillator_traces_are_labelled_with_their_parameters():
    X, y = D.make_oscillator_traces(n_samples=20, n_times=30, noise=0.0, t_max=6.0, seed=2)
    assert X.shape == (20, 30) and y.shape == (20, 2)
    gamma, omega = y[7]
    t = np.linspace(0, 6.0, 30)
    np.testing.assert_allclose(X[7], np.exp(-gamma * t) * np.cos(np.sqrt(omega**2 - gamma**2) * t))
    assert np.all((0 < y[:, 0]) & (y[:, 0] < y[:, 1]))  # underdamped


def test_pendulum_period_exact_and_small_angle():
    t0 = 2 * np.pi * np.sqrt(1 / G)
    assert D.small_angle_period() == pytest.approx(t0)
    assert D.pendulum_period(1e-6) == pytest.approx(t0)
    # T(90°) / T0 = 2 K(1/2) / pi = 1.18034 (tabulated), T grows with amplitude and with L
    assert D.pendulum_period(np.pi / 2) == pytest.approx(1.18034 * t0, rel=1e-5)
    assert D.pendulum_period(0.5, length=4.0) == pytest.approx(2 * D.pendulum_period(0.5))
    theta = np.linspace(0, 3.1, 50)
    assert np.all(np.diff(D.pendulum_period(theta)) > 0)
    # second-order expansion T ≈ T0 (1 + θ²/16) at small amplitude
    assert D.pendulum_period(0.1) == pytest.approx(t0 * (1 + 0.1**2 / 16), rel=1e-6)
    assert D.pendulum_period(np.ones((2, 3))).shape == (2, 3)


def test_make_pendulum_period_is_a_small_noisy_regression_set():
    theta, T = D.make_pendulum_period(n_samples=30, noise=0.0)
    assert theta.shape == (30, 1) and T.shape == (30,)
    np.testing.assert_allclose(T, D.pendulum_period(theta[:, 0]))
    assert np.all(T > D.small_angle_period()) and np.all(np.diff(T) > 0)
    theta, T = D.make_pendulum_period(n_samples=2000, noise=0.02, seed=5)
    rel = T / D.pendulum_period(theta[:, 0]) - 1
    assert np.std(rel) == pytest.approx(0.02, rel=0.1)


def test_invariant_mass_peaks_at_the_resonance_on_a_falling_background():
    X, y = D.make_invariant_mass(n_signal=2000, n_background=4000, seed=1)
    assert X.shape == (6000, 4) and X.dtype == np.float64 and y.sum() == 2000
    m = X[:, 0]
    assert np.all((m > 60) & (m < 120))
    assert abs(np.median(m[y == 1]) - 91.19) < 0.5
    counts, _ = np.histogram(m[y == 0], bins=6, range=(60, 120))
    assert np.all(np.diff(counts) < 0)  # exponentially falling
    # the slope: exp(−s m) on [60, 120] has mean(m − 60) = 1/s − L e^{−sL} / (1 − e^{−sL}), L = 60
    s, L = 0.03, 60.0
    assert np.mean(m[y == 0] - 60) == pytest.approx(1 / s - L / np.expm1(s * L), rel=0.03)
    assert X[y == 1, 1].mean() > X[y == 0, 1].mean()  # harder pT for signal
    assert np.all(np.abs(X[:, 3]) <= 1)
    # 1 + cos²θ*: E[cos²] = 2/5 for signal, 1/3 for a flat background
    assert np.mean(X[y == 1, 3] ** 2) == pytest.approx(0.4, abs=0.02)
    assert np.mean(X[y == 0, 3] ** 2) == pytest.approx(1 / 3, abs=0.02)


def test_invariant_mass_imbalance_and_seeding():
    X, y = D.make_invariant_mass(n_signal=10, n_background=990, seed=0)
    assert y.mean() == 0.01
    X2, y2 = D.make_invariant_mass(n_signal=10, n_background=990, seed=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert D.make_invariant_mass(n_signal=0, n_background=5)[1].sum() == 0
    X, _ = D.make_invariant_mass(n_signal=500, n_background=0, mass=125.0, width=0.1,
                                 resolution=0.5, mass_range=(100, 150))
    assert abs(np.median(X[:, 0]) - 125.0) < 0.1 and np.all((X[:, 0] > 100) & (X[:, 0] < 150))


# --- train/test split -----------------------------------------------------------------------------

def test_train_test_split_partitions_and_is_seeded():
    X, y = np.arange(200).reshape(100, 2), np.arange(100) % 3
    Xtr, Xte, ytr, yte = D.train_test_split(X, y, test_size=0.25, seed=0)
    assert len(Xte) == 25 and len(Xtr) == 75
    assert sorted(np.r_[Xtr[:, 0], Xte[:, 0]].tolist()) == X[:, 0].tolist()
    np.testing.assert_array_equal(ytr, Xtr[:, 0] // 2 % 3)  # rows stay with their labels
    np.testing.assert_array_equal(yte, Xte[:, 0] // 2 % 3)
    np.testing.assert_array_equal(Xte, D.train_test_split(X, y, seed=0)[1])
    assert not np.array_equal(Xte, D.train_test_split(X, y, seed=1)[1])


def test_train_test_split_stratifies_by_y_or_by_an_array():
    X, y = np.arange(100).reshape(50, 2), np.r_[np.zeros(40), np.ones(10)]
    _, Xte, _, yte = D.train_test_split(X, y, test_size=0.2, stratify=True)
    assert len(Xte) == 10 and yte.sum() == 2
    groups = np.arange(50) < 25  # stratify by something other than y
    _, Xte, _, _ = D.train_test_split(X, y, test_size=0.2, stratify=groups)
    assert np.sum(Xte[:, 0] < 50) == 5
    unstratified = [D.train_test_split(X, y, test_size=0.2, seed=s)[3].sum() for s in range(20)]
    assert len(set(unstratified)) > 1


# --- detector pulses ------------------------------------------------------------------------------

def test_pulse_traces_are_the_sum_of_their_pulses_plus_noise():
    counts = np.array([0, 1, 2, 3, 3])
    traces, starts, amps = D.make_pulse_traces(counts, amplitude=(0.5, 2.0), min_gap=5, noise=0.0,
                                               tau=6.0, seed=4)
    assert traces.shape == (5, 128) and starts.shape == amps.shape == (5, 3)
    t = np.arange(128)
    for trace, c, s, a in zip(traces, counts, starts, amps, strict=True):
        assert np.all(s[:c] >= 5) and np.all(s[:c] <= 107)
        assert np.all(s[c:] == -1) and np.all(a[c:] == 0)
        assert np.all(np.diff(s[:c]) >= 5)  # starts in order, at least min_gap apart
        assert np.all((a[:c] >= 0.5) & (a[:c] <= 2.0))
        expected = sum(
            ai * np.where(t >= si, np.exp(-(t - si) / 6.0), 0.0)
            for si, ai in zip(s[:c], a[:c], strict=True)
        )
        assert np.allclose(trace, expected)  # noise=0: exactly the pulses, overlaps added
    assert np.all(traces[0] == 0)


def test_pulse_traces_noise_seeding_and_fixed_amplitude():
    traces, starts, _ = D.make_pulse_traces(np.zeros(400, dtype=int), noise=0.15, seed=0)
    assert starts.shape == (400, 0)
    assert abs(traces.std() - 0.15) < 0.005 and abs(traces.mean()) < 0.005
    one, s1, a1 = D.make_pulse_traces(2, seed=7)
    again, s2, _ = D.make_pulse_traces(2, seed=7)
    assert one.shape == (128,) and np.array_equal(one, again) and np.array_equal(s1, s2)
    assert np.all(a1 == 1.0)  # the default amplitude is fixed at 1
    assert not np.array_equal(one, D.make_pulse_traces(2, seed=8)[0])


def test_varying_amplitudes_break_the_trace_sum_as_a_pulse_counter():
    """The lecture's point: with equal amplitudes the sum counts pulses, with varying ones it
    cannot."""
    counts = np.random.default_rng(0).integers(0, 4, 2000)

    def sum_rule_accuracy(amplitude):
        traces, _, _ = D.make_pulse_traces(
            counts, amplitude=amplitude, min_gap=5, noise=0.1, seed=1
        )
        slope, offset = np.polyfit(traces[:1000].sum(axis=1), counts[:1000], 1)
        guess = np.clip(np.round(slope * traces[1000:].sum(axis=1) + offset), 0, 3)
        return np.mean(guess == counts[1000:])

    assert sum_rule_accuracy((1.0, 1.0)) > 0.95
    assert sum_rule_accuracy((0.5, 2.0)) < 0.85


@pytest.mark.parametrize("call,error,match", [
    (lambda: D.make_playground("moons"), ValueError, "name must be one of"),
    (lambda: D.make_playground("xor", noise=20), ValueError, "noise must be between 0 and 0.5"),
    (lambda: D.make_playground("xor", noise="a lot"), TypeError, "noise must be a real number"),
    (lambda: D.make_playground("xor", n_samples=1.5), TypeError, "n_samples must be an integer"),
    (lambda: D.make_playground("xor", n_samples=1), ValueError, "n_samples must be at least 2"),
    (lambda: D.make_playground("xor", seed=-1), ValueError, "seed must be non-negative"),
    (lambda: D.make_playground("xor", seed="zero"), TypeError, "seed must be an integer"),
    (lambda: D.make_damped_oscillator(gamma=3.0), ValueError, "underdamped"),
    (lambda: D.make_damped_oscillator(noise=-0.1), ValueError, "noise must be non-negative"),
    (lambda: D.make_damped_oscillator(t_max=0), ValueError, "t_max must be positive"),
    (lambda: D.make_oscillator_traces(n_times=1), ValueError, "n_times must be at least 2"),
    (lambda: D.make_pendulum_period(max_amplitude=4.0), ValueError, "below pi"),
    (lambda: D.make_pendulum_period(length=-1.0), ValueError, "length must be positive"),
    (lambda: D.pendulum_period(np.pi), ValueError, r"amplitude must be in \[0, pi\)"),
    (lambda: D.pendulum_period(np.nan), ValueError, "amplitude must be in"),
    (lambda: D.pendulum_period("big"), TypeError, "amplitude must be numeric"),
    (lambda: D.pendulum_period(1.0, g=0.0), ValueError, "g must be positive"),
    (lambda: D.make_invariant_mass(mass=200.0), ValueError, "must contain the mass"),
    (lambda: D.make_invariant_mass(mass="Z"), TypeError, "mass must be a real number"),
    (lambda: D.make_invariant_mass(mass_range=(60,)), ValueError, "mass_range must be a pair"),
    (lambda: D.make_invariant_mass(0, 0), ValueError, "must be positive"),
    (lambda: D.make_invariant_mass(n_signal=-5), ValueError, "n_signal must be at least 0"),
    (lambda: D.make_invariant_mass(width=0.0), ValueError, "width must be positive"),
    (lambda: D.make_pulse_traces(-1), ValueError, "counts must be non-negative"),
    (lambda: D.make_pulse_traces(1.5), TypeError, "counts must be an integer"),
    (lambda: D.make_pulse_traces(2, amplitude=(2.0, 1.0)), ValueError, "low <= high"),
    (lambda: D.make_pulse_traces(2, amplitude=1.0), ValueError, "amplitude must be a pair"),
    (lambda: D.make_pulse_traces(2, tau=0.0), ValueError, "tau must be positive"),
    (lambda: D.make_pulse_traces(2, length=16), ValueError, "length must be at least 32"),
    (lambda: D.make_pulse_traces(40, min_gap=5), ValueError, "do not fit"),
    (lambda: D.train_test_split(np.ones((3, 1)), np.ones(2)), ValueError, "same number of samples"),
    (lambda: D.train_test_split(np.ones((4, 1)), np.ones(4), test_size=1.5), ValueError,
     "test_size must be a fraction"),
    (lambda: D.train_test_split(np.ones((4, 1)), np.ones(4), test_size=0.01), ValueError,
     "leaves one part empty"),
    (lambda: D.train_test_split(np.ones((4, 1)), np.ones(4), stratify=np.ones(3)), ValueError,
     "stratify must be True or hold one label per sample"),
])
def test_arguments_are_checked_with_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
