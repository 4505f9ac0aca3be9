"""nnlib.datasets.make_driven_oscillator: the exact solution of the driven, damped oscillator."""

import numpy as np
import pytest

from nnlib.datasets import make_driven_oscillator


def test_shapes_seeding_and_noise():
    t, X, clean = make_driven_oscillator(n_series=7, n_times=40, dt=0.2, noise=0.1, seed=3)
    assert t.shape == (40,) and X.shape == clean.shape == (7, 40) and X.dtype == np.float64
    np.testing.assert_allclose(t, 0.2 * np.arange(40))
    _, X2, _ = make_driven_oscillator(n_series=7, n_times=40, dt=0.2, noise=0.1, seed=3)
    np.testing.assert_array_equal(X, X2)
    assert not np.array_equal(X, make_driven_oscillator(n_series=7, n_times=40, dt=0.2, seed=4)[1])
    _, noisy, clean = make_driven_oscillator(n_series=200, n_times=100, noise=0.1, seed=1)
    assert np.std(noisy - clean) == pytest.approx(0.1, rel=0.05)


def test_solves_the_equation_of_motion():
    """x'' + 2γx' + ω₀²x = F cos(Ωt + φ): the residual by finite differences vanishes, and the
    residual is a pure drive of amplitude F (so the drive term has the stated amplitude)."""
    dt, omega, gamma, drive, drive_omega = 1e-3, 2.0, 0.2, 2.0, 1.5
    t, _, x = make_driven_oscillator(n_series=50, n_times=20001, dt=dt, omega=omega, gamma=gamma,
                                     drive=drive, drive_omega=drive_omega, noise=0.0, seed=0)
    v = (x[:, 2:] - x[:, :-2]) / (2 * dt)
    a = (x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2]) / dt**2
    force = a + 2 * gamma * v + omega**2 * x[:, 1:-1]
    tt = t[1:-1]
    # force(t) = F cos(Ωt + φ) = p cos Ωt + q sin Ωt with p² + q² = F²: fit p, q per trajectory
    basis = np.c_[np.cos(drive_omega * tt), np.sin(drive_omega * tt)]
    coef, *_ = np.linalg.lstsq(basis, force.T, rcond=None)
    np.testing.assert_allclose(basis @ coef, force.T, atol=1e-4)
    np.testing.assert_allclose(np.hypot(*coef), drive, rtol=1e-5)
    # initial conditions in the documented ranges, and different from row to row
    v0 = (x[:, 1] - x[:, 0]) / dt
    assert np.all(np.abs(x[:, 0]) <= 1) and np.all(np.abs(v0) <= 2.01) and np.ptp(x[:, 0]) > 0.1


def test_transient_dies_out_to_the_resonance_amplitude():
    omega, gamma, drive, drive_omega = 2.0, 0.5, 1.0, 1.8
    _, _, x = make_driven_oscillator(n_series=3, n_times=2000, dt=0.05, omega=omega, gamma=gamma,
                                     drive=drive, drive_omega=drive_omega, noise=0.0, seed=2)
    late = x[:, -400:]                                       # t > 80 s: e^{-γt} < 1e-17
    expected = drive / np.sqrt((omega**2 - drive_omega**2) ** 2 + (2 * gamma * drive_omega) ** 2)
    np.testing.assert_allclose(late.max(axis=1), expected, rtol=1e-3)
    # without drive the oscillator is the damped one: amplitude decays as e^{-γt}
    _, _, free = make_driven_oscillator(n_series=2, n_times=400, dt=0.05, gamma=0.3, drive=0.0,
                                        noise=0.0, seed=2)
    envelope = np.abs(free[:, 200:]).max(axis=1) / np.abs(free[:, :200]).max(axis=1)
    assert np.all(envelope < np.exp(-0.3 * 10 / 2))    # e^{-γ·10 s} = 0.05, with room for the phase


@pytest.mark.parametrize("kwargs,error,match", [
    ({"gamma": 3.0}, ValueError, "underdamped"),
    ({"noise": -0.1}, ValueError, "noise must be non-negative"),
    ({"dt": 0}, ValueError, "dt must be positive"),
    ({"n_series": 0}, ValueError, "n_series must be at least 1"),
    ({"n_times": 2.5}, TypeError, "n_times must be an integer"),
    ({"drive": "strong"}, TypeError, "drive must be a real number"),
    ({"seed": -1}, ValueError, "seed must be non-negative"),
])
def test_bad_input_is_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_driven_oscillator(**kwargs)
