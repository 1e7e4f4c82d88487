"""``GradientMonitor``: per-layer gradient statistics recorded during training.

The monitor hooks into a model (``Module.register_backward_hook``) and, on
every ``every``-th call of ``model.backward``, records for each layer with
parameters:

- the L2 norm, mean |g| and max |g| of the weight gradient, and of the bias
  gradient (weights are every parameter not named like a bias);
- the *activation gradient* RMS: sqrt(mean(g^2)) of dL/da at the layer's
  output, the gradient the layer receives. This is the quantity that decays
  with depth: in a bias-free ReLU network the weight-gradient norms of the
  first and last layers can look alike while the activation gradient has
  vanished;
- the update-to-weight ratio ||update|| / ||W|| of the step the optimiser
  took after that backward pass (given ``optimizer=`` or ``report_update``);
- the fraction of *dead* units: ReLU units whose slope is 0 for every
  sample of the batch (so they pass no gradient at all), and of *saturated*
  units: sigmoid, tanh or softsign units whose slope is below
  ``SATURATION_THRESHOLD`` (1e-2) times the activation's largest slope for
  every sample of the batch (tanh: |tanh(x)| > sqrt(0.99), i.e. |x| > 2.99;
  sigmoid: phi' < 0.0025, |x| > 5.99). Both are attributed to the layer
  with parameters that feeds the activation (the one before it in its
  ``Sequential``);
- for recurrent layers (any layer with a ``grad_through_time`` attribute),
  the gradient through time, one value per time step.

The gradient statistics describe the gradients as the backward pass leaves
them, before any clipping; the update ratio describes the step actually
taken.

Statistics live in a preallocated float64 array (statistic x step x layer)
that doubles when full, so recording costs a few whole-array reductions per
layer (``dot`` for the squared norm, then sum and max of |g| computed into a
reused buffer) and no Python work per element.

On every backward call, recorded or not, a cheap guard (one ``dot`` per
gradient) watches for NaN and Inf: the first layer, in backward order, whose
activation or parameter gradient is not finite is named in a
``NonFiniteGradientError`` (or a warning with ``on_nonfinite="warn"``).
"""

from __future__ import annotations

import json
import logging
import math
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import theory
from .._files import atomic_write
from .._validation import positive_int
from ..nn.activations import Activation, ReLU, Sigmoid, Tanh
from ..nn.linear import Linear
from ..nn.module import Module, Parameter, Sequential

__all__ = ["STATS", "GradientMonitor", "LayerInfo", "NonFiniteGradientError"]

logger = logging.getLogger(__name__)

#: The statistics ``GradientMonitor.history`` knows, one column per layer.
STATS = (
    "weight_norm",
    "weight_mean_abs",
    "weight_max_abs",
    "bias_norm",
    "bias_mean_abs",
    "bias_max_abs",
    "activation_rms",
    "update_ratio",
    "dead_fraction",
    "saturated_fraction",
)
_INDEX = {name: i for i, name in enumerate(STATS)}
_RMS = _INDEX["activation_rms"]

#: A unit is saturated when its slope stays below this fraction of the
#: activation's largest slope for every sample of the batch.
SATURATION_THRESHOLD = 1e-2

# Largest slope of each saturating activation: sigmoid' <= 1/4, tanh' <= 1,
# softsign' <= 1.
_MAX_SLOPE = {"sigmoid": 0.25, "tanh": 1.0, "softsign": 1.0}

_RECURRENT_CLASSES = ("RNN", "LSTM", "GRU")

# Arrays up to this size (biases) are summed by add.reduce: for them the
# cost is the number of NumPy calls, not the pass over the data.
_SMALL = 4096


class NonFiniteGradientError(FloatingPointError):
    """A gradient became NaN or Inf.

    Attributes
    ----------
    layer : str
        The first layer, in backward order, whose gradient was not finite.
    step : int
        The index of the backward call (0 for the first) where it happened.
    """

    def __init__(self, message: str, layer: str, step: int) -> None:
        super().__init__(message)
        self.layer = layer
        self.step = step


@dataclass
class LayerInfo:
    """What the monitor read from one layer at attach time (for the diagnosis).

    Attributes
    ----------
    name : str
        ``<dotted path>.<ClassName>``.
    kind : str
        Class name of the layer (``"Linear"``, ``"LSTM"``, ``"BatchNorm"``).
    activation : str or None
        ``nonlinearity`` of the activation that follows the layer in its
        ``Sequential``, or of a recurrent layer's hidden state.
    init_name : str or None
        The initialiser name of a ``Linear`` layer.
    weight_std : float
        Standard deviation of the weight values at attach time.
    fan_in, fan_out : int
        Sizes of a ``Linear`` layer (0 for others).
    weight_var : float
        sigma_w^2 = fan_in * E[W^2] at attach time (NaN for non-Linear layers).
    recurrent : bool
        Whether the layer reports a gradient through time.
    """

    name: str
    kind: str
    activation: str | None
    init_name: str | None
    weight_std: float
    fan_in: int
    fan_out: int
    weight_var: float
    recurrent: bool


