"""nnlib.tracking: runs stored as JSON lines, read back, compared, crashed runs kept."""

import itertools
import json
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from nnlib.tracking import Tracker


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def tracker(tmp_path):
    t = Tracker(tmp_path / "runs")
    for lr in (0.1, 1.0):
        with t.start_run(f"lr-{lr}", {"lr": lr, "layers": "2-8-2"}) as run:
            for step in range(3):
                run.log(step, loss=lr / (step + 1), accuracy=0.5 + 0.1 * step)
    return t


def test_runs_round_trip_through_json_lines(tracker):
    runs = tracker.runs()
    assert [r.name for r in runs] == ["lr-0.1", "lr-1.0"]
    r = runs[1]
    assert r.params == {"lr": 1.0, "layers": "2-8-2"} and r.finished and r.status == "finished"
    assert r.metrics["loss"] == [(0, 1.0), (1, 0.5), (2, 1 / 3)]
    assert r.last("accuracy") == pytest.approx(0.7) and math.isnan(r.last("f1"))
    lines = (tracker.root / "lr-1.0.jsonl").read_text().splitlines()
    assert len(lines) == 1 + 3 + 1  # start, three steps, finish
    types = [json.loads(line)["type"] for line in lines]
    assert types == ["start", "step", "step", "step", "finish"]
    assert all(json.loads(line)["time"] is None for line in lines)  # no clock, no timestamps


def test_records_are_deterministic_without_a_clock_and_timed_with_one(tmp_path):
    def record(root, clock=None):
        t = Tracker(root, clock=clock)
        with t.start_run("a", {"seed": 0}) as run:
            run.log(0, loss=0.25)
        return (root / "a.jsonl").read_text(), t.runs()[0]

    first, _ = record(tmp_path / "one")
    second, _ = record(tmp_path / "two")
    assert first == second
    ticks = itertools.count(100.0)
    _, timed = record(tmp_path / "three", clock=lambda: next(ticks))
    assert (timed.started, timed.ended) == (100.0, 102.0)


def test_crashed_and_failed_runs_are_listed_as_such(tracker):
    killed = tracker.start_run("killed", {"lr": 10.0})
    killed.log(0, loss=5.0)  # never finished: the process "died"
    with open(killed.path, "a", encoding="utf-8") as fh:
        fh.write('{"type": "step", "ste')  # and half a line written as it died
    with pytest.raises(FloatingPointError), tracker.start_run("diverged", {"lr": 100.0}) as run:
        run.log(0, loss=float("inf"))
        raise FloatingPointError("loss is inf")
    runs = {r.name: r for r in tracker.runs()}
    assert runs["killed"].status == "unfinished" and not runs["killed"].finished
    assert runs["killed"].metrics["loss"] == [(0, 5.0)]
    assert runs["diverged"].status == "failed" and runs["diverged"].error.startswith("Floating")
    assert runs["diverged"].last("loss") == math.inf
    assert {r["name"]: r["finished"] for r in tracker.summary("loss")} == {
        "diverged": False, "killed": False, "lr-0.1": True, "lr-1.0": True}


def test_summary_and_table_compare_runs(tracker):
    rows = tracker.summary("loss", "accuracy")
    assert rows[0] == {"name": "lr-0.1", "lr": 0.1, "layers": "2-8-2", "finished": True,
                       "loss": pytest.approx(0.1 / 3), "accuracy": pytest.approx(0.7)}
    assert max(rows, key=lambda r: r["loss"])["name"] == "lr-1.0"
    tracker.start_run("crashed", {"lr": 3.0}).log(0, loss=9.0)
    text = tracker.table("loss")
    lines = text.splitlines()
    assert lines[0].split() == ["name", "lr", "layers", "status", "loss"]
    assert lines[2].split() == ["crashed", "3", "unfinished", "9"]  # no layers: an empty cell
    assert lines[3].split() == ["lr-0.1", "0.1", "2-8-2", "finished", "0.03333"]
    assert len(lines) == 2 + 3


