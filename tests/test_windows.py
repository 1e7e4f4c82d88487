"""Tests of gradwatch.data.windows: window counts, chronological splits, no leakage."""

from __future__ import annotations

import numpy as np
import pytest

from gradwatch.data import (
    DataError,
    PriceSeries,
    check_series,
    make_windows,
    minimum_length,
    sliding_window_indices,
)


def series_of(values, start="2010-01-01", name="test"):
    values = np.asarray(values, dtype=np.float64)
    dates = np.datetime64(start) + np.arange(len(values)).astype("timedelta64[D]")
    return PriceSeries(dates=dates, values=values, name=name, source="test")


def random_walk(n, seed=0):
    rng = np.random.default_rng(seed)
    return 50.0 * np.exp(np.cumsum(rng.normal(0.0005, 0.02, n)))


@pytest.mark.parametrize(
    ("n", "lookback", "horizon"), [(10, 3, 1), (50, 7, 4), (9, 8, 1)]
)
def test_sliding_window_count_is_n_minus_lookback_minus_horizon_plus_one(
    n, lookback, horizon
):
    inputs, targets = sliding_window_indices(n, lookback, horizon)
    assert len(inputs) == len(targets) == n - lookback - horizon + 1
    np.testing.assert_array_equal(inputs[0], np.arange(lookback))
    assert targets[0] == lookback - 1 + horizon
    assert targets[-1] == n - 1


def test_sliding_window_is_empty_when_the_series_is_too_short():
    inputs, targets = sliding_window_indices(4, 4, 1)
    assert inputs.shape == (0, 4) and targets.shape == (0,)


def test_price_windows_hold_the_scaled_prices_and_the_price_h_days_later():
    prices = random_walk(200)
    windows = make_windows(
        series_of(prices), lookback=5, horizon=3, target="price", dtype=np.float64
    )
    train = windows.train
    mean, std = prices[:140].mean(), prices[:140].std()
    np.testing.assert_allclose(train.x[0, :, 0], (prices[:5] - mean) / std)
    np.testing.assert_allclose(windows.y_scaler.inverse(train.y[0]), prices[4 + 3])
    np.testing.assert_allclose(train.anchor_price[0], prices[4])


def test_return_windows_target_the_log_return_over_the_horizon():
    prices = random_walk(300, seed=1)
    windows = make_windows(series_of(prices), lookback=4, horizon=2, dtype=np.float64)
    test = windows.test
    target = windows.y_scaler.inverse(test.y[:, 0])
    np.testing.assert_allclose(target, np.log(test.target_price / test.anchor_price))
    returns = np.diff(np.log(prices))
    first = test.points[0, 0]
    np.testing.assert_allclose(
        windows.x_scaler.inverse(test.x[0, :, 0]), returns[first : first + 4]
    )


@pytest.mark.parametrize("target", ["return", "price"])
def test_to_price_reconstructs_the_true_price_from_the_true_target(target):
    prices = random_walk(250, seed=2)
    windows = make_windows(
        series_of(prices), lookback=6, horizon=1, target=target, dtype=np.float64
    )
    for split in windows.splits:
        np.testing.assert_allclose(windows.to_price(split, split.y), split.target_price)


@pytest.mark.parametrize("target", ["return", "price"])
def test_every_window_lies_in_one_split_and_test_targets_follow_training(target):
    prices = random_walk(400, seed=3)
    windows = make_windows(series_of(prices), lookback=10, horizon=3, target=target)
    for split in windows.splits:
        start, stop = windows.bounds[split.name]
        assert np.all(split.points >= start) and np.all(split.points < stop)
        dates = windows.point_dates[split.points]
        first_date = windows.point_dates[start]
        last_date = windows.point_dates[stop - 1]
        assert np.all((dates >= first_date) & (dates <= last_date))
    latest_training_date = windows.point_dates[windows.train.points].max()
    assert windows.test.target_dates.min() > latest_training_date
    assert windows.val.target_dates.min() > latest_training_date


def test_splits_are_chronological_and_cover_the_series_in_order():
    windows = make_windows(series_of(random_walk(500)), lookback=5, horizon=1)
    assert windows.bounds["train"][1] == windows.bounds["val"][0]
    assert windows.bounds["val"][1] == windows.bounds["test"][0]
    assert windows.train.target_dates.max() < windows.val.target_dates.min()
    assert windows.val.target_dates.max() < windows.test.target_dates.min()


@pytest.mark.parametrize("target", ["return", "price"])
def test_scaler_is_fitted_on_the_training_part_only(target):
    prices = random_walk(400, seed=4)
    clean = make_windows(series_of(prices), lookback=8, horizon=2, target=target)
    # Poison every price after the training part: a scaler that saw them
    # (or a window that crossed into them) would change.
    _, train_stop = clean.bounds["train"]
    offset = 1 if target == "return" else 0
    poisoned_prices = prices.copy()
    poisoned_prices[train_stop + offset :] *= 1e6
    poisoned = make_windows(
        series_of(poisoned_prices), lookback=8, horizon=2, target=target
    )
    assert poisoned.x_scaler == clean.x_scaler
    assert poisoned.y_scaler == clean.y_scaler
    np.testing.assert_array_equal(poisoned.train.x, clean.train.x)
    np.testing.assert_array_equal(poisoned.train.y, clean.train.y)


def test_minimum_length_is_exactly_the_shortest_usable_series():
    needed = minimum_length(10, 2, "return")
    make_windows(series_of(random_walk(needed)), lookback=10, horizon=2)
    with pytest.raises(DataError, match=f"at least {needed}"):
        make_windows(series_of(random_walk(needed - 1)), lookback=10, horizon=2)


def test_check_series_refuses_non_positive_prices_for_returns_only():
    values = random_walk(300)
    values[100] = 0.0
    values[120] = -1.0
    with pytest.raises(DataError) as caught:
        check_series(series_of(values), 5, 1, "return")
    assert "2 zero or negative" in str(caught.value)
    assert "--target price" in str(caught.value)
    check_series(series_of(values), 5, 1, "price")


def test_check_series_refuses_a_constant_series():
    with pytest.raises(DataError, match="constant"):
        check_series(series_of(np.full(300, 7.0)), 5, 1, "price")


def test_make_windows_refuses_a_series_constant_over_its_training_part():
    values = np.concatenate([np.full(250, 5.0), random_walk(50)])
    with pytest.raises(DataError, match="constant over its training part"):
        make_windows(series_of(values), lookback=5, horizon=1, target="price")


def test_make_windows_refuses_bad_settings():
    series = series_of(random_walk(300))
    with pytest.raises(DataError, match="lookback"):
        make_windows(series, lookback=0)
    with pytest.raises(DataError, match="target"):
        make_windows(series, target="volume")
    with pytest.raises(DataError, match="splits"):
        make_windows(series, splits=(0.5, 0.5, 0.5))


def test_check_series_refuses_values_whose_squares_would_overflow():
    values = np.full(400, 1e300) * np.linspace(1.0, 2.0, 400)
    dates = np.datetime64("2000-01-01") + np.arange(400)
    series = PriceSeries(dates=dates, values=values, name="Close", source="test")
    with pytest.raises(DataError, match="overflow the squared errors"):
        check_series(series, 20, 1, "price")


def test_a_too_long_horizon_is_advised_to_shorten_the_horizon_too():
    values = np.linspace(1.0, 2.0, 50)
    dates = np.datetime64("2000-01-01") + np.arange(50)
    series = PriceSeries(dates=dates, values=values, name="Close", source="test")
    with pytest.raises(DataError, match="shorter --lookback or --horizon"):
        check_series(series, 5, 3000, "return")
