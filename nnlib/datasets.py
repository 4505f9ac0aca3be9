"""Offline, seeded datasets: the TensorFlow Playground's four, Iris and digits, and physics.

Nothing here touches the network: Iris and the 8×8 digits are read from the files that ship inside
scikit-learn, the rest is simulated. Every generator takes ``seed`` and returns the same arrays for
the same seed; features are float64, class labels int64.

==========================  ================================  ======================================
function                    returns                           task
==========================  ================================  ======================================
``make_playground``         X (n, 2), y (n,) in {0, 1}        Playground's circle/xor/gauss/spiral
``load_iris``               X (150, 4), y, names              three species from four lengths (cm)
``load_digits``             X (1797, 64) in [0, 1], y         8×8 handwritten digits 0-9
``make_damped_oscillator``  t (n, 1) in s, x (n,)             regression of x(t)
``make_oscillator_traces``  X (n, n_times), y (n, 2)          damping and frequency from a trace
``make_driven_oscillator``  t (n_times,), X, X_clean          forecasting a driven damped oscillator
``make_pendulum_period``    θ₀ (n, 1) in rad, T (n,) in s     regression of the period T(θ₀)
``make_invariant_mass``     X (n, 4), y (n,) in {0, 1}        resonance (signal) against background
``make_pulse_traces``       traces (n, length), starts, amps  counting overlapping detector pulses
==========================  ================================  ======================================
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, check_number

__all__ = [
    "PLAYGROUND_SETS",
    "load_digits",
    "load_iris",
    "make_damped_oscillator",
    "make_driven_oscillator",
    "make_invariant_mass",
    "make_oscillator_traces",
    "make_pendulum_period",
    "make_playground",
    "make_pulse_traces",
    "pendulum_period",
    "small_angle_period",
    "train_test_split",
]

PLAYGROUND_SETS = ("circle", "xor", "gauss", "spiral")


def _n(n, name="n_samples", minimum=1):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(n).__name__}")
    if n < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {n}")
    return int(n)


def _rng(seed):
    """``np.random.default_rng(seed)`` for a non-negative integer seed, else a clear error."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    return np.random.default_rng(int(seed))


def make_playground(name, n_samples=400, noise=0.0, seed=0):
    """One of the TensorFlow Playground's four classification sets, in the square [−6, 6]².

    ``circle``: a disc (class 0) inside a ring (class 1). ``xor``: the label is 1 where x₁x₂ < 0.
    ``gauss``: two Gaussian blobs around (−2, −2) and (2, 2). ``spiral``: two interleaved arms.

    Parameters
    ----------
    name : {'circle', 'xor', 'gauss', 'spiral'}
    n_samples : int, default 400
        Total number of points, split evenly between the classes (an odd count gives the extra
        point to class 0).
    noise : float in [0, 0.5], default 0.0
        The Playground's noise slider (0–50 %) as a fraction: it scales Gaussian jitter of the
        points (for ``gauss``, the width of the blobs), so classes overlap more as it grows.
    seed : int, default 0

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,), int in {0, 1}
    """
    if name not in PLAYGROUND_SETS:
        raise ValueError(f"name must be one of {PLAYGROUND_SETS}, got {name!r}")
    n = _n(n_samples, minimum=2)
    noise = check_number(noise, "noise")
    if not 0.0 <= noise <= 0.5:
        raise ValueError(f"noise must be between 0 and 0.5 (the Playground's 0-50 % as a fraction, "
                         f"e.g. 0.2 for 20 %), got {noise}")
    rng = _rng(seed)
    n1 = n // 2
    n0 = n - n1
    if name == "circle":
        r = np.concatenate([rng.uniform(0, 2.5, n0), rng.uniform(3.5, 5.0, n1)])
        a = rng.uniform(0, 2 * np.pi, n)
        X = np.c_[r * np.cos(a), r * np.sin(a)] + noise * 5.0 * rng.normal(size=(n, 2))
        y = np.r_[np.zeros(n0), np.ones(n1)]
    elif name == "xor":
        X = rng.uniform(-5, 5, size=(n, 2))
        X += np.sign(X) * 0.3  # keep points off the axes, as the Playground does
        y = (X[:, 0] * X[:, 1] < 0).astype(float)
        X = X + noise * 5.0 * rng.normal(size=(n, 2))
    elif name == "gauss":
        spread = 0.5 + 4.0 * noise
        X = np.r_[rng.normal(-2, spread, size=(n0, 2)), rng.normal(2, spread, size=(n1, 2))]
        y = np.r_[np.zeros(n0), np.ones(n1)]
    else:  # spiral
        parts, labels = [], []
        for label, count in ((0, n0), (1, n1)):
            t = np.linspace(0, 1, count)
            r = 5 * t
            a = 1.75 * t * 2 * np.pi + label * np.pi
            parts.append(np.c_[r * np.sin(a), r * np.cos(a)])
            labels.append(np.full(count, label))
        X = np.concatenate(parts) + noise * 2.0 * rng.normal(size=(n, 2))
        y = np.concatenate(labels).astype(float)
    order = rng.permutation(n)
    return X[order].astype(np.float64), y[order].astype(np.int64)


