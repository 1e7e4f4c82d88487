"""Small pieces the three studies share: seeding, progress, monitor read-outs."""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

__all__ = ["Progress", "layer_rms_history", "max_grad_norm", "model_rng", "silent"]

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
