"""Figures of a monitor's history, built without pyplot (safe on headless machines).

Each function returns a ``matplotlib.figure.Figure`` and, when ``path`` is
given, saves it there (PNG or SVG, chosen by the suffix). Figures are made
with ``Figure()`` directly rather than ``pyplot``, so no window system and no
global figure registry is involved and nothing leaks between calls.

How to read them:

- ``gradient_flow``: one group of bars per layer, input side on the left.
  Bars that shrink to the left are vanishing gradients, bars that grow to the
  left exploding ones; a healthy network has bars of similar height.
- ``gradient_evolution``: one line per layer over training; lines that fan
  out mean the layers learn at very different speeds.
- ``gradient_heatmap``: the same data as an image, layers top to bottom in
  forward order, steps left to right; a dark band at the top is a vanishing
  gradient at the input side.
- ``gradient_through_time``: for recurrent layers, the gradient reaching each
  time step; a curve falling towards t = 0 means early inputs get no credit.
- ``predicted_vs_measured``: the per-layer gain of the mean squared
  activation gradient, measured and predicted by mean-field theory; gains
  below 1 compound into vanishing, above 1 into exploding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

__all__ = [
    "gradient_evolution",
    "gradient_flow",
    "gradient_heatmap",
    "gradient_through_time",
    "predicted_vs_measured",
]

_LABELS = {
    "weight_norm": "weight-gradient L2 norm ||dL/dW||",
    "weight_mean_abs": "mean |dL/dW|",
    "weight_max_abs": "max |dL/dW|",
    "bias_norm": "bias-gradient L2 norm ||dL/db||",
    "bias_mean_abs": "mean |dL/db|",
    "bias_max_abs": "max |dL/db|",
    "activation_rms": "activation-gradient RMS of dL/da",
    "update_ratio": "update-to-weight ratio ||dW|| / ||W||",
    "dead_fraction": "fraction of dead ReLU units",
    "saturated_fraction": "fraction of saturated units",
}
_FRACTIONS = ("dead_fraction", "saturated_fraction")


def _finish(figure: Figure, path) -> Figure:
    figure.tight_layout()
    if path is not None:
        path = Path(path)
        if path.suffix.lower() not in (".png", ".svg"):
            raise ValueError(f"save figures as .png or .svg, got {path.name!r}")
        figure.savefig(path, dpi=120)
    return figure


def _positive(values: np.ndarray) -> np.ndarray:
    """Values for a log axis: zeros and NaN become NaN (not drawn)."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(values > 0, values, np.nan)


def _tick_labels(axes, names: list[str]) -> None:
    axes.set_xticks(range(len(names)))
    rotation = 0 if len(names) <= 6 else 90
    axes.set_xticklabels(names, rotation=rotation, fontsize=8 if len(names) > 12 else 9)


def _check_stat(stat: str) -> None:
    if stat not in _LABELS:
        raise ValueError(f"unknown statistic {stat!r}; choose one of {tuple(_LABELS)}")


def gradient_flow(monitor, step: int = -1, path=None) -> Figure:
    """Bars of mean and max |dL/dW| per layer at one step, log scale.

    The activation-gradient RMS of each layer is drawn over the bars as a
    line with markers.

    Parameters
    ----------
    monitor : GradientMonitor
    step : int
        Index into ``monitor.steps`` (default: the last recorded step).
    path : str or Path, optional
        Where to save the figure (.png or .svg).
    """
    row = monitor._resolve_row(step)
    names = monitor.layer_names
    x = np.arange(len(names))
    mean = _positive(monitor.history("weight_mean_abs")[row])
    largest = _positive(monitor.history("weight_max_abs")[row])
    rms = _positive(monitor.history("activation_rms")[row])

    figure = Figure(figsize=(max(6.0, 0.35 * len(names) + 3), 4.5))
    axes = figure.add_subplot()
    axes.bar(x, largest, width=0.8, color="tab:cyan", alpha=0.5, label="max |dL/dW|")
    axes.bar(x, mean, width=0.5, color="tab:blue", label="mean |dL/dW|")
    axes.plot(x, rms, "o-", color="tab:red", ms=4, label="activation-gradient RMS")
    axes.set_yscale("log")
    _tick_labels(axes, names)
    axes.set_xlabel("layer (input side left, forward order)")
    axes.set_ylabel("gradient magnitude (log scale)")
    axes.set_title(
        f"Gradient flow at backward call {int(monitor.steps[row])} "
        f"(gradient ratio {monitor.gradient_ratio(row):.2g})"
    )
    axes.legend(loc="best", fontsize=8)
    axes.grid(True, which="major", axis="y", alpha=0.3)
    return _finish(figure, path)


def gradient_evolution(monitor, stat: str = "activation_rms", path=None) -> Figure:
    """One line per layer: a statistic over the recorded steps, log scale.

    With more than 10 layers the lines are coloured by depth with a colour
    bar instead of a legend.
    """
    _check_stat(stat)
    values = monitor.history(stat)
    steps = monitor.steps
    names = monitor.layer_names
    figure = Figure(figsize=(7.5, 4.5))
    axes = figure.add_subplot()
    cmap = colormaps["viridis"]
    many = len(names) > 10
    for i, name in enumerate(names):
        colour = cmap(i / max(len(names) - 1, 1))
        series = values[:, i] if stat in _FRACTIONS else _positive(values[:, i])
        axes.plot(steps, series, color=colour, lw=1.2, label=None if many else name)
    if stat not in _FRACTIONS:
        axes.set_yscale("log")
    axes.set_xlabel("backward call (training step)")
    unit = "fraction of units" if stat in _FRACTIONS else "log scale"
    axes.set_ylabel(f"{_LABELS[stat]} ({unit})")
    axes.set_title(f"Evolution of the {_LABELS[stat]} per layer")
    if many:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        mappable = ScalarMappable(norm=Normalize(0, len(names) - 1), cmap=cmap)
        bar = figure.colorbar(mappable, ax=axes)
        bar.set_label(f"layer index ({names[0]} to {names[-1]})")
    else:
        axes.legend(loc="best", fontsize=8)
    axes.grid(True, alpha=0.3)
    return _finish(figure, path)


