"""Small pieces the three studies share: seeding, progress, monitor read-outs."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable

import numpy as np

__all__ = [
    "DIVERGED",
    "Progress",
    "layer_rms_history",
    "max_grad_norm",
    "model_rng",
    "monitor_readout",
    "silent",
    "verdict_change",
]

#: The verdict of a run whose loss became NaN or infinite during training.
DIVERGED = "diverged"

#: ``progress(label, done, total)``: called after each training step.
Progress = Callable[[str, int, int], None]


def silent(label: str, done: int, total: int) -> None:
    """The progress callback used when none is given."""


def model_rng(seed: int, *key) -> np.random.Generator:
    """An independent, reproducible generator for one purpose of one run.

    ``key`` names the purpose, e.g. ``("depth", "tanh / small", 10, "init")``.
    The same (seed, key) always gives the same stream, and adding or
    removing another run does not change this one's weights or shuffles.
    """
    text = "/".join(str(part) for part in key)
    return np.random.default_rng([int(seed), zlib.crc32(text.encode())])


def layer_rms_history(monitor) -> np.ndarray:
    """Activation-gradient RMS of every layer with parameters at each record.

    Returns
    -------
    ndarray, shape (n_recorded, n_layers)
        Columns in forward order: the first layer with parameters first, the
        output layer last.
    """
    return np.asarray(monitor.history("activation_rms"), dtype=np.float64)


def max_grad_norm(monitor) -> float:
    """The largest global gradient norm (all weights and biases) the monitor saw.

    Computed from the per-layer weight- and bias-gradient norms of every
    recorded step, before any clipping.
    """
    weights = np.asarray(monitor.history("weight_norm"), dtype=np.float64)
    biases = np.asarray(monitor.history("bias_norm"), dtype=np.float64)
    squared = np.nansum(weights**2, axis=1) + np.nansum(biases**2, axis=1)
    return float(np.sqrt(squared.max())) if squared.size else float("nan")


def monitor_readout(monitor, history) -> dict:
    """The monitor's verdicts and gradient ratios, also for a diverged run.

    Parameters
    ----------
    monitor : GradientMonitor
        Detached after training.
    history : gradwatch.training.FitHistory

    Returns
    -------
    dict
        ``verdict`` (after training; ``"diverged"`` when the loss became
        NaN or infinite), ``verdict_init``, ``gradient_ratio_init``,
        ``gradient_ratio_final`` (NaN when nothing finite was recorded),
        ``diagnosis`` (``GradientMonitor.diagnose().to_dict()`` or None),
        ``recorded`` (steps the monitor recorded).
    """
    recorded = len(monitor.steps)
    readout = {
        "verdict": DIVERGED,
        "verdict_init": DIVERGED,
        "gradient_ratio_init": math.nan,
        "gradient_ratio_final": math.nan,
        "diagnosis": None,
        "recorded": recorded,
    }
    if recorded == 0:
        return readout
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        readout["verdict_init"] = monitor.diagnose(step=0).verdict
        readout["gradient_ratio_init"] = float(monitor.gradient_ratio(step=0))
        readout["gradient_ratio_final"] = float(monitor.gradient_ratio(step=-1))
        if not history.diverged:
            diagnosis = monitor.diagnose()
            readout["verdict"] = diagnosis.verdict
            readout["diagnosis"] = diagnosis.to_dict()
    return readout


def verdict_change(before: str, after: str) -> str:
    """``"vanishing \u2192 healthy"``: the verdict at initialisation, then after."""
    return f"{before} \u2192 {after}"
