"""Local, offline experiment tracking in the spirit of Comet ML.

A :class:`Tracker` keeps one JSON-lines file per run in a folder: a header with the run's name and
parameters, one line per logged step, and a closing line when the run finishes. Runs are compared
with :meth:`Tracker.plot` and :meth:`Tracker.summary`. A run that crashed (no closing line) is listed
with ``finished=False`` instead of disappearing.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Tracker", "Run", "RunRecord"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")


def _jsonable(value, what):
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be JSON-serialisable, got {value!r}") from None
    return value


class Run:
    """A run being recorded; made by :meth:`Tracker.start_run`."""

    def __init__(self, path: Path, name: str, params: dict, clock=None):
        self.path, self.name, self.params, self._clock = path, name, params, clock
        self.finished = False
        self._write({"type": "start", "name": name, "params": params, "time": self._now()})

    def _now(self):
        return None if self._clock is None else float(self._clock())

    def _write(self, record):
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    def log(self, step, **metrics):
        """Record numeric ``metrics`` (e.g. ``loss=0.3``) at integer ``step``."""
        if self.finished:
            raise RuntimeError(f"run {self.name!r} is finished; start a new run to log more")
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"step must be a non-negative integer, got {step!r}")
        if not metrics:
            raise ValueError("log needs at least one metric, e.g. run.log(step, loss=0.1)")
        clean = {}
        for key, value in metrics.items():
            try:
                clean[key] = float(value)
            except (TypeError, ValueError):
                raise TypeError(f"metric {key!r} must be a number, got {value!r}") from None
        self._write({"type": "step", "step": step, "metrics": clean, "time": self._now()})

    def finish(self):
        """Close the run; a run that is never finished is listed as unfinished (crashed)."""
        if not self.finished:
            self._write({"type": "finish", "time": self._now()})
            self.finished = True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.finish()
        return False


@dataclass
class RunRecord:
    """A stored run: its parameters, metric histories and whether it finished."""

    name: str
    params: dict
    finished: bool
    metrics: dict = field(default_factory=dict)  # metric -> list of (step, value)

    def last(self, metric):
        values = self.metrics.get(metric)
        return values[-1][1] if values else math.nan


class Tracker:
    """Record runs under ``root_dir`` and compare them.

    Parameters
    ----------
    root_dir : str or Path
        Created if missing; one ``<run>.jsonl`` file per run.
    clock : callable, optional
        Returns timestamps (e.g. ``time.time``); ``None`` (default) stores none, so that records
        are reproducible.
    """

    def __init__(self, root_dir, clock=None):
        self.root = Path(root_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        self.clock = clock

    def start_run(self, name, params=None):
        """Start recording a run called ``name`` with hyper-parameters ``params`` (a dict)."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"name must be 1-80 letters, digits, '.', '_' or '-', got {name!r}")
        path = self.root / f"{name}.jsonl"
        if path.exists():
            raise ValueError(f"a run called {name!r} already exists in {self.root}")
        params = dict(params or {})
        _jsonable(params, "params")
        return Run(path, name, params, self.clock)

    def runs(self):
        """Every stored run, in name order, as :class:`RunRecord`."""
        records = []
        for path in sorted(self.root.glob("*.jsonl")):
            record = None
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        entry = json.loads(line)
                    except json.JSONDecodeError:  # a run killed mid-write: keep what is readable
                        continue
                    if entry.get("type") == "start":
                        record = RunRecord(entry["name"], entry.get("params", {}), False)
                    elif record is not None and entry.get("type") == "step":
                        for k, v in entry["metrics"].items():
                            record.metrics.setdefault(k, []).append((entry["step"], v))
                    elif record is not None and entry.get("type") == "finish":
                        record.finished = True
            if record is not None:
                records.append(record)
        return records

    def summary(self, metric):
        """One dict per run: name, params, finished and the last value of ``metric``."""
        return [{"name": r.name, **r.params, "finished": r.finished, metric: r.last(metric)}
                for r in self.runs()]

    def plot(self, metric, ax=None):
        """Plot ``metric`` against step for every run that logged it; returns the axes."""
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(5, 3.5))
        plotted = 0
        for r in self.runs():
            if metric in r.metrics:
                steps, values = zip(*r.metrics[metric])
                ax.plot(steps, values, label=r.name + ("" if r.finished else " (unfinished)"))
                plotted += 1
        if not plotted:
            raise ValueError(f"no run logged a metric called {metric!r}")
        ax.set_xlabel("step")
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} by run")
        ax.legend()
        return ax
