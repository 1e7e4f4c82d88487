"""Tests of gradwatch.training: the studies' mini-batch fit loop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradwatch import nn
from gradwatch.optim import SGD
from gradwatch.training import FitHistory, evaluate, fit, predict


def regression_data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype(np.float32)
    return x, y


def test_fit_lowers_the_loss_and_counts_steps_and_epochs():
    x, y = regression_data()
    model = nn.Sequential(nn.Linear(3, 1, rng=0))
    history = fit(
        model,
        nn.MSELoss(),
        SGD(model.parameters(), lr=0.1),
        x,
        y,
        epochs=10,
        batch_size=32,
        rng=0,
    )
    assert len(history.train_loss) == 10
    assert history.steps == 10 * 3
    assert history.train_loss[-1] < 0.01 * history.train_loss[0]
    assert not history.diverged


def test_fit_reports_progress_after_every_step():
    x, y = regression_data(n=50)
    model = nn.Linear(3, 1, rng=0)
    calls = []
    fit(
        model,
        nn.MSELoss(),
        SGD(model.parameters(), lr=0.01),
        x,
        y,
        epochs=2,
        batch_size=20,
        rng=0,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(i, 6) for i in range(1, 7)]


def test_fit_lets_an_interrupt_from_the_progress_callback_through():
    x, y = regression_data()
    model = nn.Linear(3, 1, rng=0)

    def interrupt(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(
            model,
            nn.MSELoss(),
            SGD(model.parameters(), lr=0.01),
            x,
            y,
            epochs=1,
            progress=interrupt,
        )


def test_fit_clips_the_global_gradient_norm_before_each_step():
    x, y = regression_data()
    y = y * 1000.0
    model = nn.Linear(3, 1, rng=0)
    norms_seen = []

    class Recorder(SGD):
        def step(self):
            norms_seen.append(
                math.sqrt(
                    sum(
                        float(np.sum(p.grad.astype(np.float64) ** 2))
                        for p in self.params
                    )
                )
            )
            super().step()

    history = fit(
        model,
        nn.MSELoss(),
        Recorder(model.parameters(), lr=1e-4),
        x,
        y,
        epochs=1,
        batch_size=32,
        clip_norm=0.5,
        rng=0,
    )
    assert len(history.grad_norm) == history.steps == 3
    assert min(history.grad_norm) > 0.5
    assert max(norms_seen) <= 0.5 * (1 + 1e-5)


def test_fit_stops_when_the_loss_is_not_finite():
    x, y = regression_data()
    model = nn.Linear(3, 1, rng=0)

    class NanLoss(nn.MSELoss):
        def forward(self, pred, target):
            return math.nan

    history = fit(model, NanLoss(), SGD(model.parameters(), lr=0.01), x, y, epochs=3)
    assert history.diverged and history.steps == 0
    assert history.to_dict()["train_loss"] == [None]


def test_fit_with_the_same_seed_gives_identical_weights():
    x, y = regression_data()
    weights = []
    for _ in range(2):
        model = nn.Sequential(nn.Linear(3, 4, rng=1), nn.Tanh(), nn.Linear(4, 1, rng=2))
        fit(
            model,
            nn.MSELoss(),
            SGD(model.parameters(), lr=0.05, momentum=0.9),
            x,
            y,
            epochs=2,
            batch_size=16,
            rng=7,
        )
        weights.append([p.value.copy() for p in model.parameters()])
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_fit_records_validation_loss_per_epoch():
    x, y = regression_data()
    model = nn.Linear(3, 1, rng=0)
    history = fit(
        model,
        nn.MSELoss(),
        SGD(model.parameters(), lr=0.05),
        x[:64],
        y[:64],
        epochs=3,
        x_val=x[64:],
        y_val=y[64:],
        rng=0,
    )
    assert len(history.val_loss) == 3
    expected = float(np.mean((model(x[64:]) - y[64:]) ** 2))
    assert history.val_loss[-1] == pytest.approx(expected, rel=1e-5)


def test_predict_uses_eval_mode_and_restores_training_mode():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.BatchNorm(4))
    x = rng.standard_normal((10, 3)).astype(np.float32)
    model(x)
    norm = model[1]
    expected = (model[0](x) - norm.running_mean) / np.sqrt(norm.running_var + norm.eps)
    out = predict(model, x, batch_size=3)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert model.training


def test_evaluate_is_the_loss_over_the_whole_set():
    x, y = regression_data(n=10)
    model = nn.Linear(3, 1, rng=0)
    expected = float(np.mean((x @ model.weight.value + model.bias.value - y) ** 2))
    assert evaluate(model, nn.MSELoss(), x, y, batch_size=4) == pytest.approx(
        expected, rel=1e-5
    )


def test_fit_refuses_mismatched_inputs():
    model = nn.Linear(3, 1, rng=0)
    optimizer = SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="samples"):
        fit(
            model, nn.MSELoss(), optimizer, np.zeros((4, 3)), np.zeros((5, 1)), epochs=1
        )
    with pytest.raises(ValueError, match="epochs"):
        fit(
            model, nn.MSELoss(), optimizer, np.zeros((4, 3)), np.zeros((4, 1)), epochs=0
        )


def test_history_to_dict_is_json_ready():
    history = FitHistory(
        train_loss=[1.0, math.inf], val_loss=[0.5], grad_norm=[2.0, 3.0], steps=4
    )
    assert history.to_dict() == {
        "train_loss": [1.0, None],
        "val_loss": [0.5],
        "steps": 4,
        "diverged": False,
        "diverged_epoch": None,
        "max_grad_norm": 3.0,
    }


def test_fit_records_the_epoch_of_divergence_without_numpy_warnings():
    x, y = (a.astype(np.float64) for a in regression_data())
    model = nn.Linear(3, 1, dtype=np.float64, rng=0)
    # A learning rate this large overflows the weights within a few steps;
    # the pytest configuration turns any NumPy RuntimeWarning into an error.
    history = fit(
        model,
        nn.MSELoss(),
        SGD(model.parameters(), lr=1e150),
        x * 1e100,
        y,
        epochs=5,
        batch_size=len(x),
    )
    assert history.diverged
    assert history.diverged_epoch == history.steps + 1
    assert history.to_dict()["diverged_epoch"] == history.diverged_epoch
