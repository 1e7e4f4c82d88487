"""Turn a monitor's statistics into a verdict, its evidence, and remedies.

Verdicts, in the order they take precedence for the whole model:

``"non-finite"``
    A gradient held NaN or Inf (the monitor names the first layer in
    backward order).
``"dead units"``
    At least ``DEAD_THRESHOLD`` (90%) of the ReLU units after some layer
    had slope 0 for every sample of the batch: they pass no gradient.
``"exploding"``
    Some layer's activation-gradient RMS is more than ``EXPLODING_RATIO``
    (100) times the last layer's, or a recurrent layer's gradient at the
    first time step is 100 times its gradient at the last.
``"vanishing"``
    Some layer's activation-gradient RMS is below ``VANISHING_RATIO``
    (1/100) of the last layer's, or the same through time.
``"saturated units"``
    At least ``SATURATED_THRESHOLD`` (50%) of the sigmoid/tanh/softsign units
    after some layer were saturated for the whole batch, though the gradient
    has not (yet) vanished.
``"healthy"``
    None of the above.

The factor of 100 is a convention of this package: two orders of magnitude
between the first and the last layer is where Glorot & Bengio (2010) saw
training of deep sigmoid and tanh networks stall, and where plain
initialisations at depth 20-30 already sit far off (Xavier on a 30-layer
ReLU network gives 2^-14.5). The update-to-weight ratio is compared with the
rule of thumb of about 1e-3 per step from Karpathy's CS231n notes (warned
above 1e-2, below 1e-5).

References
----------
Glorot & Bengio (2010), "Understanding the difficulty of training deep
feedforward neural networks".
Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent
neural networks" (gradient clipping by norm).
He, Zhang, Ren & Sun (2015), "Delving deep into rectifiers".
Lu, Shin, Su & Karniadakis (2020), "Dying ReLU and initialization".
Schoenholz, Gilmer, Ganguli & Sohl-Dickstein (2017), "Deep information
propagation".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "DEAD_THRESHOLD",
    "EXPLODING_RATIO",
    "SATURATED_THRESHOLD",
    "UPDATE_RATIO_HIGH",
    "UPDATE_RATIO_LOW",
    "VANISHING_RATIO",
    "VERDICTS",
    "Diagnosis",
    "LayerDiagnosis",
    "diagnose",
]

VERDICTS = (
    "healthy",
    "vanishing",
    "exploding",
    "dead units",
    "saturated units",
    "non-finite",
)

#: A layer whose activation-gradient RMS is below this fraction of the last
#: layer's is "vanishing" (and the model, when its gradient ratio is).
VANISHING_RATIO = 1e-2
#: ... and above this multiple, "exploding".
EXPLODING_RATIO = 1e2
#: Fraction of dead ReLU units after a layer that makes it "dead units".
DEAD_THRESHOLD = 0.9
#: Fraction of saturated units after a layer that makes it "saturated units".
SATURATED_THRESHOLD = 0.5
#: Update-to-weight ratios outside [UPDATE_RATIO_LOW, UPDATE_RATIO_HIGH] get a
#: learning-rate remedy (healthy is about 1e-3 per step).
UPDATE_RATIO_HIGH = 1e-2
UPDATE_RATIO_LOW = 1e-5

_SATURATING = ("sigmoid", "tanh", "softsign")
_RECTIFIERS = ("relu", "leaky_relu", "elu", "gelu")


@dataclass
class LayerDiagnosis:
    """The verdict on one monitored layer.

    Attributes
    ----------
    name : str
        Layer name (``"3.Linear"``).
    verdict : str
        One of ``VERDICTS``.
    gain : float
        Measured gain of the mean squared activation gradient from this
        layer's output back to the previous layer's (NaN for the first).
    evidence : list of str
        The numbers behind the verdict, with the thresholds used.
    predicted_gain : float
        The mean-field prediction of ``gain`` at initialisation (NaN when
        the model is not a plain MLP).
    relative_rms : float
        Activation-gradient RMS divided by the last layer's.
    dead_fraction, saturated_fraction : float
        As recorded (NaN when no ReLU / saturating activation follows).
    """

    name: str
    verdict: str
    gain: float
    evidence: list[str] = field(default_factory=list)
    predicted_gain: float = math.nan
    relative_rms: float = math.nan
    dead_fraction: float = math.nan
    saturated_fraction: float = math.nan

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "verdict": self.verdict,
            "gain": _clean(self.gain),
            "predicted_gain": _clean(self.predicted_gain),
            "relative_rms": _clean(self.relative_rms),
            "dead_fraction": _clean(self.dead_fraction),
            "saturated_fraction": _clean(self.saturated_fraction),
            "evidence": list(self.evidence),
        }


@dataclass
class Diagnosis:
    """Verdict on the whole model at one recorded step.

    Attributes
    ----------
    verdict : str
        One of ``VERDICTS`` (precedence as in the module docstring).
    layers : list of LayerDiagnosis
        One per monitored layer, in forward order.
    gradient_ratio : float
        Activation-gradient RMS of the first layer over the last.
    remedies : list of str
        Changes that fit this model, most important first.
    evidence : list of str
        Model-level numbers behind the verdict.
    step : int
        The backward call diagnosed.
    thresholds : dict
        The thresholds used.
    """

    verdict: str
    layers: list[LayerDiagnosis]
    gradient_ratio: float
    remedies: list[str]
    evidence: list[str] = field(default_factory=list)
    step: int = -1
    thresholds: dict = field(default_factory=dict)

    def layer(self, name: str) -> LayerDiagnosis:
        """The diagnosis of one layer, by name."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer {name!r}; layers: {[d.name for d in self.layers]}")

    def flagged(self, verdict: str | None = None) -> list[str]:
        """Names of the layers whose verdict is ``verdict`` (default: not healthy)."""
        return [
            d.name
            for d in self.layers
            if (d.verdict != "healthy" if verdict is None else d.verdict == verdict)
        ]

    def to_dict(self) -> dict:
        """JSON-ready form (NaN and inf become None)."""
        return {
            "verdict": self.verdict,
            "step": self.step,
            "gradient_ratio": _clean(self.gradient_ratio),
            "evidence": list(self.evidence),
            "remedies": list(self.remedies),
            "thresholds": dict(self.thresholds),
            "layers": [layer.to_dict() for layer in self.layers],
        }

    def __str__(self) -> str:
        lines = [
            f"Gradient diagnosis at backward call {self.step}: {self.verdict.upper()}",
        ]
        lines += [f"  {line}" for line in self.evidence]
        width = max(len(d.name) for d in self.layers) if self.layers else 5
        lines.append(
            f"  {'layer':<{width}}  {'verdict':<15} {'rms/last':>9} "
            f"{'gain':>8} {'predicted':>9} {'dead':>5} {'sat.':>5}"
        )
        for d in self.layers:
            lines.append(
                f"  {d.name:<{width}}  {d.verdict:<15} {_num(d.relative_rms):>9} "
                f"{_num(d.gain):>8} {_num(d.predicted_gain):>9} "
                f"{_pct(d.dead_fraction):>5} {_pct(d.saturated_fraction):>5}"
            )
        if self.remedies:
            lines.append("Remedies:")
            lines += [f"  - {remedy}" for remedy in self.remedies]
        return "\n".join(lines)


