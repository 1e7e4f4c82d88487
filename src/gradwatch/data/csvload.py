"""Strict loading of a price series from the user's own CSV file.

A CSV file of daily prices goes wrong in many small ways: a column named
``Adj Close`` instead of ``Close``, a ``null`` in the middle of the values,
dates written twice, a binary file given by mistake. Each of these raises
:class:`DataError` with one sentence naming the problem, the file, the first
offending line numbers (line 1 is the header) and the fix.

The file is read with the standard library's ``csv`` module rather than
pandas so that every row keeps its line number for those messages.
"""

from __future__ import annotations

import csv
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError

__all__ = ["FILL_METHODS", "MISSING_MARKERS", "PriceSeries", "load_price_csv"]

logger = logging.getLogger(__name__)

#: Cell contents read as "no value" (compared after stripping and lower-casing).
MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "#n/a"})

#: What ``fill`` may be: ``None`` (refuse missing values), ``"ffill"`` or ``"drop"``.
FILL_METHODS = (None, "ffill", "drop")

# How many offending rows an error message quotes.
_SHOW = 3


@dataclass(frozen=True)
class PriceSeries:
    """A daily series in ascending date order.

    Attributes
    ----------
    dates : ndarray of datetime64[D], shape (N,)
        Strictly increasing dates.
    values : ndarray of float64, shape (N,)
        The value on each date (finite).
    name : str
        What the values are (``"AAPL Adj Close"``), used in titles.
    source : str
        Where they came from (a file path or the sample-data package).
    """

    dates: np.ndarray
    values: np.ndarray
    name: str
    source: str

    def __len__(self) -> int:
        return len(self.values)

    def __post_init__(self) -> None:
        if self.dates.shape != self.values.shape or self.values.ndim != 1:
            raise ValueError(
                f"dates {self.dates.shape} and values {self.values.shape} must be "
                "1-D arrays of the same length"
            )