def load_iris():
    """Fisher's Iris flowers: 150 samples, 4 measurements in cm, 3 species.

    Read from the files that ship inside scikit-learn.

    Returns
    -------
    X : ndarray of shape (150, 4)
    y : ndarray of shape (150,), int in {0, 1, 2}
    feature_names : list of str
    target_names : list of str
    """
    from sklearn.datasets import load_iris as _load

    data = _load()
    return (data.data.astype(np.float64), data.target.astype(np.int64),
            list(data.feature_names), list(data.target_names))


def load_digits():
    """Handwritten digits, 8×8 grey levels (1,797 images), from scikit-learn's files.

    Returns
    -------
    X : ndarray of shape (1797, 64)
        Pixel intensities scaled to [0, 1]; ``X[i].reshape(8, 8)`` is the image.
    y : ndarray of shape (1797,), int in 0..9
    """
    from sklearn.datasets import load_digits as _load

    data = _load()
    return (data.data / 16.0).astype(np.float64), data.target.astype(np.int64)


def make_damped_oscillator(n_samples=200, noise=0.05, t_max=10.0, omega=2.0, gamma=0.3, seed=0):
    """Positions of a damped harmonic oscillator x(t) = e^{−γt} cos(ω_d t), measured with noise.

    A one-dimensional regression set: learn x(t) from (t, x) pairs.

    Parameters
    ----------
    n_samples : int, default 200
    noise : float, default 0.05
        Standard deviation of the Gaussian measurement noise (same units as x).
    t_max : float, default 10.0
        Observation window in seconds; times are drawn uniformly from [0, t_max].
    omega : float, default 2.0
        Natural angular frequency ω₀ in rad/s.
    gamma : float, default 0.3
        Damping rate γ in 1/s (underdamped: γ < ω₀).
    seed : int, default 0

    Returns
    -------
    t : ndarray of shape (n_samples, 1)
        Times in s, sorted.
    x : ndarray of shape (n_samples,)
        Noisy positions (initial amplitude 1).
    """
    n = _n(n_samples)
    noise = check_number(noise, "noise", nonnegative=True)
    t_max = check_number(t_max, "t_max", positive=True)
    omega = check_number(omega, "omega", positive=True)
    gamma = check_number(gamma, "gamma", nonnegative=True)
    if gamma >= omega:
        raise ValueError(
            f"gamma must be below omega for an underdamped oscillator, got {gamma} >= {omega}"
        )
    rng = _rng(seed)
    t = np.sort(rng.uniform(0, t_max, n))
    omega_d = np.sqrt(omega**2 - gamma**2)
    x = np.exp(-gamma * t) * np.cos(omega_d * t) + noise * rng.normal(size=n)
    return t[:, None], x


