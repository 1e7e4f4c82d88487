"""The adding problem: a sequence task that needs memory over long spans.

Each sequence has ``T`` steps and two channels. Channel 0 holds values drawn
uniformly from [0, 1]; channel 1 is a marker that is 1 at exactly two steps
(one in the first half of the sequence, one in the second) and 0 elsewhere.
The target is the sum of the two marked values. A model that ignores the
input and always answers the mean, 1.0, has mean squared error equal to the
variance of a sum of two independent U(0, 1) values: 2/12 = 0.1667. Beating
that requires carrying the first marked value across about ``T/2`` steps,
which is where the gradient through time of a vanilla RNN vanishes.

References
----------
Hochreiter, S. & Schmidhuber, J. (1997). Long short-term memory. Neural
Computation 9(8), experiment 4.
Le, Q. V., Jaitly, N. & Hinton, G. E. (2015). A simple way to initialize
recurrent networks of rectified linear units. arXiv:1504.00941 (the
one-marker-per-half variant used here).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_dtype, as_rng
from .errors import DataError

__all__ = ["ADDING_BASELINE_MSE", "adding_problem"]

#: MSE of always answering 1.0: Var(U1 + U2) = 2 * (1/12).
ADDING_BASELINE_MSE = 1.0 / 6.0


def adding_problem(
    n_samples: int, length: int, *, dtype=np.float32, rng=None
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n_samples`` sequences of the adding problem.

    Parameters
    ----------
    n_samples : int
        How many sequences.
    length : int
        ``T``, the number of steps (at least 2).
    dtype : float32 or float64, keyword-only
    rng : numpy.random.Generator or int, keyword-only
        The same seed gives the same sequences.

    Returns
    -------
    x : ndarray, shape (n_samples, length, 2)
        Channel 0: values; channel 1: markers.
    y : ndarray, shape (n_samples, 1)
        Sum of the two marked values.
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise DataError(f"n_samples must be a positive integer, got {n_samples!r}")
    if isinstance(length, bool) or not isinstance(length, int) or length < 2:
        raise DataError(f"the sequence length must be an integer >= 2, got {length!r}")
    dtype = as_dtype(dtype)
    generator = as_rng(rng)

    values = generator.uniform(0.0, 1.0, size=(n_samples, length))
    half = length // 2
    first = generator.integers(0, half, size=n_samples)
    second = generator.integers(half, length, size=n_samples)
    markers = np.zeros((n_samples, length))
    rows = np.arange(n_samples)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0

    x = np.stack([values, markers], axis=-1).astype(dtype)
    y = (values[rows, first] + values[rows, second])[:, None].astype(dtype)
    return x, y