def gradient_heatmap(monitor, stat: str = "activation_rms", path=None) -> Figure:
    """Layers x steps image of log10 of a statistic (fractions drawn as is)."""
    _check_stat(stat)
    values = monitor.history(stat).T
    names = monitor.layer_names
    steps = monitor.steps
    if stat in _FRACTIONS:
        image, label = values, _LABELS[stat]
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            image = np.log10(_positive(values))
        label = f"log10 {_LABELS[stat]}"
    figure = Figure(figsize=(8.0, max(3.5, 0.22 * len(names) + 1.5)))
    axes = figure.add_subplot()
    extent = (
        float(steps[0]) - 0.5 if steps.size else -0.5,
        float(steps[-1]) + 0.5 if steps.size else 0.5,
        len(names) - 0.5,
        -0.5,
    )
    shown = axes.imshow(
        np.ma.masked_invalid(image), aspect="auto", cmap="magma", extent=extent
    )
    axes.set_yticks(range(len(names)))
    axes.set_yticklabels(names, fontsize=8 if len(names) > 12 else 9)
    axes.set_xlabel("backward call (training step)")
    axes.set_ylabel("layer (input side at the top)")
    axes.set_title(f"{_LABELS[stat]} per layer and step")
    bar = figure.colorbar(shown, ax=axes)
    bar.set_label(label)
    return _finish(figure, path)


def gradient_through_time(series: dict[str, np.ndarray], path=None) -> Figure:
    """Gradient through time of one or more recurrent layers, log scale.

    Parameters
    ----------
    series : dict of str to ndarray
        Label -> (T,) array of the mean over the batch of ||dL/dh_t||_2 (for
        example ``{"RNN": rnn.grad_through_time, "LSTM": lstm.grad_through_time}``
        or a row of ``monitor.grad_through_time(name)``).
    path : str or Path, optional
    """
    if not isinstance(series, dict) or not series:
        raise ValueError(
            "gradient_through_time takes a non-empty dict of label -> (T,) array"
        )
    figure = Figure(figsize=(7.5, 4.5))
    axes = figure.add_subplot()
    for label, values in series.items():
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1:
            raise ValueError(
                f"series {label!r} has shape {values.shape}; give one (T,) array per "
                "label (pick a row of monitor.grad_through_time(name))"
            )
        axes.plot(np.arange(values.size), _positive(values), "o-", ms=3, label=label)
    axes.set_yscale("log")
    axes.set_xlabel("time step t (0 = first input)")
    axes.set_ylabel("||dL/dh_t||_2, mean over the batch (log scale)")
    axes.set_title("Gradient through time")
    axes.legend(loc="best", fontsize=8)
    axes.grid(True, which="major", alpha=0.3)
    return _finish(figure, path)


def predicted_vs_measured(
    monitor, prediction=None, path=None, *, step: int = 0
) -> Figure:
    """Measured per-layer gain of the mean squared activation gradient vs theory.

    Parameters
    ----------
    monitor : GradientMonitor
    prediction : theory.Prediction, optional
        Defaults to ``monitor.prediction`` (made from the weights the model
        had when the monitor attached).
    path : str or Path, optional
    step : int, keyword-only
        Index into ``monitor.steps`` of the measured gains; default 0, the
        first recorded step, whose weights are the ones predicted from.

    Raises
    ------
    ValueError
        When there is no prediction (the model is not a Linear/activation MLP).
    """
    prediction = prediction if prediction is not None else monitor.prediction
    if prediction is None:
        raise ValueError(
            "no mean-field prediction for this model (theory.predict covers "
            "Sequential MLPs of Linear and activation layers); pass prediction="
        )
    names = monitor.layer_names
    row = monitor._resolve_row(step)
    measured = monitor.gains(row)
    by_name = dict(zip(prediction.layer_names, prediction.gain, strict=True))
    predicted = np.array([by_name.get(name, np.nan) for name in names])
    x = np.arange(len(names))

    figure = Figure(figsize=(max(6.0, 0.3 * len(names) + 3), 4.5))
    axes = figure.add_subplot()
    axes.plot(x, _positive(predicted), "-", color="tab:gray", lw=2, label="predicted")
    axes.plot(x, _positive(measured), "o", color="tab:red", ms=5, label="measured")
    axes.axhline(1.0, color="black", lw=0.8, ls="--", label="gain 1 (stable)")
    shown = np.concatenate([predicted, measured])
    shown = shown[np.isfinite(shown) & (shown > 0)]
    # A log axis only pays off when the gains span more than a factor of 10.
    if shown.size and shown.max() / shown.min() > 10:
        axes.set_yscale("log")
    _tick_labels(axes, names)
    axes.set_xlabel("layer (input side left)")
    axes.set_ylabel("gain of the mean squared activation gradient")
    axes.set_title(
        f"Per-layer gradient gain, predicted vs measured "
        f"(backward call {int(monitor.steps[row])})"
    )
    axes.legend(loc="best", fontsize=8)
    axes.grid(True, which="major", axis="y", alpha=0.3)
    return _finish(figure, path)
