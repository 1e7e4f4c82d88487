"""Daily stock prices shipped with the ``bokeh-sampledata`` package.

The file ``bokeh_sampledata/_data/stocks.csv.gz`` holds daily Open, High,
Low, Close, Volume and Adj Close of AAPL, GOOG, IBM and MSFT from March 2000
(GOOG from its listing in August 2004) to March 2013, in the public domain.
It is installed with the package, so nothing is downloaded.
"""

from __future__ import annotations

import importlib.resources

import numpy as np
import pandas as pd

from .csvload import PriceSeries
from .errors import DataError

__all__ = ["COLUMNS", "TICKERS", "load_stock", "sample_data_path"]

#: The tickers with a full daily history in the sample data.
TICKERS = ("AAPL", "GOOG", "IBM", "MSFT")

#: The price columns of the sample data.
COLUMNS = ("Open", "High", "Low", "Close", "Adj Close")


def sample_data_path():
    """Where the installed ``bokeh-sampledata`` keeps ``stocks.csv.gz``."""
    try:
        root = importlib.resources.files("bokeh_sampledata")
    except ModuleNotFoundError:
        raise DataError(
            "the bokeh-sampledata package is not installed; install it with "
            "'pip install bokeh-sampledata' or give your own prices with --csv"
        ) from None
    return root / "_data" / "stocks.csv.gz"


def load_stock(ticker: str = "AAPL", column: str = "Adj Close") -> PriceSeries:
    """One ticker's daily prices from the bundled sample data, oldest first.

    Parameters
    ----------
    ticker : {"AAPL", "GOOG", "IBM", "MSFT"}
        Which company (case-insensitive).
    column : str
        One of ``COLUMNS``. The default, ``"Adj Close"``, is adjusted for
        stock splits and dividends, so it has no artificial jumps (``Close``
        halves overnight at AAPL's 2:1 splits of 2000 and 2005).

    Returns
    -------
    PriceSeries
        About 3,270 trading days for AAPL, IBM and MSFT, 2,148 for GOOG.

    Raises
    ------
    DataError
        For an unknown ticker or column.
    """
    name = str(ticker).upper()
    if name not in TICKERS:
        raise DataError(
            f"unknown ticker {ticker!r}; the bundled data has "
            f"{', '.join(TICKERS)} (or give your own prices with --csv FILE)"
        )
    if column not in COLUMNS:
        raise DataError(
            f"unknown price column {column!r}; choose one of {', '.join(COLUMNS)}"
        )
    with sample_data_path().open("rb") as handle:
        table = pd.read_csv(handle, compression="gzip")
    rows = table[table["Ticker"] == name]
    dates = pd.to_datetime(rows["Date"]).to_numpy(dtype="datetime64[ns]")
    dates = dates.astype("datetime64[D]")
    values = rows[column].to_numpy(dtype=np.float64)
    order = np.argsort(dates, kind="stable")
    return PriceSeries(
        dates=dates[order],
        values=values[order],
        name=f"{name} {column}",
        source="bokeh-sampledata stocks.csv.gz",
    )
