"""Gradient clipping: the standard remedy for exploding gradients.

``clip_grad_norm`` rescales all gradients together so that their joint norm
is at most ``max_norm`` (Pascanu, Mikolov & Bengio 2013): the direction of
the step is kept, only its length is capped. ``clip_grad_value`` clips every
entry to ``[-clip_value, clip_value]``, which can change the direction.

Both work in place on ``parameter.grad`` and follow PyTorch's
``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``.

References
----------
Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent
neural networks".
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .nn.module import Parameter

__all__ = ["clip_grad_norm", "clip_grad_value"]


def _gradients(params, where: str) -> list[np.ndarray]:
    """The non-None gradients of ``params`` (a Parameter or an iterable of them)."""
    if isinstance(params, Parameter):
        params = [params]
    try:
        params = list(params)
    except TypeError:
        raise TypeError(
            f"{where} takes a Parameter or an iterable of Parameters such as "
            f"model.parameters(), got {type(params).__name__}"
        ) from None
    grads = []
    for i, p in enumerate(params):
        if not isinstance(p, Parameter):
            raise TypeError(
                f"{where}: item {i} is a {type(p).__name__}, not a gradwatch "
                "Parameter; pass model.parameters()"
            )
        if p.grad is not None:
            grads.append(p.grad)
    return grads


def _total_norm(grads: list[np.ndarray], norm_type: float) -> float:
    """The ``norm_type``-norm of all gradients seen as one long vector.

    Every entry is divided by the largest absolute value before it is raised
    to the power ``norm_type`` (and the sums run in float64), so gradients
    near the top of the float32 or float64 range do not overflow.
    """
    largest_each = [float(np.max(np.abs(g))) if g.size else 0.0 for g in grads]
    if any(math.isnan(m) for m in largest_each):
        return math.nan
    largest = max(largest_each)
    if norm_type == math.inf or largest == 0.0 or not math.isfinite(largest):
        return largest
    total = 0.0
    for g in grads:
        scaled = np.abs(g, dtype=np.float64)
        scaled /= largest
        if norm_type == 2.0:
            total += float(np.vdot(scaled, scaled))
        elif norm_type == 1.0:
            total += float(scaled.sum())
        else:
            total += float(np.sum(scaled**norm_type))
    return largest * total ** (1.0 / norm_type)


def clip_grad_norm(
    params: Parameter | Iterable[Parameter],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = True,
) -> float:
    """Rescale gradients in place so that their joint norm is at most ``max_norm``.

    total = ||(g_1, ..., g_k)||_p over every gradient as one vector; each
    gradient is multiplied by ``max_norm / (total + 1e-6)`` when that factor
    is below 1 and left untouched otherwise.

    Parameters
    ----------
    params : Parameter or iterable of Parameter
        Parameters whose ``grad`` to clip; those with ``grad is None`` are
        skipped.
    max_norm : float
        The largest allowed norm, > 0.
    norm_type : float
        p of the p-norm, > 0, or ``math.inf`` for the largest absolute entry.
    error_if_nonfinite : bool
        If the total norm is NaN or infinite: raise ``FloatingPointError`` and
        leave every gradient untouched (True), or, as PyTorch does with False,
        scale the gradients anyway (infinite total: factor 0; NaN total: every
        gradient becomes NaN) and return the total.

    Returns
    -------
    float
        The total norm of the gradients before clipping.
    """
    grads = _gradients(params, "clip_grad_norm")
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not max_norm > 0 or math.isnan(max_norm):
        raise ValueError(f"clip_grad_norm: max_norm must be > 0, got {max_norm}")
    if not norm_type > 0:
        raise ValueError(
            f"clip_grad_norm: norm_type must be > 0 or math.inf, got {norm_type}"
        )
    if not grads:
        return 0.0

    total = _total_norm(grads, norm_type)
    if not math.isfinite(total):
        if error_if_nonfinite:
            raise FloatingPointError(
                f"clip_grad_norm: the total {norm_type:g}-norm of the gradients is "
                f"{total}, so they cannot be clipped; the gradients were left "
                "untouched. Find where they become non-finite (a GradientMonitor "
                "with on_nonfinite='raise' names the layer), lower the learning "
                "rate, or pass error_if_nonfinite=False to scale them anyway"
            )
        coefficient = 0.0 if total == math.inf else math.nan
    else:
        coefficient = max_norm / (total + 1e-6)
    if coefficient < 1.0 or math.isnan(coefficient):
        with np.errstate(invalid="ignore"):
            for g in grads:
                g *= coefficient
    return total


def clip_grad_value(params: Parameter | Iterable[Parameter], clip_value: float) -> None:
    """Clip every gradient entry to ``[-clip_value, clip_value]``, in place.

    Parameters
    ----------
    params : Parameter or iterable of Parameter
        Parameters whose ``grad`` to clip; those with ``grad is None`` are
        skipped.
    clip_value : float
        The largest allowed absolute value of an entry, >= 0.
    """
    grads = _gradients(params, "clip_grad_value")
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value: clip_value must be >= 0, got {clip_value}")
    for g in grads:
        np.clip(g, -clip_value, clip_value, out=g)