def _is_bias(parameter: Parameter) -> bool:
    name = parameter.name.lower()
    return "bias" in name or name == "beta"


def _is_recurrent(module: Module) -> bool:
    return hasattr(module, "grad_through_time") or type(module).__name__ in (
        _RECURRENT_CLASSES
    )


def _find_layers(model: Module) -> list[tuple[str, Module]]:
    """Layers with parameters (and recurrent layers), outermost first, in order.

    A module whose own parameters or recurrence make it a layer hides the
    modules inside it (a recurrent layer's cells are part of it).
    """
    found = []
    hidden_prefixes: list[str] = []
    for path, module in model.named_modules():
        if any(path == p or path.startswith(p + ".") for p in hidden_prefixes):
            continue
        if module.own_parameters() or _is_recurrent(module):
            found.append((path, module))
            hidden_prefixes.append(path)
            if path == "":
                break
    return found


def _layer_name(path: str, module: Module) -> str:
    cls = type(module).__name__
    return f"{path}.{cls}" if path else cls


def _following_activations(
    model: Module, layer_ids: dict[int, int]
) -> dict[int, Activation]:
    """Map a layer index to the activation that follows it in a ``Sequential``."""
    result: dict[int, Activation] = {}
    for container in model.modules():
        if not isinstance(container, Sequential):
            continue
        feeder: int | None = None
        for element in container.layers:
            if id(element) in layer_ids:
                feeder = layer_ids[id(element)]
            elif isinstance(element, Activation):
                if feeder is not None and feeder not in result:
                    result[feeder] = element
                feeder = None
            else:
                inner = [
                    layer_ids[id(m)] for m in element.modules() if id(m) in layer_ids
                ]
                feeder = inner[-1] if inner else feeder
    return result


def _json_safe(value):
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return value