def test_plot_draws_one_curve_per_run(tracker):
    tracker.start_run("crashed").log(0, loss=2.0)
    ax = tracker.plot("loss")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["crashed (unfinished)", "lr-0.1", "lr-1.0"]
    assert lines[0].get_linestyle() == "--" and lines[1].get_linestyle() == "-"
    np.testing.assert_allclose(lines[2].get_ydata(), [1.0, 0.5, 1 / 3])
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("loss by run", "step", "loss")
    _, given = plt.subplots()
    assert tracker.plot("accuracy", ax=given) is given and len(given.get_lines()) == 2


def test_empty_tracker(tmp_path):
    t = Tracker(tmp_path)
    assert t.runs() == [] and t.summary("loss") == [] and t.table("loss") == "(no runs)"
    with pytest.raises(ValueError, match="no run logged"):
        t.plot("loss")


@pytest.mark.parametrize("call,error,match", [
    (lambda t: t.start_run("lr-0.1"), ValueError, "already exists"),
    (lambda t: t.start_run("my run"), ValueError, "name must be 1-80 letters"),
    (lambda t: t.start_run("../escape"), ValueError, "name must be"),
    (lambda t: t.start_run(""), ValueError, "name must be"),
    (lambda t: t.start_run(3), ValueError, "name must be"),
    (lambda t: t.start_run("p", ["lr", 0.1]), TypeError, "params must be a dict"),
    (lambda t: t.start_run("p", {1: 0.1}), TypeError, "params keys must be strings"),
    (lambda t: t.start_run("p", {"name": "x"}), ValueError, "may not use the key 'name'"),
    (lambda t: t.start_run("p", {"f": print}), TypeError, "params must be JSON-serialisable"),
    (lambda t: t.start_run("m").log(0, loss="high"), TypeError, "metric 'loss' must be a number"),
    (lambda t: t.start_run("m").log(0, ok=True), TypeError, "metric 'ok' must be a number"),
    (lambda t: t.start_run("m").log(0, loss=np.ones(3)), TypeError, "must be a number"),
    (lambda t: t.start_run("m").log(0, **{"9lives": 1.0}), ValueError, "metric name '9lives'"),
    (lambda t: t.start_run("m").log(-1, loss=1.0), ValueError, "step must be a non-negative"),
    (lambda t: t.start_run("m").log(1.5, loss=1.0), ValueError, "step must be"),
    (lambda t: t.start_run("m").log(0), ValueError, "at least one metric"),
    (lambda t: t.summary(), ValueError, "at least one metric"),
    (lambda t: t.summary("lr"), ValueError, "parameter named like the metric 'lr'"),
    (lambda t: t.plot("f1"), ValueError, "no run logged a metric called 'f1'"),
])
def test_invalid_names_and_metrics_raise_clear_errors(tracker, call, error, match):
    with pytest.raises(error, match=match):
        call(tracker)


def test_logging_accepts_numpy_and_torch_scalars_and_refuses_after_finish(tmp_path):
    import torch

    t = Tracker(tmp_path)
    run = t.start_run("scalars")
    run.log(np.int64(0), loss=np.float32(0.5), acc=torch.tensor(0.25))
    run.finish()
    run.finish()  # idempotent
    assert t.runs()[0].metrics == {"loss": [(0, 0.5)], "acc": [(0, 0.25)]}
    assert (tmp_path / "scalars.jsonl").read_text().count('"finish"') == 1
    with pytest.raises(RuntimeError, match="is finished"):
        run.log(1, loss=0.1)


def test_root_dir_must_be_a_directory(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="root_dir must be a directory"):
        Tracker(tmp_path / "file")
    with pytest.raises(TypeError, match="clock must be callable"):
        Tracker(tmp_path, clock=3.0)
