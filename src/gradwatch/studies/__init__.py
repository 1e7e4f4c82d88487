"""The studies behind ``gradwatch study``: forecast, depth and recurrent.

Each ``run_*`` function trains monitored models and returns a
:class:`gradwatch.report.StudyResult`; :func:`run_studies` runs several and
writes the report.
"""

from .depth import DepthConfig, run_depth
from .forecast import ForecastConfig, run_forecast
from .recurrent import RecurrentConfig, run_recurrent
from .study import STUDIES, StudyConfig, StudyRun, run_studies

__all__ = [
    "DepthConfig",
    "ForecastConfig",
    "RecurrentConfig",
    "STUDIES",
    "StudyConfig",
    "StudyRun",
    "run_depth",
    "run_forecast",
    "run_recurrent",
    "run_studies",
]
