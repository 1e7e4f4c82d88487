"""The gradient monitor: record, diagnose and plot gradients while a model trains.

``GradientMonitor`` hooks into any gradwatch model and records per-layer
gradient statistics; ``monitor.diagnose()`` says whether gradients vanish,
explode, die or saturate, where, and what to change. The plots live in
``gradwatch.monitor.plots`` (imported on first use: matplotlib is only
loaded when a figure is asked for).
"""

from __future__ import annotations

import importlib

from .diagnosis import VERDICTS, Diagnosis, LayerDiagnosis
from .monitor import (
    SATURATION_THRESHOLD,
    STATS,
    GradientMonitor,
    LayerInfo,
    NonFiniteGradientError,
)

__all__ = [
    "SATURATION_THRESHOLD",
    "STATS",
    "VERDICTS",
    "Diagnosis",
    "GradientMonitor",
    "LayerDiagnosis",
    "LayerInfo",
    "NonFiniteGradientError",
    "plots",
]


def __getattr__(name: str):
    if name == "plots":
        return importlib.import_module(".plots", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