def make_oscillator_traces(n_samples=500, n_times=50, noise=0.05, t_max=10.0, seed=0):
    """Noisy traces of damped oscillators, labelled with their damping rate and frequency.

    The inverse problem to :func:`make_damped_oscillator`: from a sampled trace
    x(t) = e^{−γt} cos(ω_d t), ω_d = sqrt(ω₀² − γ²), predict (γ, ω₀). Each trace draws
    γ ~ U(0.05, 0.5) 1/s and ω₀ ~ U(1, 3) rad/s.

    Parameters
    ----------
    n_samples : int, default 500
        Number of traces.
    n_times : int, default 50
        Samples per trace, at the evenly spaced times ``np.linspace(0, t_max, n_times)``.
    noise : float, default 0.05
        Standard deviation of the Gaussian measurement noise (initial amplitude 1).
    t_max : float, default 10.0
        Length of each trace in s.
    seed : int, default 0

    Returns
    -------
    X : ndarray of shape (n_samples, n_times)
        Positions, one trace per row.
    y : ndarray of shape (n_samples, 2)
        Columns: damping rate γ in 1/s, natural angular frequency ω₀ in rad/s.
    """
    n = _n(n_samples)
    n_times = _n(n_times, "n_times", 2)
    noise = check_number(noise, "noise", nonnegative=True)
    t_max = check_number(t_max, "t_max", positive=True)
    rng = _rng(seed)
    gamma = rng.uniform(0.05, 0.5, n)
    omega = rng.uniform(1.0, 3.0, n)
    t = np.linspace(0.0, t_max, n_times)
    omega_d = np.sqrt(omega**2 - gamma**2)
    X = np.exp(-gamma[:, None] * t) * np.cos(omega_d[:, None] * t)
    X = X + noise * rng.normal(size=X.shape)
    return X, np.c_[gamma, omega]


def make_driven_oscillator(n_series=100, n_times=100, dt=0.1, omega=2.0, gamma=0.2, drive=2.0,
                           drive_omega=1.5, noise=0.05, seed=0):
    """Sampled trajectories of a damped, driven oscillator, with and without measurement noise.

    Synthetic data for forecasting: each row solves x'' + 2γ x' + ω₀² x = F cos(Ω t + φ) exactly,
    from its own initial position x(0) ~ U(-1, 1), velocity x'(0) ~ U(-2, 2) (per s) and drive
    phase φ ~ U(0, 2π). The solution is the steady response
    A cos(Ω t + φ − δ), A = F / sqrt((ω₀² − Ω²)² + (2γΩ)²), tan δ = 2γΩ / (ω₀² − Ω²),
    plus a transient e^{−γt}(c₁ cos ω_d t + c₂ sin ω_d t), ω_d = sqrt(ω₀² − γ²), that fits the
    initial conditions. The same ω₀, γ, F and Ω hold for every row.

    Parameters
    ----------
    n_series : int, default 100
        Number of trajectories (rows).
    n_times : int, default 100
        Samples per trajectory, at t = 0, dt, 2 dt, ...
    dt : float, default 0.1
        Sampling interval in s.
    omega : float, default 2.0
        Natural angular frequency ω₀ in rad/s.
    gamma : float, default 0.2
        Damping rate γ in 1/s (underdamped: γ < ω₀).
    drive : float, default 2.0
        Drive amplitude F (per unit mass) in 1/s², so that x is in the units of the initial
        position.
    drive_omega : float, default 1.5
        Drive angular frequency Ω in rad/s.
    noise : float, default 0.05
        Standard deviation of the Gaussian measurement noise added to ``X``.
    seed : int, default 0

    Returns
    -------
    t : ndarray of shape (n_times,)
        Sampling times in s.
    X : ndarray of shape (n_series, n_times)
        Noisy positions, one trajectory per row.
    X_clean : ndarray of shape (n_series, n_times)
        The same positions without noise (the exact solution).
    """
    n = _n(n_series, "n_series")
    n_times = _n(n_times, "n_times")
    dt = check_number(dt, "dt", positive=True)
    omega = check_number(omega, "omega", positive=True)
    gamma = check_number(gamma, "gamma", nonnegative=True)
    drive = check_number(drive, "drive", nonnegative=True)
    drive_omega = check_number(drive_omega, "drive_omega", nonnegative=True)
    noise = check_number(noise, "noise", nonnegative=True)
    if gamma >= omega:
        raise ValueError(
            f"gamma must be below omega for an underdamped oscillator, got {gamma} >= {omega}"
        )
    rng = _rng(seed)
    x0 = rng.uniform(-1.0, 1.0, (n, 1))
    v0 = rng.uniform(-2.0, 2.0, (n, 1))
    phase = rng.uniform(0.0, 2.0 * np.pi, (n, 1))
    t = dt * np.arange(n_times)
    amplitude = drive / np.hypot(omega**2 - drive_omega**2, 2.0 * gamma * drive_omega)
    lag = np.arctan2(2.0 * gamma * drive_omega, omega**2 - drive_omega**2)
    steady = amplitude * np.cos(drive_omega * t + phase - lag)
    omega_d = np.sqrt(omega**2 - gamma**2)
    c1 = x0 - amplitude * np.cos(phase - lag)                                    # x(0) = x0
    c2 = (v0 + amplitude * drive_omega * np.sin(phase - lag) + gamma * c1) / omega_d  # x'(0) = v0
    clean = steady + np.exp(-gamma * t) * (c1 * np.cos(omega_d * t) + c2 * np.sin(omega_d * t))
    return t, clean + noise * rng.normal(size=clean.shape), clean


