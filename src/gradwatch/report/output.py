"""Write a study's outputs to a folder, atomically and as soon as they exist.

Layout of the output folder::

    report.html          one self-contained page (figures embedded)
    metrics.json         every number of the report, config, seed, versions
    figures/*.png        each figure, as in the report
    monitors/*.npz       each gradient monitor's history (GradientMonitor.load)

Each file is written to a temporary name in the same folder and then moved
into place with ``os.replace``, so a reader (or an interrupted run) never
sees half a file. After each study the report and metrics are rewritten
with the studies finished so far, marked ``"status": "running"``; an
interrupted run leaves them marked ``"interrupted"``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .._files import atomic_write
from .render import build_metrics, figure_png, package_versions, render_html
from .results import StudyResult

__all__ = ["OutputExistsError", "ReportWriter", "atomic_write"]

logger = logging.getLogger(__name__)

REPORT_FILES = ("report.html", "metrics.json")


class OutputExistsError(FileExistsError):
    """The output folder already holds a report and overwriting was not asked for."""


def _clear_previous_run(out_dir: Path) -> None:
    """Delete the files an earlier gradwatch run wrote into ``out_dir``.

    Only the names gradwatch itself writes: the report, the metrics, PNG
    files in ``figures/``, monitor files (``.npz`` and the ``.json`` summary
    beside each) in ``monitors/``. A user's own files, even inside those
    folders, stay.
    """
    for name in REPORT_FILES:
        (out_dir / name).unlink(missing_ok=True)
    for folder, pattern in (("figures", "*.png"), ("monitors", "*.npz")):
        if (out_dir / folder).is_dir():
            for path in (out_dir / folder).glob(pattern):
                if path.is_file():
                    # A monitor's summary is written beside it with .json.
                    if folder == "monitors":
                        path.with_suffix(".json").unlink(missing_ok=True)
                    path.unlink()
    logger.info("removed the previous report files from %s", out_dir)


class ReportWriter:
    """Collects finished studies and keeps the output folder up to date.

    Parameters
    ----------
    out_dir : str or Path
        Created when missing.
    config : dict
        The run's configuration (seed, quick, options), stored in metrics.json.
    force : bool
        Overwrite an existing report: the earlier run's ``report.html``,
        ``metrics.json``, ``figures/*.png`` and ``monitors/*.npz`` are deleted
        first, so no stale figure is left beside the new ones; nothing else
        in the folder is touched. Without it, a folder that already holds
        ``report.html`` or ``metrics.json`` raises :class:`OutputExistsError`.

    Raises
    ------
    OutputExistsError
        See ``force``.
    NotADirectoryError
        When ``out_dir`` is an existing file.
    """

    def __init__(self, out_dir, config: dict, *, force: bool = False) -> None:
        self.out_dir = Path(out_dir)
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise NotADirectoryError(
                f"{self.out_dir} is a file; give --out a folder name"
            )
        existing = [name for name in REPORT_FILES if (self.out_dir / name).exists()]
        if existing and not force:
            raise OutputExistsError(
                f"{self.out_dir} already holds a report ({', '.join(existing)}); "
                "choose another folder with --out DIR or pass --force to overwrite it"
            )
        if existing:
            _clear_previous_run(self.out_dir)
        self.config = config
        self.results: list[StudyResult] = []
        self.pngs: dict[str, dict[str, bytes]] = {}
        self.versions = package_versions()
        (self.out_dir / "figures").mkdir(parents=True, exist_ok=True)
        (self.out_dir / "monitors").mkdir(parents=True, exist_ok=True)

    @property
    def report_path(self) -> Path:
        return self.out_dir / "report.html"

    @property
    def metrics_path(self) -> Path:
        return self.out_dir / "metrics.json"

    def add(self, result: StudyResult) -> None:
        """Save a finished study's figures and monitors, then refresh the report."""
        pngs = {}
        for name, (figure, _) in result.figures.items():
            pngs[name] = figure_png(figure)
            atomic_write(
                self.out_dir / "figures" / f"{result.name}_{name}.png", pngs[name]
            )
        self.pngs[result.name] = pngs
        for name, monitor in result.monitors.items():
            monitor.save(self.out_dir / "monitors" / f"{result.name}_{name}.npz")
        self.results.append(result)
        self.write("running")
        logger.info("%s study written to %s", result.name, self.out_dir)

    def metrics(self, status: str) -> dict:
        return build_metrics(self.results, self.config, status, self.versions)

    def write(self, status: str) -> None:
        """Rewrite metrics.json and report.html with the studies so far."""
        metrics = self.metrics(status)
        atomic_write(self.metrics_path, json.dumps(metrics, indent=1) + "\n")
        html = render_html(
            self.results,
            metrics,
            self.pngs,
            status=status,
            out_dir=str(self.out_dir),
        )
        atomic_write(self.report_path, html)
