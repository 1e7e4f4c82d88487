"""Supervised windows over a daily series, split by time without leakage.

Definitions (prices ``p_0 ... p_{N-1}``, lookback ``L``, horizon ``H``):

* A series of ``n`` points gives exactly ``n - L - H + 1`` windows. Window
  ``i`` takes the ``L`` points ``s_i ... s_{i+L-1}`` as input; its last
  input point is "today", ``t = i + L - 1``, and its target lies ``H``
  points later, at ``t + H``.
* ``target="return"`` (the default) models the daily log returns
  ``r_k = log(p_{k+1} / p_k)`` (``N - 1`` points): the inputs are ``L``
  returns and the target is the log return over the next ``H`` days,
  ``log(p_{t+H} / p_t) = r_t + ... + r_{t+H-1}`` in price indices. A
  prediction becomes a price as ``p_t * exp(predicted return)``.
  Returns are roughly stationary; prices from 2000 to 2013 grew about a
  hundredfold, so a model fitted on scaled early prices would have to
  extrapolate far outside anything it saw.
* ``target="price"`` models the prices themselves (``N`` points): the
  inputs are ``L`` prices and the target is ``p_{t+H}``, both standardised.

The points are cut into train, validation and test parts in time order.
A window belongs to a part only when every point it touches (inputs and
target) lies inside that part; windows that would straddle two parts are
dropped. Every test target is therefore later than every point a training
window touches. Both standardisations (inputs and targets) are fitted on
the training part only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .csvload import PriceSeries
from .errors import DataError

__all__ = [
    "SPLIT_NAMES",
    "TARGETS",
    "Scaler",
    "WindowSplit",
    "WindowedSeries",
    "check_series",
    "make_windows",
    "minimum_length",
    "sliding_window_indices",
]

TARGETS = ("return", "price")
SPLIT_NAMES = ("train", "val", "test")
DEFAULT_SPLITS = (0.7, 0.15, 0.15)

#: The largest value (in absolute size) a series may hold: squared errors of
#: values near 1e154 already overflow float64, so far smaller is demanded.
MAX_ABS_VALUE = 1e15


def sliding_window_indices(
    n_points: int, lookback: int, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of every window over ``n_points`` points.

    Returns
    -------
    inputs : ndarray of int, shape (n_points - lookback - horizon + 1, lookback)
        Row ``i`` is ``i, ..., i + lookback - 1``.
    targets : ndarray of int, shape (n_points - lookback - horizon + 1,)
        ``i + lookback - 1 + horizon``: the point the target ends at.
    """
    _check_sizes(lookback, horizon)
    count = max(n_points - lookback - horizon + 1, 0)
    starts = np.arange(count)
    inputs = starts[:, None] + np.arange(lookback)[None, :]
    return inputs, starts + lookback - 1 + horizon


@dataclass(frozen=True)
class Scaler:
    """Standardisation ``z = (v - mean) / std`` fitted on the training part."""

    mean: float
    std: float

    @classmethod
    def fit(cls, values: np.ndarray) -> Scaler:
        values = np.asarray(values, dtype=np.float64)
        return cls(float(values.mean()), float(values.std()))

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (np.asarray(values, dtype=np.float64) - self.mean) / self.std

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=np.float64) * self.std + self.mean


