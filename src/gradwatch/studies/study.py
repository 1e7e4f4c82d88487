"""Run several studies in a row and keep the output folder up to date.

``run_studies`` checks its input (the price series, the output folder)
before training anything, then runs each study and hands its result to a
:class:`~gradwatch.report.ReportWriter` as soon as it finishes, so that an
interrupted run keeps every finished study on disk with a readable,
partial report and metrics.json (``"status": "interrupted"``).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from ..data import check_series
from ..report import ReportWriter, StudyResult
from .common import Progress
from .depth import DepthConfig, run_depth
from .forecast import ForecastConfig, load_series, run_forecast
from .recurrent import RecurrentConfig, run_recurrent

__all__ = ["STUDIES", "StudyConfig", "StudyRun", "run_studies"]

logger = logging.getLogger(__name__)

STUDIES = ("forecast", "depth", "recurrent")


@dataclass
class StudyConfig:
    """The settings of every study, full-size or quick."""

    forecast: ForecastConfig = field(default_factory=ForecastConfig)
    depth: DepthConfig = field(default_factory=DepthConfig)
    recurrent: RecurrentConfig = field(default_factory=RecurrentConfig)

    @classmethod
    def for_mode(cls, quick: bool) -> StudyConfig:
        if quick:
            return cls(
                ForecastConfig.quick(), DepthConfig.quick(), RecurrentConfig.quick()
            )
        return cls()


@dataclass
class StudyRun:
    """What ``run_studies`` produced."""

    results: list[StudyResult]
    out_dir: Path
    report_path: Path
    metrics_path: Path


def run_studies(
    names=STUDIES,
    out_dir="gradwatch-out",
    *,
    seed: int = 0,
    quick: bool = False,
    force: bool = False,
    config: StudyConfig | None = None,
    progress: Progress | None = None,
    on_result=None,
    blas_threads: int | None = 1,
) -> StudyRun:
    """Run the named studies and write report.html, metrics.json, figures, monitors.

    Parameters
    ----------
    names : sequence of str
        Any of ``STUDIES``, run in the given order.
    out_dir : str or Path
        Output folder (created if needed).
    seed : int
        Same seed, same numbers in metrics.json (except ``timing``).
    quick : bool
        Small sizes (seconds instead of minutes); ignored when ``config``
        is given.
    force : bool
        Overwrite a report already in ``out_dir``.
    config : StudyConfig, optional
    progress : callable, optional
        ``progress(label, done, total)`` after every training step.
    on_result : callable, optional
        ``on_result(result)`` after each study has been written.
    blas_threads : int or None
        Threads the BLAS library may use while the studies run (None: leave
        it alone). The studies multiply small matrices (batches of 64 by a
        few dozen units), for which one thread is as fast as several on an
        idle machine and many times faster on a busy one, where threads
        wait on each other; one thread also makes the floating-point sums,
        and so the numbers, independent of the machine's core count.

    Raises
    ------
    gradwatch.data.DataError
        The forecast series cannot be used (raised before any training).
    gradwatch.report.OutputExistsError
        ``out_dir`` holds a report and ``force`` is false.
    KeyboardInterrupt
        Re-raised after marking the partial report ``"interrupted"``.
    """
    names = tuple(names)
    unknown = [n for n in names if n not in STUDIES]
    if unknown or not names:
        raise ValueError(f"unknown studies {unknown}; choose from {STUDIES}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    config = config or StudyConfig.for_mode(quick)

    # Check the data before creating anything on disk.
    series = None
    if "forecast" in names:
        fc = config.forecast
        series = load_series(fc)
        check_series(series, fc.lookback, fc.horizon, fc.target)

    writer = ReportWriter(
        out_dir,
        {
            "studies": list(names),
            "seed": seed,
            "quick": quick,
            **{name: asdict(getattr(config, name)) for name in names},
        },
        force=force,
    )
    limits = threadpool_limits(blas_threads, user_api="blas") if blas_threads else None
    try:
        with (
            warnings.catch_warnings(),
            np.errstate(over="ignore", invalid="ignore", divide="ignore"),
        ):
            # A diverging model is reported in the results as "diverged"; the
            # monitor's own warning about it and NumPy's overflow warnings
            # would only repeat that on the terminal, less clearly.
            warnings.filterwarnings(
                "ignore", message="non-finite gradient", category=RuntimeWarning
            )
            _run_each(names, config, seed, progress, series, writer, on_result)
    except KeyboardInterrupt:
        writer.write("interrupted")
        raise
    except Exception:
        writer.write("failed")
        raise
    finally:
        if limits is not None:
            limits.restore_original_limits()
    writer.write("complete")
    return StudyRun(
        writer.results, writer.out_dir, writer.report_path, writer.metrics_path
    )


def _run_each(names, config, seed, progress, series, writer, on_result) -> None:
    """Run each study in turn and write it out as soon as it is done."""
    for name in names:
        if name == "forecast":
            result = run_forecast(
                config.forecast, seed=seed, progress=progress, series=series
            )
        elif name == "depth":
            result = run_depth(config.depth, seed=seed, progress=progress)
        else:
            result = run_recurrent(config.recurrent, seed=seed, progress=progress)
        writer.add(result)
        if on_result is not None:
            on_result(result)
