"""Tests of gradwatch.monitor.plots: every figure renders headless to PNG and SVG."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from gradwatch import nn
from gradwatch.monitor import GradientMonitor, plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def monitor():
    rng = np.random.default_rng(0)
    layers = []
    for i in range(12):
        layers.append(nn.Linear(16, 16, init="he_normal", rng=rng))
        if i < 11:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    watched = GradientMonitor(model)
    for _ in range(4):
        model.zero_grad()
        out = model(rng.standard_normal((8, 16)).astype(np.float32))
        model.backward(rng.standard_normal(out.shape).astype(np.float32))
    return watched


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 1000


def test_gradient_flow_writes_a_png(monitor, tmp_path):
    figure = plots.gradient_flow(monitor, path=tmp_path / "flow.png")
    assert isinstance(figure, Figure)
    assert_png(tmp_path / "flow.png")
    axes = figure.axes[0]
    assert axes.get_yscale() == "log"
    assert axes.get_title() and axes.get_xlabel() and axes.get_ylabel()
    assert len(axes.get_legend().get_texts()) == 3


@pytest.mark.parametrize("stat", ["activation_rms", "weight_norm", "dead_fraction"])
def test_gradient_evolution_draws_one_line_per_layer(monitor, tmp_path, stat):
    figure = plots.gradient_evolution(monitor, stat, path=tmp_path / "evolution.png")
    assert len(figure.axes[0].get_lines()) == len(monitor.layer_names)
    assert_png(tmp_path / "evolution.png")


def test_gradient_heatmap_writes_svg(monitor, tmp_path):
    figure = plots.gradient_heatmap(monitor, path=tmp_path / "heatmap.svg")
    text = (tmp_path / "heatmap.svg").read_text()
    assert "<svg" in text
    assert figure.axes[0].get_images()[0].get_array().shape == (
        len(monitor.layer_names),
        monitor.steps.size,
    )


def test_gradient_through_time_plots_each_series(tmp_path):
    series = {"RNN": np.geomspace(1e-6, 1.0, 20), "LSTM": np.linspace(0.5, 1.0, 20)}
    figure = plots.gradient_through_time(series, path=tmp_path / "time.png")
    assert [line.get_label() for line in figure.axes[0].get_lines()] == ["RNN", "LSTM"]
    assert_png(tmp_path / "time.png")
    with pytest.raises(ValueError, match="one \\(T,\\) array"):
        plots.gradient_through_time({"x": np.ones((2, 3))})
    with pytest.raises(ValueError, match="non-empty dict"):
        plots.gradient_through_time({})


def test_predicted_vs_measured_uses_the_monitors_prediction(monitor, tmp_path):
    figure = plots.predicted_vs_measured(monitor, path=tmp_path / "gain.png")
    assert_png(tmp_path / "gain.png")
    predicted, measured = figure.axes[0].get_lines()[:2]
    np.testing.assert_allclose(predicted.get_ydata()[1:], monitor.prediction.gain[1:])
    np.testing.assert_allclose(measured.get_ydata()[1:], monitor.gains(0)[1:])


def test_predicted_vs_measured_without_a_prediction_is_refused():
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm(3), nn.Linear(3, 1))
    watched = GradientMonitor(model)
    out = model(np.ones((4, 3), dtype=np.float32) * np.arange(4)[:, None])
    model.backward(np.ones_like(out))
    with pytest.raises(ValueError, match="no mean-field prediction"):
        plots.predicted_vs_measured(watched)


def test_loaded_monitor_plots_like_the_live_one(monitor, tmp_path):
    loaded = GradientMonitor.load(monitor.save(tmp_path / "run.npz"))
    plots.gradient_flow(loaded, path=tmp_path / "flow.png")
    plots.predicted_vs_measured(loaded, path=tmp_path / "gain.png")
    assert_png(tmp_path / "flow.png")
    assert_png(tmp_path / "gain.png")


def test_bad_suffix_and_unknown_statistic_are_refused(monitor, tmp_path):
    with pytest.raises(ValueError, match=".png or .svg"):
        plots.gradient_flow(monitor, path=tmp_path / "flow.jpg")
    with pytest.raises(ValueError, match="unknown statistic"):
        plots.gradient_heatmap(monitor, "gradient")
