"""Seeding and device selection: the two lines every notebook's setup cell needs."""

from __future__ import annotations

import random

import numpy as np

__all__ = ["get_device", "seed_everything"]


def seed_everything(seed: int = 0) -> np.random.Generator:
    """Seed Python's ``random``, NumPy's global generator and torch; return a fresh Generator.

    Two runs of a notebook that calls this once at the top give the same numbers. NumPy's legacy
    global generator takes seeds below 2³² and torch below 2⁶⁴, so they get the seed modulo those.

    Parameters
    ----------
    seed : int, default 0
        A non-negative integer.

    Returns
    -------
    numpy.random.Generator
        ``np.random.default_rng(seed)``, the generator to pass around explicitly.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch
    except ImportError:  # nnlib itself does not need torch
        pass
    else:
        torch.manual_seed(seed % 2**64)  # torch takes 64-bit seeds
    return np.random.default_rng(seed)


def get_device() -> str:
    """``"cuda"`` when PyTorch sees a GPU, else ``"cpu"``: the course runs on either.

    Returns
    -------
    str
        A device name for ``tensor.to(device)``; ``"cpu"`` also when torch is not installed.
    """
    try:
        import torch
    except ImportError:  # nnlib's NumPy parts run without torch
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"
