"""Tests of the gradwatch command line: help, bad input, exit codes, interrupts."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from gradwatch import cli


def run(argv, capsys):
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_prices(path, n=400, descending=False, seed=0):
    rng = np.random.default_rng(seed)
    prices = 20.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))
    dates = np.datetime64("2015-01-01") + np.arange(n).astype("timedelta64[D]")
    rows = [f"{d},{p:.4f}" for d, p in zip(dates, prices, strict=True)]
    if descending:
        rows.reverse()
    path.write_text("Date,Close\n" + "\n".join(rows) + "\n")
    return path


def forecast_args(csv, tmp_path, *extra):
    return [
        "forecast",
        "--csv",
        str(csv),
        "--out",
        str(tmp_path / "out"),
        "--quiet",
        *extra,
    ]


@pytest.mark.parametrize(
    "command", ["study", "forecast", "depth", "recurrent", "check"]
)
def test_every_command_has_help_with_examples(command, capsys):
    code, out, _ = run([command, "--help"], capsys)
    assert code == 0
    assert "examples:" in out and f"gradwatch {command}" in out


def test_no_command_prints_help_and_exits_2(capsys):
    code, out, _ = run([], capsys)
    assert code == 2 and "study" in out


def test_an_unknown_option_is_a_usage_error(capsys):
    code, _, err = run(["study", "--bogus"], capsys)
    assert code == 2 and "--bogus" in err


def test_a_non_positive_lookback_is_a_usage_error(capsys):
    code, _, err = run(["forecast", "--lookback", "0"], capsys)
    assert code == 2 and "lookback" in err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_missing_csv_file(tmp_path, capsys):
    code, _, err = run(forecast_args(tmp_path / "nope.csv", tmp_path), capsys)
    assert_one_line_error(code, err, "nope.csv", "no such file")
    assert not (tmp_path / "out").exists()


def test_unreadable_csv_file(tmp_path, capsys, monkeypatch):
    import pathlib

    path = write_prices(tmp_path / "p.csv")
    real_read_bytes = pathlib.Path.read_bytes

    def refuse(self):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    # Simulated: the tests may run as a user who can read every file.
    monkeypatch.setattr(pathlib.Path, "read_bytes", refuse)
    code, _, err = run(forecast_args(path, tmp_path), capsys)
    assert_one_line_error(code, err, "cannot read", "Permission denied")


def test_binary_file_is_not_a_csv(tmp_path, capsys):
    path = tmp_path / "p.csv"
    path.write_bytes(bytes(range(256)) * 4)
    code, _, err = run(forecast_args(path, tmp_path), capsys)
    assert_one_line_error(code, err, "not a CSV")


def test_garbage_text_is_not_a_csv_of_prices(tmp_path, capsys):
    path = tmp_path / "p.csv"
    path.write_text("lorem ipsum dolor\nsit amet\n")
    code, _, err = run(forecast_args(path, tmp_path), capsys)
    assert_one_line_error(code, err, "does not look like a CSV")


def test_missing_column_lists_the_columns(tmp_path, capsys):
    path = write_prices(tmp_path / "p.csv")
    code, _, err = run(
        forecast_args(path, tmp_path, "--value-column", "Adj Close"), capsys
    )
    assert_one_line_error(code, err, "no column 'Adj Close'", "'Date'", "'Close'")


def test_non_numeric_values_name_the_lines(tmp_path, capsys):
    path = write_prices(tmp_path / "p.csv")
    lines = path.read_text().splitlines()
    lines[5] = lines[5].split(",")[0] + ",12,5"
    lines[5] = lines[5].replace(",12,5", ',"12,5"')
    lines[9] = lines[9].split(",")[0] + ",n.a.x"
    path.write_text("\n".join(lines) + "\n")
    code, _, err = run(forecast_args(path, tmp_path), capsys)
    assert_one_line_error(code, err, "non-numeric", "line 6", "line 10")


def test_missing_values_are_counted_with_the_fill_hint(tmp_path, capsys):
    path = write_prices(tmp_path / "p.csv")
    lines = path.read_text().splitlines()
    for i in (3, 4, 7):
        lines[i] = lines[i].split(",")[0] + ","
    path.write_text("\n".join(lines) + "\n")
    code, _, err = run(forecast_args(path, tmp_path), capsys)
    assert_one_line_error(
        code, err, "3 missing value(s)", "--fill ffill", "--fill drop"
    )


def test_unparseable_dates_name_the_lines(tmp_path, capsys):
    path = write_prices(tmp_path / "p.csv")
    lines = path.read_text().splitlines()
    lines[4] = "not-a-date," + lines[4].split(",")[1]
    path.write_text("\n".join(lines) + "\n")
    code, _, err = run(forecast_args(path, tmp_path), capsys)
    assert_one_line_error(code, err, "could not be parsed", "line 5")


def test_duplicate_dates(tmp_path, capsys):
    path = write_prices(tmp_path / "p.csv")
    lines = path.read_text().splitlines()
    lines[8] = lines[7].split(",")[0] + "," + lines[8].split(",")[1]
    path.write_text("\n".join(lines) + "\n")
    code, _, err = run(forecast_args(path, tmp_path), capsys)
    assert_one_line_error(code, err, "duplicate date", "lines 8 and 9")


def test_too_short_a_series_gives_the_minimum_length(tmp_path, capsys):
    path = write_prices(tmp_path / "p.csv", n=60)
    code, _, err = run(forecast_args(path, tmp_path, "--lookback", "20"), capsys)
    assert_one_line_error(code, err, "has 60 values", "at least 1", "--lookback")


def test_non_positive_prices_with_log_returns(tmp_path, capsys):
    path = write_prices(tmp_path / "p.csv")
    lines = path.read_text().splitlines()
    lines[20] = lines[20].split(",")[0] + ",0"
    path.write_text("\n".join(lines) + "\n")
    code, _, err = run(forecast_args(path, tmp_path), capsys)
    assert_one_line_error(code, err, "zero or negative", "--target price")


def test_constant_series(tmp_path, capsys):
    path = tmp_path / "p.csv"
    dates = np.datetime64("2015-01-01") + np.arange(300).astype("timedelta64[D]")
    path.write_text("Date,Close\n" + "\n".join(f"{d},5" for d in dates) + "\n")
    code, _, err = run(forecast_args(path, tmp_path), capsys)
    assert_one_line_error(code, err, "constant")


def test_an_existing_report_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("keep me")
    code, _, err = run(["depth", "--out", str(out), "--quiet"], capsys)
    assert_one_line_error(code, err, "already holds a report", "--force", "--out")
    assert (out / "report.html").read_text() == "keep me"


def test_an_internal_failure_exits_1_with_one_line_and_no_traceback(
    tmp_path, capsys, monkeypatch
):
    import gradwatch.studies

    def broken(*args, **kwargs):
        raise RuntimeError("something inside broke")

    monkeypatch.setattr(gradwatch.studies, "run_studies", broken)
    code, _, err = run(["depth", "--out", str(tmp_path), "--quiet"], capsys)
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert "RuntimeError" in err and "please report" in err
    assert "Traceback" not in err


def test_ctrl_c_before_any_result_exits_130_and_says_so(tmp_path, capsys, monkeypatch):
    import gradwatch.studies

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gradwatch.studies, "run_studies", interrupted)
    code, _, err = run(["depth", "--out", str(tmp_path / "o"), "--quiet"], capsys)
    assert code == 130
    assert err.strip() == "gradwatch: interrupted before any result was written"


def test_check_prints_a_table_of_every_layer_and_exits_0(capsys):
    code, out, _ = run(["check"], capsys)
    assert code == 0
    for layer in ("Linear", "Tanh", "BatchNorm (train)", "Residual", "LSTM", "GRU"):
        assert layer in out
    assert "FAILED" not in out


def test_a_bad_csv_in_a_subprocess_gives_one_line_and_exit_2(tmp_path):
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "gradwatch",
            "forecast",
            "--csv",
            str(tmp_path / "missing.csv"),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 2
    assert process.stderr.count("\n") == 1
    assert "no such file" in process.stderr and "Traceback" not in process.stderr


def test_debug_shows_the_traceback_of_an_internal_failure(
    tmp_path, capsys, monkeypatch
):
    import gradwatch.studies

    def broken(*args, **kwargs):
        raise RuntimeError("something inside broke")

    monkeypatch.setattr(gradwatch.studies, "run_studies", broken)
    code, _, err = run(["depth", "--out", str(tmp_path), "--quiet", "--debug"], capsys)
    assert code == 1
    assert "Traceback" in err and "something inside broke" in err


def test_check_exits_1_when_a_layer_fails(capsys, monkeypatch):
    import gradwatch.studies.check as check

    def one_failure(seed=0):
        return [
            {
                "layer": "Linear",
                "max_error": 1e-10,
                "worst": "input",
                "worst_index": (0, 0),
                "passed": True,
            },
            {
                "layer": "Broken",
                "max_error": 0.5,
                "worst": "weight",
                "worst_index": (1, 2),
                "passed": False,
            },
        ]

    monkeypatch.setattr(check, "run_checks", one_failure)
    code, out, err = run(["check"], capsys)
    assert code == 1
    assert "FAILED" in out
    assert "Broken" in err and "please report" in err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["forecast", "--lr", "inf"], "finite number > 0"),
        (["forecast", "--lr", "nan"], "finite number > 0"),
        (["forecast", "--lr", "0"], "finite number > 0"),
        (["forecast", "--depth", "0"], "from 3 to 200"),
        (["forecast", "--depth", "1"], "from 3 to 200"),
        (["depth", "--depths", "1000"], "from 2 to 200"),
        (["depth", "--depths", "5,,10"], "empty item"),
        (["recurrent", "--lengths", "10,"], "empty item"),
    ],
)
def test_out_of_range_numbers_are_a_one_line_usage_error(argv, fragment, capsys):
    code, _, err = run([*argv, "--quiet"], capsys)
    assert code == 2
    assert fragment in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        (["--ticker", "IBM"], ("--ticker and --csv", "choose one")),
    ],
)
def test_ticker_together_with_csv_is_refused(tmp_path, capsys, extra, fragments):
    path = write_prices(tmp_path / "p.csv")
    code, _, err = run(forecast_args(path, tmp_path, *extra), capsys)
    assert_one_line_error(code, err, *fragments)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--fill", "ffill"], "--fill only apply to a --csv file"),
        (["--date-column", "Day"], "--date-column only apply to a --csv file"),
        (["--value-column", "Price"], "choose one of Open, High"),
    ],
)
def test_csv_options_without_csv_are_refused(tmp_path, capsys, extra, fragment):
    argv = ["forecast", "--out", str(tmp_path / "out"), "--quiet", *extra]
    code, _, err = run(argv, capsys)
    assert_one_line_error(code, err, fragment)


def test_value_column_chooses_the_bundled_column(tmp_path):
    args = cli.build_parser().parse_args(
        ["forecast", "--ticker", "ibm", "--value-column", "Close"]
    )
    config = cli._config(args)
    assert config.forecast.ticker == "IBM"
    assert config.forecast.value_column == "Close"


def test_an_empty_out_is_refused(capsys):
    code, _, err = run(["depth", "--out", "", "--quiet"], capsys)
    assert_one_line_error(code, err, "--out is empty")


def test_an_out_under_a_regular_file_is_explained(tmp_path, capsys):
    blocker = tmp_path / "somefile"
    blocker.write_text("not a folder")
    code, _, err = run(["depth", "--out", str(blocker / "x"), "--quiet"], capsys)
    assert_one_line_error(
        code, err, "cannot create the output folder", "a file", "choose another --out"
    )
    assert "Errno" not in err


def test_an_internal_error_with_a_blank_message_still_says_something(
    tmp_path, capsys, monkeypatch
):
    import gradwatch.studies

    def broken(*args, **kwargs):
        raise ValueError(" \n ")

    monkeypatch.setattr(gradwatch.studies, "run_studies", broken)
    code, _, err = run(["depth", "--out", str(tmp_path / "o"), "--quiet"], capsys)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "ValueError: ValueError(" in lines[0]


def test_sigterm_stops_the_run_like_ctrl_c_and_exits_143(tmp_path, capsys, monkeypatch):
    import os
    import signal

    import gradwatch.studies

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(gradwatch.studies, "run_studies", terminated)
    before = signal.getsignal(signal.SIGTERM)
    code, _, err = run(["depth", "--out", str(tmp_path / "o"), "--quiet"], capsys)
    assert code == 143
    assert err.strip() == "gradwatch: stopped by SIGTERM before any result was written"
    assert signal.getsignal(signal.SIGTERM) == before


def test_forecast_help_names_sgd_not_adam(capsys):
    _, out, _ = run(["forecast", "--help"], capsys)
    assert "SGD learning rate" in out and "Adam" not in out


def test_check_covers_the_losses_and_catches_a_wrong_loss_gradient():
    from gradwatch import nn
    from gradwatch.studies import check

    rows = {row["layer"]: row for row in check.run_checks(seed=1)}
    for name in ("MSELoss", "CrossEntropyLoss", "BCEWithLogitsLoss"):
        assert rows[name]["passed"] and rows[name]["max_error"] <= 1e-6

    class WrongMSE(nn.MSELoss):
        def backward(self):
            return 2.0 * super().backward()

    rng = np.random.default_rng(0)
    pred, target = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    assert not check._check_loss(WrongMSE(), pred, target, 1.3)["passed"]