class GradientMonitor:
    """Record per-layer gradient statistics of a model while it trains.

    Parameters
    ----------
    model : Module
        The model; its layers with parameters are monitored.
    every : int
        Record every ``every``-th call of ``model.backward`` (calls 0, every,
        2 every, ...). The non-finite guard runs on every call.
    optimizer : optimiser with ``register_step_hook``, optional
        When given, the update-to-weight ratio of each recorded step is
        recorded (the monitor hooks into the step after each recorded
        backward call only, so unrecorded steps cost the optimiser nothing).
    on_nonfinite : {"raise", "warn"}
        What to do the first time a gradient is NaN or Inf: raise
        ``NonFiniteGradientError`` or issue a ``RuntimeWarning`` and go on.

    Attributes
    ----------
    layer_names : list of str
        Monitored layers, ``<dotted path>.<ClassName>``, in forward order.
    layer_info : list of LayerInfo
        The structure the diagnosis reads (activation, initialiser, std).
    prediction : theory.Prediction or None
        Mean-field prediction from the weights at attach time, for
        multilayer perceptrons (None for other models).
    nonfinite : dict or None
        ``{"layer", "step", "what"}`` of the first non-finite gradient seen.

    Examples
    --------
    >>> monitor = GradientMonitor(model, every=10)        # doctest: +SKIP
    >>> ...train...
    >>> print(monitor.diagnose())                         # doctest: +SKIP

    Notes
    -----
    The monitor attaches on construction and stays attached until
    ``detach()`` (or the end of a ``with`` block).
    """

    def __init__(
        self,
        model: Module,
        every: int = 1,
        optimizer=None,
        on_nonfinite: str = "raise",
    ) -> None:
        if not isinstance(model, Module):
            raise TypeError(
                "GradientMonitor watches a gradwatch Module, got "
                f"{type(model).__name__}"
            )
        self.every = positive_int(every, "every")
        if on_nonfinite not in ("raise", "warn"):
            raise ValueError(
                f"on_nonfinite must be 'raise' or 'warn', got {on_nonfinite!r}"
            )
        self.on_nonfinite = on_nonfinite
        self.model: Module | None = model

        found = _find_layers(model)
        if not found:
            raise ValueError(
                f"{type(model).__name__} has no layer with parameters to monitor"
            )
        self._modules = [module for _, module in found]
        self.layer_names = [_layer_name(path, module) for path, module in found]
        ids = {id(module): i for i, module in enumerate(self._modules)}
        self._activations = _following_activations(model, ids)
        self.layer_info = [
            self._describe(i, name, module)
            for i, (name, module) in enumerate(
                zip(self.layer_names, self._modules, strict=True)
            )
        ]
        self.model_summary = {
            "model": type(model).__name__,
            "has_batchnorm": any("Norm" in type(m).__name__ for m in model.modules()),
            "has_residual": any(
                "Residual" in type(m).__name__ for m in model.modules()
            ),
            "recurrent": sorted(
                {info.kind for info in self.layer_info if info.recurrent}
            ),
        }
        try:
            self.prediction: theory.Prediction | None = theory.predict(model)
        except ValueError as error:
            logger.debug("no mean-field prediction for this model: %s", error)
            self.prediction = None

        # Per-layer parameter lists, split once so recording does no lookups.
        self._weights = [
            [p for p in m.parameters() if not _is_bias(p)] for m in self._modules
        ]
        self._biases = [
            [p for p in m.parameters() if _is_bias(p)] for m in self._modules
        ]
        self._params = [w + b for w, b in zip(self._weights, self._biases, strict=True)]
        self._owner = {}
        for i in range(len(self._modules)):
            for p in self._weights[i]:
                self._owner[id(p)] = (i, False)
            for p in self._biases[i]:
                self._owner[id(p)] = (i, True)
        self._saturation = {}
        for i, activation in self._activations.items():
            rule = self._saturation_rule(activation)
            if rule is not None:
                self._saturation[i] = (_INDEX[rule[0]], rule[1], activation)
        self._recurrent = {i for i, m in enumerate(self._modules) if _is_recurrent(m)}

        self._capacity = 16
        self._data = np.full((len(STATS), self._capacity, len(self._modules)), np.nan)
        self._steps = np.zeros(self._capacity, dtype=np.int64)
        self._n = 0
        self._gtt: dict[int, np.ndarray] = {}
        self._n_backward = 0
        self._row_step = -1
        self.nonfinite: dict | None = None
        self._handles: list = []
        self._buffers: dict[np.dtype, np.ndarray] = {}
        self._ones_cache: dict[tuple, np.ndarray] = {}
        self.read_only = False
        self._attach(optimizer)

    # -- construction helpers ------------------------------------------------

    def _describe(self, index: int, name: str, module: Module) -> LayerInfo:
        activation = self._activations.get(index)
        act_name = activation.nonlinearity if activation is not None else None
        recurrent = _is_recurrent(module)
        if recurrent:
            act_name = getattr(module, "nonlinearity", None) or act_name
        weights = [p.value for p in module.parameters() if not _is_bias(p)]
        values = (
            np.concatenate([w.ravel().astype(np.float64) for w in weights])
            if weights
            else np.zeros(0)
        )
        std = float(values.std()) if values.size else math.nan
        fan_in = fan_out = 0
        weight_var = math.nan
        init_name = None
        if isinstance(module, Linear):
            fan_in, fan_out = module.in_features, module.out_features
            weight_var = fan_in * float(np.mean(values * values))
            init_name = str(module.init_name)
        return LayerInfo(
            name=name,
            kind=type(module).__name__,
            activation=act_name,
            init_name=init_name,
            weight_std=std,
            fan_in=fan_in,
            fan_out=fan_out,
            weight_var=weight_var,
            recurrent=recurrent,
        )

    @staticmethod
    def _saturation_rule(activation: Activation):
        """(statistic, function of the activation -> per-unit flag array) or None."""
        kind = activation.nonlinearity
        cls = type(activation)
        if kind == "relu" or (
            kind == "leaky_relu" and getattr(activation, "negative_slope", 1) == 0
        ):
            if cls is ReLU:
                # ReLU keeps its output y >= 0; a unit is dead if y = 0 for all rows.
                return "dead_fraction", lambda a, _: _column_max(_rows(a._saved)) <= 0
            return "dead_fraction", lambda a, _: _column_max(_rows(a.derivative())) <= 0
        if kind not in _MAX_SLOPE:
            return None
        if cls is Tanh:
            # Tanh keeps y = tanh(x); 1 - y^2 < t  <=>  |y| > sqrt(1 - t).
            bound = math.sqrt(1.0 - SATURATION_THRESHOLD)
            return (
                "saturated_fraction",
                lambda a, scratch: _abs_min(_rows(a._saved), scratch) > bound,
            )
        if cls is Sigmoid:
            # Sigmoid keeps y; y (1 - y) < t / 4  <=>  |y - 1/2| > sqrt(1 - t) / 2.
            bound = math.sqrt(1.0 - SATURATION_THRESHOLD) / 2.0
            return (
                "saturated_fraction",
                lambda a, scratch: _abs_min(_rows(a._saved) - 0.5, scratch) > bound,
            )
        limit = SATURATION_THRESHOLD * _MAX_SLOPE[kind]
        return (
            "saturated_fraction",
            lambda a, _: _column_max(_rows(a.derivative())) < limit,
        )

    # -- attaching -------------------------------------------------------------

    def _attach(self, optimizer) -> None:
        if optimizer is not None and not hasattr(optimizer, "register_step_hook"):
            raise TypeError(
                f"optimizer {type(optimizer).__name__} has no register_step_hook; "
                "pass a gradwatch.optim optimiser or call monitor.report_update()"
            )
        for i, module in enumerate(self._modules):
            self._handles.append(module.register_backward_hook(self._layer_hook(i)))
        # Registered last, so it runs after the layers' hooks even when the
        # model itself is the only layer.
        self._handles.append(self.model.register_backward_hook(self._count_backward))
        # The optimiser's step hook is registered only after a recorded
        # backward call and removed once it has fired: while a hook is
        # registered the optimiser copies every parameter to report the
        # update, which unrecorded steps need not pay for.
        self._optimizer = optimizer
        self._step_handle = None

    def detach(self) -> None:
        """Remove every hook; the recorded history stays available."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if self._step_handle is not None:
            self._step_handle.remove()
            self._step_handle = None
        self._optimizer = None

    def __enter__(self) -> GradientMonitor:
        return self

    def __exit__(self, *exc) -> None:
        self.detach()

    def _count_backward(self, module, grad_out, grad_in) -> None:
        recorded = self._n_backward % self.every == 0
        if recorded and self._optimizer is not None and self._step_handle is None:
            self._step_handle = self._optimizer.register_step_hook(self._on_step)
        self._n_backward += 1

    def _layer_hook(self, index: int):
        def hook(module, grad_out, grad_in):
            self._on_layer_backward(index, module, grad_out)

        return hook

    # -- recording -------------------------------------------------------------

    def _row(self, step: int) -> int:
        """The storage row of ``step``, opening a new one (doubling) if needed."""
        if self._row_step != step:
            if self._n == self._capacity:
                self._capacity *= 2
                grown = np.full(
                    (len(STATS), self._capacity, self._data.shape[2]), np.nan
                )
                grown[:, : self._n] = self._data[:, : self._n]
                self._data = grown
                self._steps = np.resize(self._steps, self._capacity)
                for i, series in self._gtt.items():
                    bigger = np.full((self._capacity, series.shape[1]), np.nan)
                    bigger[: series.shape[0]] = series
                    self._gtt[i] = bigger
            self._steps[self._n] = step
            self._n += 1
            self._row_step = step
        return self._n - 1

    def _on_layer_backward(self, index: int, module: Module, grad_out) -> None:
        # Overflow while squaring a huge gradient is expected here and handled
        # (the sums are rechecked), so NumPy must not warn about it.
        with np.errstate(all="ignore"):
            if self._n_backward % self.every:
                self._guard(index, grad_out)
            else:
                self._record(index, module, grad_out, self._n_backward)

    def _record(self, index: int, module: Module, grad_out, step: int) -> None:
        # ``out`` is a view of this step's and layer's column of every statistic.
        row = self._row(step)  # may grow self._data, so index it afterwards
        out = self._data[:, row, index]
        bad = None
        if grad_out is not None:
            flat = np.asarray(grad_out).reshape(-1)
            square = float(np.dot(flat, flat))
            if math.isfinite(square) and flat.size:
                out[_RMS] = math.sqrt(square / flat.size)
            elif flat.size:
                bad = _confirm(flat, "activation gradient")
                out[_RMS] = _rms(flat)
        weights, biases = self._weights[index], self._biases[index]
        for params, base, what in ((weights, 0, "weight"), (biases, 3, "bias")):
            if params:
                found = self._fill(params, out, base, f"{what} gradient")
                bad = bad or found
        if bad is not None:
            self._report_nonfinite(index, step, bad)

        rule = self._saturation.get(index)
        if rule is not None:
            stat, flags, activation = rule
            unit_flags = flags(activation, self._scratch)
            out[stat] = np.count_nonzero(unit_flags) / unit_flags.size

        if index in self._recurrent:
            series = getattr(module, "grad_through_time", None)
            if series is not None:
                self._store_through_time(index, row, np.asarray(series, np.float64))

    def _fill(self, params: list[Parameter], out, base: int, what: str) -> str | None:
        """Write norm, mean |g| and max |g| of the parameters' gradients into ``out``.

        Returns ``what`` when a gradient holds NaN or Inf. |g| goes into a
        reused buffer and the three reductions run on it while it is in cache.
        """
        square = total = 0.0
        size = 0
        maxima = []
        for parameter in params:
            g = parameter.grad
            if g is None or g.size == 0:
                continue
            flat = g.reshape(-1)
            magnitude = np.abs(flat, out=self._scratch(flat.dtype, flat.size))
            square += float(np.dot(magnitude, magnitude))
            if flat.size <= _SMALL:
                total += float(np.add.reduce(magnitude))
            else:
                # sum |g| as two matrix-vector products with ones: BLAS runs
                # them about twice as fast as NumPy's pairwise add.reduce.
                rows = magnitude.reshape(-1, g.shape[-1])
                row_sums = np.dot(rows, self._ones(flat.dtype, rows.shape[1]))
                total += float(np.dot(row_sums, self._ones(flat.dtype, rows.shape[0])))
            maxima.append(float(np.maximum.reduce(magnitude)))
            size += flat.size
        if size == 0:
            return None
        out[base + 1] = total / size
        # np.max, unlike Python's max, lets a NaN through.
        out[base + 2] = maxima[0] if len(maxima) == 1 else float(np.max(maxima))
        if math.isfinite(square):
            out[base] = math.sqrt(square)
            return None
        # Overflowed squares or a NaN/Inf: recompute the norm with rescaling.
        grads = [p.grad for p in params if p.grad is not None]
        out[base] = _norm(grads)
        for g in grads:
            if not np.isfinite(g).all():
                return what
        return None

    def _scratch(self, dtype: np.dtype, size: int) -> np.ndarray:
        """A reused 1-D work array of at least ``size`` entries of ``dtype``."""
        buffer = self._buffers.get(dtype)
        if buffer is None or buffer.size < size:
            buffer = self._buffers[dtype] = np.empty(size, dtype)
        return buffer[:size]

    def _ones(self, dtype: np.dtype, size: int) -> np.ndarray:
        """A cached read-only vector of ``size`` ones."""
        key = (dtype, size)
        ones = self._ones_cache.get(key)
        if ones is None:
            ones = self._ones_cache[key] = np.ones(size, dtype)
            ones.flags.writeable = False
        return ones

    def _guard(self, index: int, grad_out) -> None:
        """The cheap non-finite check of a step that is not recorded.

        One dot product per gradient: a NaN or Inf anywhere makes the total
        of the squares non-finite. Only then are the arrays looked at one by
        one (a huge but finite total is a false alarm that this clears).
        """
        if self.nonfinite is not None:
            return
        total = 0.0
        if grad_out is not None:
            flat = np.asarray(grad_out).reshape(-1)
            total = float(np.dot(flat, flat))
        for parameter in self._params[index]:
            g = parameter.grad
            if g is not None:
                flat = g.reshape(-1)
                total += float(np.dot(flat, flat))
        if math.isfinite(total):
            return
        bad = None
        if grad_out is not None:
            bad = _confirm(grad_out, "activation gradient")
        for params, what in (
            (self._weights[index], "weight gradient"),
            (self._biases[index], "bias gradient"),
        ):
            for p in params:
                if bad is None and p.grad is not None:
                    bad = _confirm(p.grad, what)
        if bad is not None:
            self._report_nonfinite(index, self._n_backward, bad)

    def _report_nonfinite(self, index: int, step: int, what: str) -> None:
        if self.nonfinite is not None:
            return
        name = self.layer_names[index]
        self.nonfinite = {"layer": name, "step": int(step), "what": what}
        origin = (
            " (the gradient passed to backward was already non-finite: check the loss)"
            if index == len(self.layer_names) - 1 and what == "activation gradient"
            else ""
        )
        message = (
            f"non-finite gradient (NaN or Inf) first appeared at layer {name!r} "
            f"(backward order) on backward call {step}: its {what} is not finite"
            f"{origin}. Lower the learning rate, clip gradients with "
            "gradwatch.clip_grad_norm, or check the loss for log(0) and division "
            "by zero; pass on_nonfinite='warn' to record and continue"
        )
        if self.on_nonfinite == "raise":
            raise NonFiniteGradientError(message, name, int(step))
        warnings.warn(message, RuntimeWarning, stacklevel=4)

    def _store_through_time(self, index: int, row: int, series: np.ndarray) -> None:
        series = series.ravel()
        store = self._gtt.get(index)
        if store is None or store.shape[1] < series.size:
            width = series.size if store is None else max(series.size, store.shape[1])
            grown = np.full((self._capacity, width), np.nan)
            if store is not None:
                grown[:, : store.shape[1]] = store
            self._gtt[index] = store = grown
        store[row, : series.size] = series
        store[row, series.size :] = np.nan

    def _on_step(self, optimizer, updates) -> None:
        self.report_update(updates)
        if self._step_handle is not None:
            self._step_handle.remove()
            self._step_handle = None

    def report_update(self, updates) -> None:
        """Record the update-to-weight ratio of the step after the last backward.

        Call it after the optimiser's step when the optimiser has no step hook
        (``optimizer=`` does this automatically).

        Parameters
        ----------
        updates : iterable of (Parameter, ndarray) or mapping of str to ndarray
            Each parameter's change in this step (``new value - old value``),
            the parameter given as the object or by its name in
            ``model.named_parameters()``.

        Notes
        -----
        The ratio of a layer is sqrt(sum ||u||^2) / sqrt(sum ||W||^2) over its
        updated weights (biases excluded: they start at zero), with W the
        value when this is called, both summed in the parameters' own dtype.
        A step whose backward call was not recorded is ignored.
        """
        if self.read_only:
            raise RuntimeError("a loaded monitor is read-only; it records nothing")
        step = self._n_backward - 1
        if self._n == 0 or self._steps[self._n - 1] != step:
            return
        if isinstance(updates, Mapping):
            named = dict(self.model.named_parameters())
            unknown = sorted(set(updates) - set(named))
            if unknown:
                raise KeyError(
                    f"report_update: {unknown} are not parameters of the model; "
                    f"names look like {list(named)[:3]}"
                )
            pairs: Iterable = ((named[k], v) for k, v in updates.items())
        else:
            pairs = updates
        n_layers = len(self._modules)
        update_sq = np.zeros(n_layers)
        weight_sq = np.zeros(n_layers)
        touched = np.zeros(n_layers, dtype=bool)
        with np.errstate(all="ignore"):
            for parameter, update in pairs:
                owner = self._owner.get(id(parameter))
                if owner is None or owner[1]:
                    continue
                change = np.asarray(update).reshape(-1)
                value = parameter.value.reshape(-1)
                update_sq[owner[0]] += float(np.dot(change, change))
                weight_sq[owner[0]] += float(np.dot(value, value))
                touched[owner[0]] = True
        row = self._n - 1
        for i in np.flatnonzero(touched):
            ratio = (
                math.sqrt(update_sq[i] / weight_sq[i]) if weight_sq[i] > 0 else math.inf
            )
            self._data[_INDEX["update_ratio"], row, i] = ratio

    # -- reading ---------------------------------------------------------------

    @property
    def steps(self) -> np.ndarray:
        """Indices of the recorded backward calls (0 for the first call)."""
        return self._steps[: self._n].copy()

    @property
    def n_backward(self) -> int:
        """How many ``model.backward`` calls the monitor has seen."""
        return self._n_backward

    def history(self, stat: str) -> np.ndarray:
        """One statistic for every recorded step and layer.

        Parameters
        ----------
        stat : str
            One of ``STATS``.

        Returns
        -------
        ndarray, shape (n_recorded, n_layers)
            NaN where the statistic does not apply (no bias, no optimiser,
            no ReLU after the layer, ...).
        """
        if stat not in _INDEX:
            raise ValueError(f"unknown statistic {stat!r}; choose one of {STATS}")
        return self._data[_INDEX[stat], : self._n].copy()

    def _layer_index(self, layer_name: str) -> int:
        try:
            return self.layer_names.index(layer_name)
        except ValueError:
            raise KeyError(
                f"no monitored layer {layer_name!r}; the layers are {self.layer_names}"
            ) from None

    def grad_through_time(self, layer_name: str) -> np.ndarray:
        """Gradient through time of a recurrent layer at every recorded step.

        Returns
        -------
        ndarray, shape (n_recorded, T)
            Mean over the batch of ||dL/dh_t||_2 for each time step t (NaN
            beyond a step's sequence length).
        """
        index = self._layer_index(layer_name)
        if index not in self._gtt:
            raise KeyError(
                f"{layer_name!r} recorded no gradient through time; recurrent "
                f"layers: {[self.layer_names[i] for i in sorted(self._gtt)]}"
            )
        return self._gtt[index][: self._n].copy()

    @property
    def recurrent_layers(self) -> list[str]:
        """Names of the layers that recorded a gradient through time."""
        return [self.layer_names[i] for i in sorted(self._gtt)]

    def _resolve_row(self, step: int) -> int:
        if self._n == 0:
            raise ValueError(
                "the monitor has recorded nothing yet; run model.backward(...) first"
            )
        if not -self._n <= step < self._n:
            raise IndexError(
                f"step {step} is out of range: {self._n} steps recorded (use an "
                "index into monitor.steps, -1 for the last)"
            )
        return step % self._n

    def activation_rms(self, step: int = -1) -> np.ndarray:
        """Activation-gradient RMS of every layer at one recorded step."""
        return self._data[_INDEX["activation_rms"], self._resolve_row(step)].copy()

    def gains(self, step: int = -1) -> np.ndarray:
        """Measured per-layer gain of the mean squared activation gradient.

        ``gain[i] = (rms[i - 1] / rms[i])^2``: how much the backward pass from
        layer ``i``'s output to layer ``i - 1``'s output multiplied the mean
        squared gradient (compare with ``theory.chi1``). NaN for layer 0.
        """
        rms = self.activation_rms(step)
        gain = np.full(rms.shape, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            gain[1:] = (rms[:-1] / rms[1:]) ** 2
        return gain

    def gradient_ratio(self, step: int = -1) -> float:
        """Activation-gradient RMS of the first layer divided by that of the last."""
        rms = self.activation_rms(step)
        first, last = float(rms[0]), float(rms[-1])
        if last == 0.0:
            return math.nan if first == 0.0 else math.inf
        return first / last

    def scalars(self, step: int = -1) -> dict[str, float]:
        """Flat scalar statistics of one recorded step, for loggers.

        Keys follow PyTorch Lightning's ``grad_2.0_norm/<parameter>``
        convention: ``grad_2.0_norm/0.Linear.weight``,
        ``grad_mean_abs/0.Linear.bias``, ``grad_max_abs/...``,
        ``activation_grad_rms/0.Linear``, ``update_ratio/0.Linear``,
        ``dead_fraction/...``, ``saturated_fraction/...``, plus
        ``grad_2.0_norm_total`` and ``gradient_ratio``. NaN entries are left out.
        """
        row = self._resolve_row(step)
        out: dict[str, float] = {}
        keys = (
            ("weight_norm", "grad_2.0_norm/{}.weight"),
            ("weight_mean_abs", "grad_mean_abs/{}.weight"),
            ("weight_max_abs", "grad_max_abs/{}.weight"),
            ("bias_norm", "grad_2.0_norm/{}.bias"),
            ("bias_mean_abs", "grad_mean_abs/{}.bias"),
            ("bias_max_abs", "grad_max_abs/{}.bias"),
            ("activation_rms", "activation_grad_rms/{}"),
            ("update_ratio", "update_ratio/{}"),
            ("dead_fraction", "dead_fraction/{}"),
            ("saturated_fraction", "saturated_fraction/{}"),
        )
        for stat, pattern in keys:
            values = self._data[_INDEX[stat], row]
            for name, value in zip(self.layer_names, values, strict=True):
                if not math.isnan(value):
                    out[pattern.format(name)] = float(value)
        norms = np.concatenate(
            [
                self._data[_INDEX["weight_norm"], row],
                self._data[_INDEX["bias_norm"], row],
            ]
        )
        norms = norms[~np.isnan(norms)]
        if norms.size:
            out["grad_2.0_norm_total"] = float(np.sqrt(np.sum(norms * norms)))
        ratio = self.gradient_ratio(step)
        if not math.isnan(ratio):
            out["gradient_ratio"] = ratio
        return out

    def diagnose(self, step: int = -1):
        """Verdict, evidence and remedies for one recorded step (default: the last).

        Returns
        -------
        Diagnosis
            See ``gradwatch.monitor.diagnosis``.
        """
        from .diagnosis import diagnose

        return diagnose(self, step)

    # -- saving ----------------------------------------------------------------

    def save(self, path) -> Path:
        """Write the history to ``path`` (.npz of plain arrays) and a JSON summary.

        The summary goes to ``path`` with the suffix ``.json``. Each file is
        written to a temporary file in the same folder and moved into place,
        so a failure leaves an existing file untouched.

        Returns
        -------
        Path
            The path of the ``.npz`` file.
        """
        path = Path(path)
        if path.suffix == ".json":
            raise ValueError(
                f"{path}: the history is an .npz file and its summary goes beside "
                "it as .json; give a path ending in .npz"
            )
        json_path = path.with_suffix(".json")
        arrays = {
            "format": np.array("gradwatch.monitor/1"),
            "stats": np.array(STATS),
            "data": self._data[:, : self._n],
            "steps": self._steps[: self._n].copy(),
            "layer_names": np.array(self.layer_names, dtype=np.str_),
            # Inside the archive NaN and inf stay as JSON's NaN / Infinity tokens.
            "meta": np.array(
                json.dumps(
                    {
                        "every": self.every,
                        "n_backward": self._n_backward,
                        "on_nonfinite": self.on_nonfinite,
                        "nonfinite": self.nonfinite,
                        "model_summary": self.model_summary,
                        "layer_info": [asdict(info) for info in self.layer_info],
                    }
                )
            ),
            "gtt_layers": np.array(sorted(self._gtt), dtype=np.int64),
        }
        for i in sorted(self._gtt):
            arrays[f"gtt_{i}"] = self._gtt[i][: self._n]
        if self.prediction is not None:
            arrays["prediction"] = np.array(
                json.dumps(_prediction_to_dict(self.prediction))
            )

        summary = {
            "layer_names": self.layer_names,
            "every": self.every,
            "n_backward": self._n_backward,
            "n_recorded": self._n,
            "nonfinite": self.nonfinite,
        }
        if self._n:
            summary["last_step"] = int(self._steps[self._n - 1])
            summary["scalars"] = self.scalars()
            summary["diagnosis"] = self.diagnose().to_dict()

        atomic_write(path, lambda f: np.savez(f, **arrays))
        text = json.dumps(_json_safe(summary), indent=2, allow_nan=False)
        atomic_write(json_path, text)
        return path

    @classmethod
    def load(cls, path) -> GradientMonitor:
        """A read-only monitor with the history saved by ``save``."""
        path = Path(path)
        try:
            stored = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            if isinstance(error, FileNotFoundError):
                raise
            raise ValueError(
                f"{path} is not a gradwatch monitor file (it could not be read as "
                "one; give a .npz file written by GradientMonitor.save)"
            ) from None
        if not hasattr(stored, "files"):
            raise ValueError(
                f"{path} is not a gradwatch monitor file (it holds a single array; "
                "give a .npz file written by GradientMonitor.save)"
            )
        with stored:
            if "format" not in stored or str(stored["format"]) != "gradwatch.monitor/1":
                raise ValueError(
                    f"{path} is not a file written by GradientMonitor.save"
                )
            saved_stats = tuple(str(s) for s in stored["stats"])
            if saved_stats != STATS:
                raise ValueError(
                    f"{path} holds statistics {saved_stats}, this version knows {STATS}"
                )
            data = np.array(stored["data"], dtype=np.float64)
            steps = np.array(stored["steps"], dtype=np.int64)
            names = [str(n) for n in stored["layer_names"]]
            meta = json.loads(str(stored["meta"]))
            gtt = {
                int(i): np.array(stored[f"gtt_{int(i)}"]) for i in stored["gtt_layers"]
            }
            prediction = (
                json.loads(str(stored["prediction"]))
                if "prediction" in stored
                else None
            )

        monitor = cls.__new__(cls)
        monitor.model = None
        monitor.every = int(meta["every"])
        monitor.on_nonfinite = meta["on_nonfinite"]
        monitor.layer_names = names
        monitor.layer_info = [LayerInfo(**info) for info in meta["layer_info"]]
        monitor.model_summary = meta["model_summary"]
        monitor.prediction = _prediction_from_dict(prediction)
        monitor._data = data
        monitor._capacity = monitor._n = data.shape[1]
        monitor._steps = steps
        monitor._gtt = gtt
        monitor._n_backward = int(meta["n_backward"])
        monitor._row_step = int(steps[-1]) if steps.size else -1
        monitor.nonfinite = meta["nonfinite"]
        monitor._handles = []
        monitor._optimizer = monitor._step_handle = None
        monitor.read_only = True
        return monitor

    def __repr__(self) -> str:
        state = (
            "loaded"
            if self.read_only
            else ("attached" if self._handles else "detached")
        )
        return (
            f"GradientMonitor({len(self.layer_names)} layers, every={self.every}, "
            f"{self._n} steps recorded, {state})"
        )


# -- reductions ----------------------------------------------------------------


def _rows(a: np.ndarray) -> np.ndarray:
    """View an activation's array as (samples, units)."""
    return a.reshape(-1, a.shape[-1])


def _abs_min(a: np.ndarray, scratch) -> np.ndarray:
    """Per-unit minimum of |a| over the rows, |a| written into scratch space."""
    magnitude = np.abs(a, out=scratch(a.dtype, a.size).reshape(a.shape))
    return np.minimum.reduce(magnitude, axis=0)


def _column_max(a: np.ndarray) -> np.ndarray:
    return np.maximum.reduce(a, axis=0)


def _flat(g) -> np.ndarray:
    """A 1-D view of ``g`` (a copy only when ``g`` is not contiguous)."""
    return np.asarray(g).reshape(-1)


def _confirm(g, what: str) -> str | None:
    """``what`` if ``g`` really holds a NaN or Inf (not just a huge square sum)."""
    return None if np.isfinite(g).all() else what


def _rms(flat: np.ndarray) -> float:
    """RMS of an array whose squares overflow (rescaled), or NaN / inf."""
    if not np.isfinite(flat).all():
        return math.nan if np.isnan(flat).any() else math.inf
    scale = float(np.max(np.abs(flat)))
    scaled = flat / scale
    return scale * math.sqrt(float(scaled @ scaled) / flat.size)


def _norm(grads: list[np.ndarray]) -> float:
    """L2 norm of several arrays whose squares overflow: rescale first."""
    flats = [_flat(g) for g in grads]
    if not all(np.isfinite(f).all() for f in flats):
        return math.nan if any(np.isnan(f).any() for f in flats) else math.inf
    scale = max(float(np.max(np.abs(f))) for f in flats if f.size)
    return scale * math.sqrt(sum(float((f / scale) @ (f / scale)) for f in flats))


def _prediction_to_dict(prediction: theory.Prediction) -> dict:
    return {
        key: (value.tolist() if isinstance(value, np.ndarray) else value)
        for key, value in asdict(prediction).items()
    }


def _prediction_from_dict(data: dict | None) -> theory.Prediction | None:
    if data is None:
        return None
    arrays = ("weight_var", "bias_var", "q", "gain", "chi1")
    return theory.Prediction(
        **{
            k: (np.array(v, dtype=np.float64) if k in arrays else v)
            for k, v in data.items()
        }
    )
