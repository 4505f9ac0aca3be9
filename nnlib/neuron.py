"""A leaky integrate-and-fire neuron: the biological picture behind the artificial unit.

The membrane potential V (mV) leaks towards rest and integrates the input current I (nA)::

    τ_m dV/dt = −(V − V_rest) + R_m I

When V reaches the threshold V_th the neuron fires a spike, V is reset to V_reset and stays there
for a refractory time t_ref. Units: times in ms, potentials in mV, currents in nA, resistance in MΩ
(so that R_m I is in mV: 1 MΩ × 1 nA = 1 mV), rates in Hz.

For a constant current the firing rate has a closed form (:func:`lif_rate`): zero below the
rheobase current I_th = (V_th − V_rest)/R_m (1.5 nA with the defaults), then rising steeply and
saturating at 1/t_ref, a curve that ReLU (and softplus, its smooth cousin) caricature.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, check_number

__all__ = ["lif_rate", "rheobase", "simulate_lif"]


def _check_cell(tau_m, v_rest, v_th, v_reset, r_m, t_ref):
    """Validate the neuron's constants; return them as floats."""
    tau_m = check_number(tau_m, "tau_m", positive=True)
    r_m = check_number(r_m, "r_m", positive=True)
    t_ref = check_number(t_ref, "t_ref", nonnegative=True)
    v_rest = check_number(v_rest, "v_rest")
    v_th = check_number(v_th, "v_th")
    v_reset = check_number(v_reset, "v_reset")
    if v_th <= v_rest:
        raise ValueError(f"v_th must be above v_rest, got v_th={v_th} <= v_rest={v_rest}")
    if v_th <= v_reset:
        raise ValueError(f"v_th must be above v_reset, got v_th={v_th} <= v_reset={v_reset}")
    return tau_m, v_rest, v_th, v_reset, r_m, t_ref


def rheobase(v_rest=-65.0, v_th=-50.0, r_m=10.0):
    """The smallest constant current that makes the neuron fire, (V_th − V_rest)/R_m, in nA."""
    _check_cell(1.0, v_rest, v_th, v_rest, r_m, 0.0)
    return (v_th - v_rest) / r_m


def simulate_lif(current, t_max=500.0, dt=0.1, tau_m=10.0, v_rest=-65.0, v_th=-50.0,
                 v_reset=-65.0, r_m=10.0, t_ref=2.0):
    """Simulate one LIF neuron with the forward Euler method, starting at rest.

    Each step V ← V + dt/τ_m (−(V − V_rest) + R_m I). A step that reaches V_th records a spike at
    its end time and sets V to V_reset, where V stays for t_ref (rounded to whole steps) before it
    integrates again. V never exceeds V_th in the returned trace.

    Parameters
    ----------
    current : float or ndarray of shape (n_steps,)
        Input current in nA, constant or one value per time step (``current[k]`` drives the
        step from ``t[k]`` to ``t[k] + dt``), with ``n_steps = round(t_max / dt)``.
    t_max : float, default 500.0
        Duration in ms.
    dt : float, default 0.1
        Time step in ms, at most ``tau_m`` (a smaller step is more accurate: the simulated rate
        is within about a step per interspike interval of :func:`lif_rate`).
    tau_m : float, default 10.0
        Membrane time constant in ms.
    v_rest, v_th, v_reset : float, default -65.0, -50.0, -65.0
        Resting, threshold and reset potentials in mV.
    r_m : float, default 10.0
        Membrane resistance in MΩ.
    t_ref : float, default 2.0
        Refractory period in ms.

    Returns
    -------
    t : ndarray of shape (n_steps,)
        Times in ms, ``t[k] = k dt``.
    v : ndarray of shape (n_steps,)
        Membrane potential in mV at ``t`` (``v[0] = v_rest``).
    spikes : ndarray of shape (n_spikes,)
        Spike times in ms.
    """
    tau_m, v_rest, v_th, v_reset, r_m, t_ref = _check_cell(tau_m, v_rest, v_th, v_reset, r_m, t_ref)
    t_max = check_number(t_max, "t_max", positive=True)
    dt = check_number(dt, "dt", positive=True)
    if dt > tau_m:
        raise ValueError(f"dt must be at most tau_m for a sensible Euler step, got {dt} > {tau_m}")
    if dt > t_max:
        raise ValueError(f"dt must be at most t_max, got {dt} > {t_max}")
    n = round(t_max / dt)
    i_in = as_float_array(current, "current")
    if i_in.ndim == 0:
        i_in = np.full(n, float(i_in))
    elif i_in.shape != (n,):
        raise ValueError(f"current must be a number or have one value per step, shape ({n},), "
                         f"got {i_in.shape}")
    if not np.all(np.isfinite(i_in)):
        raise ValueError("current must be finite")
    n_ref = round(t_ref / dt)
    drive = (r_m * i_in).tolist()  # plain floats: a Python loop over them is several times faster
    decay = dt / tau_m
    v = np.empty(n)
    v_now, hold, spikes = v_rest, 0, []
    for k in range(n):
        v[k] = v_now
        if hold:  # refractory: clamped at the reset potential
            hold -= 1
            continue
        v_now += decay * (v_rest - v_now + drive[k])
        if v_now >= v_th:
            spikes.append((k + 1) * dt)
            v_now, hold = v_reset, n_ref
    return np.arange(n) * dt, v, np.array(spikes, dtype=np.float64)


def lif_rate(current, tau_m=10.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0, r_m=10.0, t_ref=2.0):
    """Firing rate in Hz of a LIF neuron driven by a constant current (the f–I curve).

    Charging from V_reset to V_th under a constant drive R I takes
    T = τ_m ln((R I − (V_reset − V_rest)) / (R I − (V_th − V_rest))), so the rate is
    1 / (t_ref + T) above the rheobase R I > V_th − V_rest, and 0 at or below it. With
    V_reset = V_rest this is 1 / (t_ref + τ_m ln(R I / (R I − (V_th − V_rest)))). It rises
    continuously from 0 at the rheobase and tends to 1/t_ref for large currents.

    Parameters
    ----------
    current : float or array_like of any shape
        Constant input current(s) in nA.
    tau_m, v_rest, v_th, v_reset, r_m, t_ref
        As in :func:`simulate_lif` (ms, mV, MΩ, ms).

    Returns
    -------
    ndarray of float64, the shape of ``current``
        Rates in Hz (spikes per second; the times are in ms, hence the factor 1000).
    """
    tau_m, v_rest, v_th, v_reset, r_m, t_ref = _check_cell(tau_m, v_rest, v_th, v_reset, r_m, t_ref)
    i_in = as_float_array(current, "current")
    if np.any(np.isnan(i_in)):
        raise ValueError("current must not contain NaN")
    excess = r_m * i_in - (v_th - v_rest)  # mV above the threshold drive
    above = excess > 0
    safe = np.where(above, excess, 1.0)
    # ln(1 + (V_th − V_reset) / excess), accurate for large currents too
    charge_ms = tau_m * np.log1p((v_th - v_reset) / safe)
    return np.where(above, 1000.0 / (t_ref + charge_ms), 0.0)
