"""Handwritten digits bundled with scikit-learn, as images and as sequences.

1,797 grey-level images of 8 x 8 pixels (values 0 to 16) of the digits 0 to
9, from the UCI "Optical Recognition of Handwritten Digits" data set. They
ship inside scikit-learn, so nothing is downloaded.

References
----------
Alpaydin, E. & Kaynak, C. (1998). Optical Recognition of Handwritten Digits.
UCI Machine Learning Repository.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import as_dtype, as_rng
from .errors import DataError

__all__ = ["DigitsData", "digits_as_sequences", "load_digits_split"]


@dataclass(frozen=True)
class DigitsData:
    """Digits split into a training and a held-out part.

    Attributes
    ----------
    x_train, x_test : ndarray, shape (n, 64)
        Pixels centred with the training part's per-pixel mean and divided
        by the training part's overall standard deviation after centring,
        so the training features have mean 0 and mean square 1.
    y_train, y_test : ndarray of int64, shape (n,)
        Class labels 0 to 9.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_digits_split(
    test_fraction: float = 0.25,
    n_samples: int | None = None,
    *,
    dtype=np.float32,
    rng=None,
) -> DigitsData:
    """Shuffle the digits and split them into training and held-out parts.

    Parameters
    ----------
    test_fraction : float
        Share held out, in (0, 1).
    n_samples : int, optional
        Use only this many images (after shuffling), to keep runs short.
    dtype : float32 or float64, keyword-only
    rng : numpy.random.Generator or int, keyword-only
        Decides the shuffle; the same seed gives the same split.

    Returns
    -------
    DigitsData
    """
    from sklearn.datasets import load_digits

    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    dtype = as_dtype(dtype)
    images = load_digits()
    x = images.data.astype(np.float64)
    y = images.target.astype(np.int64)

    order = as_rng(rng).permutation(len(y))
    if n_samples is not None:
        if not 10 <= n_samples <= len(y):
            raise DataError(f"n_samples must lie in [10, {len(y)}], got {n_samples}")
        order = order[:n_samples]
    x, y = x[order], y[order]
    n_test = max(1, int(round(len(y) * test_fraction)))
    x_train, x_test = x[n_test:], x[:n_test]

    mean = x_train.mean(axis=0)
    std = (x_train - mean).std()
    return DigitsData(
        x_train=((x_train - mean) / std).astype(dtype),
        y_train=y[n_test:],
        x_test=((x_test - mean) / std).astype(dtype),
        y_test=y[:n_test],
    )


def digits_as_sequences(x: np.ndarray) -> np.ndarray:
    """Read each image pixel by pixel: (n, 64) -> (n, 64, 1), row-major order.

    A recurrent layer then sees one pixel per step and must remember the
    top rows for 64 steps, a long-range task of the same kind as the
    sequential MNIST benchmark (Le, Jaitly & Hinton 2015).
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 64:
        raise DataError(f"expected digit images of shape (n, 64), got {x.shape}")
    return x[:, :, None]
