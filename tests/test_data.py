"""Tests of gradwatch.data: bundled prices, strict CSV loading, digits, adding."""

from __future__ import annotations

import numpy as np
import pytest

from gradwatch.data import (
    ADDING_BASELINE_MSE,
    DataError,
    adding_problem,
    digits_as_sequences,
    load_digits_split,
    load_price_csv,
    load_stock,
)


def write(tmp_path, text, name="prices.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# -- bundled prices ------------------------------------------------------------------


def test_load_stock_reads_aapl_adjusted_close_in_date_order():
    series = load_stock("AAPL")
    assert len(series) == 3270
    assert str(series.dates[0]) == "2000-03-01"
    assert str(series.dates[-1]) == "2013-03-01"
    assert np.all(np.diff(series.dates.astype(np.int64)) > 0)
    assert np.all(series.values > 0)
    assert series.values[0] == pytest.approx(4.186663)


def test_load_stock_is_case_insensitive_and_refuses_unknown_tickers():
    assert len(load_stock("msft")) == 3270
    with pytest.raises(DataError, match="AAPL, GOOG, IBM, MSFT"):
        load_stock("TSLA")
    with pytest.raises(DataError, match="Adj Close"):
        load_stock("AAPL", column="Price")


# -- the user's CSV ------------------------------------------------------------------


def test_load_price_csv_reads_a_clean_file(tmp_path):
    path = write(
        tmp_path, "Date,Close\n2020-01-02,10.5\n2020-01-03,11\n2020-01-06,12\n"
    )
    series = load_price_csv(path)
    assert [str(d) for d in series.dates] == ["2020-01-02", "2020-01-03", "2020-01-06"]
    np.testing.assert_array_equal(series.values, [10.5, 11.0, 12.0])


def test_load_price_csv_sorts_descending_dates_ascending(tmp_path):
    path = write(tmp_path, "Date,Close\n2020-01-06,3\n2020-01-03,2\n2020-01-02,1\n")
    series = load_price_csv(path)
    assert [str(d) for d in series.dates] == ["2020-01-02", "2020-01-03", "2020-01-06"]
    np.testing.assert_array_equal(series.values, [1.0, 2.0, 3.0])


def test_load_price_csv_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_price_csv(tmp_path / "nope.csv")


def test_load_price_csv_refuses_a_directory(tmp_path):
    with pytest.raises(DataError, match="directory"):
        load_price_csv(tmp_path)


def test_load_price_csv_refuses_binary_data(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(DataError, match="not a CSV"):
        load_price_csv(path)


def test_load_price_csv_refuses_text_that_is_not_a_csv(tmp_path):
    path = write(tmp_path, "hello there\nthis is a letter\n")
    with pytest.raises(DataError, match="does not look like a CSV"):
        load_price_csv(path)


def test_load_price_csv_hints_at_semicolons(tmp_path):
    path = write(tmp_path, "Date;Close\n2020-01-02;1\n")
    with pytest.raises(DataError, match="semicolons"):
        load_price_csv(path)


def test_load_price_csv_lists_the_existing_columns(tmp_path):
    path = write(tmp_path, "Day,Price\n2020-01-02,1\n2020-01-03,2\n")
    with pytest.raises(DataError) as caught:
        load_price_csv(path)
    message = str(caught.value)
    assert "no column 'Date'" in message
    assert "'Day'" in message and "'Price'" in message
    assert "--date-column" in message


def test_load_price_csv_reports_non_numeric_values_with_line_numbers(tmp_path):
    text = "Date,Close\n2020-01-02,1\n2020-01-03,$2\n2020-01-06,3\n2020-01-07,abc\n"
    with pytest.raises(DataError) as caught:
        load_price_csv(write(tmp_path, text))
    message = str(caught.value)
    assert "2 non-numeric or infinite" in message
    assert "line 3 ('$2')" in message and "line 5 ('abc')" in message


def test_load_price_csv_counts_missing_values_and_suggests_fill(tmp_path):
    text = "Date,Close\n2020-01-02,1\n2020-01-03,\n2020-01-06,NA\n2020-01-07,4\n"
    with pytest.raises(DataError) as caught:
        load_price_csv(write(tmp_path, text))
    message = str(caught.value)
    assert "2 missing value(s)" in message
    assert "--fill ffill" in message and "--fill drop" in message


def test_load_price_csv_fill_ffill_repeats_and_drop_removes(tmp_path):
    text = "Date,Close\n2020-01-02,\n2020-01-03,2\n2020-01-06,NA\n2020-01-07,4\n"
    path = write(tmp_path, text)
    filled = load_price_csv(path, fill="ffill")
    np.testing.assert_array_equal(filled.values, [2.0, 2.0, 4.0])
    assert str(filled.dates[0]) == "2020-01-03"
    dropped = load_price_csv(path, fill="drop")
    np.testing.assert_array_equal(dropped.values, [2.0, 4.0])


def test_load_price_csv_reports_unparseable_dates(tmp_path):
    text = "Date,Close\n2020-01-02,1\nyesterday,2\n2020-01-06,3\n"
    with pytest.raises(DataError) as caught:
        load_price_csv(write(tmp_path, text))
    assert "could not be parsed" in str(caught.value)
    assert "line 3 ('yesterday')" in str(caught.value)


def test_load_price_csv_reports_duplicate_dates(tmp_path):
    text = "Date,Close\n2020-01-02,1\n2020-01-03,2\n2020-01-03,3\n"
    with pytest.raises(DataError) as caught:
        load_price_csv(write(tmp_path, text))
    assert "duplicate date" in str(caught.value)
    assert "lines 3 and 4" in str(caught.value)


def test_load_price_csv_reports_a_row_with_the_wrong_number_of_fields(tmp_path):
    text = "Date,Close\n2020-01-02,1\n2020-01-03,2,7\n"
    with pytest.raises(DataError, match="line 3 has 3 fields"):
        load_price_csv(write(tmp_path, text))


def test_load_price_csv_refuses_an_empty_file(tmp_path):
    with pytest.raises(DataError, match="empty"):
        load_price_csv(write(tmp_path, ""))


# -- adding problem ------------------------------------------------------------------


def test_adding_problem_has_two_markers_one_in_each_half_and_sums_them():
    x, y = adding_problem(50, 12, rng=3)
    assert x.shape == (50, 12, 2) and y.shape == (50, 1)
    markers = x[:, :, 1]
    np.testing.assert_array_equal(markers.sum(axis=1), 2.0)
    assert np.all(markers[:, :6].sum(axis=1) == 1)
    expected = (x[:, :, 0] * markers).sum(axis=1)
    np.testing.assert_allclose(y[:, 0], expected, rtol=1e-6)


def test_adding_problem_is_reproducible_from_a_seed():
    a = adding_problem(10, 8, rng=7)
    b = adding_problem(10, 8, rng=7)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_adding_problem_mean_predictor_has_baseline_mse():
    _, y = adding_problem(40000, 4, dtype=np.float64, rng=0)
    assert np.mean((y - 1.0) ** 2) == pytest.approx(ADDING_BASELINE_MSE, abs=0.005)
    assert ADDING_BASELINE_MSE == pytest.approx(2 / 12)


def test_adding_problem_refuses_bad_sizes():
    with pytest.raises(DataError, match="length"):
        adding_problem(4, 1)
    with pytest.raises(DataError, match="n_samples"):
        adding_problem(0, 5)


# -- digits --------------------------------------------------------------------------


def test_load_digits_split_shapes_and_train_only_standardisation():
    data = load_digits_split(test_fraction=0.25, rng=0, dtype=np.float64)
    assert data.x_train.shape == (1348, 64) and data.x_test.shape == (449, 64)
    assert set(np.unique(data.y_train)) == set(range(10))
    np.testing.assert_allclose(data.x_train.mean(axis=0), 0.0, atol=1e-12)
    assert data.x_train.std() == pytest.approx(1.0)


def test_load_digits_split_depends_on_the_seed_only():
    a = load_digits_split(n_samples=100, rng=1)
    b = load_digits_split(n_samples=100, rng=1)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert len(a.y_train) + len(a.y_test) == 100


def test_digits_as_sequences_reads_pixels_in_row_major_order():
    x = np.arange(128, dtype=float).reshape(2, 64)
    sequences = digits_as_sequences(x)
    assert sequences.shape == (2, 64, 1)
    np.testing.assert_array_equal(sequences[1, :, 0], x[1])
    with pytest.raises(DataError):
        digits_as_sequences(np.zeros((2, 8, 8)))


def test_load_price_csv_refuses_infinite_values(tmp_path):
    text = "Date,Close\n2020-01-02,inf\n2020-01-03,2\n"
    with pytest.raises(DataError, match="infinite"):
        load_price_csv(write(tmp_path, text))


def test_load_price_csv_keeps_the_written_day_of_time_zone_aware_dates(tmp_path):
    text = "Date,Close\n2020-01-02T23:00:00-05:00,1\n2020-01-03T23:00:00-05:00,2\n"
    series = load_price_csv(write(tmp_path, text))
    assert [str(d) for d in series.dates] == ["2020-01-02", "2020-01-03"]


def test_load_price_csv_refuses_mixed_time_zones_with_a_clear_error(tmp_path):
    text = "Date,Close\n2020-01-02T00:00:00+00:00,1\n2020-01-03T00:00:00+05:00,2\n"
    with pytest.raises(DataError, match="could not be read"):
        load_price_csv(write(tmp_path, text))


def test_day_first_dates_need_dayfirst_and_the_error_says_so(tmp_path):
    path = write(tmp_path, "Date,Close\n01/12/2020,10\n13/12/2020,11\n14/12/2020,12\n")
    with pytest.raises(DataError, match="--dayfirst"):
        load_price_csv(path)
    series = load_price_csv(path, dayfirst=True)
    assert list(series.dates.astype(str)) == ["2020-12-01", "2020-12-13", "2020-12-14"]


def test_intraday_timestamps_are_refused_with_one_row_per_day_advice(tmp_path):
    path = write(
        tmp_path,
        "Date,Close\n2020-01-02 09:00,10\n2020-01-02 10:00,11\n2020-01-02 11:00,12\n",
    )
    with pytest.raises(DataError, match="intraday timestamps are not supported"):
        load_price_csv(path)


def test_a_daily_close_stamped_with_a_time_is_kept(tmp_path):
    path = write(tmp_path, "Date,Close\n2020-01-02 16:00,10\n2020-01-03 16:00,11\n")
    series = load_price_csv(path)
    assert list(series.dates.astype(str)) == ["2020-01-02", "2020-01-03"]
