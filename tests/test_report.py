"""Tests of gradwatch.report: metrics document, schema, HTML rendering, safe writing."""

from __future__ import annotations

import json
import math

import jsonschema
import numpy as np
import pytest
from matplotlib.figure import Figure

from gradwatch.report import (
    OutputExistsError,
    ReportWriter,
    StudyResult,
    Table,
    atomic_write,
    build_metrics,
    format_number,
    load_schema,
    package_versions,
    render_html,
)
from gradwatch.report.render import to_jsonable

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def small_figure():
    figure = Figure(figsize=(2, 2))
    figure.subplots().plot([0, 1], [1, 0])
    return figure


def depth_result(**overrides):
    run = {
        "configuration": "tanh / small",
        "activation": "tanh",
        "init": "small",
        "batchnorm": False,
        "residual": False,
        "depth": 4,
        "verdict": "vanishing",
        "verdict_init": "vanishing",
        "gradient_ratio_init": 1e-4,
        "gradient_ratio_final": np.float32(2e-4),
        "predicted_gradient_ratio": None,
        "test_accuracy": 0.1,
    }
    result = StudyResult(
        name="depth",
        title="Depth <study>",
        intro=["Intro with <b>markup</b> & an ampersand."],
        findings=["The ratio is tiny."],
        tables=[
            Table(title="Runs", columns=["a", "b"], rows=[["x", 1.5e-7], ["y", None]])
        ],
        figures={"curve": (small_figure(), "A caption")},
        metrics={"config": {}, "data": {}, "runs": [run]},
        summary_rows=[
            {"model": "tanh", "verdict": "vanishing", "metric": "ratio 1e-4"}
        ],
        seconds=1.25,
    )
    for key, value in overrides.items():
        setattr(result, key, value)
    return result


class FakeMonitor:
    def save(self, path):
        path.write_bytes(b"npz")
        return path


def test_format_number_shows_four_digits_and_scientific_for_tiny_values():
    assert format_number(None) == "\u2014"
    assert format_number(math.nan) == "\u2014"
    assert format_number(0.123456) == "0.1235"
    assert format_number(1.5e-7) == "1.50e-07"
    assert format_number(3) == "3"
    assert format_number(1234567) == "1,234,567"
    assert format_number(True) == "yes"
    assert format_number("text") == "text"


def test_to_jsonable_turns_numpy_and_non_finite_values_into_json():
    value = {
        "a": np.float32(1.5),
        "b": np.int64(2),
        "c": [np.nan, np.inf],
        "d": np.arange(2),
        "e": np.bool_(True),
        "f": np.datetime64("2020-01-02"),
    }
    assert to_jsonable(value) == {
        "a": 1.5,
        "b": 2,
        "c": [None, None],
        "d": [0, 1],
        "e": True,
        "f": "2020-01-02",
    }
    json.dumps(to_jsonable(value), allow_nan=False)


def test_metrics_document_validates_against_the_shipped_schema():
    config = {"studies": ["depth"], "seed": 0, "quick": True}
    metrics = build_metrics([depth_result()], config, "complete")
    jsonschema.validate(metrics, load_schema())
    assert metrics["studies"]["depth"]["runs"][0][
        "gradient_ratio_final"
    ] == pytest.approx(2e-4)
    assert metrics["timing"] == {"depth": 1.25}


def test_schema_rejects_a_metrics_document_with_an_unknown_verdict():
    config = {"studies": ["depth"], "seed": 0, "quick": True}
    metrics = build_metrics([depth_result()], config, "complete")
    metrics["studies"]["depth"]["runs"][0]["verdict"] = "fine"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(metrics, load_schema())


def test_package_versions_name_python_numpy_and_gradwatch():
    versions = package_versions()
    assert {"python", "numpy", "gradwatch", "scipy"} <= set(versions)


def test_render_html_escapes_text_and_embeds_figures_as_data_uris():
    result = depth_result()
    config = {"studies": ["depth"], "seed": 3, "quick": False}
    metrics = build_metrics([result], config, "complete")
    html = render_html([result], metrics, {"depth": {"curve": PNG_SIGNATURE + b"x"}})
    assert "Intro with &lt;b&gt;markup&lt;/b&gt; &amp; an ampersand." in html
    assert "Depth &lt;study&gt;" in html
    assert 'src="data:image/png;base64,' in html
    assert "1.50e-07" in html
    assert "http://" not in html and "https://" not in html
    assert "partial" not in html


def test_render_html_marks_a_partial_report():
    metrics = build_metrics(
        [], {"studies": [], "seed": 0, "quick": True}, "interrupted"
    )
    html = render_html([], metrics, {}, status="interrupted")
    assert "partial" in html and "interrupted" in html


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "file.txt"
    atomic_write(path, "first")
    atomic_write(path, b"second")
    assert path.read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_report_writer_writes_figures_monitors_metrics_and_report(tmp_path):
    out = tmp_path / "out"
    writer = ReportWriter(out, {"studies": ["depth"], "seed": 0, "quick": True})
    writer.add(depth_result(monitors={"tanh": FakeMonitor()}))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "running"
    writer.write("complete")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "complete"
    jsonschema.validate(metrics, load_schema())
    assert (out / "figures" / "depth_curve.png").read_bytes().startswith(PNG_SIGNATURE)
    assert (out / "monitors" / "depth_tanh.npz").exists()
    assert "data:image/png;base64," in (out / "report.html").read_text()


def test_report_writer_refuses_to_overwrite_a_report_without_force(tmp_path):
    (tmp_path / "report.html").write_text("old")
    with pytest.raises(OutputExistsError) as caught:
        ReportWriter(tmp_path, {"studies": [], "seed": 0, "quick": True})
    assert "--force" in str(caught.value) and "--out" in str(caught.value)
    assert (tmp_path / "report.html").read_text() == "old"
    writer = ReportWriter(
        tmp_path, {"studies": [], "seed": 0, "quick": True}, force=True
    )
    writer.write("complete")
    assert (tmp_path / "report.html").read_text() != "old"


def test_report_writer_refuses_a_file_as_output_folder(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(NotADirectoryError, match="--out"):
        ReportWriter(path, {"studies": [], "seed": 0, "quick": True})


def test_format_setting_shows_nested_configuration_compactly():
    from gradwatch.report.render import format_setting

    assert (
        format_setting({"depths": [5, 10], "csv": None}) == "depths=(5, 10), csv=None"
    )
