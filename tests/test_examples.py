"""Every script in ``examples/`` runs to completion and prints its key result.

Each example runs in a fresh Python process (the interpreter running the
tests), from an empty temporary directory so that nothing it writes lands in
the repository, with matplotlib's headless Agg backend. Its output must
contain the lines that carry the result the example is there to show; where
that result is a number, the number must say what the example's docstring
claims (a vanishing ratio really is tiny, a clipped norm really is the
limit).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# A float as the examples print it: 0.2500, 2.31e-08, 3.243e+04, -1.5.
NUMBER = r"([-+]?\d+(?:\.\d*)?(?:e[-+]?\d+)?)"

# For each example, (pattern, check): the pattern must occur in the output;
# when it captures a number, ``check(number)`` must hold.
KEY_LINES = {
    "01_sigmoid_derivative.py": [
        (rf"Sigmoid\s+max phi'\(x\) = {NUMBER} at x = \+0\.000", lambda v: v == 0.25),
        (rf"Tanh\s+max phi'\(x\) = {NUMBER} at x = \+0\.000", lambda v: v == 1.0),
        (rf"largest returned gradient = {NUMBER}", lambda v: v == 0.25),
    ],
    "02_deep_tanh_chain.py": [
        (
            rf"normal\(std=0\.05\): gradient ratio layer 1 / layer 20 = {NUMBER}",
            lambda v: v < 1e-4,
        ),
        (
            rf"xavier_uniform: gradient ratio layer 1 / layer 20 = {NUMBER}",
            lambda v: 1e-2 < v <= 1.0,
        ),
    ],
    "03_relu_forward_backward.py": [
        (rf"ReLU'\(0\) = {NUMBER} ", lambda v: v == 0.0),
        (r"dL/dx\s+= \[ ?0\. +0\. +0\. +40\. +50\.\]", None),
        (r"gradcheck ok", None),
    ],
    "04_batchnorm.py": [
        (r"running_mean after 20 steps (\[.*\]) \(closed form \1\)", None),
        (r"running_var  after 20 steps (\[.*\]) \(closed form \1\)", None),
        (r"eval output matches .*: True", None),
        (r"train mode: gradcheck ok", None),
        (r"eval  mode: gradcheck ok", None),
        (r"training batch of one sample -> ValueError: .*eval\(\)", None),
    ],
    "05_residual_block.py": [
        (rf"gradient ratio block 1 / block 20: plain {NUMBER}", lambda v: v < 1e-4),
        (
            rf"gradient ratio block 1 / block 20: plain \S+, residual {NUMBER}",
            lambda v: 0.1 < v < 10.0,
        ),
    ],
    "06_xavier_vs_naive_init.py": [
        (rf"normal\(std=1\)\s+ratio\s+{NUMBER}", lambda v: v > 100.0),
        (rf"normal\(std=0\.01\)\s+ratio\s+{NUMBER}", lambda v: v < 1e-4),
        (rf"xavier_uniform\s+ratio\s+{NUMBER}", lambda v: 0.1 < v < 10.0),
    ],
    "07_gradient_clipping.py": [
        (rf"norm before clipping: {NUMBER}", lambda v: v > 1.0),
        (rf"norm after clipping:\s+{NUMBER}", lambda v: abs(v - 1.0) < 1e-5),
        (rf"cosine\(before, after\) = {NUMBER}", lambda v: v > 0.999999),
        (r"limit above the norm: gradients unchanged = True", None),
    ],
    "08_lstm_cell.py": [
        (r"c' = f \* c \+ i \* g:\s+True", None),
        (r"h' = o \* tanh\(c'\):\s+True", None),
        (r"dL/dc = f \* dL/dc':\s+True", None),
        (rf"gradcheck ok: worst relative error {NUMBER}", lambda v: v <= 1e-6),
    ],
    "09_deep_mlp_timeseries_monitoring.py": [
        (rf"gradient ratio first/last layer: {NUMBER}", lambda v: v < 1e-3),
        (r"verdict: vanishing", None),
        (r"gradient flow plot saved to ", None),
    ],
    "10_stock_prediction.py": [
        (r"AAPL Adj Close: \d+ trading days", None),
        (rf"model\s+test MSE\s+{NUMBER}", lambda v: v > 0.0),
        (rf"persistence\s+test MSE\s+{NUMBER}", lambda v: v > 0.0),
        (r"Beating persistence on daily prices is hard", None),
        (
            r"gradient monitor verdict: (healthy|vanishing|exploding|dead units|"
            r"saturated units|non-finite)",
            None,
        ),
    ],
    "11_gradient_evolution.py": [
        (r"Sigmoid: training accuracy .*, monitor verdict 'vanishing'", None),
        (r"Tanh: training accuracy .*, monitor verdict 'healthy'", None),
        (
            rf"Sigmoid: activation-gradient .*\n.*\n\s+1\s+\S+\s+{NUMBER}",
            lambda v: v < 1e-3,
        ),
    ],
    "12_gru_cell.py": [
        (
            rf"hidden 5:\s+max \|h'\(False\) - h'\(True\)\| = {NUMBER}",
            lambda v: v > 1e-3,
        ),
        (
            rf"r forced to 1: max \|h'\(False\) - h'\(True\)\| = {NUMBER}",
            lambda v: v == 0.0,
        ),
        (
            rf"hidden 1:\s+max \|h'\(False\) - h'\(True\)\| = {NUMBER}",
            lambda v: v < 1e-12,
        ),
        (r"reset_after=False gradcheck ok", None),
        (r"reset_after=True  gradcheck ok", None),
    ],
    "13_rnn_lstm_gru_gradients_through_time.py": [
        (rf"RNN \(tanh\)\s+(?:\S+\s+){{6}}{NUMBER}", lambda v: v < 1e-3),
        (
            rf"LSTM \(forget bias 3\)\s+(?:\S+\s+){{6}}{NUMBER}",
            lambda v: 0.1 < v < 10.0,
        ),
        (
            rf"GRU \(update bias 3\)\s+(?:\S+\s+){{6}}{NUMBER}",
            lambda v: 0.01 < v < 10.0,
        ),
        (r"plot saved to ", None),
    ],
}


def _examples() -> list[str]:
    return sorted(path.name for path in EXAMPLES.glob("*.py"))


def _run(name: str, cwd: Path, tmpdir: Path, *args: str) -> subprocess.CompletedProcess:
    # TMPDIR sends the figures of examples run without --out into tmpdir.
    env = dict(os.environ, MPLBACKEND="Agg", TMPDIR=str(tmpdir))
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_example_has_its_key_lines_listed():
    assert set(_examples()) == set(KEY_LINES)


def test_readme_lists_every_example():
    readme = (EXAMPLES / "README.md").read_text()
    missing = [name for name in _examples() if f"`{name}`" not in readme]
    assert missing == []


@pytest.mark.parametrize("name", _examples())
def test_example_runs_and_prints_its_result(name, tmp_path):
    cwd, tmpdir = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmpdir.mkdir()
    result = _run(name, cwd, tmpdir)

    assert result.returncode == 0, (
        f"{name} exited with {result.returncode}\n{result.stderr[-3000:]}"
    )
    for pattern, check in KEY_LINES[name]:
        match = re.search(pattern, result.stdout)
        assert match, f"{name} did not print {pattern!r}; it printed:\n{result.stdout}"
        if check is not None:
            value = float(match.group(1))
            assert check(value), (
                f"{name}: unexpected value {value} in {match.group(0)!r}"
            )
    assert list(cwd.iterdir()) == [], f"{name} wrote into its working directory"
    for saved in re.findall(r"saved to (\S+\.png)", result.stdout):
        path = Path(saved)
        assert path.is_relative_to(tmpdir), f"{name} saved {path} outside TMPDIR"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"


def test_example_saves_its_figure_in_the_out_folder(tmp_path):
    out = tmp_path / "figures"
    out.mkdir()
    name = "09_deep_mlp_timeseries_monitoring.py"

    result = _run(name, tmp_path, tmp_path, "--out", str(out))

    assert result.returncode == 0, result.stderr[-3000:]
    saved = out / "gradient_flow.png"
    assert saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(saved) in result.stdout
