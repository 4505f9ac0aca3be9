"""Offline, seeded datasets: the TensorFlow Playground's four, Iris and digits, and physics.

Nothing here touches the network: Iris and the 8×8 digits are read from the files that ship inside
scikit-learn, the rest is simulated. Every generator takes ``seed`` and returns the same arrays for
the same seed.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, check_number

__all__ = [
    "make_playground", "PLAYGROUND_SETS", "load_iris", "load_digits", "make_damped_oscillator",
    "make_pendulum_period", "pendulum_period", "make_invariant_mass", "train_test_split",
]

PLAYGROUND_SETS = ("circle", "xor", "gauss", "spiral")


def _n(n, name="n_samples", minimum=1):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(n).__name__}")
    if n < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {n}")
    return int(n)


def make_playground(name, n_samples=400, noise=0.0, seed=0):
    """One of the TensorFlow Playground's classification sets, on the square [−6, 6]².

    Parameters
    ----------
    name : {'circle', 'xor', 'gauss', 'spiral'}
    n_samples : int, default 400
        Half of the points per class (an odd count gives the extra point to class 0).
    noise : float in [0, 0.5], default 0.0
        The Playground's noise slider (0–50 %) as a fraction.
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
        raise ValueError(f"noise must be between 0 and 0.5 (the Playground's 0-50 %), got {noise}")
    rng = np.random.default_rng(seed)
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
    """Fisher's Iris flowers (150 samples, 4 measurements in cm, 3 species), from scikit-learn's files.

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
        raise ValueError(f"gamma must be below omega for an underdamped oscillator, got {gamma} >= {omega}")
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, t_max, n))
    omega_d = np.sqrt(omega**2 - gamma**2)
    x = np.exp(-gamma * t) * np.cos(omega_d * t) + noise * rng.normal(size=n)
    return t[:, None], x


def pendulum_period(amplitude, length=1.0, g=9.81):
    """Exact period of a pendulum, T = 4 sqrt(L/g) K(sin²(θ₀/2)), K the complete elliptic integral.

    Parameters
    ----------
    amplitude : array_like
        θ₀ in radians, in [0, π).
    length : float, default 1.0
        L in m.
    g : float, default 9.81
        Gravitational acceleration in m/s².

    Returns
    -------
    ndarray of the shape of ``amplitude``, periods in s (2π sqrt(L/g) for small θ₀)
    """
    from scipy.special import ellipk

    theta = as_float_array(amplitude, "amplitude")
    if np.any((theta < 0) | (theta >= np.pi)):
        raise ValueError("amplitude must be in [0, pi) radians")
    return 4.0 * np.sqrt(length / g) * ellipk(np.sin(theta / 2) ** 2)


def make_pendulum_period(n_samples=40, noise=0.01, max_amplitude=2.5, length=1.0, seed=0):
    """Measured periods of a pendulum against its amplitude: a small regression set that overfits.

    The small-angle formula T₀ = 2π sqrt(L/g) ≈ 2.006 s (L = 1 m) fails at large amplitude; the exact
    period comes from :func:`pendulum_period`. With few noisy points, a large network overfits.

    Parameters
    ----------
    n_samples : int, default 40
    noise : float, default 0.01
        Relative timing noise (0.01 = 1 %).
    max_amplitude : float, default 2.5
        Largest amplitude θ₀ in radians (< π).
    length : float, default 1.0
        Pendulum length in m.
    seed : int, default 0

    Returns
    -------
    theta : ndarray of shape (n_samples, 1)
        Amplitudes in rad.
    T : ndarray of shape (n_samples,)
        Periods in s.
    """
    n = _n(n_samples)
    noise = check_number(noise, "noise", nonnegative=True)
    max_amplitude = check_number(max_amplitude, "max_amplitude", positive=True)
    if max_amplitude >= np.pi:
        raise ValueError(f"max_amplitude must be below pi, got {max_amplitude}")
    length = check_number(length, "length", positive=True)
    rng = np.random.default_rng(seed)
    theta = np.sort(rng.uniform(0.05, max_amplitude, n))
    T = pendulum_period(theta, length) * (1 + noise * rng.normal(size=n))
    return theta[:, None], T


def make_invariant_mass(n_signal=500, n_background=1500, mass=91.19, width=2.5, resolution=2.0,
                        slope=0.03, mass_range=(60.0, 120.0), seed=0):
    """Signal versus background events from a dimuon-like invariant-mass spectrum.

    Signal: a Breit–Wigner resonance (mass, width) smeared by a Gaussian detector resolution, a Z
    boson by default. Background: an exponentially falling spectrum. Besides the invariant mass each
    event has the pair's transverse momentum (harder for signal), |Δη| between the two muons and the
    cosine of the decay angle, so that a classifier has more than a mass window to learn from.

    Parameters
    ----------
    n_signal, n_background : int
        Event counts; a rare signal (e.g. 50 against 5000) makes an imbalanced set.
    mass, width, resolution : float
        Resonance mass and width, detector resolution, in GeV.
    slope : float, default 0.03
        Background falls as exp(−slope·m), slope in 1/GeV.
    mass_range : (float, float)
        Window in GeV.
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
    lo, hi = (check_number(v, "mass_range") for v in mass_range)
    if not lo < mass < hi:
        raise ValueError(f"mass_range {mass_range} must contain the mass {mass}")
    width = check_number(width, "width", positive=True)
    resolution = check_number(resolution, "resolution", nonnegative=True)
    slope = check_number(slope, "slope", positive=True)
    rng = np.random.default_rng(seed)

    def truncated(sampler, n):
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
    cos_t = np.r_[np.clip(rng.normal(0, 0.5, n_sig), -1, 1), rng.uniform(-1, 1, n_bkg)]
    X = np.c_[np.r_[m_sig, m_bkg], pt, deta, cos_t]
    y = np.r_[np.ones(n_sig), np.zeros(n_bkg)].astype(np.int64)
    order = rng.permutation(len(y))
    return X[order], y[order]


def train_test_split(X, y, test_size=0.25, seed=0, stratify=False):
    """Shuffle and split arrays into training and test parts.

    Parameters
    ----------
    X : ndarray of shape (n_samples, ...)
    y : ndarray of shape (n_samples, ...)
    test_size : float in (0, 1), default 0.25
        Fraction of samples in the test part.
    seed : int, default 0
    stratify : bool, default False
        Keep the class proportions of ``y`` in both parts.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same number of samples, got {len(X)} and {len(y)}")
    test_size = check_number(test_size, "test_size")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be between 0 and 1, got {test_size}")
    rng = np.random.default_rng(seed)
    if stratify:
        test = np.concatenate([
            (idx := rng.permutation(np.flatnonzero(y == c)))[: int(round(test_size * len(idx)))]
            for c in np.unique(y)])
    else:
        test = rng.permutation(len(X))[: int(round(test_size * len(X)))]
    mask = np.zeros(len(X), bool)
    mask[test] = True
    if mask.all() or not mask.any():
        raise ValueError(f"test_size={test_size} leaves one part empty for {len(X)} samples")
    return X[~mask], X[mask], y[~mask], y[mask]
