"""Benchmark nnlib.autograd against micrograd (karpathy/micrograd, from PyPI) in the same run.

Both engines run the *same* Python expression code (only ``+``, ``*``, ``relu`` and float constants,
which both support), so the graphs have the same nodes:

* a small MLP (4-16-16-1, ReLU, hinge loss) on a batch of 32 samples, forward + backward;
* a chain ``out = out * c`` of depth 900 (micrograd's recursive sort still copes),
  forward + backward;
* chains of depth 1,000 and 1,000,000 (100,000 with ``--quick``): micrograd's recursive topological
  sort raises ``RecursionError`` (Python's default recursion limit is 1,000); nnlib's iterative one
  completes.

Times are the best of ``--repeat`` runs. Usage::

    python benchmarks/bench_autograd.py            # full run, about a minute
    python benchmarks/bench_autograd.py --quick    # a few seconds
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from micrograd.engine import Value as MicrogradValue

from nnlib.autograd import Value as NnlibValue

ENGINES = {"nnlib": NnlibValue, "micrograd": MicrogradValue}


def make_mlp_step(Value, n_in=4, hidden=16, batch=32, seed=0):
    """A closure that runs forward + backward of a 2-hidden-layer ReLU MLP's hinge loss."""
    rng = random.Random(seed)
    W1 = [[Value(rng.uniform(-1, 1)) for _ in range(n_in)] for _ in range(hidden)]
    b1 = [Value(0.0) for _ in range(hidden)]
    W2 = [[Value(rng.uniform(-1, 1)) for _ in range(hidden)] for _ in range(hidden)]
    b2 = [Value(0.0) for _ in range(hidden)]
    w3 = [Value(rng.uniform(-1, 1)) for _ in range(hidden)]
    X = [[rng.uniform(-1, 1) for _ in range(n_in)] for _ in range(batch)]
    Y = [rng.choice((-1.0, 1.0)) for _ in range(batch)]
    params = [w for row in W1 + W2 for w in row] + b1 + b2 + w3

    def step():
        for p in params:
            p.grad = 0.0
        loss = Value(0.0)
        for x, y in zip(X, Y, strict=True):
            h = [sum((w * xi for w, xi in zip(row, x, strict=True)), b).relu()
                 for row, b in zip(W1, b1, strict=True)]
            h = [sum((w * hi for w, hi in zip(row, h, strict=True)), b).relu()
                 for row, b in zip(W2, b2, strict=True)]
            out = sum((w * hi for w, hi in zip(w3, h, strict=True)), Value(0.0))
            loss = loss + (1.0 + out * (-y)).relu()  # hinge loss max(0, 1 - y·out)
        loss = loss * (1.0 / batch)
        loss.backward()
        return loss.data, params[0].grad

    return step


def make_chain(Value, depth):
    """A closure that builds out = x · c^depth as ``depth`` multiplications, then runs backward."""

    def step():
        x, c = Value(1.0), Value(1.0 + 1e-7)
        out = x
        for _ in range(depth):
            out = out * c
        out.backward()
        return out.data, x.grad

    return step


def best_times(steps, repeat):
    """Best wall time of ``repeat`` calls of each step, the steps taking turns.

    Garbage is collected before each call; a step raising ``RecursionError`` is reported as such.
    """
    best = {name: float("inf") for name in steps}
    results = {}
    for _ in range(repeat):
        for name, step in steps.items():
            if results.get(name) == "RecursionError":
                continue
            gc.collect()
            start = time.perf_counter()
            try:
                results[name] = step()
            except RecursionError:
                results[name], best[name] = "RecursionError", None
                continue
            best[name] = min(best[name], time.perf_counter() - start)
    return best, results


def run(quick=False, repeat=None):
    repeat = repeat or (3 if quick else 7)
    deep = 100_000 if quick else 1_000_000
    cases = [
        ("MLP 4-16-16-1, batch 32", make_mlp_step, {}, repeat),
        ("chain, depth 900", make_chain, {"depth": 900}, repeat * 3),
        ("chain, depth 1,000", make_chain, {"depth": 1_000}, repeat),
        (f"chain, depth {deep:,}", make_chain, {"depth": deep}, 2 if quick else 1),
    ]
    rows = []
    for name, make, kwargs, n in cases:
        times, results = best_times({e: make(V, **kwargs) for e, V in ENGINES.items()}, n)
        if all(isinstance(r, tuple) for r in results.values()):  # same numbers from both engines
            a, b = results["nnlib"], results["micrograd"]
            assert abs(a[0] - b[0]) <= 1e-9 * abs(b[0]) and abs(a[1] - b[1]) <= 1e-9 * abs(b[1])
        rows.append((name, times["nnlib"], times["micrograd"], results["micrograd"]))
    return rows


def format_table(rows):
    lines = [f"{'case':<28} {'nnlib':>10} {'micrograd':>16} {'speed-up':>9}",
             "-" * 66]
    for name, ours, theirs, theirs_result in rows:
        theirs_text = f"{theirs * 1e3:.1f} ms" if theirs is not None else str(theirs_result)
        ratio = f"{theirs / ours:.1f}x" if theirs is not None else "-"
        lines.append(f"{name:<28} {ours * 1e3:>7.1f} ms {theirs_text:>16} {ratio:>9}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (depth 1e5, fewer repeats)")
    parser.add_argument("--repeat", type=int, default=None, help="repeats per case (best is kept)")
    args = parser.parse_args(argv)
    print(f"Python {platform.python_version()} on {platform.machine()}, "
          f"recursion limit {sys.getrecursionlimit()}; forward + backward, best of repeats")
    print(format_table(run(args.quick, args.repeat)))


if __name__ == "__main__":
    main()
