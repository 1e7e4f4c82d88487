"""Weight initialisers: the first remedy for vanishing and exploding gradients.

Every initialiser takes the weight's shape, keyword-only ``dtype`` (float32
by default) and ``rng`` (a ``numpy.random.Generator`` or an integer seed) and
returns a new array. Samples are drawn in float64 and then rounded to
``dtype``, so a seed gives the same weights bit for bit, and the float32
weights are the float64 ones rounded.

Shape convention: gradwatch stores a linear layer's weight as
``(in_features, out_features)`` (``y = x @ W``), the transpose of PyTorch's
``(out_features, in_features)``. ``fans`` reads the shape in this convention.

References
----------
Glorot & Bengio (2010), "Understanding the difficulty of training deep
feedforward neural networks" (Xavier/Glorot).
He, Zhang, Ren & Sun (2015), "Delving deep into rectifiers" (He/Kaiming).
LeCun, Bottou, Orr & Mueller (1998), "Efficient BackProp" (LeCun).
Saxe, McClelland & Ganguli (2014), "Exact solutions to the nonlinear dynamics
of learning in deep linear neural networks" (orthogonal).
Mezzadri (2007), "How to generate random matrices from the classical compact
groups" (the sign correction that makes QR's Q uniformly distributed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from ._validation import as_dtype, as_rng

__all__ = [
    "calculate_gain",
    "describe",
    "fans",
    "get",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "normal",
    "orthogonal",
    "uniform",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]

Shape = Sequence[int]
Initializer = Callable[..., np.ndarray]


def _shape(shape: Shape) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
    if any(int(s) < 0 for s in shape):
        raise ValueError(f"a weight shape cannot have negative sizes: {shape}")
    return tuple(int(s) for s in shape)


def _finish(values: np.ndarray, dtype) -> np.ndarray:
    return values.astype(as_dtype(dtype), copy=False)


def fans(shape: Shape) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` of a weight of this shape.

    For a 2-D weight ``(in_features, out_features)`` they are the two sizes.
    Extra trailing axes (a receptive field) multiply both.

    Raises
    ------
    ValueError
        For a shape with fewer than two axes: a bias or a scalar has no
        fan-in and fan-out; initialise it with ``zeros`` or ``normal``.
    """
    shape = _shape(shape)
    if len(shape) < 2:
        raise ValueError(
            f"fans need a weight with at least 2 axes (in_features, out_features), "
            f"got shape {shape}; a 1-D bias has no fan-in/fan-out, use zeros or normal"
        )
    receptive = math.prod(shape[2:])
    return shape[0] * receptive, shape[1] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for an activation (PyTorch's values).

    ====================  ==================================
    nonlinearity          gain
    ====================  ==================================
    linear, identity,     1
    sigmoid
    tanh                  5/3
    relu                  sqrt(2)
    leaky_relu            sqrt(2 / (1 + negative_slope^2)),
                          ``param`` is the slope (default 0.01)
    selu                  3/4
    ====================  ==================================
    """
    name = nonlinearity.lower()
    if name in ("linear", "identity", "sigmoid"):
        return 1.0
    if name == "tanh":
        return 5.0 / 3.0
    if name == "relu":
        return math.sqrt(2.0)
    if name == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, bool) or not isinstance(param, int | float):
            raise ValueError(f"negative_slope {param!r} is not a valid number")
        else:
            slope = float(param)
        return math.sqrt(2.0 / (1.0 + slope**2))
    if name == "selu":
        return 3.0 / 4.0
    raise ValueError(
        f"unknown nonlinearity {nonlinearity!r}; choose one of linear, identity, "
        "sigmoid, tanh, relu, leaky_relu, selu"
    )


def zeros(shape: Shape, *, dtype=np.float32, rng=None) -> np.ndarray:
    """All zeros (the usual bias initialisation). ``rng`` is accepted and unused."""
    return np.zeros(_shape(shape), dtype=as_dtype(dtype))


def normal(
    shape: Shape, std: float = 1.0, mean: float = 0.0, *, dtype=np.float32, rng=None
) -> np.ndarray:
    """Gaussian weights with the given standard deviation: N(mean, std^2)."""
    if not std >= 0:
        raise ValueError(f"std must be non-negative, got {std}")
    return _finish(as_rng(rng).normal(mean, std, size=_shape(shape)), dtype)


def uniform(
    shape: Shape, bound: float = 1.0, *, dtype=np.float32, rng=None
) -> np.ndarray:
    """Uniform weights on [-bound, bound]."""
    if not bound >= 0:
        raise ValueError(f"bound must be non-negative, got {bound}")
    return _finish(as_rng(rng).uniform(-bound, bound, size=_shape(shape)), dtype)


def xavier_normal(shape: Shape, gain: float = 1.0, *, dtype=np.float32, rng=None):
    """Glorot/Xavier normal: std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape)
    std = gain * math.sqrt(2.0 / max(fan_in + fan_out, 1))
    return normal(shape, std, dtype=dtype, rng=rng)


