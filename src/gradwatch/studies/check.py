"""Gradient check of every layer type and loss, as run by ``gradwatch check``.

Each layer is built in float64 with small sizes and compared with central
finite differences under a random upstream gradient
(``gradwatch.gradcheck``), for the input and every parameter. Each loss is
checked the same way with respect to its prediction: its scalar value is
scaled by a random upstream factor ``g`` and the analytic gradient
``g * loss.backward()`` is compared with ``numerical_gradient`` of
``g * loss.forward(pred, target)``.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from ..gradcheck import gradcheck, numerical_gradient, relative_error

__all__ = ["run_checks"]


def _cases(rng: np.random.Generator):
    """(name, layer, input) for every layer type, float64."""
    f64 = {"dtype": np.float64}
    x = rng.standard_normal((5, 4))
    # Keep inputs away from the kinks of ReLU and LeakyReLU, where finite
    # differences straddle two slopes.
    away = np.where(np.abs(x) < 0.1, 0.5, x)
    yield "Linear", nn.Linear(4, 3, **f64, rng=rng), x
    yield "Linear (no bias)", nn.Linear(4, 3, bias=False, **f64, rng=rng), x
    for cls in (
        nn.Sigmoid,
        nn.Tanh,
        nn.ReLU,
        nn.LeakyReLU,
        nn.ELU,
        nn.GELU,
        nn.Softsign,
        nn.Identity,
    ):
        yield cls.__name__, cls(**f64), away
    yield "BatchNorm (train)", nn.BatchNorm(4, **f64), x
    norm = nn.BatchNorm(4, **f64)
    for _ in range(3):
        norm(rng.standard_normal((8, 4)) * 2 + 1)
    yield "BatchNorm (eval)", norm.eval(), x
    yield (
        "Residual",
        nn.Residual(nn.Sequential(nn.Linear(4, 4, **f64, rng=rng), nn.Tanh(**f64))),
        x,
    )
    yield (
        "Residual (projection)",
        nn.Residual(
            nn.Sequential(nn.Linear(4, 3, **f64, rng=rng), nn.Tanh(**f64)),
            projection=nn.Linear(4, 3, **f64, rng=rng),
        ),
        x,
    )
    sequence = rng.standard_normal((3, 5, 2))
    for cls in (nn.RNN, nn.LSTM, nn.GRU):
        yield cls.__name__, cls(2, 3, **f64, rng=rng), sequence
        yield (
            f"{cls.__name__} (sequences)",
            cls(2, 3, return_sequences=True, **f64, rng=rng),
            sequence,
        )


#: Largest relative error a check accepts (as in ``gradwatch.gradcheck``).
TOLERANCE = 1e-6


def _loss_cases(rng: np.random.Generator):
    """(name, loss, prediction, target) for every loss, float64."""
    yield (
        "MSELoss",
        nn.MSELoss(),
        rng.standard_normal((5, 3)),
        rng.standard_normal((5, 3)),
    )
    yield (
        "CrossEntropyLoss",
        nn.CrossEntropyLoss(),
        rng.standard_normal((5, 4)),
        rng.integers(0, 4, size=5),
    )
    yield (
        "BCEWithLogitsLoss",
        nn.BCEWithLogitsLoss(),
        rng.standard_normal((5, 3)),
        rng.uniform(0.0, 1.0, size=(5, 3)),
    )


def _check_loss(loss, pred: np.ndarray, target: np.ndarray, upstream: float) -> dict:
    """Analytic against central-difference gradient of ``upstream * loss``."""
    loss.forward(pred, target)
    analytic = upstream * loss.backward()
    numeric = numerical_gradient(lambda: upstream * loss.forward(pred, target), pred)
    difference = np.abs(analytic - numeric)
    error = relative_error(analytic, numeric)
    return {
        "max_error": float(error),
        "worst": "input",
        "worst_index": tuple(
            int(i)
            for i in np.unravel_index(int(np.argmax(difference)), difference.shape)
        ),
        "passed": bool(error <= TOLERANCE),
    }


def run_checks(seed: int = 0) -> list[dict]:
    """Gradient-check every layer type and every loss.

    Returns
    -------
    list of dict
        ``layer``, ``max_error``, ``worst`` (``"input"`` or a parameter
        name), ``worst_index``, ``passed`` (relative error <= 1e-6).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for name, layer, x in _cases(rng):
        result = gradcheck(layer, x, rng=rng)
        rows.append(
            {
                "layer": name,
                "max_error": result.max_error,
                "worst": result.worst,
                "worst_index": result.worst_index,
                "passed": result.passed,
            }
        )
    for name, loss, pred, target in _loss_cases(rng):
        upstream = float(rng.uniform(0.5, 2.0)) * float(rng.choice((-1.0, 1.0)))
        rows.append({"layer": name, **_check_loss(loss, pred, target, upstream)})
    return rows