def small_angle_period(length=1.0, g=9.81):
    """Small-angle period of a pendulum, T₀ = 2π sqrt(L/g), in s (L in m, g in m/s²)."""
    length = check_number(length, "length", positive=True)
    g = check_number(g, "g", positive=True)
    return 2.0 * np.pi * np.sqrt(length / g)


def pendulum_period(amplitude, length=1.0, g=9.81):
    """Exact period of a pendulum, T = 4 sqrt(L/g) K(sin²(θ₀/2)), K the complete elliptic integral.

    Tends to :func:`small_angle_period` as θ₀ → 0 and diverges as θ₀ → π (the pendulum balances
    upside down). ``scipy.special.ellipk(m)`` takes the parameter m = k² = sin²(θ₀/2).

    Parameters
    ----------
    amplitude : float or array_like of any shape
        θ₀ in radians, in [0, π).
    length : float, default 1.0
        L in m.
    g : float, default 9.81
        Gravitational acceleration in m/s².

    Returns
    -------
    ndarray of float64, the shape of ``amplitude``
        Periods in s (2π sqrt(L/g) ≈ 2.006 s for small θ₀ and L = 1 m).
    """
    from scipy.special import ellipk

    theta = as_float_array(amplitude, "amplitude")
    if not np.all((theta >= 0) & (theta < np.pi)):  # also rejects NaN
        raise ValueError("amplitude must be in [0, pi) radians")
    t0 = small_angle_period(length, g)
    return (2.0 / np.pi) * t0 * ellipk(np.sin(theta / 2) ** 2)


