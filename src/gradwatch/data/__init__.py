"""Real data for the studies: daily prices, handwritten digits, the adding problem.

Everything here works offline. The prices ship with the ``bokeh-sampledata``
package, the digits with scikit-learn, and the adding problem is generated
from a seed. Bad input raises :class:`DataError`, whose message says what is
wrong, where, and how to fix it.
"""

from .adding import ADDING_BASELINE_MSE, adding_problem
from .csvload import PriceSeries, load_price_csv
from .digits import DigitsData, digits_as_sequences, load_digits_split
from .errors import DataError
from .stocks import TICKERS, load_stock
from .windows import (
    Scaler,
    WindowedSeries,
    WindowSplit,
    check_series,
    make_windows,
    minimum_length,
    sliding_window_indices,
)

__all__ = [
    "ADDING_BASELINE_MSE",
    "DataError",
    "DigitsData",
    "PriceSeries",
    "Scaler",
    "TICKERS",
    "WindowSplit",
    "WindowedSeries",
    "adding_problem",
    "check_series",
    "digits_as_sequences",
    "load_digits_split",
    "load_price_csv",
    "load_stock",
    "make_windows",
    "minimum_length",
    "sliding_window_indices",
]
