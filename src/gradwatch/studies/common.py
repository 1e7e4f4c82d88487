"""Small pieces the three studies share: seeding, progress, monitor read-outs."""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

__all__ = ["Progress", "layer_rms_history", "model_rng", "silent"]

#: ``progress(label, done, total)``: called after each training step.
Progress = Callable[[str, int, int], None]


def silent(label: str, done: int, total: int) -> None:
    """The progress callback used when none is given."""


def model_rng(seed: int, study: str, index: int) -> np.random.Generator:
    """An independent, reproducible generator for model ``index`` of ``study``.

    The same (seed, study, index) always gives the same stream, and changing
    one model's settings does not change the others' initial weights.
    """
    return np.random.default_rng([int(seed), zlib.crc32(study.encode()), int(index)])


def layer_rms_history(monitor) -> np.ndarray:
    """Activation-gradient RMS of every layer with parameters at each record.

    Returns
    -------
    ndarray, shape (n_recorded, n_layers)
        Columns in forward order: the first layer with parameters first, the
        output layer last.
    """
    return np.asarray(monitor.history("activation_rms"), dtype=np.float64)
