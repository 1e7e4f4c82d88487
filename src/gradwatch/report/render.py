"""Turn study results into metrics.json and one self-contained report.html.

The HTML is rendered from the jinja2 template shipped beside this module,
with autoescaping on. Figures are embedded as base64 PNG data URIs and the
style sheet is inline, so the single file opens offline and can be mailed.
"""

from __future__ import annotations

import base64
import importlib.metadata
import importlib.resources
import io
import json
import math
import platform
import sys
from typing import Any

import jinja2
import numpy as np

from .results import StudyResult

__all__ = [
    "SCHEMA_VERSION",
    "build_metrics",
    "figure_png",
    "format_number",
    "load_schema",
    "package_versions",
    "render_html",
]

SCHEMA_VERSION = 1

_VERSIONED = ("numpy", "scipy", "pandas", "matplotlib", "scikit-learn", "jinja2")


def package_versions() -> dict[str, str]:
    """Versions of Python, gradwatch and the libraries the numbers depend on."""
    from .. import __version__

    versions = {
        "python": platform.python_version(),
        "gradwatch": __version__,
        "platform": f"{platform.system()} {platform.machine()}",
    }
    for name in _VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def figure_png(figure, dpi: int = 100) -> bytes:
    """A matplotlib figure as PNG bytes (no pyplot, safe without a display)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def to_jsonable(value: Any) -> Any:
    """NumPy scalars and arrays to Python; NaN and infinities to ``None``."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.datetime64):
        return str(value)
    return value


def build_metrics(
    results: list[StudyResult],
    config: dict,
    status: str,
    versions: dict | None = None,
) -> dict:
    """The metrics.json document (see ``metrics.schema.json``).

    Everything except ``timing`` depends only on the configuration and the
    seed, so two runs with the same seed give the same numbers there.
    """
    return to_jsonable(
        {
            "schema_version": SCHEMA_VERSION,
            "status": status,
            "config": config,
            "versions": versions if versions is not None else package_versions(),
            "studies": {r.name: r.metrics for r in results},
            "timing": {r.name: round(r.seconds, 3) for r in results},
        }
    )


def load_schema() -> dict:
    """The JSON schema of metrics.json shipped with the package."""
    text = (importlib.resources.files(__package__) / "metrics.schema.json").read_text()
    return json.loads(text)


def format_number(value: Any) -> str:
    """How the report shows a cell: 4 significant digits, scientific when tiny."""
    if value is None:
        return "\u2014"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        value = float(value)
        if not math.isfinite(value):
            return "\u2014" if math.isnan(value) else str(value)
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.2e}"
        return f"{value:.4g}"
    return str(value)


def format_setting(value: Any) -> str:
    """A configuration value as the report shows it: ``key=value`` pairs, commas."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={format_setting(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "(" + ", ".join(format_setting(v) for v in value) + ")"
    return str(value)


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True
    )
    environment.filters["num"] = format_number
    environment.filters["setting"] = format_setting
    return environment


def render_html(
    results: list[StudyResult],
    metrics: dict,
    figures: dict[str, dict[str, bytes]],
    *,
    status: str = "complete",
    out_dir: str = "",
) -> str:
    """The report as one HTML string.

    Parameters
    ----------
    results : list of StudyResult
        In the order they should appear.
    metrics : dict
        The metrics.json document (for the configuration and versions).
    figures : dict
        ``study name -> figure name -> PNG bytes``.
    status : str
        ``"complete"``, or ``"running"`` / ``"interrupted"`` for a partial
        report (a banner says so).
    out_dir : str
        Shown in the header.
    """
    template_text = (
        importlib.resources.files(__package__) / "template.html"
    ).read_text(encoding="utf-8")
    sections = []
    for result in results:
        images = []
        for name, (_, caption) in result.figures.items():
            png = figures.get(result.name, {}).get(name)
            if png is None:
                continue
            images.append(
                {
                    "name": name,
                    "caption": caption,
                    "src": "data:image/png;base64,"
                    + base64.b64encode(png).decode("ascii"),
                }
            )
        sections.append({"result": result, "images": images})
    summary = [
        dict(row, study=result.title)
        for result in results
        for row in result.summary_rows
    ]
    return (
        _environment()
        .from_string(template_text)
        .render(
            sections=sections,
            summary=summary,
            metrics=metrics,
            status=status,
            out_dir=out_dir,
            python=sys.version.split()[0],
        )
    )
