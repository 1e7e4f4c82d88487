"""End-to-end tests of the studies: a quick run, reproducibility, interrupts."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from gradwatch import cli
from gradwatch.data import DataError
from gradwatch.monitor import GradientMonitor
from gradwatch.report import OutputExistsError, load_schema
from gradwatch.report.render import figure_png
from gradwatch.studies import (
    DepthConfig,
    ForecastConfig,
    RecurrentConfig,
    StudyConfig,
    figures,
    run_studies,
)
from gradwatch.studies.forecast import load_series

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """``gradwatch study --quick`` once, shared by the tests below."""
    out = tmp_path_factory.mktemp("quick") / "report"
    code = cli.main(["study", "--quick", "--quiet", "--out", str(out), "--seed", "0"])
    return code, out


def tiny_config(**forecast):
    return StudyConfig(
        forecast=ForecastConfig(
            epochs=1,
            depth=4,
            width=8,
            hidden=4,
            every=10,
            models=("tanh_mlp", "lstm"),
            **forecast,
        ),
        depth=DepthConfig(
            depths=(3,),
            configurations=("tanh / small", "relu / he"),
            n_samples=200,
            epochs=1,
            width=8,
        ),
        recurrent=RecurrentConfig(
            lengths=(6,),
            cells=("RNN", "GRU"),
            hidden=4,
            n_train=128,
            n_test=32,
            epochs=1,
            unclipped=False,
        ),
    )


def test_quick_study_writes_a_valid_complete_report(quick_run):
    code, out = quick_run
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    jsonschema.validate(metrics, load_schema())
    assert metrics["status"] == "complete"
    assert set(metrics["studies"]) == {"forecast", "depth", "recurrent"}
    assert metrics["config"]["seed"] == 0 and metrics["config"]["quick"] is True
    assert {"python", "numpy", "gradwatch"} <= set(metrics["versions"])


def test_quick_study_figures_are_pngs_embedded_in_a_self_contained_report(quick_run):
    _, out = quick_run
    figures = sorted((out / "figures").glob("*.png"))
    assert len(figures) >= 8
    for figure in figures:
        assert figure.read_bytes()[:8] == PNG_SIGNATURE, figure.name
    html = (out / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') == len(figures)
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html and "<script" not in html


def test_quick_study_saves_every_monitor_readably(quick_run):
    _, out = quick_run
    saved = sorted((out / "monitors").glob("*.npz"))
    assert any(p.name == "forecast_tanh_mlp.npz" for p in saved)
    assert any(p.name.startswith("recurrent_rnn") for p in saved)
    monitor = GradientMonitor.load(out / "monitors" / "forecast_tanh_mlp.npz")
    assert monitor.history("activation_rms").shape[1] == len(monitor.layer_names)


def test_deep_tanh_mlp_vanishes_and_the_remedied_mlp_is_healthy(quick_run):
    _, out = quick_run
    models = json.loads((out / "metrics.json").read_text())["studies"]["forecast"][
        "models"
    ]
    tanh = models["tanh_mlp"]
    assert tanh["verdict_init"] == "vanishing" and tanh["verdict"] == "vanishing"
    assert tanh["gradient_ratio_init"] < 1e-3
    remedied = models["remedied_mlp"]
    assert remedied["verdict_init"] == "healthy" and remedied["verdict"] == "healthy"
    assert remedied["gradient_ratio_init"] > 1e-2


def test_every_forecast_model_is_compared_with_persistence(quick_run):
    _, out = quick_run
    forecast = json.loads((out / "metrics.json").read_text())["studies"]["forecast"]
    persistence = forecast["baselines"]["persistence"]
    assert persistence["mse"] > 0 and persistence["directional_accuracy"] is None
    for model in forecast["models"].values():
        assert model["mse_vs_persistence"] == pytest.approx(
            model["test"]["mse"] / persistence["mse"]
        )
    html = (out / "report.html").read_text()
    assert "persistence" in html and "hard to beat" in html


def test_an_existing_report_is_refused_and_kept(quick_run):
    _, out = quick_run
    before = (out / "report.html").read_bytes()
    assert cli.main(["study", "--quick", "--quiet", "--out", str(out)]) == 2
    assert (out / "report.html").read_bytes() == before
    with pytest.raises(OutputExistsError):
        run_studies(["depth"], out, config=tiny_config())


def test_the_same_seed_gives_identical_metrics(tmp_path):
    first = run_studies(
        ["forecast", "depth", "recurrent"], tmp_path / "a", seed=5, config=tiny_config()
    )
    second = run_studies(
        ["forecast", "depth", "recurrent"], tmp_path / "b", seed=5, config=tiny_config()
    )
    other = run_studies(["depth"], tmp_path / "c", seed=6, config=tiny_config())
    a = json.loads(first.metrics_path.read_text())
    b = json.loads(second.metrics_path.read_text())
    c = json.loads(other.metrics_path.read_text())
    assert a["studies"] == b["studies"]
    assert a["studies"]["depth"] != c["studies"]["depth"]


def test_an_interrupt_keeps_the_finished_studies_readable(tmp_path):
    def interrupt_in_depth(label, done, total):
        if "depth" in label:
            raise KeyboardInterrupt

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_studies(
            ["recurrent", "depth"],
            out,
            config=tiny_config(),
            progress=interrupt_in_depth,
        )
    metrics = json.loads((out / "metrics.json").read_text())
    jsonschema.validate(metrics, load_schema())
    assert metrics["status"] == "interrupted"
    assert list(metrics["studies"]) == ["recurrent"]
    assert "partial" in (out / "report.html").read_text()
    assert list((out / "figures").glob("recurrent_*.png"))
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_ctrl_c_through_the_cli_exits_130_with_partial_results(
    tmp_path, capsys, monkeypatch
):
    import gradwatch.studies.study as study

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(study, "run_recurrent", interrupted)
    out = tmp_path / "out"
    code = cli.main(["recurrent", "--quick", "--quiet", "--out", str(out)])
    assert code == 130
    assert f"interrupted; partial results in {out}" in capsys.readouterr().err
    assert json.loads((out / "metrics.json").read_text())["status"] == "interrupted"


def test_bad_data_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(DataError, match="no such file"):
        run_studies(["forecast"], out, config=tiny_config(csv=str(tmp_path / "x.csv")))
    assert not out.exists()


def test_descending_csv_dates_are_used_in_ascending_order(tmp_path):
    import numpy as np

    rng = np.random.default_rng(1)
    prices = 30.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, 300)))
    dates = np.datetime64("2016-01-01") + np.arange(300).astype("timedelta64[D]")
    rows = [f"{d},{p:.4f}" for d, p in zip(dates, prices, strict=True)][::-1]
    csv = tmp_path / "desc.csv"
    csv.write_text("Date,Close\n" + "\n".join(rows) + "\n")
    run = run_studies(["forecast"], tmp_path / "out", config=tiny_config(csv=str(csv)))
    data = json.loads(Path(run.metrics_path).read_text())["studies"]["forecast"]["data"]
    assert data["first_date"] == "2016-01-01"
    assert data["last_date"] == str(dates[-1])
    assert data["test_last_target_date"] == str(dates[-1])


# -- building blocks of the studies --------------------------------------------------


def test_mlp_has_depth_linear_layers_and_the_requested_remedies():
    from gradwatch import nn
    from gradwatch.studies.models import mlp

    plain = mlp(5, 2, depth=6, width=4, activation="tanh", init="small", rng=0)
    linears = [m for m in plain.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 6
    assert linears[0].init_name == "normal(std=0.1)"
    remedied = mlp(
        5,
        2,
        depth=6,
        width=4,
        activation="relu",
        init="he",
        batchnorm=True,
        residual=True,
        rng=0,
    )
    assert len([m for m in remedied.modules() if isinstance(m, nn.Linear)]) == 6
    assert len([m for m in remedied.modules() if isinstance(m, nn.Residual)]) == 4
    assert any(isinstance(m, nn.BatchNorm) for m in remedied.modules())
    import numpy as np

    x = np.ones((3, 5), dtype=np.float32)
    assert remedied(x).shape == (3, 2)


def test_price_metrics_match_a_direct_computation():
    import numpy as np

    from gradwatch.studies.forecast import price_metrics

    anchor = np.array([10.0, 10.0, 10.0, 10.0])
    actual = np.array([11.0, 9.0, 10.0, 12.0])
    predicted = np.array([10.5, 10.5, 9.0, 10.0])
    metrics = price_metrics(predicted, actual, anchor)
    assert metrics["mse"] == pytest.approx((0.25 + 2.25 + 1.0 + 4.0) / 4)
    assert metrics["mae"] == pytest.approx((0.5 + 1.5 + 1.0 + 2.0) / 4)
    # Moves on days 1, 2, 4; predicted up, up, flat: right on day 1 only.
    assert metrics["directional_accuracy"] == pytest.approx(1 / 3)
    assert price_metrics(anchor, actual, anchor)["directional_accuracy"] is None


def test_predicted_ratio_comes_from_theory_and_is_none_for_batchnorm():
    from gradwatch.studies.depth import predicted_ratio
    from gradwatch.studies.models import mlp

    relu = mlp(64, 10, depth=8, width=64, activation="relu", init="he", rng=0)
    assert 0.1 < predicted_ratio(relu) < 10
    tiny = mlp(
        64, 10, depth=8, width=64, activation="tanh", init="small", std=0.05, rng=0
    )
    assert predicted_ratio(tiny) < 1e-3
    normed = mlp(64, 10, depth=4, width=8, batchnorm=True, rng=0)
    assert predicted_ratio(normed) is None


def test_model_rng_depends_on_seed_and_key_only():
    from gradwatch.studies.common import model_rng

    a = model_rng(3, "depth", "tanh", 5).standard_normal(4)
    b = model_rng(3, "depth", "tanh", 5).standard_normal(4)
    c = model_rng(3, "depth", "tanh", 10).standard_normal(4)
    d = model_rng(4, "depth", "tanh", 5).standard_normal(4)
    assert (a == b).all() and not (a == c).all() and not (a == d).all()


def test_study_figures_are_built_headless_and_save_as_png(tmp_path):
    import numpy as np

    from gradwatch.report import figure_png
    from gradwatch.studies import figures

    dates = np.datetime64("2020-01-01") + np.arange(5).astype("timedelta64[D]")
    built = [
        figures.predictions_vs_actual(
            dates, np.arange(5.0), {"a": np.ones(5)}, title="t", zoom=3
        ),
        figures.loss_curves(
            {"a": {"train_loss": [1.0, 0.5], "val_loss": [1.2, 0.6]}}, title="t"
        ),
        figures.relative_layer_gradients(
            {"a": (np.array([0.1, 1.0]), np.array([0.2, 1.0]))}, title="t", ylabel="y"
        ),
        figures.ratio_heatmap(
            np.array([[-1.0, -np.inf], [np.nan, 2.0]]),
            ["r1", "r2"],
            ["c1", "c2"],
            title="t",
            colorbar_label="c",
        ),
        figures.grad_through_time_grid(
            {"T = 3": {"RNN": (np.array([0.1, 0.5, 1.0]), np.array([0.2, 0.5, 1.0]))}},
            title="t",
        ),
    ]
    for figure in built:
        assert figure_png(figure)[:8] == PNG_SIGNATURE


def test_quick_study_says_it_is_quick_and_labels_the_verdicts(quick_run):
    _, out = quick_run
    html = (out / "report.html").read_text()
    assert "Quick mode: short training, for a first look" in html
    assert "Verdict (init &rarr; trained)" in html


def test_quick_recurrent_gated_cells_beat_the_baseline_and_depth_learns(quick_run):
    _, out = quick_run
    studies = json.loads((out / "metrics.json").read_text())["studies"]
    longest = {
        r["cell"]: r
        for r in studies["recurrent"]["runs"]
        if r["length"] == max(r2["length"] for r2 in studies["recurrent"]["runs"])
    }
    assert longest["LSTM"]["mse_vs_baseline"] < 0.5
    assert longest["GRU"]["mse_vs_baseline"] < 0.5
    deep = {
        r["configuration"]: r
        for r in studies["depth"]["runs"]
        if r["depth"] == max(studies["depth"]["config"]["depths"])
    }
    assert deep["relu / he / residual"]["test_accuracy"] > 0.5
    assert deep["tanh / small"]["test_accuracy"] < 0.3


def test_a_diverging_forecast_is_reported_as_diverged(tmp_path):
    # The pytest configuration turns any RuntimeWarning into an error, so
    # this also checks that a diverging run raises no warning.
    config = tiny_config(lr=1e6, clip_norm=1e30)
    run = run_studies(["forecast"], tmp_path / "out", config=config)
    models = run.results[0].metrics["models"]
    assert any(m["verdict"] == "diverged" for m in models.values())
    assert any("diverged" in finding for finding in run.results[0].findings)
    metrics = json.loads(run.metrics_path.read_text())
    jsonschema.validate(metrics, load_schema())
    assert metrics["status"] == "complete"


def test_force_clears_the_previous_runs_outputs_only(tmp_path):
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    (out / "monitors").mkdir()
    (out / "report.html").write_text("old")
    (out / "figures" / "stale_old.png").write_bytes(b"old")
    (out / "monitors" / "stale_old.npz").write_bytes(b"old")
    (out / "monitors" / "stale_old.json").write_text("{}")
    (out / "monitors" / "mine.json").write_text("{}")
    (out / "notes.txt").write_text("mine")
    (out / "figures" / "notes.txt").write_text("mine too")
    run_studies(["depth"], out, force=True, config=tiny_config())
    assert not (out / "figures" / "stale_old.png").exists()
    assert not (out / "monitors" / "stale_old.npz").exists()
    assert not (out / "monitors" / "stale_old.json").exists()
    assert (out / "monitors" / "mine.json").exists()
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "figures" / "notes.txt").read_text() == "mine too"
    assert (out / "report.html").read_text() != "old"


def test_a_dollar_sign_in_the_series_name_draws_as_plain_text():
    dates = np.datetime64("2020-01-01") + np.arange(5)
    prices = np.linspace(1.0, 2.0, 5)
    figure = figures.predictions_vs_actual(
        dates, prices, {"persistence": prices}, title="Price $^$: test period"
    )
    assert figure_png(figure)[:8] == b"\x89PNG\r\n\x1a\n"
    assert figures.literal("a $x$ b") == r"a \$x\$ b"


def test_quick_mode_uses_only_the_last_points_of_a_long_series(tmp_path):
    path = tmp_path / "long.csv"
    n = 2600
    rng = np.random.default_rng(1)
    prices = 20.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    dates = np.datetime64("2000-01-01") + np.arange(n)
    path.write_text(
        "Date,Close\n"
        + "\n".join(f"{d},{p:.4f}" for d, p in zip(dates, prices, strict=True))
    )
    series = load_series(ForecastConfig.quick(csv=str(path), value_column="Close"))
    assert len(series) == 2000
    assert series.dates[-1] == dates[-1]
    assert "last 2,000 of 2,600 rows" in series.source


def test_digits_sequence_gradient_through_time_covers_all_64_pixels():
    from gradwatch.studies.recurrent import RecurrentConfig, _digits_gradients

    config = RecurrentConfig(cells=("RNN", "GRU"), hidden=8, digits_images=32)
    result = _digits_gradients(config, seed=0)

    assert result["images"] == 24  # the default held-out quarter is removed
    assert result["length"] == 64
    for entry in result["cells"].values():
        series = entry["grad_through_time_init"]
        assert series.shape == (64,)
        assert np.all(np.isfinite(series)) and np.all(series > 0)
        assert entry["decay_init"] == pytest.approx(series[0] / series[-1])
