"""Mean-field signal propagation: predicted gradient gains of a deep network.

In a wide network whose weights are drawn with variance ``sigma_w^2 / fan_in``
and biases with variance ``sigma_b^2``, every pre-activation is Gaussian with
a variance ``q`` that follows the *length map* from layer to layer

    q_{l+1} = sigma_w^2 E_z[phi(sqrt(q_l) z)^2] + sigma_b^2,   z ~ N(0, 1),

and settles at its fixed point ``q*``. Going backwards, the mean squared
activation gradient is multiplied at each layer by

    chi1 = sigma_w^2 E_z[phi'(sqrt(q*) z)^2].

``chi1 < 1`` is the ordered phase (gradients vanish geometrically),
``chi1 > 1`` the chaotic phase (they explode) and ``chi1 = 1`` the edge of
chaos. The gradient changes by a factor ``e`` every ``xi = 1 / |ln chi1|``
layers (the depth scale), and Schoenholz et al. found that networks train
only up to a depth of about ``6 xi``.

Expectations over z ~ N(0, 1) are Gauss quadrature sums built so that the
engine's kinks cost no accuracy. Every activation here is smooth on each side
of 0 but not across it (ReLU and leaky ReLU jump in slope, ELU in curvature,
softsign has |x|), and Gauss-Hermite nodes spread over the whole line
converge slowly across such a kink: with 100 nodes softsign's E[phi'^2] is
off by 3%. So the integral is split at 0 and each half, truncated at
|z| = 12 (the Gaussian tail beyond is below 1e-31), gets 100 Gauss-Legendre
nodes clustered towards 0 and 12 (``numpy.polynomial.legendre.leggauss``).
Against adaptive quadrature the sums agree to about 1e-14 for q up to 1, and
to 1e-10 at q = 100, where tanh's slope is a spike 0.1 wide in z (a
Gauss-Hermite rule spaces its central nodes about 0.2 apart). No node sits
on 0, so ReLU's sums are exact: ``chi1 = sigma_w^2 / 2``. phi and phi' are
the engine's own activation layers evaluated in float64, so theory and
engine agree.

References
----------
Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli (2016), "Exponential
expressivity in deep neural networks through transient chaos".
Schoenholz, Gilmer, Ganguli & Sohl-Dickstein (2017), "Deep information
propagation" (chi1, the depth scales and the ``6 xi`` trainability bound).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.optimize import brentq

from .nn.activations import Activation, get_activation
from .nn.linear import Linear
from .nn.module import Module, Sequential

__all__ = [
    "TRAINABLE_DEPTH_FACTOR",
    "Prediction",
    "chi1",
    "critical_weight_var",
    "depth_scale",
    "predict",
    "q_star",
    "trainable_depth",
]

#: Networks deeper than this many depth scales were found untrainable
#: (Schoenholz et al. 2017, Fig. 5: trainable depth ~ 6 xi).
TRAINABLE_DEPTH_FACTOR = 6.0


def _split_gauss_rule(per_side: int = 100, cutoff: float = 12.0):
    """Nodes and weights of E[f(z)], z ~ N(0, 1), split at 0 (see module notes)."""
    t, v = leggauss(per_side)
    z = cutoff * (t + 1.0) / 2.0
    w = v * (cutoff / 2.0) * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return np.concatenate([-z[::-1], z]), np.concatenate([w[::-1], w])


_NODES, _WEIGHTS = _split_gauss_rule()

# Positively homogeneous activations, phi(a x) = a phi(x) for a > 0.
_HOMOGENEOUS = ("relu", "leaky_relu", "linear")

# q is evaluated inside [_Q_MIN, _Q_MAX]: q* = 0 stands for the limit q -> 0+
# (ReLU's slope is 1/2 on average there, not phi'(0) = 0), and an unbounded
# q* for the limit of large pre-activations.
_Q_MIN, _Q_MAX = 1e-100, 1e12


def _float64_activation(activation) -> Activation:
    """A float64 activation layer for a name, a class or an activation layer."""
    if isinstance(activation, str):
        return get_activation(activation, dtype=np.float64)
    if isinstance(activation, type) and issubclass(activation, Activation):
        return activation(dtype=np.float64)
    if isinstance(activation, Activation):
        # A private copy keeps the layer's settings (slope, alpha) without
        # touching the model's layer or firing its hooks.
        clone = copy.copy(activation)
        clone.dtype = np.dtype(np.float64)
        clone._forward_hooks, clone._backward_hooks = [], []
        clone._saved = None
        return clone
    if activation is None:
        return get_activation("identity", dtype=np.float64)
    raise TypeError(
        "activation must be a name ('tanh'), an Activation class or layer, or None "
        f"for the identity; got {type(activation).__name__}"
    )


def _check_variances(weight_var: float, bias_var: float) -> tuple[float, float]:
    weight_var, bias_var = float(weight_var), float(bias_var)
    if not (math.isfinite(weight_var) and weight_var > 0):
        raise ValueError(
            f"weight_var (sigma_w^2 = fan_in * Var(W)) must be positive and finite, "
            f"got {weight_var}"
        )
    if not (math.isfinite(bias_var) and bias_var >= 0):
        raise ValueError(
            f"bias_var (sigma_b^2) must be >= 0 and finite, got {bias_var}"
        )
    return weight_var, bias_var


def _moments(phi: Activation, q: float) -> tuple[float, float]:
    """E[phi(sqrt(q) z)^2] and E[phi'(sqrt(q) z)^2] for z ~ N(0, 1)."""
    q = min(max(q, _Q_MIN), _Q_MAX)
    y = phi.forward(math.sqrt(q) * _NODES)
    slope = phi.derivative()
    return float(_WEIGHTS @ (y * y)), float(_WEIGHTS @ (slope * slope))


def q_star(
    activation,
    weight_var: float,
    bias_var: float,
    *,
    q0: float = 1.0,
    tol: float = 1e-12,
    max_iter: int = 200,
) -> float:
    """Fixed point of the length map q = sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2.

    Parameters
    ----------
    activation : str, Activation class or layer, or None
        phi (``None`` for the identity).
    weight_var : float
        sigma_w^2 = fan_in * Var(W).
    bias_var : float
        sigma_b^2 = Var(b).
    q0 : float
        Starting variance of the iteration (the input's).
    tol : float
        Relative change below which the iteration stops.
    max_iter : int
        Budget of plain iterations; when they have not converged (near a
        critical point) a bracketed root search (Brent) finishes the job.

    Returns
    -------
    float
        The stable fixed point reached from ``q0``: ``0.0`` when q decays to
        zero, ``inf`` when it grows without bound (ReLU with sigma_w^2 > 2).
        When every q is a fixed point (ReLU, sigma_w^2 = 2, sigma_b^2 = 0)
        this is ``q0``.
    """
    weight_var, bias_var = _check_variances(weight_var, bias_var)
    phi = _float64_activation(activation)

    if phi.nonlinearity in _HOMOGENEOUS:
        # phi(a x) = a phi(x) for a > 0, so E[phi(sqrt(q) z)^2] = q m and the
        # length map q -> sigma_w^2 m q + sigma_b^2 is affine: solve it.
        slope = weight_var * _moments(phi, 1.0)[0]
        if abs(slope - 1.0) <= 1e-12:  # critical within the quadrature's rounding
            return float(q0) if bias_var == 0.0 else math.inf
        return bias_var / (1.0 - slope) if slope < 1.0 else math.inf

    def length_map(q: float) -> float:
        return weight_var * _moments(phi, q)[0] + bias_var

    # Plain iteration finds the fixed point reached from q0 ...
    q = float(q0)
    for _ in range(max_iter):
        new = length_map(q)
        if new > _Q_MAX:
            return math.inf
        if new < _Q_MIN:
            return 0.0
        if abs(new - q) <= tol * max(new, q):
            return new
        q = new

    # ... but near a critical point it creeps (q -> 0 only algebraically for
    # tanh at sigma_w^2 = 1), so finish with a bracketed root search in the
    # direction the iterates were moving.
    def excess(q: float) -> float:
        return length_map(q) - q

    step = 0.5 if excess(q) < 0 else 2.0
    other = q
    while excess(other) * excess(q) > 0:
        q, other = other, other * step
        if other < _Q_MIN:
            return 0.0
        if other > _Q_MAX:
            return math.inf
    low, high = sorted((q, other))
    return float(brentq(excess, low, high, xtol=tol * low, rtol=1e-15))


def chi1(activation, weight_var: float, bias_var: float = 0.0) -> float:
    """Per-layer gain of the mean squared activation gradient at the fixed point.

    chi1 = sigma_w^2 E[phi'(sqrt(q*) z)^2], z ~ N(0, 1). ReLU gives
    sigma_w^2 / 2 for any q*, so He initialisation (sigma_w^2 = 2) gives 1.
    """
    weight_var, bias_var = _check_variances(weight_var, bias_var)
    phi = _float64_activation(activation)
    q = q_star(phi, weight_var, bias_var)
    return weight_var * _moments(phi, q)[1]


def depth_scale(activation, weight_var: float, bias_var: float = 0.0) -> float:
    """Layers over which the gradient's size changes by a factor e: 1 / |ln chi1|.

    ``inf`` at the edge of chaos (|ln chi1| <= 1e-12); 0 when chi1 = 0. Schoenholz et
    al. write xi = -1 / ln chi1 for the ordered phase; the absolute value
    gives the same scale for the growth in the chaotic phase.
    """
    return _depth_scale(chi1(activation, weight_var, bias_var))


def _depth_scale(c: float) -> float:
    if c == 0.0:
        return 0.0
    log = abs(math.log(c))
    # Within rounding of chi1 = 1 (the quadrature's last bits) is critical.
    return math.inf if log <= 1e-12 else 1.0 / log


def trainable_depth(activation, weight_var: float, bias_var: float = 0.0) -> float:
    """Predicted maximum trainable depth, ``TRAINABLE_DEPTH_FACTOR * depth_scale``."""
    return TRAINABLE_DEPTH_FACTOR * depth_scale(activation, weight_var, bias_var)


def critical_weight_var(
    activation, bias_var: float = 0.0, *, low: float = 0.05, high: float = 20.0
) -> float:
    """The sigma_w^2 at the edge of chaos (chi1 = 1) for this bias variance.

    Found by Brent's method on ``chi1 - 1`` between ``low`` and ``high``.

    Raises
    ------
    ValueError
        When chi1 - 1 has the same sign at both ends (no edge of chaos in the
        interval, e.g. sigmoid, whose slope never exceeds 1/4, needs a large
        sigma_w^2: widen ``high``).
    """
    phi = _float64_activation(activation)

    def excess(weight_var: float) -> float:
        return chi1(phi, weight_var, bias_var) - 1.0

    at_low, at_high = excess(low), excess(high)
    if at_low * at_high > 0:
        raise ValueError(
            f"chi1 - 1 has the same sign at sigma_w^2 = {low} ({at_low:+.3g}) and "
            f"{high} ({at_high:+.3g}); widen the interval with low= and high="
        )
    return float(brentq(excess, low, high, xtol=1e-10))


@dataclass
class Prediction:
    """Mean-field prediction for each Linear layer of a multilayer perceptron.

    Attributes
    ----------
    layer_names : list of str
        ``<path>.Linear``, the names the gradient monitor uses.
    activations : list of str
        Name of the activation that follows each layer (``"linear"`` if none).
    weight_var : ndarray, shape (n_layers,)
        sigma_w^2 = fan_in * E[W^2], measured from the weights.
    bias_var : ndarray, shape (n_layers,)
        sigma_b^2 = E[b^2] (0 without bias).
    q : ndarray, shape (n_layers,)
        Predicted variance of each layer's output (its pre-activation), from
        an input whose features have mean square ``input_var``.
    gain : ndarray, shape (n_layers,)
        Predicted gain of the mean squared activation gradient from layer
        ``i``'s output back to layer ``i - 1``'s output,
        ``fan_out_i E[W_i^2] E[phi_{i-1}'(sqrt(q_{i-1}) z)^2]``; NaN for
        layer 0. Deep inside a uniform network it tends to ``chi1``.
    chi1 : ndarray, shape (n_layers,)
        chi1 of each layer's activation and variances at the fixed point q*.
    gradient_ratio : float
        Predicted RMS activation gradient at the first layer over the last,
        ``sqrt(prod(gain[1:]))``.
    depth_scale : float
        1 / |ln chi1| of the middle layer (``inf`` at the edge of chaos).
    trainable_depth : float
        ``TRAINABLE_DEPTH_FACTOR * depth_scale``.
    """

    layer_names: list[str]
    activations: list[str]
    weight_var: np.ndarray
    bias_var: np.ndarray
    q: np.ndarray
    gain: np.ndarray
    chi1: np.ndarray
    gradient_ratio: float
    depth_scale: float
    trainable_depth: float

    def to_dict(self) -> dict:
        """JSON-ready copy (NaN and inf become None)."""

        def clean(value):
            value = float(value)
            return value if math.isfinite(value) else None

        return {
            "layer_names": list(self.layer_names),
            "activations": list(self.activations),
            "weight_var": [clean(v) for v in self.weight_var],
            "bias_var": [clean(v) for v in self.bias_var],
            "q": [clean(v) for v in self.q],
            "gain": [clean(v) for v in self.gain],
            "chi1": [clean(v) for v in self.chi1],
            "gradient_ratio": clean(self.gradient_ratio),
            "depth_scale": clean(self.depth_scale),
            "trainable_depth": clean(self.trainable_depth),
        }


def _flatten(module: Module, path: str) -> list[tuple[str, Module]]:
    """The layers of (possibly nested) Sequential containers, in forward order."""
    if isinstance(module, Sequential):
        out = []
        for i, layer in enumerate(module.layers):
            out.extend(_flatten(layer, f"{path}.{i}" if path else str(i)))
        return out
    return [(path, module)]


def predict(model: Module, input_var: float = 1.0) -> Prediction:
    """Predict each layer's gradient gain from the model's current weights.

    Parameters
    ----------
    model : Module
        A ``Sequential`` (nested ones are flattened) of ``Linear`` layers,
        each optionally followed by one activation layer, or a single
        ``Linear``.
    input_var : float
        Mean square of the input features (1 for standardised data).

    Returns
    -------
    Prediction

    Raises
    ------
    ValueError
        For layers the mean-field recursion here does not cover
        (normalisation, residual, recurrent layers), an activation before the
        first Linear, or two activations in a row.

    Notes
    -----
    Weight and bias variances are second moments measured from the current
    weights (call it at initialisation to predict the initial gradients):
    sigma_w^2 = fan_in E[W^2] drives the forward length map, and the backward
    gain uses fan_out E[W^2] (the same number for square layers).
    """
    if not isinstance(model, Module):
        raise TypeError(f"predict takes a gradwatch Module, got {type(model).__name__}")
    layers = _flatten(model, "")
    linears: list[tuple[str, Linear, Activation | None]] = []
    for path, layer in layers:
        where = path or "<root>"
        if isinstance(layer, Linear):
            linears.append((path, layer, None))
        elif isinstance(layer, Activation):
            if not linears:
                raise ValueError(
                    f"theory.predict: the activation at {where!r} comes before any "
                    "Linear layer; the recursion starts at a Linear layer"
                )
            name, linear, previous = linears[-1]
            if previous is not None:
                raise ValueError(
                    f"theory.predict: two activations in a row at {where!r}; use "
                    "one activation after each Linear layer"
                )
            linears[-1] = (name, linear, layer)
        else:
            raise ValueError(
                f"theory.predict covers Sequential stacks of Linear and activation "
                f"layers; {type(layer).__name__} at {where!r} is not covered "
                "(normalisation, residual and recurrent layers have no mean-field "
                "prediction here)"
            )
    if not linears:
        raise ValueError("theory.predict found no Linear layer in the model")

    n = len(linears)
    names, activation_names = [], []
    weight_var, bias_var = np.empty(n), np.empty(n)
    q, gain, chi = np.empty(n), np.full(n, np.nan), np.empty(n)
    phis = []
    slope_sq_prev = 0.0
    for i, (path, linear, activation) in enumerate(linears):
        names.append(f"{path}.Linear" if path else "Linear")
        phi = _float64_activation(activation)
        phis.append(phi)
        activation_names.append(phi.nonlinearity)
        w = linear.weight.value.astype(np.float64)
        second_moment = float(np.mean(w * w))
        weight_var[i] = linear.in_features * second_moment
        b = None if linear.bias is None else linear.bias.value.astype(np.float64)
        bias_var[i] = 0.0 if b is None else float(np.mean(b * b))

        if i == 0:
            q[i] = weight_var[i] * float(input_var) + bias_var[i]
        else:
            y_sq, slope_sq_prev = _moments(phis[i - 1], q[i - 1])
            q[i] = weight_var[i] * y_sq + bias_var[i]
            gain[i] = linear.out_features * second_moment * slope_sq_prev
        chi[i] = chi1(phi, weight_var[i], bias_var[i]) if weight_var[i] > 0 else 0.0

    gains = gain[1:]
    ratio = float(math.sqrt(np.prod(gains))) if n > 1 else 1.0
    scale = _depth_scale(chi[n // 2])
    return Prediction(
        layer_names=names,
        activations=activation_names,
        weight_var=weight_var,
        bias_var=bias_var,
        q=q,
        gain=gain,
        chi1=chi,
        gradient_ratio=ratio,
        depth_scale=scale,
        trainable_depth=TRAINABLE_DEPTH_FACTOR * scale,
    )