def make_pendulum_period(n_samples=40, noise=0.01, max_amplitude=2.5, length=1.0, seed=0):
    """Measured periods of a pendulum against its amplitude: a small regression set that overfits.

    The small-angle formula T₀ = 2π sqrt(L/g) ≈ 2.006 s (L = 1 m, :func:`small_angle_period`)
    underestimates the period at large amplitude (by 18 % at θ₀ = π/2); the exact period comes
    from :func:`pendulum_period`. With few noisy points, a large network overfits.

    Parameters
    ----------
    n_samples : int, default 40
    noise : float, default 0.01
        Relative timing noise (0.01 = 1 %).
    max_amplitude : float, default 2.5
        Largest amplitude θ₀ in radians (< π); amplitudes are uniform on [0.05, max_amplitude].
    length : float, default 1.0
        Pendulum length in m.
    seed : int, default 0

    Returns
    -------
    theta : ndarray of shape (n_samples, 1)
        Amplitudes in rad, sorted.
    T : ndarray of shape (n_samples,)
        Periods in s.
    """
    n = _n(n_samples)
    noise = check_number(noise, "noise", nonnegative=True)
    max_amplitude = check_number(max_amplitude, "max_amplitude", positive=True)
    if not 0.05 < max_amplitude < np.pi:
        raise ValueError(f"max_amplitude must be above 0.05 and below pi, got {max_amplitude}")
    length = check_number(length, "length", positive=True)
    rng = _rng(seed)
    theta = np.sort(rng.uniform(0.05, max_amplitude, n))
    T = pendulum_period(theta, length) * (1 + noise * rng.normal(size=n))
    return theta[:, None], T


def make_invariant_mass(n_signal=500, n_background=1500, mass=91.19, width=2.5, resolution=2.0,
                        slope=0.03, mass_range=(60.0, 120.0), seed=0):
    """Signal versus background events from a dimuon-like invariant-mass spectrum (a toy).

    Signal: a Breit–Wigner resonance (``mass``, full width ``width``) smeared by a Gaussian
    detector resolution, a Z boson by default. Background: an exponentially falling spectrum.
    Besides the invariant mass each event has toy kinematics so that a classifier has more than a
    mass window to learn from: the pair's transverse momentum (harder for signal), |Δη| between the
    two muons (smaller for signal) and cos θ* of the decay angle (1 + cos²θ* for the spin-1
    resonance, flat for background).

    The ratio ``n_background / n_signal`` is the imbalance knob: ``n_signal=50, n_background=5000``
    gives a rare signal (1 %) for which accuracy is a poor figure of merit.

    Parameters
    ----------
    n_signal, n_background : int
        Event counts (one of them may be 0).
    mass : float, default 91.19
        Resonance mass in GeV.
    width : float, default 2.5
        Resonance full width at half maximum Γ in GeV.
    resolution : float, default 2.0
        Gaussian detector resolution in GeV (0 for none).
    slope : float, default 0.03
        Background falls as exp(−slope·m), slope in 1/GeV.
    mass_range : (float, float), default (60, 120)
        Window in GeV; every event's mass lies inside it.
    seed : int, default 0

    Returns
    -------
    X : ndarray of shape (n_signal + n_background, 4)
        Columns: invariant mass [GeV], pT of the pair [GeV], |Δη|, cos θ*.
    y : ndarray of shape (n_signal + n_background,), int
        1 for signal, 0 for background.
    """
    n_sig = _n(n_signal, "n_signal", 0)
    n_bkg = _n(n_background, "n_background", 0)
    if n_sig + n_bkg == 0:
        raise ValueError("n_signal + n_background must be positive")
    if not isinstance(mass_range, (tuple, list)) or len(mass_range) != 2:
        raise ValueError(f"mass_range must be a pair (low, high) in GeV, got {mass_range!r}")
    lo, hi = (check_number(v, "mass_range") for v in mass_range)
    mass = check_number(mass, "mass", positive=True)
    if not lo < mass < hi:
        raise ValueError(f"mass_range {tuple(mass_range)} must contain the mass {mass}")
    width = check_number(width, "width", positive=True)
    resolution = check_number(resolution, "resolution", nonnegative=True)
    slope = check_number(slope, "slope", positive=True)
    rng = _rng(seed)

    def truncated(sampler, n):  # rejection into the window
        out = np.empty(0)
        while out.size < n:
            draw = sampler(2 * (n - out.size) + 16)
            out = np.concatenate([out, draw[(draw > lo) & (draw < hi)]])
        return out[:n]

    m_sig = truncated(lambda k: mass + width / 2 * rng.standard_cauchy(k)
                      + resolution * rng.normal(size=k), n_sig)
    m_bkg = truncated(lambda k: lo + rng.exponential(1 / slope, k), n_bkg)
    pt = np.r_[rng.gamma(3.0, 8.0, n_sig), rng.gamma(2.0, 6.0, n_bkg)]
    deta = np.abs(np.r_[rng.normal(0, 1.0, n_sig), rng.normal(0, 1.6, n_bkg)])
    # 1 + c² on [−1, 1] by rejection: accept c with probability (1 + c²) / 2.
    cos_sig = np.empty(0)
    while cos_sig.size < n_sig:
        c = rng.uniform(-1, 1, 2 * n_sig)
        cos_sig = np.concatenate([cos_sig, c[rng.uniform(0, 2, c.size) < 1 + c**2]])
    cos_t = np.r_[cos_sig[:n_sig], rng.uniform(-1, 1, n_bkg)]
    X = np.c_[np.r_[m_sig, m_bkg], pt, deta, cos_t]
    y = np.r_[np.ones(n_sig), np.zeros(n_bkg)].astype(np.int64)
    order = rng.permutation(len(y))
    return X[order], y[order]


