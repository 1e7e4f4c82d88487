"""Small helpers shared by every layer: random generators, dtypes, array checks."""

from __future__ import annotations

import numpy as np

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` from a generator, an integer seed or None.

    An integer always gives the same stream, so the same seed gives the same
    weights bit for bit. ``None`` draws fresh entropy (not reproducible).
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, int | np.integer):
        if rng is not None and rng < 0:
            raise ValueError(f"rng seed must be a non-negative integer, got {rng}")
        return np.random.default_rng(rng)
    raise TypeError(
        "rng must be a numpy.random.Generator, an integer seed or None, "
        f"got {type(rng).__name__}"
    )


def as_dtype(dtype) -> np.dtype:
    """Validate a floating dtype: float32 (the default everywhere) or float64."""
    dt = np.dtype(dtype)
    if dt not in SUPPORTED_DTYPES:
        raise TypeError(
            f"dtype must be float32 or float64, got {dt}; "
            "pass dtype=np.float32 for speed or dtype=np.float64 for gradient checks"
        )
    return dt


def check_features(x: np.ndarray, expected: int, where: str) -> None:
    """Raise a clear error when the last axis of ``x`` is not ``expected`` wide."""
    if x.ndim < 1 or x.shape[-1] != expected:
        raise ValueError(
            f"{where} expects inputs whose last axis has {expected} features, "
            f"got an array of shape {x.shape}"
        )


def positive_int(value, name: str) -> int:
    """Return ``value`` as an int, refusing anything that is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
