"""Depth study: how far a gradient gets through an MLP, by depth and design.

MLPs classify the scikit-learn handwritten digits (8 x 8 pixels, 10
classes) for several depths and for every pairing of activation (sigmoid,
tanh, ReLU) with initialisation (small Gaussian, Xavier, He), plus ReLU/He
networks with BatchNorm or residual connections and a small-init tanh
network rescued by BatchNorm. For each one the study records the gradient
ratio (activation-gradient RMS of the first layer over the output layer's)
at initialisation and after training, the ratio mean-field theory predicts
from the initial weights (``gradwatch.theory.predict``) and the held-out
accuracy. Training uses plain SGD with momentum on purpose: unlike Adam it
does not rescale each layer's step, so a layer that receives no gradient
does not learn, which is how vanishing gradients hurt in practice.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import nn, theory
from ..data import load_digits_split
from ..monitor import GradientMonitor
from ..optim import SGD
from ..report import StudyResult, Table
from ..training import fit, predict
from . import figures
from .common import (
    DIVERGED,
    Progress,
    model_rng,
    monitor_readout,
    silent,
    verdict_change,
)
from .models import mlp

__all__ = ["CONFIGURATIONS", "DepthConfig", "predicted_ratio", "run_depth"]

logger = logging.getLogger(__name__)

#: (label, activation, init, batchnorm, residual)
CONFIGURATIONS = tuple(
    (f"{activation} / {init}", activation, init, False, False)
    for activation in ("sigmoid", "tanh", "relu")
    for init in ("small", "xavier", "he")
) + (
    ("tanh / small / BatchNorm", "tanh", "small", True, False),
    ("relu / he / BatchNorm", "relu", "he", True, False),
    ("relu / he / residual", "relu", "he", False, True),
    ("relu / he / BatchNorm + residual", "relu", "he", True, True),
)


@dataclass
class DepthConfig:
    """Settings of the depth study.

    Attributes
    ----------
    depths : tuple of int
        Numbers of Linear layers to try.
    configurations : tuple of str
        Labels from ``CONFIGURATIONS``.
    width, std : hidden width; std of the small Gaussian initialisation
    n_samples : images used (None: all 1,797), a quarter held out
    epochs, batch_size, lr, momentum, clip_norm : SGD training
    every : record every ``every``-th backward pass
    """

    depths: tuple[int, ...] = (5, 10, 20)
    configurations: tuple[str, ...] = field(
        default=tuple(label for label, *_ in CONFIGURATIONS)
    )
    width: int = 32
    std: float = 0.05
    n_samples: int | None = None
    epochs: int = 6
    batch_size: int = 64
    lr: float = 0.01
    momentum: float = 0.9
    clip_norm: float = 5.0
    every: int = 10

    @classmethod
    def quick(cls, **overrides) -> DepthConfig:
        # Two depths but the whole data set and enough epochs for the healthy
        # networks to reach good accuracy while the vanishing ones stay near
        # chance.
        settings = dict(depths=(4, 12), epochs=5, every=5)
        settings.update(overrides)
        return cls(**settings)


def predicted_ratio(model) -> float | None:
    """The gradient ratio mean-field theory predicts from the current weights.

    ``gradwatch.theory.predict`` multiplies the predicted per-layer gains of
    the mean squared activation gradient; the RMS ratio first/last is the
    square root of that product. ``None`` for models the theory does not
    cover (BatchNorm, residual connections).
    """
    try:
        prediction = theory.predict(model)
    except ValueError:
        return None
    ratio = float(prediction.gradient_ratio)
    return ratio if math.isfinite(ratio) else None


def _accuracy(model, x, y) -> float:
    return float(np.mean(np.argmax(predict(model, x), axis=1) == y))


def run_depth(
    config: DepthConfig | None = None,
    *,
    seed: int = 0,
    progress: Progress | None = None,
) -> StudyResult:
    """Train every (configuration, depth) pair; return the report section."""
    started = time.perf_counter()
    config = config or DepthConfig()
    progress = progress or silent
    by_label = {label: rest for label, *rest in CONFIGURATIONS}
    unknown = [c for c in config.configurations if c not in by_label]
    if unknown:
        raise ValueError(
            f"unknown depth-study configurations {unknown}; choose from "
            f"{list(by_label)}"
        )
    data = load_digits_split(
        n_samples=config.n_samples, rng=model_rng(seed, "depth", "data")
    )

    runs = []
    for label in config.configurations:
        activation, init, batchnorm, residual = by_label[label]
        for depth in config.depths:
            model = mlp(
                64,
                10,
                depth=depth,
                width=config.width,
                activation=activation,
                init=init,
                std=config.std,
                batchnorm=batchnorm,
                residual=residual,
                rng=model_rng(seed, "depth", label, depth, "init"),
            )
            predicted = predicted_ratio(model)
            optimizer = SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
            monitor = GradientMonitor(
                model, every=config.every, optimizer=optimizer, on_nonfinite="warn"
            )
            run_label = f"{label}, depth {depth}"
            history = fit(
                model,
                nn.CrossEntropyLoss(),
                optimizer,
                data.x_train,
                data.y_train,
                epochs=config.epochs,
                batch_size=config.batch_size,
                clip_norm=config.clip_norm,
                rng=model_rng(seed, "depth", label, depth, "shuffle"),
                progress=lambda d, t, run_label=run_label: progress(run_label, d, t),
            )
            monitor.detach()
            readout = monitor_readout(monitor, history)
            with np.errstate(over="ignore", invalid="ignore"):
                accuracy = _accuracy(model, data.x_test, data.y_test)
            runs.append(
                {
                    "configuration": label,
                    "activation": activation,
                    "init": init,
                    "batchnorm": batchnorm,
                    "residual": residual,
                    "depth": depth,
                    "verdict": readout["verdict"],
                    "verdict_init": readout["verdict_init"],
                    "gradient_ratio_init": readout["gradient_ratio_init"],
                    "gradient_ratio_final": readout["gradient_ratio_final"],
                    "predicted_gradient_ratio": predicted,
                    "test_accuracy": accuracy,
                    "final_train_loss": history.to_dict()["train_loss"][-1],
                    "diverged": history.diverged,
                    "diverged_epoch": history.diverged_epoch,
                }
            )
            logger.info("depth %s: %s", run_label, readout["verdict"])

    metrics = {
        "config": asdict(config),
        "data": {
            "dataset": "scikit-learn digits (8x8)",
            "n_train": len(data.y_train),
            "n_test": len(data.y_test),
        },
        "runs": runs,
    }
    result = StudyResult(
        name="depth", title="Depth: MLPs on handwritten digits", metrics=metrics
    )
    _describe(result, config)
    result.seconds = time.perf_counter() - started
    return result


# The configurations quoted in the findings and the terminal summary.
_HEADLINE = (
    "tanh / small",
    "sigmoid / xavier",
    "relu / xavier",
    "relu / he",
    "tanh / small / BatchNorm",
    "relu / he / residual",
    "relu / he / BatchNorm + residual",
)


def _log10(value) -> float:
    """log10 of a ratio; -inf for a ratio that underflowed to 0, NaN if unknown."""
    if value is None or not math.isfinite(value) or value < 0:
        return math.nan
    return math.log10(value) if value > 0 else -math.inf


def _describe(result: StudyResult, config: DepthConfig) -> None:
    runs = result.metrics["runs"]
    data = result.metrics["data"]
    deepest = max(config.depths)
    result.intro = [
        f"Data: scikit-learn's handwritten digits, {data['n_train']:,} training and "
        f"{data['n_test']:,} held-out images, 10 classes (chance: 10% accuracy).",
        "Networks: depth = number of Linear layers "
        f"({', '.join(map(str, config.depths))}), "
        f"width {config.width}; 'small' is N(0, {config.std:g}^2) weights, 'xavier' "
        "Glorot normal, 'he' He normal. Training: SGD with momentum "
        f"{config.momentum:g}, lr {config.lr:g}, {config.epochs} epochs, batches of "
        f"{config.batch_size}, gradients clipped to norm {config.clip_norm:g}.",
        "Gradient ratio: RMS of the activation gradient at the first layer divided by "
        "that at the output layer. Predicted: the same ratio from mean-field theory "
        "(Poole et al. 2016; Schoenholz et al. 2017), computed from the initial "
        "weight variances alone, before any data is seen; it assumes wide layers and "
        "does not model BatchNorm.",
    ]

    columns = [str(d) for d in config.depths]
    labels = list(config.configurations)
    grid_init = np.full((len(labels), len(columns)), np.nan)
    grid_final = np.full_like(grid_init, np.nan)
    for run in runs:
        i, j = labels.index(run["configuration"]), config.depths.index(run["depth"])
        grid_init[i, j] = _log10(run["gradient_ratio_init"])
        grid_final[i, j] = _log10(run["gradient_ratio_final"])
    result.figures["heatmap_init"] = (
        figures.ratio_heatmap(
            grid_init,
            labels,
            columns,
            title="log10 gradient ratio (first / output layer) at initialisation",
            colorbar_label="log10 ratio (0 = no loss)",
            xlabel="network depth (Linear layers)",
        ),
        "Gradient ratio at initialisation over depth (columns) and configuration "
        "(rows), log10: -3 means the first layer gets a thousandth of the output "
        "layer's gradient; -inf: it underflowed to 0 in float32. Red: vanishing; "
        "blue: growing.",
    )
    result.figures["heatmap_final"] = (
        figures.ratio_heatmap(
            grid_final,
            labels,
            columns,
            title="log10 gradient ratio after training",
            colorbar_label="log10 ratio (0 = no loss)",
            xlabel="network depth (Linear layers)",
        ),
        "The same ratio at the end of training.",
    )

    rows = []
    for run in runs:
        rows.append(
            [
                run["configuration"],
                run["depth"],
                run["verdict_init"],
                run["gradient_ratio_init"],
                run["predicted_gradient_ratio"],
                run["verdict"],
                run["gradient_ratio_final"],
                run["test_accuracy"],
            ]
        )
    result.tables.append(
        Table(
            title="Every run",
            columns=[
                "configuration",
                "depth",
                "verdict at init",
                "ratio at init",
                "predicted ratio",
                "verdict after training",
                "ratio after training",
                "held-out accuracy",
            ],
            rows=rows,
            note="Predicted ratio: mean-field theory from the initial weights "
            "(\u2014 where it does not apply, e.g. BatchNorm or residual networks).",
        )
    )

    deep = {r["configuration"]: r for r in runs if r["depth"] == deepest}
    findings = []
    for label in _HEADLINE:
        if label in deep:
            r = deep[label]
            findings.append(
                f"{label}, {deepest} layers: gradient ratio "
                f"{r['gradient_ratio_init']:.2e} at initialisation "
                f"(theory: {_fmt(r['predicted_gradient_ratio'])}), held-out "
                f"accuracy {r['test_accuracy']:.1%}, verdict '{r['verdict_init']}' "
                f"at initialisation and '{r['verdict']}' after training."
            )
    for r in runs:
        if r["diverged"]:
            findings.append(
                f"{r['configuration']}, depth {r['depth']}: training diverged (the "
                f"loss became NaN or infinite in epoch {r['diverged_epoch']}), so "
                "its accuracy and final ratio mean nothing; lower the learning rate "
                "or the depth."
            )
    result.findings = findings
    for label, r in deep.items():
        if label not in _HEADLINE:
            continue
        result.summary_rows.append(
            {
                "model": f"{label}, depth {deepest}",
                "verdict": verdict_change(r["verdict_init"], r["verdict"]),
                "metric": f"ratio at init {r['gradient_ratio_init']:.2g}; accuracy "
                f"{r['test_accuracy']:.1%}"
                + (" (diverged)" if r["verdict"] == DIVERGED else ""),
            }
        )


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.2e}"
