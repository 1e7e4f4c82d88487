"""A deep MLP on a real time series, watched by the gradient monitor.

The classic setup that vanishes: a 16-layer tanh MLP (width 32) with small
Gaussian weights (std 0.1) learns to predict AAPL's next daily log return
from the previous 20 (the real series shipped with ``bokeh-sampledata``;
see ``gradwatch.data``). A ``GradientMonitor`` records every 5th backward
pass, and its diagnosis names the problem and the remedies that fit this
model.

Each layer multiplies the squared size of the backward signal by about
Var(W) * width * E[tanh'(a)^2] ~ 0.01 * 32 * 1 ~ 0.3 (the units are far
from saturation, so tanh' ~ 1), so fifteen layers leave the first layer
with a gradient several orders of magnitude below the last one's (Poole et
al. 2016; Schoenholz et al. 2017).

What to look for: the table of activation-gradient RMS per layer falling
towards the input, the verdict "vanishing", and the remedies. A plot of the
gradient flow is saved to ``--out`` (a new temporary directory by default).

Run: ``python examples/09_deep_mlp_timeseries_monitoring.py [--out DIR]``
"""

import argparse
import tempfile
from functools import partial
from pathlib import Path

import numpy as np

import gradwatch
from gradwatch.data import load_stock, make_windows
from gradwatch.monitor import plots
from gradwatch.nn import Linear, MSELoss, Sequential, Tanh
from gradwatch.optim import SGD

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, default=None, help="folder for the figure")
args = parser.parse_args()
out = args.out or Path(tempfile.mkdtemp(prefix="gradwatch-example-"))

DEPTH, WIDTH, LOOKBACK = 16, 32, 20

windows = make_windows(load_stock("AAPL"), lookback=LOOKBACK, horizon=1)
x = windows.train.x.reshape(len(windows.train), -1)
y = windows.train.y

rng = np.random.default_rng(0)
small = partial(gradwatch.init.normal, std=0.1)
sizes = [LOOKBACK] + [WIDTH] * (DEPTH - 1) + [1]
layers = []
for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
    layers += [Linear(fan_in, fan_out, init=small, rng=rng), Tanh()]
model = Sequential(*layers[:-1])

optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
loss = MSELoss()
with gradwatch.GradientMonitor(model, every=5, optimizer=optimizer) as monitor:
    for _epoch in range(3):
        order = rng.permutation(len(x))
        for start in range(0, len(order), 64):
            rows = order[start : start + 64]
            optimizer.zero_grad()
            loss.forward(model(x[rows]), y[rows])
            model.backward(loss.backward())
            optimizer.step()

rms = monitor.history("activation_rms")[-1]
print(
    f"{len(monitor.steps)} backward passes recorded; activation-gradient RMS "
    "at the last one:"
)
for name, value in zip(monitor.layer_names, rms, strict=True):
    print(f"  {name:10s} {value:.3e}")
print(f"gradient ratio first/last layer: {monitor.gradient_ratio():.2e}")
diagnosis = monitor.diagnose()
print(f"verdict: {diagnosis.verdict}\n")
print(diagnosis)

figure_path = out / "gradient_flow.png"
plots.gradient_flow(monitor, path=figure_path)
print(f"\ngradient flow plot saved to {figure_path}")