def make_pulse_traces(counts, length=128, tau=6.0, noise=0.15, amplitude=(1.0, 1.0), min_gap=3,
                      seed=0):
    """Digitised detector traces: pulses with a sharp rise and an exponential decay, on noise.

    Each trace is sampled every 1 ns. A pulse starting at sample ``s`` with amplitude ``a`` adds
    ``a·exp(−(t − s)/τ)`` for ``t ≥ s``; pulses may overlap (a later one rides on the tail of an
    earlier one) but start at least ``min_gap`` samples apart, so that each one's rise can be seen.
    Starts are drawn uniformly from samples 5 to ``length − 21``; Gaussian noise of standard
    deviation ``noise`` is added to every sample.

    Parameters
    ----------
    counts : int or array_like of int, shape (n_traces,)
        The number of pulses in each trace (an int makes a single trace).
    length : int, default 128
        Samples per trace, at least 32.
    tau : float, default 6.0
        Decay time in ns (samples).
    noise : float, default 0.15
        Standard deviation of the noise, in units of a pulse's amplitude of 1.
    amplitude : (float, float), default (1.0, 1.0)
        Each pulse's amplitude is drawn uniformly from this range (equal values: fixed).
    min_gap : int, default 3
        Smallest distance in samples between two starts in a trace.
    seed : int, default 0

    Returns
    -------
    traces : ndarray of shape (n_traces, length)
    starts : ndarray of shape (n_traces, max(counts)), int
        The start samples of each trace's pulses in increasing order, padded with −1.
    amplitudes : ndarray of shape (n_traces, max(counts))
        The pulses' amplitudes, in the order of ``starts``, padded with 0.
    """
    single = isinstance(counts, (int, np.integer)) and not isinstance(counts, bool)
    counts_arr = np.atleast_1d(np.asarray(counts))
    if (
        counts_arr.ndim != 1
        or counts_arr.size == 0
        or not np.issubdtype(counts_arr.dtype, np.integer)
    ):
        raise TypeError(f"counts must be an integer or a 1-D array of integers, got {counts!r}")
    if np.any(counts_arr < 0):
        raise ValueError(f"counts must be non-negative, got {counts_arr.min()}")
    length = _n(length, "length", 32)
    min_gap = _n(min_gap, "min_gap", 1)
    tau = check_number(tau, "tau", positive=True)
    noise = check_number(noise, "noise", nonnegative=True)
    if not isinstance(amplitude, (tuple, list)) or len(amplitude) != 2:
        raise ValueError(f"amplitude must be a pair (low, high), got {amplitude!r}")
    a_lo, a_hi = (check_number(v, "amplitude", positive=True) for v in amplitude)
    if a_lo > a_hi:
        raise ValueError(f"amplitude must be (low, high) with low <= high, got {amplitude!r}")
    window = np.arange(5, length - 20)
    most = int(counts_arr.max())
    if most > 0 and (most - 1) * min_gap >= window.size:
        raise ValueError(f"{most} pulses {min_gap} samples apart do not fit in a trace of {length}")
    rng = _rng(seed)
    t = np.arange(length)
    traces = noise * rng.normal(size=(counts_arr.size, length))
    starts = np.full((counts_arr.size, most), -1, dtype=np.int64)
    amps = np.zeros((counts_arr.size, most))
    for i, c in enumerate(counts_arr):
        # uniform over all start sets at least min_gap apart: draw from a window shortened by the
        # gaps, then spread the sorted draws out by (min_gap - 1) per earlier pulse
        short = window[:window.size - (int(c) - 1) * (min_gap - 1)] if c > 0 else window
        s = np.sort(rng.choice(short, size=int(c), replace=False)) + (min_gap - 1) * np.arange(c)
        a = rng.uniform(a_lo, a_hi, int(c))
        starts[i, :c], amps[i, :c] = s, a
        for si, ai in zip(s, a, strict=True):
            traces[i] += ai * np.where(t >= si, np.exp(-(t - si) / tau), 0.0)
    if single:
        return traces[0], starts[0], amps[0]
    return traces, starts, amps


