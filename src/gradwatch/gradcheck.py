"""Finite-difference checks of hand-written backward passes.

The scalar checked is ``L = sum(u * f(x))`` with ``u`` a *random* upstream
gradient. A plain ``sum(f(x))`` would hide real mistakes: BatchNorm's output
sums to a constant along the batch, and softmax's along the classes, so the
terms of their backward pass that such a loss exercises all cancel.

Each derivative is a central difference, (L(t + eps) - L(t - eps)) / (2 eps),
in float64. Errors are relative per array: ``||a - n|| / max(||a||, ||n||)``
with ``a`` the analytic and ``n`` the numeric gradient, which is small when
the two agree and does not blow up on entries that are zero.

One case it cannot judge: an array whose true gradient is exactly zero,
such as the bias of a ``Linear`` placed right before ``BatchNorm`` (the
batch mean removes it again). There ``n`` is pure rounding noise and the
relative error is about 1; check such a layer without that bias.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._validation import as_rng
from .nn.module import Module

__all__ = ["GradcheckResult", "gradcheck", "numerical_gradient", "relative_error"]


def numerical_gradient(
    f: Callable[[], float], array: np.ndarray, eps: float = 1e-6
) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to ``array``.

    ``array`` is perturbed in place, one entry at a time, and restored.
    """
    if array.dtype != np.float64:
        raise TypeError(
            f"finite differences need float64 arrays, got {array.dtype}; build the "
            "layer with dtype=np.float64"
        )
    grad = np.zeros_like(array)
    flat, grad_flat = array.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, array):
        raise ValueError("numerical_gradient needs a contiguous array it can perturb")
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        plus = f()
        flat[i] = original - eps
        minus = f()
        flat[i] = original
        grad_flat[i] = (plus - minus) / (2.0 * eps)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """``||a - n|| / max(||a||, ||n||)``, and 0 when both are exactly zero."""
    scale = max(np.linalg.norm(analytic), np.linalg.norm(numeric))
    if scale == 0.0:
        return 0.0
    return float(np.linalg.norm(analytic - numeric) / scale)


@dataclass
class GradcheckResult:
    """The outcome of ``gradcheck``.

    Attributes
    ----------
    max_error : float
        The worst relative error over all checked arrays.
    worst : str
        Which array it occurred in (``"input"`` or a parameter name).
    worst_index : tuple
        The entry of that array with the largest absolute difference.
    errors : dict
        Relative error of every checked array, by name.
    tolerance : float
        The bound the check was run with; ``passed`` compares against it.
    """

    max_error: float
    worst: str
    worst_index: tuple
    errors: dict[str, float] = field(default_factory=dict)
    tolerance: float = 1e-6

    @property
    def passed(self) -> bool:
        return self.max_error <= self.tolerance

    def __str__(self) -> str:
        status = "ok" if self.passed else "FAILED"
        return (
            f"gradcheck {status}: worst relative error {self.max_error:.2e} in "
            f"{self.worst} at {self.worst_index} (tolerance {self.tolerance:.0e})"
        )


def gradcheck(
    module: Module,
    x: np.ndarray,
    *,
    rng=0,
    eps: float = 1e-6,
    tolerance: float = 1e-6,
    check_input: bool = True,
) -> GradcheckResult:
    """Compare ``module.backward`` with central finite differences.

    The module is used in its current mode (call ``.train()`` or ``.eval()``
    first). Its parameters and ``x`` must be float64.

    Parameters
    ----------
    module : Module
        The layer or model to check.
    x : ndarray
        An input batch (float64).
    rng : Generator or int
        Source of the random upstream gradient.
    eps : float
        Finite-difference step.
    tolerance : float
        Bound on the relative error for ``result.passed``.
    check_input : bool
        Also check dL/dx (turn off for integer-like inputs).

    Returns
    -------
    GradcheckResult
    """
    x = np.array(x, dtype=np.float64, copy=True)
    named = dict(module.named_parameters())
    for name, parameter in named.items():
        if parameter.value.dtype != np.float64:
            raise TypeError(
                f"gradcheck needs float64 parameters, but {name} is "
                f"{parameter.value.dtype}; build the module with dtype=np.float64"
            )

    upstream = as_rng(rng).standard_normal(np.shape(module(x)))

    def loss() -> float:
        return float(np.sum(upstream * module(x)))

    module.zero_grad()
    module(x)
    analytic = {"input": np.array(module.backward(upstream.copy()), dtype=np.float64)}
    for name, parameter in named.items():
        grad = parameter.grad
        analytic[name] = np.zeros_like(parameter.value) if grad is None else grad.copy()

    numeric = {}
    if check_input:
        numeric["input"] = numerical_gradient(loss, x, eps)
    else:
        del analytic["input"]
    for name, parameter in named.items():
        numeric[name] = numerical_gradient(loss, parameter.value, eps)

    errors = {name: relative_error(analytic[name], numeric[name]) for name in numeric}
    worst = max(errors, key=errors.get) if errors else "input"
    diff = np.abs(analytic[worst] - numeric[worst]) if errors else np.zeros(1)
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), diff.shape))
    return GradcheckResult(
        max_error=errors.get(worst, 0.0),
        worst=worst,
        worst_index=index,
        errors=errors,
        tolerance=tolerance,
    )
