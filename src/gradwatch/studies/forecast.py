"""Forecast study: deep and recurrent networks on real daily stock prices.

Five models see the same windows of past daily log returns (or prices) and
predict the next one:

(a) a deep tanh MLP with small Gaussian weights, the classic network whose
    early layers receive almost no gradient;
(b) the same depth with the remedies: ReLU, He initialisation, BatchNorm
    and residual connections;
(c) a vanilla RNN, (d) an LSTM and (e) a GRU reading the window day by day.

Every model is trained with SGD and momentum, gradients clipped by global
norm, and watched by a ``GradientMonitor``. SGD rather than Adam on purpose:
Adam divides each parameter's step by the size of its own gradient, which
hides a vanishing gradient from the learning dynamics (while not curing it).
 The test metrics are in price units, next
to the persistence baseline (tomorrow's price = today's), which on daily
prices is very hard to beat: the study is about gradients, not about
predicting the market.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import nn
from ..data import PriceSeries, load_price_csv, load_stock, make_windows
from ..data.windows import WindowedSeries
from ..monitor import GradientMonitor, plots
from ..optim import SGD
from ..report import StudyResult, Table
from ..training import fit, predict
from . import figures
from .common import (
    DIVERGED,
    Progress,
    layer_rms_history,
    model_rng,
    monitor_readout,
    silent,
    verdict_change,
)
from .models import mlp, recurrent_regressor

__all__ = ["ForecastConfig", "price_metrics", "run_forecast"]

logger = logging.getLogger(__name__)

MODELS = ("tanh_mlp", "remedied_mlp", "rnn", "lstm", "gru")

LABELS = {
    "tanh_mlp": "deep tanh MLP, small init",
    "remedied_mlp": "deep ReLU MLP + He + BatchNorm + residual",
    "rnn": "vanilla RNN (tanh)",
    "lstm": "LSTM",
    "gru": "GRU",
}


@dataclass
class ForecastConfig:
    """Settings of the forecast study (command-line options of the same names).

    Attributes
    ----------
    ticker : which bundled series (ignored when ``csv`` is set)
    value_column : the price column, of the bundled series (default
        ``"Adj Close"``) or of ``csv`` (default ``"Close"``)
    csv, date_column, fill, dayfirst : the user's own CSV file instead
        (see ``gradwatch.data.load_price_csv``)
    max_points : use only the last ``max_points`` prices (None: all)
    lookback, horizon, target : see ``gradwatch.data.windows``
    epochs, batch_size, lr, momentum, clip_norm : SGD training
    depth, width, std : the two MLPs (``std`` of the small Gaussian init)
    hidden : hidden units of the recurrent models
    every : record every ``every``-th backward pass
    models : which of ``MODELS`` to train
    """

    ticker: str = "AAPL"
    value_column: str | None = None
    csv: str | None = None
    date_column: str = "Date"
    fill: str | None = None
    dayfirst: bool = False
    max_points: int | None = None
    lookback: int = 20
    horizon: int = 1
    target: str = "return"
    epochs: int = 8
    batch_size: int = 64
    lr: float = 0.01
    momentum: float = 0.9
    clip_norm: float = 1.0
    depth: int = 16
    width: int = 32
    std: float = 0.1
    hidden: int = 32
    every: int = 5
    models: tuple[str, ...] = field(default=MODELS)

    @classmethod
    def quick(cls, **overrides) -> ForecastConfig:
        """Small settings for a run of a few seconds."""
        settings = dict(
            epochs=2, depth=12, width=24, hidden=16, every=4, max_points=2000
        )
        settings.update(overrides)
        return cls(**settings)


def load_series(config: ForecastConfig) -> PriceSeries:
    """The bundled ticker, or the user's CSV file when ``config.csv`` is set.

    With ``config.max_points`` set, only the most recent prices are kept.
    """
    if config.csv is not None:
        series = load_price_csv(
            config.csv,
            config.date_column,
            config.value_column or "Close",
            config.fill,
            dayfirst=config.dayfirst,
        )
    else:
        series = load_stock(config.ticker, config.value_column or "Adj Close")
    if config.max_points is not None and len(series) > config.max_points:
        keep = slice(len(series) - config.max_points, None)
        series = PriceSeries(
            dates=series.dates[keep],
            values=series.values[keep],
            name=series.name,
            source=f"{series.source}, last {config.max_points:,} of "
            f"{len(series):,} rows",
        )
    return series


def price_metrics(
    predicted: np.ndarray, actual: np.ndarray, anchor: np.ndarray
) -> dict[str, float | None]:
    """Test metrics in price units.

    Parameters
    ----------
    predicted, actual : ndarray, shape (W,)
        Predicted and true price ``H`` days after each window.
    anchor : ndarray, shape (W,)
        The price on the window's last day ("today").

    Returns
    -------
    dict
        ``mse`` and ``mae`` of the price; ``directional_accuracy``: the share
        of windows whose predicted move (up or down from today) has the sign
        of the true move, over windows where the price did move; ``None`` when
        the predictor never predicts a move (persistence).
    """
    error = predicted - actual
    moved = actual != anchor
    predicted_move = np.sign(predicted - anchor)
    directional = None
    if moved.any() and np.any(predicted_move[moved] != 0):
        directional = float(
            np.mean(predicted_move[moved] == np.sign(actual - anchor)[moved])
        )
    return {
        "mse": float(np.mean(error**2)),
        "mae": float(np.mean(np.abs(error))),
        "directional_accuracy": directional,
    }


def _build(name: str, config: ForecastConfig, rng) -> nn.Sequential:
    if name == "tanh_mlp":
        return mlp(
            config.lookback,
            1,
            depth=config.depth,
            width=config.width,
            activation="tanh",
            init="small",
            std=config.std,
            rng=rng,
        )
    if name == "remedied_mlp":
        return mlp(
            config.lookback,
            1,
            depth=config.depth,
            width=config.width,
            activation="relu",
            init="he",
            batchnorm=True,
            residual=True,
            rng=rng,
        )
    return recurrent_regressor(name.upper(), 1, config.hidden, rng=rng)


def _inputs(name: str, x: np.ndarray) -> np.ndarray:
    """(W, L, 1) windows as the model wants them: flat for an MLP."""
    return x.reshape(len(x), -1) if name.endswith("mlp") else x


def _decay(values: np.ndarray) -> float:
    """||dL/dh_1|| / ||dL/dh_T|| of a gradient through time."""
    values = np.asarray(values, dtype=np.float64)
    return float(values[0] / values[-1]) if values[-1] > 0 else float("nan")


def _summary_sentence(label: str, metrics: dict, baseline_mse: float) -> str:
    if metrics["verdict"] == DIVERGED:
        epoch = metrics["history"]["diverged_epoch"]
        when = f" in epoch {epoch}" if epoch is not None else ""
        return (
            f"{label}: training diverged (the loss or the predictions became NaN "
            f"or infinite{when}); lower --lr. Its test metrics mean nothing."
        )
    ratio = metrics["test"]["mse"] / baseline_mse
    comparison = (
        "worse than"
        if ratio > 1.005
        else ("better than" if ratio < 0.995 else "level with")
    )
    return (
        f"{label}: test MSE {metrics['test']['mse']:.4g}, {ratio:.3f} x the "
        f"persistence baseline ({comparison} it)."
    )


def run_forecast(
    config: ForecastConfig | None = None,
    *,
    seed: int = 0,
    progress: Progress | None = None,
    series: PriceSeries | None = None,
) -> StudyResult:
    """Train and compare the forecast models; return the report section.

    Parameters
    ----------
    config : ForecastConfig
    seed : int
        Decides every initialisation and shuffle.
    progress : callable, optional
        ``progress(label, done, total)`` after each training step.
    series : PriceSeries, optional
        Use this series instead of loading the one ``config`` names.

    Raises
    ------
    gradwatch.data.DataError
        When the series cannot be used (see ``make_windows``).
    """
    started = time.perf_counter()
    config = config or ForecastConfig()
    progress = progress or silent
    unknown = set(config.models) - set(MODELS)
    if unknown:
        raise ValueError(
            f"unknown forecast models {sorted(unknown)}; choose from {MODELS}"
        )
    series = series if series is not None else load_series(config)
    windows = make_windows(series, config.lookback, config.horizon, config.target)
    test = windows.test
    baseline = price_metrics(test.anchor_price, test.target_price, test.anchor_price)
    up = test.target_price > test.anchor_price
    moved = test.target_price != test.anchor_price
    always_up = float(np.mean(up[moved])) if moved.any() else None

    models, monitors, predictions, ratio_curves = {}, {}, {}, {}
    for name in config.models:
        label = LABELS[name]
        model = _build(name, config, model_rng(seed, "forecast", name, "init"))
        optimizer = SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
        monitor = GradientMonitor(
            model, every=config.every, optimizer=optimizer, on_nonfinite="warn"
        )
        history = fit(
            model,
            nn.MSELoss(),
            optimizer,
            _inputs(name, windows.train.x),
            windows.train.y,
            epochs=config.epochs,
            batch_size=config.batch_size,
            clip_norm=config.clip_norm,
            x_val=_inputs(name, windows.val.x),
            y_val=windows.val.y,
            rng=model_rng(seed, "forecast", name, "shuffle"),
            progress=lambda done, total, label=label: progress(label, done, total),
        )
        monitor.detach()
        with np.errstate(over="ignore", invalid="ignore"):
            predicted = windows.to_price(test, predict(model, _inputs(name, test.x)))
            test_metrics = price_metrics(
                predicted, test.target_price, test.anchor_price
            )
        readout = monitor_readout(monitor, history)
        # A model can also blow up without a non-finite training loss, e.g.
        # when its test predictions overflow once turned back into prices.
        if not np.isfinite(test_metrics["mse"]):
            readout["verdict"] = DIVERGED
        predictions[label] = predicted
        models[name] = {
            "label": label,
            "architecture": repr(model).splitlines()[0] + " ...",
            "parameters": int(sum(p.value.size for p in model.parameters())),
            "verdict": readout["verdict"],
            "verdict_init": readout["verdict_init"],
            "gradient_ratio_init": readout["gradient_ratio_init"],
            "gradient_ratio_final": readout["gradient_ratio_final"],
            "diagnosis": readout["diagnosis"] or {},
            "test": test_metrics,
            "history": history.to_dict(),
        }
        models[name]["mse_vs_persistence"] = (
            models[name]["test"]["mse"] / baseline["mse"]
        )
        monitors[name] = monitor
        # A diverged model may have recorded nothing, or infinite gradients.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if readout["recorded"] > 0:
                if name.endswith("mlp"):
                    linear = [
                        i
                        for i, n in enumerate(monitor.layer_names)
                        if n.endswith(".Linear")
                    ]
                    rms = layer_rms_history(monitor)[:, linear]
                    ratio_curves[label] = (rms[0] / rms[0, -1], rms[-1] / rms[-1, -1])
                else:
                    through_time = monitor.grad_through_time(monitor.layer_names[0])
                    models[name]["through_time_decay_init"] = _decay(through_time[0])
                    models[name]["through_time_decay_final"] = _decay(through_time[-1])
        logger.info("forecast %s: %s", name, readout["verdict"])

    metrics = {
        "config": asdict(config),
        "data": _data_metrics(series, windows),
        "baselines": {
            "persistence": baseline,
            "always_up_directional_accuracy": always_up,
        },
        "models": models,
    }
    result = StudyResult(
        name="forecast",
        title="Forecast: daily prices",
        metrics=metrics,
        monitors=monitors,
    )
    _write_text(result, config, windows, series)
    _add_tables_and_figures(result, windows, predictions, monitors, ratio_curves)
    result.seconds = time.perf_counter() - started
    return result


def _train_end(windows: WindowedSeries) -> int:
    """Number of prices up to the end of the training part."""
    return windows.bounds["train"][1] + (1 if windows.target == "return" else 0)


def _data_metrics(series: PriceSeries, windows: WindowedSeries) -> dict:
    return {
        "series": series.name,
        "source": series.source,
        "n_prices": len(series),
        "first_date": str(series.dates[0]),
        "last_date": str(series.dates[-1]),
        "target": windows.target,
        "lookback": windows.lookback,
        "horizon": windows.horizon,
        "windows": {split.name: len(split) for split in windows.splits},
        "test_share_above_training_max": float(
            np.mean(
                windows.test.target_price > series.values[: _train_end(windows)].max()
            )
        ),
        "test_first_target_date": str(windows.test.target_dates[0]),
        "test_last_target_date": str(windows.test.target_dates[-1]),
    }


def _write_text(result, config, windows, series) -> None:
    data = result.metrics["data"]
    models = result.metrics["models"]
    baseline = result.metrics["baselines"]["persistence"]
    target_text = (
        "the log return over the next "
        f"{config.horizon} trading day(s), turned back into a price as "
        "today's price x exp(predicted return)"
        if config.target == "return"
        else f"the standardised price {config.horizon} trading day(s) ahead"
    )
    inputs = "log returns" if config.target == "return" else "prices"
    result.intro = [
        f"Data: {series.name} ({data['source']}), {data['n_prices']:,} trading days "
        f"from {data['first_date']} to {data['last_date']}. Each model sees the last "
        f"{config.lookback} daily {inputs} and predicts {target_text}.",
        f"Split in time order: {data['windows']['train']:,} training, "
        f"{data['windows']['val']:,} validation and {data['windows']['test']:,} test "
        f"windows (test targets {data['test_first_target_date']} to "
        f"{data['test_last_target_date']}); no window crosses a split and the "
        "standardisation is fitted on the training part only.",
        f"Training: SGD (lr {config.lr:g}, momentum {config.momentum:g}), "
        f"{config.epochs} epochs, batches of "
        f"{config.batch_size}, gradients clipped to global norm {config.clip_norm:g}. "
        f"MLPs: {config.depth} Linear layers of width {config.width}; recurrent "
        f"models: {config.hidden} hidden units.",
        "The persistence baseline (tomorrow's price = today's) is very hard to beat "
        "on daily prices, which move close to a random walk. The models below do not "
        "beat it in any useful sense, and nothing here is a trading signal: the point "
        "of this study is what the gradients do.",
    ]
    findings = []
    above = data["test_share_above_training_max"]
    if config.target == "price" and above > 0:
        findings.append(
            f"{above:.0%} of the test prices lie above the highest training price: "
            "a model of standardised prices must extrapolate there, which is why "
            "the default target is the log return."
        )
    if "tanh_mlp" in models:
        m = models["tanh_mlp"]
        findings.append(
            f"Deep tanh MLP with small initial weights: verdict '{m['verdict']}'; "
            f"the first layer's activation gradient is {m['gradient_ratio_init']:.2e} "
            f"x the output layer's at initialisation and "
            f"{m['gradient_ratio_final']:.2e} x after training."
        )
        remedies = m["diagnosis"].get("remedies") or []
        if remedies:
            findings.append(
                "The monitor's advice for it: "
                + " ".join(r if r.endswith(".") else r + "." for r in remedies[:3])
            )
    if "remedied_mlp" in models:
        m = models["remedied_mlp"]
        findings.append(
            f"Same depth with ReLU, He init, BatchNorm and residual connections: "
            f"verdict '{m['verdict']}', gradient ratio "
            f"{m['gradient_ratio_init']:.3g} at initialisation and "
            f"{m['gradient_ratio_final']:.3g} after training."
        )
    for m in models.values():
        findings.append(_summary_sentence(m["label"], m, baseline["mse"]))
        gradient = (
            f"through time {m['through_time_decay_final']:.2g}"
            if "through_time_decay_final" in m
            else f"ratio {m['gradient_ratio_final']:.2g}"
        )
        result.summary_rows.append(
            {
                "model": m["label"],
                "verdict": verdict_change(m["verdict_init"], m["verdict"]),
                "metric": (
                    f"{gradient}; test MSE {m['mse_vs_persistence']:.3f} x persistence"
                ),
            }
        )
    result.findings = findings


def _add_tables_and_figures(result, windows, predictions, monitors, ratio_curves):
    metrics = result.metrics
    baseline = metrics["baselines"]["persistence"]
    gradient_rows = []
    for m in metrics["models"].values():
        gradient_rows.append(
            [
                m["label"],
                m["verdict_init"],
                m["verdict"],
                m["gradient_ratio_init"],
                m["gradient_ratio_final"],
                m.get("through_time_decay_init"),
                m.get("through_time_decay_final"),
            ]
        )
    result.tables.append(
        Table(
            title="Gradients",
            columns=[
                "model",
                "verdict at init",
                "verdict after training",
                "gradient ratio at init",
                "gradient ratio after training",
                "through time at init",
                "through time after training",
            ],
            rows=gradient_rows,
            note="Gradient ratio: RMS of the activation gradient at the first layer "
            "with parameters divided by that at the output layer (1 = the first "
            "layer gets as much gradient as the last). Through time (recurrent "
            "models): ||dL/dh_1|| / ||dL/dh_T|| over the window's days. Verdicts from "
            "GradientMonitor.diagnose() at the first and the last recorded step; "
            "for a recurrent model the monitor also calls a gradient through time "
            "below 1% of its last-step value 'vanishing'. On daily returns, where "
            "the older days of a window carry little signal, that may simply mean "
            "the model has learnt to ignore them.",
        )
    )

    rows = [
        ["persistence (tomorrow = today)", baseline["mse"], baseline["mae"], None, 1.0]
    ]
    for m in metrics["models"].values():
        rows.append(
            [
                m["label"],
                m["test"]["mse"],
                m["test"]["mae"],
                m["test"]["directional_accuracy"],
                m["mse_vs_persistence"],
            ]
        )
    always_up = metrics["baselines"]["always_up_directional_accuracy"]
    up_text = (
        f" Always predicting 'up' scores {always_up:.3f};"
        if always_up is not None
        else ""
    )
    result.tables.append(
        Table(
            title="Test set, in price units",
            columns=[
                "model",
                "MSE",
                "MAE",
                "directional accuracy",
                "MSE / persistence",
            ],
            rows=rows,
            highlight=[0],
            note="Directional accuracy: share of test days whose predicted move (up or "
            f"down from today) has the sign of the real move.{up_text} persistence "
            "predicts no move, so it has none. MSE / persistence below 1 would mean "
            "better than persistence.",
        )
    )

    test = windows.test
    persistence = {"persistence": test.anchor_price}
    result.figures["predictions"] = (
        figures.predictions_vs_actual(
            test.target_dates,
            test.target_price,
            {**persistence, **predictions},
            title=f"{windows.series_name}: test period, predicted vs actual",
        ),
        "Predicted and actual prices on the test period (right: the last days). "
        "Every model hugs the persistence forecast: with daily data, today's price "
        "is most of tomorrow's.",
    )
    result.figures["loss"] = (
        figures.loss_curves(
            {m["label"]: m["history"] for m in metrics["models"].values()},
            title="Loss per epoch",
        ),
        "Mean squared error on the standardised target per epoch (solid: "
        "training, dashed: validation). A loss near 1 means predicting the "
        "training mean; a validation loss far below the training loss means a "
        "calmer validation period than the training one (the standardisation "
        "comes from the training part), not a better model.",
    )
    if ratio_curves:
        result.figures["gradient_ratio"] = (
            figures.relative_layer_gradients(
                ratio_curves,
                title="Activation gradient relative to the output layer",
                ylabel="RMS(dL/da) / RMS at output layer",
            ),
            "Each layer's activation-gradient RMS divided by the output layer's, "
            "at initialisation (dashed) and after training (solid), log scale. "
            "Far below 1 at the left means the early layers barely learn.",
        )
    for name in ("tanh_mlp", "remedied_mlp"):
        # A model that diverged before its first record has nothing to plot.
        if name in monitors and len(monitors[name].steps) > 0:
            result.figures[f"evolution_{name}"] = (
                plots.gradient_evolution(monitors[name], stat="activation_rms"),
                f"{LABELS[name]}: per-layer activation-gradient RMS over training "
                "(log scale).",
            )
