"""nnlib.utils: one call makes random, NumPy and torch repeat themselves."""

import random

import numpy as np
import pytest
import torch

from nnlib.utils import get_device, seed_everything


def draw():
    return random.random(), np.random.rand(3), torch.rand(2)


def test_seed_everything_repeats_random_numpy_and_torch():
    seed_everything(7)
    first = draw()
    seed_everything(7)
    second = draw()
    assert first[0] == second[0]
    np.testing.assert_array_equal(first[1], second[1])
    assert torch.equal(first[2], second[2])
    seed_everything(8)
    third = draw()
    assert third[0] != first[0] and not torch.equal(third[2], first[2])


def test_seed_everything_returns_a_seeded_generator():
    a, b = seed_everything(3), seed_everything(3)
    assert isinstance(a, np.random.Generator)
    np.testing.assert_array_equal(a.normal(size=4), b.normal(size=4))
    np.testing.assert_array_equal(seed_everything(3).normal(size=4),
                                  np.random.default_rng(3).normal(size=4))


def test_seed_everything_accepts_numpy_and_huge_integers():
    seed_everything(np.int64(5))
    x = np.random.rand()
    seed_everything(5)
    assert np.random.rand() == x
    seed_everything(2**70)  # beyond NumPy's legacy and torch's seed range


@pytest.mark.parametrize("seed,error", [(-1, ValueError), (1.5, TypeError), ("0", TypeError),
                                        (True, TypeError), (None, TypeError)])
def test_seed_everything_rejects_bad_seeds(seed, error):
    with pytest.raises(error, match="seed must be"):
        seed_everything(seed)


def test_get_device_follows_cuda_availability(monkeypatch):
    assert get_device() == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device() == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_device() == "cpu"
