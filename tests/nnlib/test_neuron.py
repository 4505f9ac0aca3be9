"""nnlib.neuron: the leaky integrate-and-fire simulation agrees with the analytic f-I curve."""

import numpy as np
import pytest

from nnlib.neuron import lif_rate, rheobase, simulate_lif


def isi_rate(spikes):
    """Rate in Hz from the mean interspike interval (ms)."""
    return 1000.0 / np.mean(np.diff(spikes))


@pytest.mark.parametrize("current", [1.6, 2.0, 3.0, 6.0])
def test_simulated_rate_agrees_with_the_analytic_rate(current):
    _, v, spikes = simulate_lif(current, t_max=1000.0, dt=0.01)
    rate = float(lif_rate(current))
    assert abs(len(spikes) - rate) <= max(1.0, 0.01 * rate)  # spikes in one second
    assert isi_rate(spikes) == pytest.approx(rate, rel=0.01)
    assert v.max() < -50.0  # the reset happens in the step that reaches threshold


def test_simulated_interspike_interval_is_within_a_step_of_the_exact_one():
    exact_ms = 1000.0 / float(lif_rate(2.5, v_reset=-70.0))
    for dt in (0.4, 0.1, 0.025, 0.00625):
        spikes = simulate_lif(2.5, t_max=300.0, dt=dt, v_reset=-70.0)[2]
        assert abs(np.mean(np.diff(spikes)) - exact_ms) <= dt  # Euler and the step grid
    assert abs(np.mean(np.diff(spikes)) - exact_ms) < 1e-3 * exact_ms


def test_subthreshold_voltage_relaxes_exponentially():
    t, v, spikes = simulate_lif(1.2, t_max=60.0, dt=0.001)
    assert spikes.size == 0
    np.testing.assert_allclose(v, -65.0 + 12.0 * (1 - np.exp(-t / 10.0)), atol=2e-3)
    assert t.shape == v.shape == (60000,) and t[1] == pytest.approx(0.001)


def test_reset_and_refractory_period():
    t, v, spikes = simulate_lif(5.0, t_max=100.0, dt=0.1, v_reset=-70.0, t_ref=4.0)
    assert np.all(np.diff(spikes) >= 4.0)
    k = np.searchsorted(t, spikes[0] + 1e-9)  # the first sample after the spike
    np.testing.assert_array_equal(v[k:k + 40], -70.0)  # clamped for t_ref = 40 steps
    assert v[k + 41] > -70.0  # then it integrates again
    # without a refractory period the rate is higher
    assert simulate_lif(5.0, t_max=100.0, t_ref=0.0)[2].size > spikes.size


def test_time_varying_current_drives_spikes_only_when_on():
    t = np.arange(0, 200.0, 0.1)
    current = np.where((t >= 50) & (t < 150), 3.0, 0.0)
    _, v, spikes = simulate_lif(current, t_max=200.0, dt=0.1)
    assert spikes.size > 0 and spikes.min() > 50 and spikes.max() <= 151
    assert v[t < 50].max() == -65.0


def test_rate_below_at_and_above_the_rheobase():
    assert rheobase() == pytest.approx(1.5) and rheobase(v_th=-55.0, r_m=5.0) == pytest.approx(2.0)
    assert simulate_lif(1.49, t_max=500.0)[2].size == 0
    np.testing.assert_array_equal(lif_rate([-1.0, 0.0, 1.0, 1.5]), 0.0)
    assert lif_rate(1.5 + 1e-9) < 60.0  # continuous at the rheobase
    currents = np.linspace(0, 50, 200)
    rates = lif_rate(currents)
    assert rates.shape == (200,) and np.all(np.diff(rates) >= 0)
    assert rates[-1] < 1000.0 / 2.0 and lif_rate(1e9) == pytest.approx(500.0, rel=1e-6)


def test_rate_matches_the_formula_with_v_reset_equal_to_v_rest():
    i, tau, r, t_ref, gap = 2.0, 10.0, 10.0, 2.0, 15.0
    expected = 1000.0 / (t_ref + tau * np.log(r * i / (r * i - gap)))
    assert lif_rate(i) == pytest.approx(expected, rel=1e-12)
    assert lif_rate(np.full((2, 3), i)).shape == (2, 3)


@pytest.mark.parametrize("call,error,match", [
    (lambda: simulate_lif(2.0, dt=0.0), ValueError, "dt must be positive"),
    (lambda: simulate_lif(2.0, dt=20.0), ValueError, "dt must be at most tau_m"),
    (lambda: simulate_lif(2.0, t_max=0.05), ValueError, "dt must be at most t_max"),
    (lambda: simulate_lif(2.0, v_th=-70.0), ValueError, "v_th must be above v_rest"),
    (lambda: simulate_lif(2.0, v_reset=-40.0), ValueError, "v_th must be above v_reset"),
    (lambda: simulate_lif(2.0, tau_m=-1.0), ValueError, "tau_m must be positive"),
    (lambda: simulate_lif(2.0, t_ref=-1.0), ValueError, "t_ref must be non-negative"),
    (lambda: simulate_lif(np.ones(7), t_max=1.0), ValueError, "one value per step"),
    (lambda: simulate_lif(np.nan), ValueError, "current must be finite"),
    (lambda: simulate_lif("2 nA"), TypeError, "current must be numeric"),
    (lambda: lif_rate(2.0, r_m=0.0), ValueError, "r_m must be positive"),
    (lambda: lif_rate(np.nan), ValueError, "current must not contain NaN"),
    (lambda: lif_rate(2.0, v_th="high"), TypeError, "v_th must be a real number"),
])
def test_arguments_are_checked(call, error, match):
    with pytest.raises(error, match=match):
        call()