def _quote(rows: list[tuple[int, str]]) -> str:
    """``line 4 ('abc'), line 9 ('x')`` for the first few offending rows."""
    shown = ", ".join(f"line {line} ({text!r})" for line, text in rows[:_SHOW])
    more = len(rows) - _SHOW
    return shown + (f" and {more} more" if more > 0 else "")


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the non-blank rows with their line numbers.

    Raises
    ------
    DataError
        If the file is missing, unreadable, binary or not comma-separated.
    """
    if not path.exists():
        raise DataError(f"{path}: no such file; check the path given to --csv")
    if path.is_dir():
        raise DataError(f"{path} is a directory, not a CSV file; give the file's path")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(
            f"{path}: cannot read the file ({error.strerror or error}); "
            "check its permissions"
        ) from None
    if b"\x00" in raw[:65536]:
        raise DataError(
            f"{path} is not a CSV file (it contains binary data); "
            "export the prices as comma-separated text"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path} is not a UTF-8 text CSV file (undecodable byte at offset "
            f"{error.start}); save it as UTF-8 comma-separated text"
        ) from None
    if not text.strip():
        raise DataError(f"{path} is empty; it needs a header line and one row per day")

    reader = csv.reader(text.splitlines())
    rows = []
    header: list[str] | None = None
    try:
        for fields in reader:
            if not fields or all(not f.strip() for f in fields):
                continue
            if header is None:
                header = [f.strip() for f in fields]
            else:
                rows.append((reader.line_num, fields))
    except csv.Error as error:
        raise DataError(
            f"{path} is not a readable CSV file (line {reader.line_num}: {error}); "
            "check the quoting"
        ) from None
    assert header is not None

    if len(header) < 2:
        hint = ""
        for sep, name in ((";", "semicolons"), ("\t", "tabs")):
            if sep in header[0]:
                hint = f" (it seems to use {name}; save it with commas)"
        raise DataError(
            f"{path} does not look like a CSV file of prices: its header line has "
            f"a single column {header[0][:40]!r}{hint}; it needs comma-separated "
            "columns such as Date,Close"
        )
    for line, fields in rows:
        if len(fields) != len(header):
            raise DataError(
                f"{path}: line {line} has {len(fields)} fields but the header has "
                f"{len(header)}; fix that line (a stray comma or a missing value)"
            )
    return header, rows


def _column(path: Path, header: list[str], name: str, option: str) -> int:
    if name in header:
        return header.index(name)
    matches = [h for h in header if h.lower() == name.lower()]
    hint = f" (did you mean {matches[0]!r}?)" if matches else ""
    raise DataError(
        f"{path} has no column {name!r}{hint}; the columns are "
        f"{', '.join(map(repr, header))}: choose one with {option}"
    )


def _is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING_MARKERS


def _parse_dates(
    cells: list[str], path: Path, column: str, dayfirst: bool = False
) -> np.ndarray:
    """Dates as datetime64[D] (the calendar day as written); NaT where unparseable.

    Raises
    ------
    DataError
        When pandas refuses the column as a whole (e.g. mixed time zones),
        or when the column holds times of day (intraday data).
    """
    try:
        with warnings.catch_warnings():
            # pandas warns when it falls back to parsing element by element.
            warnings.simplefilter("ignore", UserWarning)
            parsed = pd.to_datetime(
                pd.Series(cells, dtype=object), errors="coerce", dayfirst=dayfirst
            )
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
        stamps = parsed.to_numpy(dtype="datetime64[ns]")
    except (ValueError, TypeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "timezone" in reason.lower():
            reason = "they mix time zones"
        raise DataError(
            f"{path}: the dates in column {column!r} could not be read ({reason}); "
            "write every date in one format without time zones, e.g. 2013-03-01"
        ) from None

    # Times of day with several rows on one calendar day mean intraday data
    # (hourly bars, or times without dates), which would collapse into
    # repeated days. A single time per day (a daily close stamped 16:00, or
    # a time-zone offset) is fine: the calendar day is kept as written.
    known = stamps[~np.isnat(stamps)]
    days = stamps.astype("datetime64[D]")
    known_days = known.astype("datetime64[D]")
    if np.any(known != known_days) and len(np.unique(known_days)) < len(known_days):
        first = next(
            i
            for i, (s, d) in enumerate(zip(stamps, days, strict=True))
            if not np.isnat(s) and s != d
        )
        raise DataError(
            f"{path}: column {column!r} holds times of day (e.g. {cells[first]!r}); "
            "intraday timestamps are not supported; give one row per day"
        )
    return days


def load_price_csv(
    path: str | Path,
    date_column: str = "Date",
    value_column: str = "Close",
    fill: str | None = None,
    *,
    dayfirst: bool = False,
) -> PriceSeries:
    """Read one daily series from a CSV file, refusing anything doubtful.

    Parameters
    ----------
    path : str or Path
        A comma-separated text file with a header line.
    date_column : str
        The column holding the dates (any format pandas recognises; one
        format for the whole column).
    value_column : str
        The column holding the values (plain decimal numbers).
    fill : {None, "ffill", "drop"}
        What to do with missing values (empty cells, ``NA``, ``null``...):
        ``None`` refuses them, ``"ffill"`` repeats the last known value
        (leading missing values are dropped), ``"drop"`` drops those rows.
        A missing date is only accepted with ``"drop"``.
    dayfirst : bool
        Read ambiguous dates such as ``03/04/2020`` day first (3 April).
        Without it they are read month first; a day-first file whose days
        are all 12 or less cannot be told apart and needs this flag.

    Returns
    -------
    PriceSeries
        Sorted by ascending date (files in descending order, as many
        brokers export them, are reversed).

    Raises
    ------
    DataError
        Missing or unreadable file; not a CSV; no such column; missing
        values without ``fill``; non-numeric or non-finite values; unparseable
        or duplicate dates; fewer than two rows.
    """
    if fill not in FILL_METHODS:
        raise DataError(f"fill must be 'ffill' or 'drop' (or omitted), got {fill!r}")
    path = Path(path)
    header, rows = _read_rows(path)
    if not rows:
        raise DataError(f"{path} has a header but no data rows")
    date_at = _column(path, header, date_column, "--date-column")
    value_at = _column(path, header, value_column, "--value-column")

    lines = np.array([line for line, _ in rows])
    date_cells = [fields[date_at].strip() for _, fields in rows]
    value_cells = [fields[value_at].strip() for _, fields in rows]

    # Missing values: refuse, or drop or forward-fill them as asked.
    missing_value = np.array([_is_missing(c) for c in value_cells])
    missing_date = np.array([_is_missing(c) for c in date_cells])
    if missing_date.any() and fill != "drop":
        bad = [(int(lines[i]), date_cells[i]) for i in np.flatnonzero(missing_date)]
        raise DataError(
            f"{path}: {int(missing_date.sum())} missing date(s) in column "
            f"{date_column!r}, first at {_quote(bad)}; fill them in or pass "
            "--fill drop to drop those rows"
        )
    if missing_value.any() and fill is None:
        first = [(int(lines[i]), value_cells[i]) for i in np.flatnonzero(missing_value)]
        raise DataError(
            f"{path}: {int(missing_value.sum())} missing value(s) in column "
            f"{value_column!r}, first at {_quote(first)}; pass --fill ffill to "
            "repeat the previous value or --fill drop to drop those rows"
        )

    values = np.full(len(rows), np.nan)
    non_numeric = []
    for i, cell in enumerate(value_cells):
        if missing_value[i]:
            continue
        try:
            values[i] = float(cell)
        except ValueError:
            non_numeric.append((int(lines[i]), cell))
            continue
        if not np.isfinite(values[i]):
            non_numeric.append((int(lines[i]), cell))
    if non_numeric:
        raise DataError(
            f"{path}: {len(non_numeric)} non-numeric or infinite value(s) in column "
            f"{value_column!r}, first at {_quote(non_numeric)}; values must be "
            "plain finite numbers such as 123.45 (no currency signs or thousands "
            "separators)"
        )

    dates = np.full(len(rows), np.datetime64("NaT"), dtype="datetime64[D]")
    present = ~missing_date
    dates[present] = _parse_dates(
        [c for c, p in zip(date_cells, present, strict=True) if p],
        path,
        date_column,
        dayfirst,
    )
    unparsed = [
        (int(lines[i]), date_cells[i])
        for i in np.flatnonzero(present & np.isnat(dates))
    ]
    if unparsed:
        raise DataError(
            f"{path}: {len(unparsed)} date(s) in column {date_column!r} could not "
            f"be parsed, first at {_quote(unparsed)}; write every date in one "
            "format, e.g. 2013-03-01"
            + (
                ""
                if dayfirst
                else " (if the file writes the day first, as in 31/12/2020, pass "
                "--dayfirst)"
            )
        )

    keep = present.copy()
    if fill == "drop":
        keep &= ~missing_value
    lines, dates, values = lines[keep], dates[keep], values[keep]
    if fill == "ffill":
        filled = pd.Series(values).ffill().to_numpy()
        leading = np.isnan(filled)
        lines, dates, values = lines[~leading], dates[~leading], filled[~leading]

    order = np.argsort(dates, kind="stable")
    if len(dates) > 1 and np.all(np.diff(dates.astype(np.int64)) < 0):
        logger.info("%s lists dates in descending order; sorting them", path)
    elif np.any(order != np.arange(len(order))):
        logger.info("%s lists dates out of order; sorting them", path)
    lines, dates, values = lines[order], dates[order], values[order]

    repeated = np.flatnonzero(np.diff(dates.astype(np.int64)) == 0)
    if repeated.size:
        shown = ", ".join(
            f"{dates[i]} (lines {lines[i]} and {lines[i + 1]})"
            for i in repeated[:_SHOW]
        )
        raise DataError(
            f"{path}: {repeated.size} duplicate date(s) in column {date_column!r}: "
            f"{shown}; keep one row per date"
        )
    if len(values) < 2:
        raise DataError(
            f"{path} has {len(values)} usable row(s); a series needs many more "
            "daily values"
        )
    return PriceSeries(dates=dates, values=values, name=value_column, source=str(path))
