"""Recurrent study: vanilla RNN, LSTM and GRU on the adding problem and on digits.

For each sequence length T the three cells learn the adding problem (sum
the two marked values of a sequence; see ``gradwatch.data.adding``). The
study records the gradient through time, ||dL/dh_t|| for every step t, at
initialisation and after training: in a vanilla RNN it shrinks
geometrically from the last step back to the first (Bengio, Simard &
Frasconi 1994), so the first marked value cannot be learnt; the gated cells
keep an additive path through their cell state (LSTM) or update gate (GRU).
The final test MSE is compared with 0.167, the MSE of always answering 1.
At the longest T every cell is also trained without gradient clipping.

On real data, each cell also reads scikit-learn's handwritten digits pixel
by pixel (64 steps, a classification read-out of the last state), and the
gradient through time of the cross-entropy loss is measured at
initialisation: how much of the signal from the label reaches the first
rows of the image.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

import numpy as np

from .. import nn
from ..data import (
    ADDING_BASELINE_MSE,
    adding_problem,
    digits_as_sequences,
    load_digits_split,
)
from ..monitor import GradientMonitor
from ..optim import Adam
from ..report import StudyResult, Table
from ..training import evaluate, fit
from . import figures
from .common import (
    DIVERGED,
    Progress,
    max_grad_norm,
    model_rng,
    monitor_readout,
    silent,
    verdict_change,
)
from .models import CELLS, recurrent_regressor

__all__ = ["RecurrentConfig", "run_recurrent"]

logger = logging.getLogger(__name__)


@dataclass
class RecurrentConfig:
    """Settings of the recurrent study.

    Attributes
    ----------
    lengths : tuple of int
        Sequence lengths T.
    cells : tuple of str
        From ``("RNN", "LSTM", "GRU")``.
    hidden : hidden units
    n_train, n_test : sequences drawn for training and testing
    epochs, batch_size, lr, clip_norm : Adam training
    unclipped : also train every cell without clipping at the longest T
    every : record every ``every``-th backward pass
    digits_images : digit images read pixel by pixel for the gradient
        through time on real data (0 to skip)
    """

    lengths: tuple[int, ...] = (10, 25, 50)
    cells: tuple[str, ...] = CELLS
    hidden: int = 32
    n_train: int = 3200
    n_test: int = 500
    epochs: int = 10
    batch_size: int = 64
    lr: float = 5e-3
    clip_norm: float = 1.0
    unclipped: bool = True
    every: int = 10
    digits_images: int = 512

    @classmethod
    def quick(cls, **overrides) -> RecurrentConfig:
        # Enough training (about 300 Adam steps per model) for the LSTM and
        # GRU to beat the baseline at T = 30 while the vanilla RNN cannot.
        settings = dict(
            lengths=(10, 30),
            n_train=3200,
            n_test=200,
            epochs=6,
            lr=1e-2,
            unclipped=False,
            every=5,
            digits_images=128,
        )
        settings.update(overrides)
        return cls(**settings)


def _decay(values: np.ndarray) -> float:
    """||dL/dh_1|| / ||dL/dh_T||: the share of the gradient reaching the first step."""
    values = np.asarray(values, dtype=np.float64)
    return float(values[0] / values[-1]) if values[-1] > 0 else float("nan")


def _digits_gradients(config: RecurrentConfig, seed: int) -> dict:
    """Gradient through time at initialisation on digits read pixel by pixel.

    Each cell reads ``config.digits_images`` images as 64-step sequences of
    one pixel; a linear read-out of the last state gives 10 class scores.
    One forward and backward pass of the cross-entropy loss, no training.
    """
    data = load_digits_split(
        n_samples=config.digits_images, rng=model_rng(seed, "digits", "sequence")
    )
    x = digits_as_sequences(data.x_train)
    cells = {}
    for cell in config.cells:
        generator = model_rng(seed, "digits", "sequence", cell)
        layer = getattr(nn, cell)(1, config.hidden, rng=generator)
        model = nn.Sequential(layer, nn.Linear(config.hidden, 10, rng=generator))
        loss = nn.CrossEntropyLoss()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss(model(x), data.y_train)
            model.backward(loss.backward())
            through_time = np.asarray(layer.grad_through_time, dtype=np.float64)
        cells[cell] = {
            "grad_through_time_init": through_time,
            "decay_init": _decay(through_time),
        }
    return {"images": int(x.shape[0]), "length": int(x.shape[1]), "cells": cells}


def run_recurrent(
    config: RecurrentConfig | None = None,
    *,
    seed: int = 0,
    progress: Progress | None = None,
) -> StudyResult:
    """Train every (cell, length, clipping) combination; return the report section."""
    started = time.perf_counter()
    config = config or RecurrentConfig()
    progress = progress or silent
    unknown = set(config.cells) - set(CELLS)
    if unknown:
        raise ValueError(f"unknown cells {sorted(unknown)}; choose from {CELLS}")

    plan = [(length, cell, True) for length in config.lengths for cell in config.cells]
    if config.unclipped:
        plan += [(max(config.lengths), cell, False) for cell in config.cells]

    runs, monitors, curves, losses = [], {}, {}, {}
    for length, cell, clipped in plan:
        x, y = adding_problem(
            config.n_train, length, rng=model_rng(seed, "adding", length, "train")
        )
        x_test, y_test = adding_problem(
            config.n_test, length, rng=model_rng(seed, "adding", length, "test")
        )
        model = recurrent_regressor(
            cell,
            2,
            config.hidden,
            rng=model_rng(seed, "recurrent", cell, length, clipped, "init"),
        )
        optimizer = Adam(model.parameters(), lr=config.lr)
        monitor = GradientMonitor(
            model, every=config.every, optimizer=optimizer, on_nonfinite="warn"
        )
        label = f"{cell}, T={length}" + ("" if clipped else ", no clipping")
        history = fit(
            model,
            nn.MSELoss(),
            optimizer,
            x,
            y,
            epochs=config.epochs,
            batch_size=config.batch_size,
            clip_norm=config.clip_norm if clipped else None,
            rng=model_rng(seed, "recurrent", cell, length, clipped, "shuffle"),
            progress=lambda d, t, label=label: progress(label, d, t),
        )
        monitor.detach()
        readout = monitor_readout(monitor, history)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if readout["recorded"] > 0:
                layer = monitor.layer_names[0]
                through_time = np.asarray(
                    monitor.grad_through_time(layer), dtype=np.float64
                )
            else:
                through_time = np.full((1, length), np.nan)
            mse = evaluate(model, nn.MSELoss(), x_test, y_test)
            decay_init, decay_final = _decay(through_time[0]), _decay(through_time[-1])
            largest = max_grad_norm(monitor)
        if not np.isfinite(mse):
            readout["verdict"] = DIVERGED
        runs.append(
            {
                "cell": cell,
                "length": length,
                "clipped": clipped,
                "verdict": readout["verdict"],
                "verdict_init": readout["verdict_init"],
                "test_mse": mse,
                "baseline_mse": ADDING_BASELINE_MSE,
                "mse_vs_baseline": mse / ADDING_BASELINE_MSE,
                "grad_through_time_init": through_time[0],
                "grad_through_time_final": through_time[-1],
                "decay_init": decay_init,
                "decay_final": decay_final,
                "max_grad_norm": largest,
                "history": history.to_dict(),
            }
        )
        key = f"{cell.lower()}_T{length}" + ("" if clipped else "_noclip")
        monitors[key] = monitor
        if clipped:
            panel = curves.setdefault(f"T = {length}", {})
            panel[cell] = (through_time[0], through_time[-1])
            losses[f"{cell}, T={length}"] = history.to_dict()
        logger.info("recurrent %s: %s, MSE %.4f", label, readout["verdict"], mse)

    metrics = {
        "config": asdict(config),
        "baseline_mse": ADDING_BASELINE_MSE,
        "runs": runs,
    }
    if config.digits_images > 0:
        metrics["digits_sequence"] = _digits_gradients(config, seed)
    result = StudyResult(
        name="recurrent",
        title="Recurrent: the adding problem",
        metrics=metrics,
        monitors=monitors,
    )
    _describe(result, config, curves, losses)
    result.seconds = time.perf_counter() - started
    return result


def _describe(result, config, curves, losses) -> None:
    runs = result.metrics["runs"]
    longest = max(config.lengths)
    result.intro = [
        "The adding problem (Hochreiter & Schmidhuber 1997): each sequence has T steps "
        "of two channels, values uniform in [0, 1] and a marker that is 1 at exactly "
        "two steps (one in each half); the target is the sum of the two marked values. "
        f"Always answering 1.0 gives MSE {ADDING_BASELINE_MSE:.3f}: a model must beat "
        "that to have learnt anything, which needs the first marked value carried "
        "over about T/2 steps.",
        f"Each cell has {config.hidden} hidden units and a linear read-out of its last "
        f"state; {config.n_train:,} training and {config.n_test:,} test sequences; "
        "Adam "
        f"(lr {config.lr:g}), {config.epochs} epochs, batches of {config.batch_size}, "
        f"gradients clipped to global norm {config.clip_norm:g}"
        + (
            f" (and, at T = {longest}, also without clipping)."
            if config.unclipped
            else "."
        ),
        "Gradient through time: ||dL/dh_t|| averaged over the batch, for each step t. "
        "Decay: its value at the first step divided by that at the last step; a tiny "
        "decay means the start of the sequence receives almost no learning signal.",
    ]
    rows = [
        [
            r["cell"],
            r["length"],
            "yes" if r["clipped"] else "no",
            r["verdict"],
            r["decay_init"],
            r["decay_final"],
            r["test_mse"],
            r["mse_vs_baseline"],
        ]
        for r in runs
    ]
    result.tables.append(
        Table(
            title="Every run",
            columns=[
                "cell",
                "T",
                "clipped",
                "verdict",
                "decay at init",
                "decay after training",
                "test MSE",
                "MSE / 0.167 baseline",
            ],
            rows=rows,
            note="MSE / baseline below 1 means the model learnt something about the "
            "sum; "
            "near 1 means it answers about 1.0 whatever the input.",
        )
    )
    result.figures["grad_through_time"] = (
        figures.grad_through_time_grid(
            curves, title="Gradient through time, relative to the last step"
        ),
        "||dL/dh_t|| / ||dL/dh_T|| for each step t (log scale), at initialisation "
        "(dashed) and after training (solid). A line falling steeply to the left is "
        "a gradient vanishing through time.",
    )
    digits = result.metrics.get("digits_sequence")
    if digits:
        panel = {
            cell: (entry["grad_through_time_init"], None)
            for cell, entry in digits["cells"].items()
        }
        result.figures["digits_grad_through_time"] = (
            figures.grad_through_time_grid(
                {f"T = {digits['length']} pixels": panel},
                title="Digits read pixel by pixel",
            ),
            f"{digits['images']} handwritten digits, each read as {digits['length']} "
            "steps of one pixel; cross-entropy of a linear read-out of the last "
            "state, at initialisation. ||dL/dh_t|| / ||dL/dh_T|| for each step t "
            "(log scale): how much of the label's signal reaches the top rows.",
        )
    result.figures["loss"] = (
        figures.loss_curves(losses, title="Training loss on the adding problem"),
        "Training MSE per epoch; the always-1.0 baseline is "
        f"{ADDING_BASELINE_MSE:.3f}.",
    )

    findings = []
    for r in runs:
        if r["length"] == longest and r["clipped"]:
            findings.append(
                f"{r['cell']}, T = {longest}: {r['decay_init']:.2e} of the last step's "
                f"gradient reaches the first step at initialisation, "
                f"{r['decay_final']:.2e} after training; test MSE "
                f"{r['test_mse']:.3f} ({r['mse_vs_baseline']:.2f} x the baseline), "
                f"verdict '{r['verdict']}'."
                + (
                    f" Training diverged in epoch {r['history']['diverged_epoch']}."
                    if r["history"]["diverged"]
                    else ""
                )
            )
            result.summary_rows.append(
                {
                    "model": f"{r['cell']}, adding T={longest}",
                    "verdict": verdict_change(r["verdict_init"], r["verdict"]),
                    "metric": f"through time {r['decay_final']:.1e} after "
                    f"training; MSE {r['mse_vs_baseline']:.2f} x baseline",
                }
            )
    clipped = {r["cell"]: r for r in runs if r["length"] == longest and r["clipped"]}
    for r in runs:
        if not r["clipped"]:
            with_clip = clipped.get(r["cell"])
            findings.append(
                f"{r['cell']}, T = {longest}, without clipping: test MSE "
                f"{r['test_mse']:.3f}"
                + (
                    f" (with clipping: {with_clip['test_mse']:.3f})"
                    if with_clip
                    else ""
                )
                + (" - training diverged" if r["history"]["diverged"] else "")
                + f"; the largest global gradient norm recorded was "
                f"{r['max_grad_norm']:.3g} (the clipping threshold is "
                f"{config.clip_norm:g})."
            )
    if digits:
        decays = ", ".join(
            f"{cell} {entry['decay_init']:.1e}"
            for cell, entry in digits["cells"].items()
        )
        findings.append(
            f"Digits read pixel by pixel (T = {digits['length']}), at "
            "initialisation: share of the last step's gradient reaching the first "
            f"pixel: {decays}."
        )
    result.findings = findings
