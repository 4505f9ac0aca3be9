"""nnlib.playground: training from settings, drawing, and the widget's controls."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nnlib.playground import Playground, PlaygroundSettings, draw_playground, train_playground  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_training_learns_the_circle_and_is_deterministic():
    s = PlaygroundSettings(dataset="circle", noise=0.0, epochs=40, learning_rate=0.3)
    model, history, data = train_playground(s)
    assert len(history.loss) == 40 and history.loss[-1] < history.loss[0]
    assert np.mean(model.predict(data[1]) == data[3]) > 0.9
    _, again, _ = train_playground(s)
    assert again.loss == history.loss


def test_regularisation_and_architecture_follow_the_settings():
    model, _, _ = train_playground(PlaygroundSettings(hidden_layers=3, units=4, epochs=2,
                                                      regularisation="L2",
                                                      regularisation_rate=0.01))
    assert model.layer_sizes == [2, 4, 4, 4, 2] and model.weight_decay == 0.01


def test_draw_returns_boundary_and_curves():
    model, history, data = train_playground(PlaygroundSettings(epochs=5))
    axes = draw_playground(model, history, data)
    assert axes[0].get_title().startswith("Test accuracy")
    assert [line.get_label() for line in axes[1].get_lines()] == ["training", "test"]


def test_widget_controls_drive_training():
    pg = Playground(dataset="gauss", epochs=5)
    assert set(pg.controls) >= {"dataset", "noise", "hidden_layers", "units", "activation",
                                "learning_rate", "regularisation", "regularisation_rate"}
    pg.controls["dataset"].value = "xor"
    pg.controls["units"].value = 3
    pg.button.click()
    assert pg.current_settings().dataset == "xor"
    assert pg.model.layer_sizes == [2, 3, 3, 2] and len(pg.history.loss) == 5
    first = list(pg.history.loss)
    pg.controls["learning_rate"].value = 0.3
    pg.button.click()
    assert pg.history.loss != first
    assert pg.figure()[0].get_title().startswith("Test accuracy")


def test_bad_settings_name_the_setting():
    with pytest.raises(ValueError, match="dataset must be one of"):
        PlaygroundSettings(dataset="moons").validate()
    with pytest.raises(ValueError, match="units must be between"):
        train_playground(PlaygroundSettings(units=40))
