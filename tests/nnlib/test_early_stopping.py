"""nnlib.train.EarlyStopping: keeps the best validation epoch's weights, stops once it is past."""

import numpy as np
import pytest

from nnlib.mlp import MLP
from nnlib.train import EarlyStopping, History, fit


class Scripted:
    """A model whose parameter and score follow a script: params["w"] is the epoch number."""

    def __init__(self, scores):
        self.params = {"w": np.zeros(2)}
        self._scores = list(scores)
        self.epoch = 0

    def step(self):
        self.epoch += 1
        self.params["w"][...] = self.epoch

    def score(self, model):
        return self._scores[model.epoch - 1]


def run(model, stopper, epochs):
    history = History()
    for epoch in range(epochs):
        model.step()
        if stopper(epoch, history) is False:
            return epoch + 1
    return epochs


def test_stops_patience_epochs_after_the_minimum_and_keeps_its_weights():
    scores = [5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 3.05, 2.0]  # best 3.0 at epoch 3, then 4 worse epochs
    model = Scripted(scores)
    stopper = EarlyStopping(model, score=model.score, patience=4)
    trained = run(model, stopper, len(scores))
    assert trained == 7 and stopper.stopped            # stopped at epoch 3 + 4, before the 2.0
    assert stopper.scores == scores[:7]
    assert stopper.best_epoch == 3 and stopper.best_score == 3.0
    array = model.params["w"]
    assert stopper.restore() is model
    assert model.params["w"] is array                   # restored in place (optimisers hold it)
    np.testing.assert_array_equal(model.params["w"], [3.0, 3.0])


def test_patience_none_never_stops_and_min_delta_ignores_tiny_gains():
    model = Scripted([3.0, 2.999, 2.0, 2.5])
    stopper = EarlyStopping(model, score=model.score, patience=None, min_delta=0.01)
    assert run(model, stopper, 4) == 4 and not stopper.stopped
    assert stopper.best_epoch == 3                      # 2.999 was not better by more than 0.01
    stopper.restore()
    np.testing.assert_array_equal(model.params["w"], [3.0, 3.0])


def test_with_fit_the_restored_weights_score_the_minimum_of_the_curve():
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (12, 1))
    y = np.sin(3 * x) + 0.3 * rng.normal(size=x.shape)   # few noisy points: the net overfits
    x_val = rng.uniform(-1, 1, (200, 1))
    y_val = np.sin(3 * x_val) + 0.3 * rng.normal(size=x_val.shape)
    model = MLP([1, 64, 64, 1], activation="tanh", output="linear", seed=0)
    stopper = EarlyStopping(model, patience=100)
    history = fit(model, x, y, epochs=3000, batch_size=12, lr=0.01, optimizer="adam",
                  X_val=x_val, y_val=y_val, progress=False, callback=stopper)
    assert stopper.stopped and len(history.val_loss) == stopper.best_epoch + 100 < 3000
    assert stopper.scores == history.val_loss
    assert history.val_loss[-1] > stopper.best_score    # the curve rose after its minimum
    stopper.restore()
    assert model.loss(x_val, y_val, training=False) == pytest.approx(min(history.val_loss),
                                                                     rel=1e-12)


def test_default_score_needs_validation_data():
    model = MLP([1, 4, 1], output="linear", seed=0)
    with pytest.raises(ValueError, match="X_val"):
        fit(model, np.zeros((4, 1)), np.zeros((4, 1)), epochs=2, progress=False,
            callback=EarlyStopping(model))


def test_restore_before_training_and_bad_arguments_raise_clear_errors():
    model = MLP([1, 4, 1], output="linear", seed=0)
    with pytest.raises(RuntimeError, match="no epoch"):
        EarlyStopping(model).restore()
    with pytest.raises(TypeError, match="model"):
        EarlyStopping(object())
    with pytest.raises(TypeError, match="score"):
        EarlyStopping(model, score=3.0)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="patience"):
            EarlyStopping(model, patience=bad)
    for bad in (-0.1, float("nan"), "0"):
        with pytest.raises(ValueError, match="min_delta"):
            EarlyStopping(model, min_delta=bad)
