"""The studies' own figures (the per-monitor plots live in gradwatch.monitor.plots).

Every function returns a ``matplotlib.figure.Figure`` built without pyplot,
so nothing here needs a display or touches global plotting state.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

__all__ = [
    "grad_through_time_grid",
    "literal",
    "loss_curves",
    "predictions_vs_actual",
    "ratio_heatmap",
    "relative_layer_gradients",
]


def literal(text: str) -> str:
    """``text`` shown as written in a title or label, never as mathtext.

    Matplotlib reads a pair of ``$`` signs as a TeX formula, so a user's
    column named ``Price $^$`` would fail to draw; escaping each ``$`` keeps it
    plain text.
    """
    return str(text).replace("$", r"\$")


_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def predictions_vs_actual(
    dates: np.ndarray,
    actual: np.ndarray,
    predictions: dict[str, np.ndarray],
    *,
    title: str,
    zoom: int = 60,
) -> Figure:
    """Actual price and each model's predicted price over the test period.

    Left: the whole test period; right: its last ``zoom`` days, where the
    one-day lag of persistence-like forecasts becomes visible.
    """
    figure = Figure(figsize=(11, 4.2), layout="constrained")
    axes = figure.subplots(1, 2, gridspec_kw={"width_ratios": (3, 2)})
    dates = np.asarray(dates, dtype="datetime64[D]")
    for ax, start in ((axes[0], 0), (axes[1], max(len(dates) - zoom, 0))):
        ax.plot(dates[start:], actual[start:], color="black", lw=1.6, label="actual")
        for (label, values), color in zip(predictions.items(), _COLORS, strict=False):
            # A diverged model's predictions (NaN or infinite) are left out.
            if not np.all(np.isfinite(values)):
                continue
            ax.plot(
                dates[start:], values[start:], lw=0.9, color=color, label=literal(label)
            )
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", labelrotation=30)
    axes[0].set_title(literal(title))
    axes[0].set_ylabel("price")
    axes[1].set_title(f"last {min(zoom, len(dates))} test days")
    # Below the plots, so that no line is hidden behind the legend.
    figure.legend(
        *axes[0].get_legend_handles_labels(),
        loc="outside lower center",
        ncols=3,
        fontsize=8,
    )
    return figure


def loss_curves(histories: dict[str, dict], *, title: str) -> Figure:
    """Training (solid) and validation (dashed) loss per epoch, log scale."""
    figure = Figure(figsize=(7.5, 4), layout="constrained")
    ax = figure.subplots()
    for (label, history), color in zip(histories.items(), _COLORS, strict=False):
        train = np.array(history["train_loss"], dtype=float)
        ax.plot(np.arange(1, len(train) + 1), train, color=color, label=label)
        val = np.array(history.get("val_loss", []), dtype=float)
        if val.size:
            ax.plot(np.arange(1, len(val) + 1), val, color=color, ls="--")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (standardised units)")
    ax.set_title(literal(title) + "  (solid: training, dashed: validation)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return figure


def relative_layer_gradients(
    curves: dict[str, tuple[np.ndarray, np.ndarray]], *, title: str, ylabel: str
) -> Figure:
    """Each layer's activation-gradient size divided by the output layer's.

    ``curves`` maps a model's label to two (L,) arrays, at initialisation
    (dashed) and after training (solid), ordered from the first layer to the
    output layer.
    """
    figure = Figure(figsize=(7.5, 4), layout="constrained")
    ax = figure.subplots()
    for (label, (initial, final)), color in zip(curves.items(), _COLORS, strict=False):
        layers = np.arange(1, len(initial) + 1)
        ax.plot(
            layers,
            initial,
            "--",
            marker="o",
            ms=3,
            color=color,
            label=f"{label}: initialisation",
        )
        ax.plot(
            layers,
            final,
            "-",
            marker="o",
            ms=3,
            color=color,
            label=f"{label}: after training",
        )
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("Linear layer (1 = first, rightmost = output layer)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return figure


def ratio_heatmap(
    values: np.ndarray,
    rows: list[str],
    columns: list[str],
    *,
    title: str,
    colorbar_label: str,
    xlabel: str = "",
    ylabel: str = "",
) -> Figure:
    """A log10 heat map centred on 0 (ratio 1) with each cell's value written in."""
    values = np.asarray(values, dtype=float)
    figure = Figure(
        figsize=(1.4 * len(columns) + 4.5, 0.42 * len(rows) + 1.6), layout="constrained"
    )
    ax = figure.subplots()
    finite = values[np.isfinite(values)]
    span = max(float(np.abs(finite).max()) if finite.size else 1.0, 1.0)
    # A ratio that underflowed to exactly 0 (log10 = -inf) is drawn in the
    # darkest colour and labelled "-inf".
    shown = np.where(np.isneginf(values), -span, values)
    image = ax.imshow(
        shown,
        cmap="RdBu",
        aspect="auto",
        norm=TwoSlopeNorm(vcenter=0.0, vmin=-span, vmax=span),
    )
    for (i, j), value in np.ndenumerate(values):
        if np.isneginf(value):
            text, value = "-inf", -span
        else:
            text = f"{value:.1f}" if np.isfinite(value) else "n/a"
        ax.text(
            j,
            i,
            text,
            ha="center",
            va="center",
            fontsize=8,
            color="white" if np.isfinite(value) and abs(value) > span / 2 else "black",
        )
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    figure.colorbar(image, ax=ax, label=colorbar_label)
    return figure


def grad_through_time_grid(
    panels: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]], *, title: str
) -> Figure:
    """One panel per sequence length: gradient through time of each cell.

    ``panels`` maps a panel title to ``cell label -> (at initialisation,
    after training)``, each a (T,) array or None (no curve). Each curve is
    divided by its value at the last step, so curves of different models
    share one scale (log).
    """
    figure = Figure(figsize=(4.2 * len(panels) + 0.5, 3.8), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(panels), sharey=True))
    for ax, (panel, series) in zip(axes, panels.items(), strict=True):
        for (label, pair), color in zip(series.items(), _COLORS, strict=False):
            for values, style, when in zip(
                pair, ("--", "-"), ("init", "trained"), strict=True
            ):
                if values is None:
                    continue
                values = np.asarray(values, dtype=float)
                relative = values / values[-1] if values[-1] > 0 else values
                ax.plot(
                    np.arange(1, len(values) + 1),
                    relative,
                    style,
                    color=color,
                    label=f"{label}, {when}",
                )
        ax.set_yscale("log")
        ax.set_xlabel("time step t")
        ax.set_title(panel)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("||dL/dh_t|| / ||dL/dh_T||")
    axes[-1].legend(fontsize=7)
    figure.suptitle(title)
    return figure
