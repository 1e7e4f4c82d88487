"""Tests of the diagnosis: verdicts, the layers they name, and fitting remedies."""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import pytest

from gradwatch import init, nn
from gradwatch.monitor import GradientMonitor
from gradwatch.monitor.diagnosis import (
    DEAD_THRESHOLD,
    EXPLODING_RATIO,
    VANISHING_RATIO,
    VERDICTS,
)


def mlp(width, depth, activation, initialiser, seed=0, bias=True):
    rng = np.random.default_rng(seed)
    layers = []
    for i in range(depth):
        layers.append(nn.Linear(width, width, bias=bias, init=initialiser, rng=rng))
        if i < depth - 1:
            layers.append(activation())
    return nn.Sequential(*layers)


def backward_once(model, shape, seed=1):
    rng = np.random.default_rng(seed)
    out = model(rng.standard_normal(shape).astype(np.float32))
    model.backward(rng.standard_normal(out.shape).astype(np.float32))


def test_relu_layer_with_all_negative_preactivations_is_diagnosed_dead_units():
    model = mlp(20, 3, nn.ReLU, "he_normal")
    model[2].bias.value[:] = -1000.0  # every pre-activation of layer 2.Linear < 0
    monitor = GradientMonitor(model)
    backward_once(model, (16, 20))

    diagnosis = monitor.diagnose()
    assert diagnosis.verdict == "dead units"
    assert diagnosis.flagged("dead units") == ["2.Linear"]
    assert diagnosis.layer("2.Linear").dead_fraction == 1.0
    assert any("2.Linear" in r and "LeakyReLU" in r for r in diagnosis.remedies)
    assert any("bias averages -1e+03" in r for r in diagnosis.remedies)


def test_deep_tanh_with_small_weights_vanishes_and_remedies_name_the_cause():
    small = functools.partial(init.normal, std=0.02)
    model = mlp(50, 12, nn.Tanh, small)
    monitor = GradientMonitor(model)
    backward_once(model, (16, 50))

    diagnosis = monitor.diagnose()
    assert diagnosis.verdict == "vanishing"
    assert diagnosis.gradient_ratio < VANISHING_RATIO
    assert "0.Linear" in diagnosis.flagged("vanishing")
    assert diagnosis.layer("22.Linear").verdict == "healthy"
    first = diagnosis.remedies[0]
    assert "tanh" in first and "Xavier" in first and "std 0.02" in first
    assert any("BatchNorm" in r for r in diagnosis.remedies)
    assert any("residual" in r for r in diagnosis.remedies)


def test_remedies_do_not_suggest_what_the_model_already_has():
    rng = np.random.default_rng(0)
    layers = []
    for _ in range(8):
        norm = nn.BatchNorm(30)
        norm.weight.value[:] = 0.01  # shrinks the gradient into the first layer
        layers += [nn.Linear(30, 30, init="xavier_normal", rng=rng), norm, nn.Tanh()]
    block = nn.Sequential(nn.Linear(30, 30, rng=rng), nn.Tanh())
    model = nn.Sequential(*layers, nn.Residual(block), nn.Linear(30, 1, rng=rng))
    monitor = GradientMonitor(model)
    backward_once(model, (16, 30))

    diagnosis = monitor.diagnose()
    assert diagnosis.verdict == "vanishing"
    remedies = " ".join(diagnosis.remedies)
    assert "add BatchNorm" not in remedies
    assert "add residual" not in remedies
    weakest = min(diagnosis.layers[1:], key=lambda d: d.gain)
    assert weakest.name in remedies


def test_sigmoid_network_remedy_suggests_relu_with_he():
    model = mlp(40, 10, nn.Sigmoid, "xavier_normal")
    monitor = GradientMonitor(model)
    backward_once(model, (16, 40))
    diagnosis = monitor.diagnose()
    assert diagnosis.verdict == "vanishing"
    assert "sigmoid" in diagnosis.remedies[0] and "He" in diagnosis.remedies[0]


def test_relu_network_with_doubled_he_weights_explodes_and_gets_clipping_advice():
    # sigma_w^2 = 4: each layer doubles the mean squared gradient.
    model = mlp(100, 20, nn.ReLU, functools.partial(init.normal, std=0.2), bias=False)
    monitor = GradientMonitor(model)
    backward_once(model, (32, 100))

    diagnosis = monitor.diagnose()
    assert diagnosis.verdict == "exploding"
    assert diagnosis.gradient_ratio > EXPLODING_RATIO
    assert any("clip_grad_norm" in r for r in diagnosis.remedies)
    assert any("He" in r and "ReLU" in r for r in diagnosis.remedies)
    gains = [d.gain for d in diagnosis.layers[1:]]
    assert 1.5 < math.exp(np.mean(np.log(gains))) < 2.7