def xavier_uniform(shape: Shape, gain: float = 1.0, *, dtype=np.float32, rng=None):
    """Glorot/Xavier uniform: bound = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape)
    bound = gain * math.sqrt(6.0 / max(fan_in + fan_out, 1))
    return uniform(shape, bound, dtype=dtype, rng=rng)


def _he_std(shape, nonlinearity, negative_slope, mode) -> float:
    fan_in, fan_out = fans(shape)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    param = negative_slope if nonlinearity == "leaky_relu" else None
    return calculate_gain(nonlinearity, param) / math.sqrt(max(fan, 1))


def he_normal(
    shape: Shape,
    nonlinearity: str = "relu",
    negative_slope: float = 0.0,
    mode: str = "fan_in",
    *,
    dtype=np.float32,
    rng=None,
):
    """He/Kaiming normal: std = gain(nonlinearity) / sqrt(fan).

    With ReLU this keeps the variance of the activations (``mode="fan_in"``)
    or of the gradients (``mode="fan_out"``) constant from layer to layer.
    """
    std = _he_std(shape, nonlinearity, negative_slope, mode)
    return normal(shape, std, dtype=dtype, rng=rng)


def he_uniform(
    shape: Shape,
    nonlinearity: str = "relu",
    negative_slope: float = 0.0,
    mode: str = "fan_in",
    *,
    dtype=np.float32,
    rng=None,
):
    """He/Kaiming uniform: bound = sqrt(3) * gain(nonlinearity) / sqrt(fan)."""
    std = _he_std(shape, nonlinearity, negative_slope, mode)
    return uniform(shape, math.sqrt(3.0) * std, dtype=dtype, rng=rng)


def lecun_normal(shape: Shape, *, dtype=np.float32, rng=None):
    """LeCun normal: std = 1 / sqrt(fan_in) (untruncated)."""
    fan_in, _ = fans(shape)
    return normal(shape, 1.0 / math.sqrt(max(fan_in, 1)), dtype=dtype, rng=rng)


def orthogonal(shape: Shape, gain: float = 1.0, *, dtype=np.float32, rng=None):
    """A (semi-)orthogonal matrix scaled by ``gain``.

    The QR factorisation of a Gaussian matrix gives Q; multiplying each
    column of Q by the sign of the matching diagonal entry of R makes Q
    uniformly (Haar) distributed (Mezzadri 2007). Shapes with more than two
    axes are flattened to ``(shape[0], rest)``.
    """
    shape = _shape(shape)
    if len(shape) < 2:
        raise ValueError(f"orthogonal needs at least 2 axes, got shape {shape}")
    rows, cols = shape[0], math.prod(shape[1:])
    gaussian = as_rng(rng).standard_normal((rows, cols))
    if rows < cols:
        gaussian = gaussian.T
    q, r = np.linalg.qr(gaussian)
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)
    if rows < cols:
        q = q.T
    return _finish(gain * q.reshape(shape), dtype)


_BY_NAME: dict[str, Initializer] = {
    "zeros": zeros,
    "normal": normal,
    "uniform": uniform,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "glorot_normal": xavier_normal,
    "glorot_uniform": xavier_uniform,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "kaiming_normal": he_normal,
    "kaiming_uniform": he_uniform,
    "lecun_normal": lecun_normal,
    "orthogonal": orthogonal,
}


def describe(spec: str | Initializer) -> str:
    """A short readable name of an initialiser: ``"he_normal"``, ``"normal(std=0.1)"``.

    Names are kept as given; a ``functools.partial`` shows its fixed keywords.
    """
    if isinstance(spec, str):
        return spec
    if isinstance(spec, partial):
        arguments = [repr(a) for a in spec.args[1:]] + [
            f"{key}={value!r}" for key, value in spec.keywords.items()
        ]
        return f"{describe(spec.func)}({', '.join(arguments)})"
    return getattr(spec, "__name__", type(spec).__name__)


def get(spec: str | Initializer) -> Initializer:
    """Resolve an initialiser given by name (``"he_normal"``) or as a callable.

    A callable must accept ``(shape, *, dtype, rng)``; use ``functools.partial``
    to fix other arguments, e.g. ``partial(init.normal, std=0.01)``.
    """
    if callable(spec):
        return spec
    if isinstance(spec, str) and spec.lower() in _BY_NAME:
        return _BY_NAME[spec.lower()]
    raise ValueError(
        f"unknown initialiser {spec!r}; choose one of {', '.join(sorted(_BY_NAME))} "
        "or pass a callable (shape, *, dtype, rng) -> array"
    )
