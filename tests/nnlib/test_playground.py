"""nnlib.playground: building and training from settings, drawing, the widget, the headless path."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from nnlib.playground import (
    Playground,
    PlaygroundSettings,
    build_playground,
    draw_playground,
    has_widget_frontend,
    playground,
    train_playground,
)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_build_follows_the_settings():
    s = PlaygroundSettings(dataset="xor", hidden_layers=3, units=4, activation="relu",
                           regularisation="L1", regularisation_rate=0.01)
    model, (X_train, X_test, y_train, y_test) = build_playground(s)
    assert model.layer_sizes == [2, 4, 4, 4, 2] and model.activation == "relu"
    assert model.l1 == 0.01 and model.weight_decay == 0.0
    assert X_train.shape == X_test.shape == (200, 2) and y_train.shape == (200,)
    assert np.abs(np.r_[X_train, X_test]).max() <= 1.2           # scaled from [-6, 6]
    assert set(np.unique(y_test)) == {0, 1}
    l2, _ = build_playground(PlaygroundSettings(regularisation="L2", regularisation_rate=0.02))
    assert l2.weight_decay == 0.02 and l2.l1 == 0.0


def test_training_learns_the_circle_calls_back_and_is_deterministic():
    seen = []
    s = PlaygroundSettings(dataset="circle", noise=0.0, epochs=30, learning_rate=1.0)
    model, history, data = train_playground(
        s, callback=lambda e, h, m, d: seen.append((e, len(h.loss), m, d)))
    assert [e for e, *_ in seen] == list(range(30))
    assert [n for _, n, *_ in seen] == list(range(1, 31))
    assert all(m is model and d is data for *_, m, d in seen)   # the live model, for redrawing
    assert len(history.loss) == 30 and history.loss[-1] < 0.5 * history.loss[0]
    assert np.mean(model.predict(data[1]) == data[3]) > 0.9
    _, again, _ = train_playground(s)
    assert again.loss == history.loss


def test_callback_returning_false_stops_training():
    _, history, _ = train_playground(PlaygroundSettings(epochs=50),
                                     callback=lambda e, h, m, d: e < 4)
    assert len(history.loss) == 5


def test_a_linear_network_cannot_learn_xor_but_one_hidden_layer_can():
    acc = {}
    for layers, act in ((1, "tanh"), (2, "linear")):
        _, h, _ = train_playground(PlaygroundSettings(dataset="xor", hidden_layers=layers, units=8,
                                                      activation=act, learning_rate=0.3, epochs=60))
        acc[act] = h.val_accuracy[-1]
    assert acc["tanh"] > 0.9 and acc["linear"] < 0.75     # a linear net draws one straight line


def test_draw_returns_boundary_and_labelled_curves():
    model, history, data = train_playground(PlaygroundSettings(epochs=5))
    axes = draw_playground(model, history, data, title="circle")
    assert axes[0].get_title().startswith("circle\ntest accuracy")
    assert [line.get_label() for line in axes[1].get_lines()] == ["training", "test"]
    assert len(axes[1].get_lines()[0].get_ydata()) == 5
    assert axes[1].get_xlabel() == "epoch" and axes[1].get_ylabel()
    with pytest.raises(ValueError, match="data must be"):
        draw_playground(model, history, data[:2])


def test_widget_has_the_controls_and_train_updates_figure_and_history():
    pg = Playground(dataset="gauss", epochs=10, redraw_every=4)
    assert set(pg.controls) == {"dataset", "noise", "hidden_layers", "units", "activation",
                                "learning_rate", "regularisation", "regularisation_rate", "epochs"}
    assert pg.button.description == "Train" and pg.history is None and pg.draws == 0
    assert pg.current_settings() == PlaygroundSettings(dataset="gauss", epochs=10)
    odd = {"noise": 0.12, "learning_rate": 5.0, "epochs": 3, "regularisation_rate": 1e-6}
    assert Playground(**odd).current_settings() == PlaygroundSettings(**odd)  # never clamped
    pg.button.click()
    assert len(pg.history.loss) == 10 and pg.draws == 3       # after epochs 4 and 8, and at the end
    first = list(pg.history.loss)

    pg.controls["dataset"].value = "xor"
    pg.controls["units"].value = 3
    pg.controls["epochs"].value = 6
    pg.controls["regularisation"].value = "L2"
    pg.button.click()
    assert pg.current_settings().dataset == "xor"
    assert pg.model.layer_sizes == [2, 3, 3, 2] and pg.model.weight_decay > 0
    assert len(pg.history.loss) == 6 and pg.history.loss != first[:6]
    assert pg.axes[0].get_title().startswith("xor, 2×3 tanh")
    assert len(pg.axes[1].get_lines()[0].get_ydata()) == 6
    assert pg.status.value.startswith("done: 6 epochs")


def test_headless_playground_trains_once_and_draws_a_static_figure():
    assert has_widget_frontend() is False                       # plain pytest has no front-end
    pg = playground(dataset="circle", epochs=8)
    assert len(pg.history.loss) == 8 and pg.draws == 1
    assert pg.axes[0].get_title().startswith("circle")
    pg = playground(interactive=True, dataset="gauss", epochs=12)
    assert pg.draws == 2 and len(pg.history.loss) == 12


def test_bad_settings_name_the_setting():
    with pytest.raises(ValueError, match="dataset must be one of"):
        PlaygroundSettings(dataset="moons").validate()
    with pytest.raises(ValueError, match="units must be between"):
        train_playground(PlaygroundSettings(units=40))
    with pytest.raises(ValueError, match="activation must be one of"):
        build_playground(PlaygroundSettings(activation="swish"))
    with pytest.raises(ValueError, match="noise must be between"):
        build_playground(PlaygroundSettings(noise=0.9))
    with pytest.raises(TypeError, match="epochs must be an integer"):
        build_playground(PlaygroundSettings(epochs=2.5))
    with pytest.raises(TypeError, match="settings must be a PlaygroundSettings"):
        train_playground({"dataset": "xor"})
    with pytest.raises(TypeError, match="unknown playground settings"):
        Playground(layers=2)
    with pytest.raises(TypeError, match="interactive must be"):
        playground(interactive="yes")