def test_vanilla_rnn_vanishing_through_time_suggests_lstm_and_clipping():
    rng = np.random.default_rng(0)
    rnn = nn.RNN(2, 16, rng=rng)
    rnn.weight_hh.value[:] *= 0.2
    model = nn.Sequential(rnn, nn.Linear(16, 1, rng=rng))
    monitor = GradientMonitor(model)
    out = model(rng.standard_normal((4, 30, 2)).astype(np.float32))
    model.backward(np.ones_like(out))

    diagnosis = monitor.diagnose()
    assert diagnosis.verdict == "vanishing"
    assert diagnosis.flagged() == ["0.RNN"]
    assert any("LSTM or GRU" in r for r in diagnosis.remedies)
    assert any("clip_grad_norm" in r for r in diagnosis.remedies)


def test_partly_saturated_tanh_layer_is_diagnosed_saturated_units():
    rng = np.random.default_rng(0)
    first = nn.Linear(10, 40, init="xavier_normal", rng=rng)
    first.bias.value[:15] = 30.0
    first.bias.value[15:30] = -30.0  # 30 of 40 units saturated, 10 still active
    model = nn.Sequential(first, nn.Tanh(), nn.Linear(40, 1, rng=rng))
    monitor = GradientMonitor(model)
    backward_once(model, (16, 10))

    diagnosis = monitor.diagnose()
    assert diagnosis.verdict == "saturated units"
    assert diagnosis.layer("0.Linear").saturated_fraction == pytest.approx(0.75)
    assert "0.Linear" in diagnosis.remedies[0]


def test_nonfinite_gradient_in_warn_mode_is_diagnosed_nonfinite():
    model = mlp(4, 3, nn.Tanh, "xavier_normal")
    monitor = GradientMonitor(model, on_nonfinite="warn")
    model(np.ones((2, 4), dtype=np.float32))
    upstream = np.ones((2, 4), dtype=np.float32)
    upstream[1, 2] = np.inf
    with pytest.warns(RuntimeWarning):
        model.backward(upstream)
    diagnosis = monitor.diagnose()
    assert diagnosis.verdict == "non-finite"
    assert diagnosis.layer("4.Linear").verdict == "non-finite"
    assert any("learning rate" in r for r in diagnosis.remedies)


def test_a_later_nonfinite_gradient_does_not_taint_an_earlier_step():
    model = mlp(4, 3, nn.Tanh, "xavier_normal")
    monitor = GradientMonitor(model, on_nonfinite="warn")
    backward_once(model, (2, 4))
    model.zero_grad()
    model(np.ones((2, 4), dtype=np.float32))
    upstream = np.full((2, 4), np.nan, dtype=np.float32)
    with pytest.warns(RuntimeWarning):
        model.backward(upstream)
    assert monitor.diagnose(step=0).verdict == "healthy"
    assert monitor.diagnose(step=1).verdict == "non-finite"


def test_healthy_model_has_no_remedies_and_every_verdict_is_known():
    model = mlp(64, 3, nn.ReLU, "he_normal")
    monitor = GradientMonitor(model)
    backward_once(model, (32, 64))
    diagnosis = monitor.diagnose()
    assert diagnosis.verdict == "healthy"
    assert diagnosis.remedies == []
    assert all(d.verdict in VERDICTS for d in diagnosis.layers)
    assert diagnosis.thresholds["dead_fraction"] == DEAD_THRESHOLD


def test_report_prints_verdict_layers_and_remedies_and_dict_is_json():
    model = mlp(30, 10, nn.Tanh, functools.partial(init.normal, std=0.02))
    monitor = GradientMonitor(model)
    backward_once(model, (8, 30))
    diagnosis = monitor.diagnose()

    text = str(diagnosis)
    assert "VANISHING" in text and "Remedies:" in text
    assert all(name in text for name in monitor.layer_names)
    data = json.loads(json.dumps(diagnosis.to_dict(), allow_nan=False))
    assert data["verdict"] == "vanishing"
    assert [layer["name"] for layer in data["layers"]] == monitor.layer_names
    assert data["layers"][0]["gain"] is None  # NaN for the first layer


def test_layer_diagnosis_shows_the_mean_field_prediction_for_an_mlp():
    model = mlp(100, 6, nn.ReLU, "he_normal", bias=False)
    monitor = GradientMonitor(model)
    backward_once(model, (64, 100))
    layer = monitor.diagnose().layer("4.Linear")
    w = model[4].weight.value.astype(np.float64)
    assert layer.predicted_gain == pytest.approx(100 * np.mean(w * w) / 2, rel=1e-9)
    assert any("mean-field prediction" in line for line in layer.evidence)


def test_diagnose_needs_a_recorded_step():
    monitor = GradientMonitor(mlp(4, 2, nn.ReLU, "he_normal"))
    with pytest.raises(ValueError, match="recorded nothing"):
        monitor.diagnose()
    with pytest.raises(KeyError, match="no layer"):
        model = mlp(4, 2, nn.ReLU, "he_normal")
        live = GradientMonitor(model)
        backward_once(model, (2, 4))
        live.diagnose().layer("9.Linear")
