"""Benchmark one training epoch of nnlib.mlp.MLP against the same network in PyTorch on the CPU.

The data are scikit-learn's handwritten digits (1797 images of 8×8 pixels, scaled to [0, 1]; read
from the files shipped with scikit-learn, no download). The network is 64-128-64-10 with ReLU,
softmax cross-entropy, plain SGD (learning rate 0.1) and mini-batches of 32 (57 steps per epoch),
with the training set shuffled every epoch. nnlib computes in float64 (NumPy); PyTorch in its
default float32, and also in float64 for reference. Both use ``--threads`` threads (default 1: BLAS
through threadpoolctl for NumPy, ``torch.set_num_threads`` for PyTorch).

Both start from the same weights (nnlib's He initialisation) and see the same batches, so the
training accuracy after the last epoch agrees up to rounding: the engines do the same work. The time
is the best epoch of ``--epochs`` (after one warm-up epoch); the engines take turns epoch by epoch.
Usage::

    python benchmarks/bench_mlp.py            # 20 epochs per engine
    python benchmarks/bench_mlp.py --quick    # 5 epochs per engine
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from nnlib.mlp import MLP
from nnlib.optim import SGD

SIZES = (64, 128, 64, 10)
BATCH, LR = 32, 0.1


def load_digits_data():
    """Digits as float64 in [0, 1], shape (1797, 64), and labels 0..9."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X / 16.0, y.astype(np.int64)


def nnlib_trainer(X, y, seed=0):
    """One-epoch closure for nnlib's MLP and the accuracy on (X, y)."""
    model = MLP(list(SIZES), activation="relu", seed=seed)  # He initialisation
    opt = SGD(model.params, lr=LR)
    rng = np.random.default_rng(seed)

    def epoch():
        order = rng.permutation(len(X))
        for start in range(0, len(X), BATCH):
            idx = order[start:start + BATCH]
            model.loss(X[idx], y[idx])
            opt.step(model.backward())

    return epoch, lambda: float(np.mean(model.predict(X) == y))


def torch_trainer(X, y, dtype, seed=0):
    """The same network, initial weights, loss, optimiser and batch order in PyTorch."""
    import torch

    params = MLP(list(SIZES), activation="relu", seed=seed).params
    layers = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(SIZES), start=1):
        linear = torch.nn.Linear(n_in, n_out)
        with torch.no_grad():  # torch stores W transposed: (n_out, n_in)
            linear.weight.copy_(torch.from_numpy(params[f"W{i}"].T))
            linear.bias.copy_(torch.from_numpy(params[f"b{i}"]))
        layers.append(linear)
        if i < len(SIZES) - 1:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers).to(dtype)
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    Xt, yt = torch.tensor(X, dtype=dtype), torch.tensor(y)
    rng = np.random.default_rng(seed)
    loss_fn = torch.nn.functional.cross_entropy

    def epoch():
        order = torch.from_numpy(rng.permutation(len(Xt)))
        for start in range(0, len(Xt), BATCH):
            idx = order[start:start + BATCH]
            opt.zero_grad()
            loss_fn(net(Xt[idx]), yt[idx]).backward()
            opt.step()

    def accuracy():
        with torch.no_grad():
            return float((net(Xt).argmax(dim=1) == yt).float().mean())

    return epoch, accuracy


def time_epochs(epochs, n_epochs):
    """Best wall time per engine over ``n_epochs`` epochs, after one warm-up epoch each.

    The engines take turns epoch by epoch, so a burst of load from other processes hits all alike.
    """
    for epoch in epochs:
        epoch()
    best = [float("inf")] * len(epochs)
    for _ in range(n_epochs):
        for i, epoch in enumerate(epochs):
            start = time.perf_counter()
            epoch()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def run(n_epochs, threads):
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    X, y = load_digits_data()
    names = ["nnlib (NumPy, float64)", "torch (float32)", "torch (float64)"]
    trainers = [nnlib_trainer(X, y), torch_trainer(X, y, torch.float32),
                torch_trainer(X, y, torch.float64)]
    with threadpool_limits(limits=threads):
        times = time_epochs([epoch for epoch, _ in trainers], n_epochs)
    return [(name, t, accuracy())
            for name, t, (_, accuracy) in zip(names, times, trainers, strict=True)]


def format_table(rows, n_epochs):
    ours = rows[0][1]
    lines = [(f"{'engine':<24} {'best epoch':>11} {'time / nnlib':>15} "
             f"{f'train acc. after {n_epochs + 1} epochs':>28}"), "-" * 81]
    for name, seconds, acc in rows:
        lines.append(f"{name:<24} {seconds * 1e3:>8.1f} ms {seconds / ours:>14.2f}x {acc:>28.3f}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 timed epochs instead of 20")
    parser.add_argument("--epochs", type=int, default=None, help="timed epochs per engine")
    parser.add_argument("--threads", type=int, default=1, help="BLAS / torch threads (default 1)")
    args = parser.parse_args(argv)
    n_epochs = args.epochs or (5 if args.quick else 20)
    import torch

    print(f"digits 1797x64, MLP {'-'.join(map(str, SIZES))} ReLU, SGD lr {LR}, batch {BATCH} "
          f"({-(-1797 // BATCH)} steps/epoch), numpy {np.__version__}, torch {torch.__version__}, "
          f"{args.threads} thread(s)")
    print(format_table(run(n_epochs, args.threads), n_epochs))


if __name__ == "__main__":
    main()
