"""Regenerate the example figures of docs/monitor.md (PNG files in docs/images/).

Run from the repository root::

    python docs/make_monitor_figures.py

Everything is seeded, so the figures come out the same on every run (up to
the BLAS library's rounding). Takes a few seconds.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from gradwatch import init, nn
from gradwatch.monitor import GradientMonitor, plots
from gradwatch.optim import SGD

IMAGES = Path(__file__).resolve().parent / "images"


def relu_mlp(initialiser, depth=30, width=100, seed=0):
    rng = np.random.default_rng(seed)
    layers = []
    for i in range(depth):
        layers.append(nn.Linear(width, width, bias=False, init=initialiser, rng=rng))
        if i < depth - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def one_backward(model, features, batch=64, seed=1):
    rng = np.random.default_rng(seed)
    out = model(rng.standard_normal((batch, features)).astype(np.float32))
    model.backward(rng.standard_normal(out.shape).astype(np.float32))


def flow_figures() -> None:
    for name in ("xavier_uniform", "he_normal"):
        model = relu_mlp(name)
        monitor = GradientMonitor(model)
        one_backward(model, 100)
        short = name.split("_")[0]
        plots.gradient_flow(monitor, path=IMAGES / f"monitor_flow_relu30_{short}.png")
        print(f"30-layer ReLU, {name}: {monitor.diagnose().verdict}")


def tanh_prediction_figure() -> None:
    width, depth, weight_var, bias_var = 300, 40, 3.0, 0.05
    rng = np.random.default_rng(3)
    layers = []
    for i in range(depth):
        linear = nn.Linear(
            width,
            width,
            init=functools.partial(init.normal, std=math.sqrt(weight_var / width)),
            dtype=np.float64,
            rng=rng,
        )
        linear.bias.value[:] = rng.normal(0.0, math.sqrt(bias_var), width)
        layers.append(linear)
        if i < depth - 1:
            layers.append(nn.Tanh(dtype=np.float64))
    model = nn.Sequential(*layers)
    monitor = GradientMonitor(model)
    out = model(rng.standard_normal((32, width)))
    model.backward(rng.standard_normal(out.shape))
    plots.predicted_vs_measured(monitor, path=IMAGES / "monitor_gain_tanh40.png")


def training_figures() -> None:
    """A 20-layer tanh MLP with small Gaussian weights, trained for 150 SGD steps."""
    rng = np.random.default_rng(0)
    layers = []
    for i in range(20):
        layers.append(
            nn.Linear(64, 64, init=functools.partial(init.normal, std=0.1), rng=rng)
        )
        if i < 19:
            layers.append(nn.Tanh())
    model = nn.Sequential(*layers)
    optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9)
    monitor = GradientMonitor(model, every=5, optimizer=optimizer)
    loss = nn.MSELoss()
    x = rng.standard_normal((128, 64)).astype(np.float32)
    y = np.sin(x[:, :64]).astype(np.float32)
    for _ in range(150):
        optimizer.zero_grad()
        loss.forward(model(x), y)
        model.backward(loss.backward())
        optimizer.step()
    plots.gradient_evolution(monitor, path=IMAGES / "monitor_evolution_tanh20.png")
    plots.gradient_heatmap(monitor, path=IMAGES / "monitor_heatmap_tanh20.png")
    print(monitor.diagnose())


def through_time_figure() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 60, 4)).astype(np.float32)
    series = {}
    for cls in (nn.RNN, nn.LSTM, nn.GRU):
        layer = cls(4, 32, rng=1)
        out = layer(x)
        layer.backward(np.ones_like(out))
        series[cls.__name__] = layer.grad_through_time
    plots.gradient_through_time(series, path=IMAGES / "monitor_through_time.png")


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    flow_figures()
    tanh_prediction_figure()
    training_figures()
    through_time_figure()


if __name__ == "__main__":
    main()