@dataclass(frozen=True)
class WindowSplit:
    """The windows of one part (train, validation or test).

    Attributes
    ----------
    name : {"train", "val", "test"}
    x : ndarray, shape (W, L, 1)
        Standardised inputs (batch, time, features): what a recurrent layer
        takes; reshape to (W, L) for an MLP.
    y : ndarray, shape (W, 1)
        Standardised targets.
    points : ndarray of int, shape (W, L + H)
        Indices (into the modelled series) of every point each window
        touches, inputs then target span.
    anchor_price, target_price : ndarray, shape (W,)
        The price "today" (``p_t``) and the true price ``H`` days later.
    anchor_dates, target_dates : ndarray of datetime64[D], shape (W,)
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    points: np.ndarray
    anchor_price: np.ndarray
    target_price: np.ndarray
    anchor_dates: np.ndarray
    target_dates: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class WindowedSeries:
    """Windows of a price series ready for training, and how to map back.

    Attributes
    ----------
    train, val, test : WindowSplit
    x_scaler, y_scaler : Scaler
        Fitted on the training part only.
    point_dates : ndarray of datetime64[D]
        The date of each modelled point (a return is dated by its second day).
    bounds : dict
        ``name -> (start, stop)``: the part's points are ``start <= k < stop``.
    target, lookback, horizon : the settings used.
    series_name : str
    """

    train: WindowSplit
    val: WindowSplit
    test: WindowSplit
    x_scaler: Scaler
    y_scaler: Scaler
    point_dates: np.ndarray
    bounds: dict
    target: str
    lookback: int
    horizon: int
    series_name: str

    @property
    def splits(self) -> tuple[WindowSplit, WindowSplit, WindowSplit]:
        return self.train, self.val, self.test

    def to_price(self, split: WindowSplit, y_pred: np.ndarray) -> np.ndarray:
        """Turn standardised predictions for ``split`` into prices.

        ``target="return"``: ``p_t * exp(r)`` with ``r`` the predicted log
        return; ``target="price"``: the prediction, de-standardised.
        """
        y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
        if y_pred.shape[0] != len(split):
            raise ValueError(
                f"{len(y_pred)} predictions for the {len(split)} windows of "
                f"the {split.name} part"
            )
        value = self.y_scaler.inverse(y_pred)
        if self.target == "return":
            return split.anchor_price * np.exp(value)
        return value


def _check_sizes(lookback: int, horizon: int) -> None:
    for name, value in (("lookback", lookback), ("horizon", horizon)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise DataError(f"{name} must be a whole number of days, got {value!r}")
        if value < 1:
            raise DataError(f"{name} must be at least 1 day, got {value}")


def _check_splits(splits) -> tuple[float, float, float]:
    splits = tuple(float(f) for f in splits)
    if len(splits) != 3 or min(splits) <= 0 or abs(sum(splits) - 1.0) > 1e-9:
        raise DataError(
            f"splits must be three positive fractions (train, validation, test) "
            f"summing to 1, got {splits}"
        )
    return splits


def _bounds(n_points: int, splits) -> dict[str, tuple[int, int]]:
    """Cut ``n_points`` into consecutive train / val / test ranges."""
    train_stop = int(np.floor(n_points * splits[0]))
    val_stop = int(np.floor(n_points * (splits[0] + splits[1])))
    return {
        "train": (0, train_stop),
        "val": (train_stop, val_stop),
        "test": (val_stop, n_points),
    }


def _window_counts(n_prices: int, lookback: int, horizon: int, target: str, splits):
    n_points = n_prices - 1 if target == "return" else n_prices
    counts = {}
    for name, (start, stop) in _bounds(n_points, splits).items():
        counts[name] = max(stop - start - lookback - horizon + 1, 0)
    return counts


def minimum_length(
    lookback: int, horizon: int, target: str = "return", splits=DEFAULT_SPLITS
) -> int:
    """The fewest prices for which every part holds whole windows.

    The training part needs two windows (a standard deviation of one value
    is zero); validation and test need one each.
    """
    _check_sizes(lookback, horizon)
    splits = _check_splits(splits)
    n = lookback + horizon
    while True:
        counts = _window_counts(n, lookback, horizon, target, splits)
        if counts["train"] >= 2 and counts["val"] >= 1 and counts["test"] >= 1:
            return n
        n += 1


def check_series(
    series: PriceSeries,
    lookback: int,
    horizon: int,
    target: str = "return",
    splits=DEFAULT_SPLITS,
) -> None:
    """Refuse a series the forecast study cannot use, saying why.

    Raises
    ------
    DataError
        Unknown target; a constant series; zero or negative prices with
        ``target="return"`` (a log return needs positive prices); a series
        too short for the lookback, horizon and splits (the message gives
        the minimum length); values so large (beyond ``MAX_ABS_VALUE``) that
        their squares, and so the mean squared errors, would overflow.
    """
    if target not in TARGETS:
        raise DataError(f"target must be 'return' or 'price', got {target!r}")
    values = series.values
    huge = np.flatnonzero(np.abs(values) > MAX_ABS_VALUE)
    if huge.size:
        shown = ", ".join(f"{series.dates[i]} ({values[i]:g})" for i in huge[:3])
        raise DataError(
            f"{series.name} from {series.source} has {huge.size} value(s) beyond "
            f"{MAX_ABS_VALUE:g} in size, first on {shown}; such values overflow the "
            "squared errors: check the column, or rescale it (e.g. thousands of "
            "units) before training"
        )
    if values.size and np.all(values == values[0]):
        raise DataError(
            f"{series.name} from {series.source} is constant (every value is "
            f"{values[0]:g}): there is nothing to forecast; check the value column"
        )
    if target == "return":
        bad = np.flatnonzero(values <= 0)
        if bad.size:
            shown = ", ".join(f"{series.dates[i]} ({values[i]:g})" for i in bad[:3])
            raise DataError(
                f"{series.name} from {series.source} has {bad.size} zero or negative "
                f"value(s), first on {shown}; log returns need positive prices: "
                "fix the data or use --target price"
            )
    needed = minimum_length(lookback, horizon, target, splits)
    if len(values) < needed:
        raise DataError(
            f"{series.name} from {series.source} has {len(values)} values, but "
            f"lookback {lookback}, horizon {horizon} and target {target!r} need at "
            f"least {needed} so that training, validation and test each hold "
            "whole windows; use a shorter --lookback or --horizon, or a longer "
            "series"
        )


def make_windows(
    series: PriceSeries,
    lookback: int = 20,
    horizon: int = 1,
    target: str = "return",
    splits=DEFAULT_SPLITS,
    *,
    dtype=np.float32,
) -> WindowedSeries:
    """Cut ``series`` into standardised windows for train, validation and test.

    Parameters
    ----------
    series : PriceSeries
        Daily prices, oldest first.
    lookback : int
        ``L``, how many past points each window sees.
    horizon : int
        ``H``, how many days ahead the target lies.
    target : {"return", "price"}
        What the models predict (see the module docstring).
    splits : three fractions
        Shares of the modelled points for train, validation and test, in
        time order.
    dtype : float32 or float64
        Dtype of ``x`` and ``y``.

    Returns
    -------
    WindowedSeries

    Raises
    ------
    DataError
        See :func:`check_series`; also when the training part is constant.
    """
    splits = _check_splits(splits)
    check_series(series, lookback, horizon, target, splits)
    prices = series.values.astype(np.float64)
    if target == "return":
        values = np.diff(np.log(prices))
        offset = 1
    else:
        values = prices
        offset = 0
    point_dates = series.dates[offset:]

    # Every window, then the ones lying wholly inside each part.
    inputs, ends = sliding_window_indices(len(values), lookback, horizon)
    bounds = _bounds(len(values), splits)
    today = inputs[:, -1]
    if target == "return":
        cumulative = np.concatenate([[0.0], np.cumsum(values)])
        target_values = cumulative[ends + 1] - cumulative[today + 1]
    else:
        target_values = values[ends]

    train_start, train_stop = bounds["train"]
    x_scaler = Scaler.fit(values[train_start:train_stop])
    in_train = (inputs[:, 0] >= train_start) & (ends < train_stop)
    y_scaler = Scaler.fit(target_values[in_train])
    if x_scaler.std == 0 or y_scaler.std == 0:
        raise DataError(
            f"{series.name} from {series.source} is constant over its training "
            f"part (the first {splits[0]:.0%} of the series): nothing can be "
            "learnt from it; check the data"
        )

    parts = {}
    span = np.arange(lookback + horizon)
    for name, (start, stop) in bounds.items():
        inside = (inputs[:, 0] >= start) & (ends < stop)
        first, anchors, last = inputs[inside, 0], today[inside], ends[inside]
        parts[name] = WindowSplit(
            name=name,
            x=x_scaler.transform(values[inputs[inside]])[..., None].astype(dtype),
            y=y_scaler.transform(target_values[inside])[:, None].astype(dtype),
            points=first[:, None] + span[None, :],
            anchor_price=prices[anchors + offset],
            target_price=prices[last + offset],
            anchor_dates=series.dates[anchors + offset],
            target_dates=series.dates[last + offset],
        )
    return WindowedSeries(
        train=parts["train"],
        val=parts["val"],
        test=parts["test"],
        x_scaler=x_scaler,
        y_scaler=y_scaler,
        point_dates=point_dates,
        bounds=bounds,
        target=target,
        lookback=lookback,
        horizon=horizon,
        series_name=series.name,
    )
