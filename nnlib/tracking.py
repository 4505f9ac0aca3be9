"""Local, offline experiment tracking in the spirit of Comet ML.

A :class:`Tracker` keeps one JSON-lines file per run in a folder: a header with the run's name and
parameters, one line per logged step, and a closing line when the run finishes (or records the
error that stopped it). Runs are compared with :meth:`Tracker.plot`, :meth:`Tracker.summary` (a
list of dicts) and :meth:`Tracker.table` (the same as text). A run whose process died (no closing
line) is listed as unfinished instead of disappearing.

>>> tracker = Tracker("runs")                                  # doctest: +SKIP
>>> with tracker.start_run("lr-0.1", {"lr": 0.1}) as run:      # doctest: +SKIP
...     for epoch in range(10):
...         run.log(epoch, loss=..., accuracy=...)
>>> print(tracker.table("loss", "accuracy"))                   # doctest: +SKIP

Timestamps are stored only when the tracker gets a ``clock`` (e.g. ``time.time``), so that the
records of a seeded experiment are reproducible byte for byte.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Run", "RunRecord", "Tracker"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
_METRIC = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]{0,79}$")
_RESERVED = ("name", "finished", "status")  # the columns summary() adds itself


def _jsonable(value, what):
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be JSON-serialisable, got {value!r}") from None
    return value


class Run:
    """A run being recorded; made by :meth:`Tracker.start_run`.

    Use it as a context manager: leaving the block finishes the run, and an exception inside it
    is recorded as the run's error (the exception still propagates).
    """

    def __init__(self, path: Path, name: str, params: dict, clock=None):
        self.path, self.name, self.params, self._clock = path, name, params, clock
        self.finished = False
        self._write({"type": "start", "name": name, "params": params, "time": self._now()}, "x")

    def _now(self):
        return None if self._clock is None else float(self._clock())

    def _write(self, record, mode="a"):
        with open(self.path, mode, encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    def log(self, step, **metrics):
        """Record numeric ``metrics`` at a step.

        Parameters
        ----------
        step : int
            Non-negative, e.g. the epoch.
        **metrics : float
            Name ``=`` value, e.g. ``loss=0.3, accuracy=0.9``. NaN and inf are kept (a diverging
            run is worth seeing); strings, bools and arrays are refused.
        """
        if self.finished:
            raise RuntimeError(f"run {self.name!r} is finished; start a new run to log more")
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"step must be a non-negative integer, got {step!r}")
        if not metrics:
            raise ValueError("log needs at least one metric, e.g. run.log(step, loss=0.1)")
        clean = {}
        for key, value in metrics.items():
            if not _METRIC.match(key):
                raise ValueError(f"metric name {key!r} must start with a letter and hold only "
                                 "letters, digits, '_', '.', '/' or '-'")
            if not isinstance(value, numbers.Real) and hasattr(value, "item"):
                try:  # a NumPy or torch scalar
                    value = value.item()
                except (ValueError, RuntimeError):  # more than one element: refused below
                    pass
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"metric {key!r} must be a number, got {value!r}")
            clean[key] = float(value)
        self._write({"type": "step", "step": int(step), "metrics": clean, "time": self._now()})

    def finish(self, error=None):
        """Close the run (a second call does nothing).

        Parameters
        ----------
        error : str, optional
            Why the run stopped early; the run is then listed as ``"failed"``.
        """
        if not self.finished:
            record = {"type": "finish", "time": self._now()}
            if error is not None:
                record["error"] = str(error)
            self._write(record)
            self.finished = True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.finish(None if exc_type is None else f"{exc_type.__name__}: {exc}")
        return False


@dataclass
class RunRecord:
    """A stored run, as read back by :meth:`Tracker.runs`.

    Attributes
    ----------
    name : str
    params : dict
    finished : bool
        True when the run was closed without an error; False when it failed, or has no closing
        line (its process died or it is still running).
    metrics : dict of str to list of (int, float)
        Each metric's (step, value) pairs in logging order.
    error : str or None
        The error that stopped the run, if it was recorded.
    started, ended : float or None
        Timestamps from the tracker's clock (None without a clock).
    """

    name: str
    params: dict
    finished: bool = False
    metrics: dict = field(default_factory=dict)
    error: str | None = None
    started: float | None = None
    ended: float | None = None

    @property
    def status(self) -> str:
        """``"finished"``, ``"failed"`` (an error was recorded) or ``"unfinished"``."""
        if self.finished:
            return "finished"
        return "failed" if self.error is not None else "unfinished"

    def last(self, metric):
        """The last logged value of ``metric`` (NaN if the run never logged it)."""
        values = self.metrics.get(metric)
        return values[-1][1] if values else math.nan


def _check_metric_names(metrics):
    if not metrics:
        raise ValueError("name at least one metric, e.g. summary('loss')")
    for m in metrics:
        if not isinstance(m, str):
            raise TypeError(f"metric names must be strings, got {m!r}")


def _row(record, metrics, status=False):
    """A run as a flat dict: name, params, finished (or status), last value of each metric."""
    clash = set(metrics) & set(record.params)
    if clash:
        raise ValueError(f"run {record.name!r} has a parameter named like the metric "
                         f"{min(clash)!r}; the summary would hide one of them")
    done = {"status": record.status} if status else {"finished": record.finished}
    return {"name": record.name, **record.params, **done, **{m: record.last(m) for m in metrics}}


class Tracker:
    """Record runs under ``root_dir`` and compare them.

    Parameters
    ----------
    root_dir : str or Path
        Created if missing; one ``<run name>.jsonl`` file per run.
    clock : callable, optional
        Returns timestamps (e.g. ``time.time``); ``None`` (default) stores none, so that records
        are reproducible.
    """

    def __init__(self, root_dir, clock=None):
        self.root = Path(root_dir)
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"root_dir must be a directory, {self.root} is a file")
        if clock is not None and not callable(clock):
            raise TypeError(f"clock must be callable (e.g. time.time) or None, got {clock!r}")
        self.root.mkdir(parents=True, exist_ok=True)
        self.clock = clock

    def start_run(self, name, params=None):
        """Start recording a run.

        Parameters
        ----------
        name : str
            1-80 letters, digits, '.', '_' or '-' (it names the file); unique in ``root_dir``.
        params : dict, optional
            Hyper-parameters with string keys and JSON values, e.g. ``{"lr": 0.1}``.

        Returns
        -------
        Run
        """
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"name must be 1-80 letters, digits, '.', '_' or '-', got {name!r}")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise TypeError(f"params must be a dict, got {type(params).__name__}")
        for key in params:
            if not isinstance(key, str):
                raise TypeError(f"params keys must be strings, got {key!r}")
            if key in _RESERVED:
                raise ValueError(f"params may not use the key {key!r}; it is a summary column")
        _jsonable(params, "params")
        path = self.root / f"{name}.jsonl"
        try:
            return Run(path, name, dict(params), self.clock)
        except FileExistsError:
            raise ValueError(f"a run called {name!r} already exists in {self.root}") from None

    def runs(self):
        """Every stored run in name order, as :class:`RunRecord` (unfinished runs included)."""
        records = []
        for path in sorted(self.root.glob("*.jsonl")):
            record = None
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        entry = json.loads(line)
                    except json.JSONDecodeError:  # a run killed mid-write: keep what is readable
                        continue
                    kind = entry.get("type") if isinstance(entry, dict) else None
                    if kind == "start":
                        record = RunRecord(entry["name"], entry.get("params", {}),
                                           started=entry.get("time"))
                    elif record is not None and kind == "step":
                        for k, v in entry["metrics"].items():
                            record.metrics.setdefault(k, []).append((entry["step"], v))
                    elif record is not None and kind == "finish":
                        record.error = entry.get("error")
                        record.finished = record.error is None
                        record.ended = entry.get("time")
            if record is not None:
                records.append(record)
        return records

    def summary(self, *metrics):
        """One dict per run: name, params, finished and the last value of each metric.

        Parameters
        ----------
        *metrics : str
            At least one metric name; a run that never logged it gets NaN.

        Returns
        -------
        list of dict
            E.g. ``{"name": "lr-0.1", "lr": 0.1, "finished": True, "loss": 0.02}``;
            ``finished`` is False for a failed or unfinished run.
        """
        _check_metric_names(metrics)
        return [_row(r, metrics) for r in self.runs()]

    def table(self, *metrics):
        """The :meth:`summary` as an aligned text table, one row per run, with each run's status.

        Returns
        -------
        str
        """
        _check_metric_names(metrics)
        records = self.runs()
        rows = [_row(r, metrics, status=True) for r in records]
        if not rows:
            return "(no runs)"
        params = dict.fromkeys(k for r in records for k in r.params)
        columns = ["name", *params, "status", *metrics]

        def cell(value):
            if isinstance(value, float):
                return f"{value:.4g}"
            return "" if value is None else str(value)

        body = [[cell(row.get(c)) for c in columns] for row in rows]
        widths = [max(len(c), *(len(r[i]) for r in body)) for i, c in enumerate(columns)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)),
                 "  ".join("-" * w for w in widths)]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in body]
        return "\n".join(line.rstrip() for line in lines)

    def plot(self, metric, ax=None):
        """Plot ``metric`` against step for every run that logged it.

        Unfinished and failed runs are drawn dashed and marked in the legend.

        Returns
        -------
        matplotlib.axes.Axes
        """
        curves = [r for r in self.runs() if metric in r.metrics]
        if not curves:
            raise ValueError(f"no run logged a metric called {metric!r}")
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(5, 3.5))
        for r in curves:
            steps, values = zip(*r.metrics[metric], strict=True)
            done = r.status == "finished"
            ax.plot(steps, values, ls="-" if done else "--",
                    label=r.name + ("" if done else f" ({r.status})"))
        ax.set_xlabel("step")
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} by run")
        ax.legend()
        return ax