def train_test_split(X, y, test_size=0.25, seed=0, stratify=None):
    """Shuffle and split arrays into training and test parts.

    Parameters
    ----------
    X : ndarray of shape (n_samples, ...)
    y : ndarray of shape (n_samples, ...)
    test_size : float in (0, 1), default 0.25
        Fraction of samples in the test part (rounded to whole samples, per class when
        stratified).
    seed : int, default 0
    stratify : None, bool or array_like of shape (n_samples,), default None
        Keep class proportions in both parts: ``True`` stratifies by ``y``, an array by its
        values (as in scikit-learn); ``None`` or ``False`` does not.

    Returns
    -------
    X_train : ndarray of shape (n_train, ...)
    X_test : ndarray of shape (n_test, ...)
    y_train : ndarray of shape (n_train, ...)
    y_test : ndarray of shape (n_test, ...)
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError("X and y must be arrays with one row per sample, got a scalar")
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same number of samples, got {len(X)} and {len(y)}")
    if isinstance(test_size, bool):
        raise TypeError("test_size must be a fraction between 0 and 1, got a bool")
    test_size = check_number(test_size, "test_size")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be a fraction between 0 and 1, got {test_size}")
    rng = _rng(seed)
    if stratify is None or stratify is False:
        groups = None
    elif stratify is True:
        groups = y
    else:
        groups = np.asarray(stratify)
        if groups.ndim != 1 or len(groups) != len(X):
            raise ValueError(f"stratify must be True or hold one label per sample, shape "
                             f"({len(X)},), got shape {groups.shape}")
    if groups is not None:
        if groups.ndim != 1:
            raise ValueError(f"stratify=True needs y of shape (n_samples,), got {y.shape}")
        parts = []
        for c in np.unique(groups):  # the same fraction of every class
            idx = rng.permutation(np.flatnonzero(groups == c))
            parts.append(idx[: round(test_size * len(idx))])
        test = np.concatenate(parts)
    else:
        test = rng.permutation(len(X))[: round(test_size * len(X))]
    mask = np.zeros(len(X), bool)
    mask[test] = True
    if mask.all() or not mask.any():
        raise ValueError(f"test_size={test_size} leaves one part empty for {len(X)} samples")
    return X[~mask], X[mask], y[~mask], y[mask]
