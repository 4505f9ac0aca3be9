"""A leaky integrate-and-fire neuron: the biological picture behind the artificial unit.

The membrane potential V (mV) leaks towards rest and integrates the input current I (nA)::

    τ_m dV/dt = −(V − V_rest) + R_m I

When V reaches the threshold V_th the neuron fires a spike, V is reset to V_reset and stays there for
a refractory time t_ref. For a constant current the firing rate has a closed form (:func:`lif_rate`):
zero below the rheobase current I_th = (V_th − V_rest)/R_m, then rising steeply and saturating at
1/t_ref, a curve that ReLU (and softplus, its smooth cousin) caricature.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, check_number

__all__ = ["simulate_lif", "lif_rate"]


def simulate_lif(current, t_max=500.0, dt=0.1, tau_m=10.0, v_rest=-65.0, v_th=-50.0,
                 v_reset=-65.0, r_m=10.0, t_ref=2.0):
    """Simulate one LIF neuron with the forward Euler method.

    Parameters
    ----------
    current : float or ndarray of shape (n_steps,)
        Input current in nA, constant or one value per time step.
    t_max : float, default 500.0
        Duration in ms.
    dt : float, default 0.1
        Time step in ms.
    tau_m : float, default 10.0
        Membrane time constant in ms.
    v_rest, v_th, v_reset : float
        Resting, threshold and reset potentials in mV.
    r_m : float, default 10.0
        Membrane resistance in MΩ (so R_m I is in mV).
    t_ref : float, default 2.0
        Refractory period in ms.

    Returns
    -------
    t : ndarray of shape (n_steps,)
        Times in ms.
    v : ndarray of shape (n_steps,)
        Membrane potential in mV.
    spikes : ndarray of float
        Spike times in ms.
    """
    t_max = check_number(t_max, "t_max", positive=True)
    dt = check_number(dt, "dt", positive=True)
    tau_m = check_number(tau_m, "tau_m", positive=True)
    r_m = check_number(r_m, "r_m", positive=True)
    t_ref = check_number(t_ref, "t_ref", nonnegative=True)
    v_rest, v_th, v_reset = (check_number(v, n) for v, n in
                             ((v_rest, "v_rest"), (v_th, "v_th"), (v_reset, "v_reset")))
    if v_th <= v_reset:
        raise ValueError(f"v_th must be above v_reset, got {v_th} <= {v_reset}")
    n = int(round(t_max / dt))
    t = np.arange(n) * dt
    i_in = as_float_array(current, "current")
    if i_in.ndim == 0:
        i_in = np.full(n, float(i_in))
    elif i_in.shape != (n,):
        raise ValueError(f"current must be a number or have one value per step, shape ({n},), "
                         f"got {i_in.shape}")
    v = np.empty(n)
    v_now, refractory_until, spikes = v_rest, -np.inf, []
    for k in range(n):
        if t[k] >= refractory_until:
            v_now += dt / tau_m * (-(v_now - v_rest) + r_m * i_in[k])
            if v_now >= v_th:
                spikes.append(t[k])
                v_now = v_reset
                refractory_until = t[k] + t_ref
        v[k] = v_now
    return t, v, np.array(spikes)


def lif_rate(current, tau_m=10.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0, r_m=10.0, t_ref=2.0):
    """Firing rate in Hz of a LIF neuron driven by a constant current (the f–I curve).

    rate = 1 / (t_ref + τ_m ln((R I − (V_reset − V_rest)) / (R I − (V_th − V_rest)))) above the
    rheobase R I > V_th − V_rest, else 0.

    Parameters
    ----------
    current : float or array_like
        Input current(s) in nA.
    tau_m, v_rest, v_th, v_reset, r_m, t_ref
        As in :func:`simulate_lif` (ms, mV, MΩ).

    Returns
    -------
    ndarray of float64, the shape of ``current``, rates in Hz
    """
    i_in = as_float_array(current, "current")
    tau_m = check_number(tau_m, "tau_m", positive=True)
    r_m = check_number(r_m, "r_m", positive=True)
    t_ref = check_number(t_ref, "t_ref", nonnegative=True)
    drive = r_m * i_in
    above = drive > (v_th - v_rest)
    safe = np.where(above, drive, v_th - v_rest + 1.0)
    period_ms = t_ref + tau_m * np.log((safe - (v_reset - v_rest)) / (safe - (v_th - v_rest)))
    return np.where(above, 1000.0 / period_ms, 0.0)