def _clean(value):
    value = float(value)
    return value if math.isfinite(value) else None


def _num(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2g}"


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.0f}%"


def _span(names: list[str]) -> str:
    """``layer 3.Linear`` or ``layers 0.Linear to 22.Linear (12 layers)``."""
    if len(names) == 1:
        return f"layer {names[0]}"
    if len(names) == 2:
        return f"layers {names[0]} and {names[1]}"
    return f"layers {names[0]} to {names[-1]} ({len(names)} layers)"


def _activation_label(name: str | None) -> str:
    return {
        "relu": "ReLU",
        "leaky_relu": "LeakyReLU",
        "elu": "ELU",
        "gelu": "GELU",
    }.get(name or "", name or "no activation")


def diagnose(monitor, step: int = -1) -> Diagnosis:
    """Diagnose one recorded step of a ``GradientMonitor`` (live or loaded).

    Parameters
    ----------
    monitor : GradientMonitor
    step : int
        Index into ``monitor.steps`` (default -1: the last recorded step).

    Returns
    -------
    Diagnosis
    """
    row = monitor._resolve_row(step)
    names = monitor.layer_names
    info = monitor.layer_info
    n = len(names)
    rms = monitor.activation_rms(row)
    gains = monitor.gains(row)
    dead = monitor.history("dead_fraction")[row]
    saturated = monitor.history("saturated_fraction")[row]
    updates = monitor.history("update_ratio")[row]
    weight_norm = monitor.history("weight_norm")[row]
    ratio = monitor.gradient_ratio(row)
    backward_call = int(monitor.steps[row])

    predicted = np.full(n, np.nan)
    if monitor.prediction is not None:
        by_name = dict(
            zip(monitor.prediction.layer_names, monitor.prediction.gain, strict=True)
        )
        predicted = np.array([by_name.get(name, np.nan) for name in names])

    top = rms[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = rms / top if top > 0 else np.where(rms > 0, np.inf, np.nan)

    through_time = {}
    for name in getattr(monitor, "recurrent_layers", []):
        series = monitor.grad_through_time(name)[row]
        series = series[~np.isnan(series)]
        if series.size >= 2 and series[-1] > 0:
            through_time[name] = float(series[0] / series[-1])

    # A NaN or Inf seen after the diagnosed step does not belong to it.
    nonfinite = monitor.nonfinite
    if nonfinite is not None and nonfinite["step"] > backward_call:
        nonfinite = None
    layers = []
    for i, name in enumerate(names):
        evidence = []
        verdict = "healthy"
        overflowed = math.isinf(rms[i]) or math.isinf(weight_norm[i])
        if (nonfinite is not None and nonfinite["layer"] == name) or overflowed:
            verdict = "non-finite"
            evidence.append("a gradient of this layer is NaN or Inf")
        if verdict == "healthy" and dead[i] >= DEAD_THRESHOLD:
            verdict = "dead units"
            evidence.append(
                f"{_pct(dead[i])} of the ReLU units after it have slope 0 for the "
                f"whole batch (threshold {_pct(DEAD_THRESHOLD)})"
            )
        if verdict == "healthy" and saturated[i] >= SATURATED_THRESHOLD:
            verdict = "saturated units"
            evidence.append(
                f"{_pct(saturated[i])} of the {info[i].activation} units after it are "
                f"saturated for the whole batch (threshold {_pct(SATURATED_THRESHOLD)})"
            )
        rel = float(relative[i])
        in_time = through_time.get(name)
        if verdict in ("healthy", "saturated units"):
            if rel > EXPLODING_RATIO or (
                in_time is not None and in_time > EXPLODING_RATIO
            ):
                verdict = "exploding"
            elif rel < VANISHING_RATIO or (
                in_time is not None and in_time < VANISHING_RATIO
            ):
                verdict = "vanishing"
        if i < n - 1 and not math.isnan(rel):
            evidence.append(
                f"activation-gradient RMS is {rel:.2g} x the last layer's (vanishing "
                f"below {VANISHING_RATIO:g}, exploding above {EXPLODING_RATIO:g})"
            )
        if not math.isnan(gains[i]):
            text = (
                "gain of the mean squared gradient into the layer below: "
                f"{gains[i]:.3g}"
            )
            if not math.isnan(predicted[i]):
                text += f" (mean-field prediction at initialisation {predicted[i]:.3g})"
            evidence.append(text)
        if in_time is not None:
            evidence.append(
                f"gradient through time at the first step is {in_time:.2g} x the "
                "last step's"
            )
        layers.append(
            LayerDiagnosis(
                name=name,
                verdict=verdict,
                gain=float(gains[i]),
                evidence=evidence,
                predicted_gain=float(predicted[i]),
                relative_rms=rel,
                dead_fraction=float(dead[i]),
                saturated_fraction=float(saturated[i]),
            )
        )

    def having(verdict: str) -> list[int]:
        return [i for i, d in enumerate(layers) if d.verdict == verdict]

    model_evidence = [
        f"gradient ratio (activation-gradient RMS, first layer / last): {ratio:.3g}"
    ]
    if monitor.prediction is not None:
        model_evidence.append(
            f"mean-field prediction at initialisation: ratio "
            f"{monitor.prediction.gradient_ratio:.3g}, depth scale "
            f"{monitor.prediction.depth_scale:.3g} layers"
        )
    for name, value in through_time.items():
        model_evidence.append(
            f"{name}: gradient through time at the first step is {value:.2g} x the "
            f"last step's (vanishing below {VANISHING_RATIO:g})"
        )
    if nonfinite is not None or having("non-finite"):
        verdict = "non-finite"
    elif having("dead units"):
        verdict = "dead units"
    elif having("exploding") or ratio > EXPLODING_RATIO:
        verdict = "exploding"
    elif having("vanishing") or ratio < VANISHING_RATIO:
        verdict = "vanishing"
    elif having("saturated units"):
        verdict = "saturated units"
    else:
        verdict = "healthy"
    if nonfinite is not None:
        model_evidence.append(
            f"first non-finite gradient: {nonfinite['what']} of {nonfinite['layer']} "
            f"on backward call {nonfinite['step']}"
        )

    finite_updates = updates[np.isfinite(updates)]
    median_update = (
        float(np.median(finite_updates)) if finite_updates.size else math.nan
    )
    if not math.isnan(median_update):
        model_evidence.append(
            f"median update-to-weight ratio {median_update:.2g} (about 1e-3 is typical)"
        )

    remedies = _remedies(
        verdict, layers, info, monitor.model_summary, median_update, monitor
    )
    return Diagnosis(
        verdict=verdict,
        layers=layers,
        gradient_ratio=ratio,
        remedies=remedies,
        evidence=model_evidence,
        step=backward_call,
        thresholds={
            "vanishing_ratio": VANISHING_RATIO,
            "exploding_ratio": EXPLODING_RATIO,
            "dead_fraction": DEAD_THRESHOLD,
            "saturated_fraction": SATURATED_THRESHOLD,
            "update_ratio_high": UPDATE_RATIO_HIGH,
            "update_ratio_low": UPDATE_RATIO_LOW,
        },
    )


def _init_remedies(info, exploding: bool) -> list[str]:
    """Initialisation advice for the Linear layers, grouped by activation."""
    remedies = []
    groups: dict[str, list] = {}
    for layer in info:
        if layer.kind == "Linear" and layer.activation is not None:
            groups.setdefault(layer.activation, []).append(layer)
    for activation, members in groups.items():
        names = [m.name for m in members]
        stds = np.array([m.weight_std for m in members])
        variances = np.array([m.weight_var for m in members])
        # A functools.partial initialiser has no telling name; the std says it.
        inits = sorted({str(m.init_name) for m in members} - {"partial", "None"})
        described = (
            f"{_span(names)} use {_activation_label(activation)} with "
            f"{'/'.join(inits) + ' ' if inits else ''}weights of std "
            f"{np.median(stds):.2g} "
            f"(sigma_w^2 = fan_in Var(W) = {np.median(variances):.2g})"
        )
        sw2 = float(np.median(variances))
        if activation == "sigmoid":
            remedies.append(
                f"{described}; sigmoid's slope is at most 1/4, so every layer "
                "shrinks the gradient: switch to ReLU with He initialisation "
                "(init='he_normal'), or tanh with Xavier initialisation"
            )
        elif activation in ("tanh", "softsign"):
            if exploding and sw2 > 1.5:
                remedies.append(
                    f"{described}, above the edge of chaos (sigma_w^2 near 1, "
                    "theory.critical_weight_var): switch to Xavier initialisation "
                    "(init='xavier_normal')"
                )
            elif not exploding and sw2 < 0.7:
                # Near sigma_w^2 = 1 (Xavier on square layers) tanh is close to
                # critical; only clearly smaller weights are the cause.
                remedies.append(
                    f"{described}: switch to Xavier initialisation "
                    "(init='xavier_normal') or to ReLU with He initialisation "
                    "(init='he_normal')"
                )
        elif activation in _RECTIFIERS:
            if not exploding and sw2 < 1.6:
                remedies.append(
                    f"{described}; a rectifier needs sigma_w^2 = 2 to keep the "
                    "gradient's size: switch to He initialisation (init='he_normal')"
                )
            elif exploding and sw2 > 2.5:
                remedies.append(
                    f"{described}, above He's sigma_w^2 = 2: switch to He "
                    "initialisation (init='he_normal')"
                )
    return remedies


def _structure_remedies(info, summary, n_layers: int) -> list[str]:
    remedies = []
    if summary.get("recurrent"):
        vanilla = [layer.name for layer in info if layer.kind == "RNN"]
        if vanilla:
            remedies.append(
                f"replace the vanilla RNN ({', '.join(vanilla)}) with an LSTM or GRU, "
                "whose additive cell state carries gradients across many time steps"
            )
    if (
        not summary.get("has_batchnorm")
        and n_layers >= 4
        and not summary.get("recurrent")
    ):
        remedies.append(
            "add BatchNorm after each Linear layer (gradwatch.nn.BatchNorm) to keep "
            "every layer's activations, and so its gradients, at unit scale"
        )
    if not summary.get("has_residual") and n_layers >= 8:
        remedies.append(
            "add residual connections (gradwatch.nn.Residual) so the gradient has "
            "an identity path around the layers"
        )
    return remedies


def _sentence(text: str) -> str:
    """``text`` as a sentence: capital first letter, full stop at the end."""
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def _clip_remedy() -> str:
    return (
        "clip gradients by global norm before each step: "
        "gradwatch.clip_grad_norm(model.parameters(), max_norm=1.0)"
    )


def _remedies(verdict, layers, info, summary, median_update, monitor) -> list[str]:
    n = len(layers)
    remedies: list[str] = []
    if verdict == "non-finite":
        remedies.append("lower the learning rate and " + _clip_remedy())
        remedies.append(
            "check the loss for log(0) or division by zero, and the inputs for "
            "NaN; float64 gives more headroom than float32"
        )
        remedies += _init_remedies(info, exploding=True)
    elif verdict == "dead units":
        for d in layers:
            if d.verdict != "dead units":
                continue
            text = (
                f"{d.name}: {_pct(d.dead_fraction)} of the ReLU units after it output "
                "0 for every sample, so no gradient flows through them: use LeakyReLU "
                "or ELU, He initialisation, and a smaller learning rate"
            )
            bias = _bias_mean(monitor, d.name)
            if bias is not None and bias < 0:
                text += f"; its bias averages {bias:.3g}, pushing units below zero"
            remedies.append(text)
    elif verdict == "exploding":
        remedies += _init_remedies(info, exploding=True)
        remedies.append(_clip_remedy())
        remedies += _structure_remedies(info, summary, n)
    elif verdict == "vanishing":
        remedies += _init_remedies(info, exploding=False)
        remedies += _structure_remedies(info, summary, n)
        if summary.get("recurrent"):
            remedies.append(_clip_remedy())
        if not remedies:
            remedies.append(_weakest_layers(layers))
    elif verdict == "saturated units":
        for d in layers:
            if d.verdict == "saturated units":
                remedies.append(
                    f"{d.name}: {_pct(d.saturated_fraction)} of its "
                    f"{info[layers.index(d)].activation} units are saturated: use "
                    "smaller initial weights (Xavier), standardise the inputs, or add "
                    "BatchNorm before the activation"
                )
    if not math.isnan(median_update):
        if median_update > UPDATE_RATIO_HIGH:
            remedies.append(
                f"each step changes the weights by {median_update:.2g} of their size "
                "(about 1e-3 is typical): lower the learning rate"
            )
        elif median_update < UPDATE_RATIO_LOW and verdict != "healthy":
            remedies.append(
                f"each step changes the weights by only {median_update:.2g} of their "
                "size: the learning rate may be too low"
            )
    return [_sentence(r) for r in remedies]


def _weakest_layers(layers) -> str:
    """Point at the layers whose gain shrinks the gradient most."""
    gains = [(d.gain, d.name) for d in layers if math.isfinite(d.gain)]
    worst = sorted(gains)[:3]
    listed = ", ".join(f"{name} (gain {gain:.2g})" for gain, name in worst)
    return (
        f"the gradient shrinks most through {listed}; no initialisation or "
        "architecture change stands out for this model, so inspect the weights, "
        "the normalisation scale (BatchNorm weight) and the activations there"
    )


def _bias_mean(monitor, name: str) -> float | None:
    model = getattr(monitor, "model", None)
    if model is None:
        return None
    index = monitor.layer_names.index(name)
    module = monitor._modules[index]
    bias = getattr(module, "bias", None)
    value = getattr(bias, "value", None)
    return None if value is None else float(np.mean(value))
