"""What a study hands to the report: text, tables, figures, monitors, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["StudyResult", "Table"]


@dataclass
class Table:
    """A table of the report.

    Attributes
    ----------
    title : str
    columns : list of str
    rows : list of list
        Cells are strings or numbers; numbers are formatted by the renderer
        (``None`` shows as a dash).
    note : str
        One or two sentences under the table saying how to read it.
    highlight : list of int
        Indices of rows to emphasise (for example the baseline).
    """

    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""
    highlight: list[int] = field(default_factory=list)


@dataclass
class StudyResult:
    """Everything one study produced.

    Attributes
    ----------
    name : str
        Short identifier (``"forecast"``), used for file names and the
        ``studies`` key of metrics.json.
    title : str
        Section heading in the report.
    intro : list of str
        Paragraphs explaining what was run and why.
    findings : list of str
        The conclusions, one sentence each, each backed by a number.
    tables : list of Table
    figures : dict
        ``name -> (matplotlib Figure, caption)``; saved as
        ``figures/<study>_<name>.png`` and embedded in the report.
    monitors : dict
        ``name -> GradientMonitor``; saved as ``monitors/<study>_<name>.npz``.
    metrics : dict
        JSON-ready numbers; every number shown in the report is here.
    summary_rows : list of dict
        One per model for the terminal's summary table: ``model``,
        ``verdict``, ``metric`` (a short string).
    seconds : float
        Wall-clock time of the study.
    """

    name: str
    title: str
    intro: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: dict[str, tuple[Any, str]] = field(default_factory=dict)
    monitors: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    summary_rows: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
