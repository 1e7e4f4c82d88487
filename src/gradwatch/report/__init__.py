"""The study report: metrics.json (with its JSON schema) and one HTML page.

This layer knows nothing about how the numbers were produced: a study hands
over a :class:`StudyResult` (text, tables, figures, monitors, metrics) and
:class:`ReportWriter` writes them to the output folder.
"""

from .output import OutputExistsError, ReportWriter, atomic_write
from .render import (
    SCHEMA_VERSION,
    build_metrics,
    figure_png,
    format_number,
    load_schema,
    package_versions,
    render_html,
)
from .results import StudyResult, Table

__all__ = [
    "OutputExistsError",
    "ReportWriter",
    "SCHEMA_VERSION",
    "StudyResult",
    "Table",
    "atomic_write",
    "build_metrics",
    "figure_png",
    "format_number",
    "load_schema",
    "package_versions",
    "render_html",
]
