"""Tests of GradientMonitor: what it records, when, and how it saves."""

from __future__ import annotations

import json
import math
import zipfile

import numpy as np
import pytest

from gradwatch import init, nn
from gradwatch.monitor import STATS, GradientMonitor, NonFiniteGradientError
from gradwatch.monitor import monitor as monitor_module
from gradwatch.optim import SGD


def relu_mlp(initialiser: str, depth: int = 30, width: int = 100, seed: int = 0):
    rng = np.random.default_rng(seed)
    layers = []
    for i in range(depth):
        layers.append(nn.Linear(width, width, bias=False, init=initialiser, rng=rng))
        if i < depth - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def one_backward(model, batch: int, features: int, seed: int = 1, dtype=np.float32):
    rng = np.random.default_rng(seed)
    out = model(rng.standard_normal((batch, features)).astype(dtype))
    upstream = rng.standard_normal(out.shape).astype(dtype)
    model.backward(upstream)
    return upstream


def small_model(dtype=np.float64, seed: int = 0):
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Linear(5, 7, dtype=dtype, rng=rng),
        nn.Tanh(dtype=dtype),
        nn.Linear(7, 3, dtype=dtype, rng=rng),
    )


# -- the headline behaviour ---------------------------------------------------


def test_xavier_relu_30_layers_activation_gradient_vanishes_by_about_2_to_minus_15():
    model = relu_mlp("xavier_uniform")
    monitor = GradientMonitor(model)
    one_backward(model, batch=64, features=100)

    # Xavier on square layers gives sigma_w^2 = 1, so each ReLU layer halves
    # the mean squared gradient: 29 layers give an RMS ratio of 2^-14.5.
    log2_ratio = math.log2(monitor.gradient_ratio())
    assert -17.0 < log2_ratio < -12.5
    assert monitor.diagnose().verdict == "vanishing"


def test_he_relu_30_layers_keeps_the_gradient_and_is_healthy():
    model = relu_mlp("he_normal")
    monitor = GradientMonitor(model)
    one_backward(model, batch=64, features=100)

    assert 0.25 < monitor.gradient_ratio() < 4.0
    assert monitor.diagnose().verdict == "healthy"


# -- what is recorded ---------------------------------------------------------


def test_layer_names_follow_the_model_structure_in_forward_order():
    model = nn.Sequential(
        nn.Linear(3, 4),
        nn.ReLU(),
        nn.Sequential(nn.Linear(4, 4), nn.Tanh()),
        nn.LSTM(4, 5),
        nn.Linear(5, 1),
    )
    monitor = GradientMonitor(model)
    assert monitor.layer_names == ["0.Linear", "2.0.Linear", "3.LSTM", "4.Linear"]


def test_layers_inside_a_residual_block_keep_their_dotted_paths():
    block = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8))
    model = nn.Sequential(
        nn.Linear(4, 8), nn.ReLU(), nn.Residual(block), nn.Linear(8, 1)
    )
    monitor = GradientMonitor(model)
    assert monitor.layer_names == [
        "0.Linear",
        "2.block.0.Linear",
        "2.block.2.Linear",
        "3.Linear",
    ]
    assert monitor.model_summary["has_residual"]


def test_a_single_layer_model_is_its_own_layer():
    monitor = GradientMonitor(nn.Linear(3, 2))
    assert monitor.layer_names == ["Linear"]


def test_weight_and_bias_statistics_match_numpy():
    model = small_model()
    monitor = GradientMonitor(model)
    one_backward(model, batch=6, features=5, dtype=np.float64)

    for column, index in enumerate((0, 2)):
        w, b = model[index].weight.grad, model[index].bias.grad
        assert monitor.history("weight_norm")[0, column] == pytest.approx(
            np.sqrt(np.sum(w**2)), rel=1e-12
        )
        assert monitor.history("weight_mean_abs")[0, column] == pytest.approx(
            np.mean(np.abs(w)), rel=1e-12
        )
        assert monitor.history("weight_max_abs")[0, column] == np.max(np.abs(w))
        assert monitor.history("bias_norm")[0, column] == pytest.approx(
            np.sqrt(np.sum(b**2)), rel=1e-12
        )
        assert monitor.history("bias_mean_abs")[0, column] == pytest.approx(
            np.mean(np.abs(b)), rel=1e-12
        )
        assert monitor.history("bias_max_abs")[0, column] == np.max(np.abs(b))


def test_activation_rms_is_the_rms_of_the_gradient_each_layer_receives():
    model = small_model()
    monitor = GradientMonitor(model)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 5))
    upstream = rng.standard_normal((6, 3))
    model(x)
    model.backward(upstream)

    # By hand: the last layer receives the upstream gradient; the first
    # receives it through W2^T and tanh'(h1).
    h1 = x @ model[0].weight.value + model[0].bias.value
    into_first = (upstream @ model[2].weight.value.T) * (1 - np.tanh(h1) ** 2)
    expected = [np.sqrt(np.mean(into_first**2)), np.sqrt(np.mean(upstream**2))]
    assert monitor.activation_rms() == pytest.approx(expected, rel=1e-12)
    assert monitor.gradient_ratio() == pytest.approx(expected[0] / expected[1])
    assert monitor.gains()[1] == pytest.approx((expected[0] / expected[1]) ** 2)
    assert math.isnan(monitor.gains()[0])


def test_dead_fraction_counts_relu_units_that_are_zero_for_the_whole_batch():
    rng = np.random.default_rng(0)
    first = nn.Linear(4, 10, rng=rng)
    first.bias.value[:3] = -100.0  # three units below zero for every sample
    model = nn.Sequential(first, nn.ReLU(), nn.Linear(10, 2, rng=rng))
    monitor = GradientMonitor(model)
    one_backward(model, batch=8, features=4)

    assert monitor.history("dead_fraction")[0, 0] == pytest.approx(3 / 10)
    assert math.isnan(monitor.history("dead_fraction")[0, 1])


@pytest.mark.parametrize("activation", [nn.Tanh, nn.Sigmoid, nn.Softsign])
def test_saturated_fraction_counts_units_saturated_for_the_whole_batch(activation):
    rng = np.random.default_rng(0)
    first = nn.Linear(4, 10, rng=rng, dtype=np.float64)
    first.weight.value[:] *= 0.01
    first.bias.value[:2] = 200.0
    first.bias.value[2:4] = -200.0
    model = nn.Sequential(first, activation(dtype=np.float64), nn.Linear(10, 2))
    monitor = GradientMonitor(model)
    one_backward(model, batch=8, features=4, dtype=np.float64)

    # Independently: slope below 1% of its maximum for every sample.
    slope = model[1].derivative()
    biggest = {nn.Tanh: 1.0, nn.Sigmoid: 0.25, nn.Softsign: 1.0}[activation]
    expected = np.mean(np.all(slope < 0.01 * biggest, axis=0))
    assert expected == pytest.approx(0.4)
    assert monitor.history("saturated_fraction")[0, 0] == pytest.approx(expected)


def test_records_every_nth_backward_call():
    model = small_model()
    monitor = GradientMonitor(model, every=3)
    for seed in range(7):
        model.zero_grad()
        one_backward(model, batch=4, features=5, seed=seed, dtype=np.float64)
    assert monitor.n_backward == 7
    assert monitor.steps.tolist() == [0, 3, 6]
    assert monitor.history("activation_rms").shape == (3, 2)


def test_history_grows_past_its_initial_capacity():
    model = small_model()
    monitor = GradientMonitor(model)
    norms = []
    for seed in range(40):
        model.zero_grad()
        one_backward(model, batch=4, features=5, seed=seed, dtype=np.float64)
        norms.append(np.linalg.norm(model[0].weight.grad))
    assert monitor.steps.tolist() == list(range(40))
    assert monitor.history("weight_norm")[:, 0] == pytest.approx(norms, rel=1e-12)


def test_detach_removes_every_hook_and_stops_recording():
    model = small_model()
    monitor = GradientMonitor(model)
    one_backward(model, batch=4, features=5, dtype=np.float64)
    monitor.detach()
    assert all(not m._backward_hooks for m in model.modules())
    one_backward(model, batch=4, features=5, dtype=np.float64)
    assert monitor.steps.tolist() == [0]


def test_context_manager_detaches_on_exit():
    model = small_model()
    with GradientMonitor(model) as monitor:
        one_backward(model, batch=4, features=5, dtype=np.float64)
    assert all(not m._backward_hooks for m in model.modules())
    assert monitor.steps.tolist() == [0]


def test_update_ratio_from_the_optimizer_step_hook():
    model = small_model()
    optimizer = SGD(model.parameters(), lr=0.1)
    monitor = GradientMonitor(model, optimizer=optimizer)
    before = model[0].weight.value.copy()
    one_backward(model, batch=4, features=5, dtype=np.float64)
    optimizer.step()

    after = model[0].weight.value
    expected = np.linalg.norm(after - before) / np.linalg.norm(after)
    assert monitor.history("update_ratio")[0, 0] == pytest.approx(expected, rel=1e-10)
    monitor.detach()
    assert not optimizer._step_hooks


def test_optimizer_hook_is_only_registered_for_recorded_steps():
    model = small_model()
    optimizer = SGD(model.parameters(), lr=0.1)
    monitor = GradientMonitor(model, every=2, optimizer=optimizer)
    hooked = []
    for seed in range(4):
        optimizer.zero_grad()
        one_backward(model, batch=4, features=5, seed=seed, dtype=np.float64)
        hooked.append(len(optimizer._step_hooks))
        optimizer.step()
    assert hooked == [1, 0, 1, 0]
    assert not optimizer._step_hooks
    assert np.isfinite(monitor.history("update_ratio")[:, 0]).all()
    assert monitor.steps.tolist() == [0, 2]


def test_report_update_by_parameter_name():
    model = small_model()
    monitor = GradientMonitor(model)
    one_backward(model, batch=4, features=5, dtype=np.float64)
    update = np.full((7, 3), 0.01)
    monitor.report_update({"2.weight": update})

    expected = np.linalg.norm(update) / np.linalg.norm(model[2].weight.value)
    assert monitor.history("update_ratio")[0, 1] == pytest.approx(expected)
    assert math.isnan(monitor.history("update_ratio")[0, 0])
    with pytest.raises(KeyError, match="not parameters of the model"):
        monitor.report_update({"nope.weight": update})


def test_gradient_through_time_is_recorded_for_recurrent_layers():
    rng = np.random.default_rng(0)
    model = nn.Sequential(
        nn.RNN(3, 6, return_sequences=True, rng=rng), nn.LSTM(6, 4, rng=rng)
    )
    monitor = GradientMonitor(model)
    x = rng.standard_normal((2, 9, 3))
    for _ in range(2):
        out = model(x)
        model.backward(np.ones_like(out))

    assert monitor.recurrent_layers == ["0.RNN", "1.LSTM"]
    series = monitor.grad_through_time("0.RNN")
    assert series.shape == (2, 9)
    assert series[-1] == pytest.approx(model[0].grad_through_time)
    with pytest.raises(KeyError):
        GradientMonitor(small_model()).grad_through_time("0.Linear")


def test_scalars_use_grad_norm_keys():
    model = small_model()
    monitor = GradientMonitor(model)
    one_backward(model, batch=4, features=5, dtype=np.float64)
    scalars = monitor.scalars()

    w0 = model[0].weight.grad
    assert scalars["grad_2.0_norm/0.Linear.weight"] == pytest.approx(np.linalg.norm(w0))
    assert "grad_2.0_norm/2.Linear.bias" in scalars
    assert "activation_grad_rms/0.Linear" in scalars
    assert "gradient_ratio" in scalars
    every = [p.grad for p in model.parameters()]
    total = math.sqrt(sum(np.sum(g**2) for g in every))
    assert scalars["grad_2.0_norm_total"] == pytest.approx(total)
    assert not any(key.startswith("update_ratio") for key in scalars)


def test_history_of_an_unknown_statistic_is_refused():
    monitor = GradientMonitor(small_model())
    with pytest.raises(ValueError, match="unknown statistic"):
        monitor.history("gradient")
    with pytest.raises(ValueError, match="recorded nothing"):
        monitor.gradient_ratio()


@pytest.mark.parametrize(
    "kwargs,error",
    [({"every": 0}, ValueError), ({"on_nonfinite": "ignore"}, ValueError)],
)
def test_invalid_arguments_are_refused(kwargs, error):
    with pytest.raises(error):
        GradientMonitor(small_model(), **kwargs)
    with pytest.raises(TypeError, match="gradwatch Module"):
        GradientMonitor(object())
    with pytest.raises(ValueError, match="no layer with parameters"):
        GradientMonitor(nn.Sequential(nn.ReLU()))


def test_huge_but_finite_gradients_are_measured_without_overflow():
    # Squares of 1e25 overflow float32 (max 3.4e38); the norms must not.
    layer = nn.Linear(3, 2, rng=0)
    monitor = GradientMonitor(layer, every=2)
    upstream = np.full((4, 2), 1e25, dtype=np.float32)
    x = np.ones((4, 3), dtype=np.float32)
    for _ in range(2):  # one recorded call, one guarded call
        layer.zero_grad()
        layer(x)
        with np.errstate(over="ignore"):
            layer.backward(upstream)

    assert monitor.nonfinite is None
    expected_weight = np.linalg.norm(layer.weight.grad.astype(np.float64))
    assert monitor.history("weight_norm")[0, 0] == pytest.approx(expected_weight)
    assert monitor.history("activation_rms")[0, 0] == pytest.approx(1e25, rel=1e-6)


def test_sequence_outputs_count_units_on_the_last_axis():
    rng = np.random.default_rng(0)
    first = nn.Linear(3, 5, rng=rng)
    first.bias.value[:2] = -100.0
    model = nn.Sequential(first, nn.ReLU(), nn.Linear(5, 1, rng=rng))
    monitor = GradientMonitor(model)
    out = model(rng.standard_normal((4, 6, 3)).astype(np.float32))
    model.backward(np.ones_like(out))
    assert monitor.history("dead_fraction")[0, 0] == pytest.approx(2 / 5)


def test_batchnorm_layers_are_monitored_and_feed_the_relu_after_them():
    rng = np.random.default_rng(0)
    model = nn.Sequential(
        nn.Linear(4, 6, rng=rng), nn.BatchNorm(6), nn.ReLU(), nn.Linear(6, 1, rng=rng)
    )
    monitor = GradientMonitor(model)
    one_backward(model, batch=8, features=4)
    assert monitor.layer_names == ["0.Linear", "1.BatchNorm", "3.Linear"]
    dead = monitor.history("dead_fraction")[0]
    assert math.isnan(dead[0]) and not math.isnan(dead[1])
    assert monitor.prediction is None


# -- the non-finite guard -----------------------------------------------------


def amplifying_chain(depth: int = 10, width: int = 8, scale: float = 1e5):
    """Bias-free linear layers of ``scale`` times an orthogonal matrix (float32)."""
    rng = np.random.default_rng(0)
    return nn.Sequential(
        *[
            nn.Linear(width, width, bias=False, init=init.orthogonal, rng=rng)
            for _ in range(depth)
        ]
    ), scale


def first_overflowing_layer(model, x, upstream) -> int:
    """Index of the first layer (backward order) receiving a float32 overflow.

    Replays the backward pass in float64 and compares with float32's range.
    """
    weights = [layer.weight.value.astype(np.float64) for layer in model]
    limit = np.finfo(np.float32).max
    g = upstream.astype(np.float64)
    for index in reversed(range(len(weights))):
        if np.max(np.abs(g)) > limit:
            return index
        g = g @ weights[index].T
    return -1


def test_overflowing_gradient_stops_at_the_first_nonfinite_layer_in_backward_order():
    model, scale = amplifying_chain()
    for layer in model:
        layer.weight.value *= np.float32(scale)
    x = np.full((4, 8), 1e-30, dtype=np.float32)  # keeps the forward pass finite
    upstream = np.ones((4, 8), dtype=np.float32)
    expected = first_overflowing_layer(model, x, upstream)
    assert expected > 0

    monitor = GradientMonitor(model)
    with np.errstate(over="ignore", invalid="ignore"):
        out = model(x)
        assert np.isfinite(out).all()
        with pytest.raises(NonFiniteGradientError) as caught:
            model.backward(upstream)
    assert caught.value.layer == f"{expected}.Linear"
    assert caught.value.step == 0
    assert isinstance(caught.value, FloatingPointError)
    assert monitor.nonfinite["layer"] == f"{expected}.Linear"


def test_nonfinite_guard_fires_on_steps_that_are_not_recorded():
    model, scale = amplifying_chain()
    for layer in model:
        layer.weight.value *= np.float32(scale)
    x = np.full((4, 8), 1e-30, dtype=np.float32)
    monitor = GradientMonitor(model, every=5)
    with np.errstate(over="ignore", invalid="ignore"):
        model(x)
        model.backward(np.full((4, 8), 1e-30, dtype=np.float32))  # finite
        model.zero_grad()
        model(x)
        with pytest.raises(NonFiniteGradientError) as caught:
            model.backward(np.ones((4, 8), dtype=np.float32))
    assert caught.value.step == 1
    assert monitor.steps.tolist() == [0]


def test_nan_in_warn_mode_warns_once_and_keeps_recording():
    model = small_model()
    monitor = GradientMonitor(model, on_nonfinite="warn")
    upstream = np.zeros((4, 3))
    upstream[0, 0] = np.nan
    model(np.ones((4, 5)))
    with pytest.warns(RuntimeWarning, match="2.Linear"):
        model.backward(upstream)
    assert monitor.nonfinite == {
        "layer": "2.Linear",
        "step": 0,
        "what": "activation gradient",
    }
    model(np.ones((4, 5)))
    model.backward(upstream)  # a second warning would fail the test
    assert monitor.steps.tolist() == [0, 1]
    assert math.isnan(monitor.history("weight_norm")[0, 1])
    assert math.isnan(monitor.history("weight_max_abs")[0, 1])
    assert math.isnan(monitor.history("activation_rms")[0, 1])


# -- saving and loading -------------------------------------------------------


def test_save_and_load_round_trip_without_pickle(tmp_path):
    model = small_model()
    monitor = GradientMonitor(model, every=2)
    for seed in range(5):
        model.zero_grad()
        one_backward(model, batch=4, features=5, seed=seed, dtype=np.float64)
    path = monitor.save(tmp_path / "run.npz")

    with np.load(path, allow_pickle=False) as stored:
        assert all(stored[key].dtype.kind != "O" for key in stored.files)
        assert stored["layer_names"].dtype.kind == "U"
    with zipfile.ZipFile(path) as archive:
        assert all(name.endswith(".npy") for name in archive.namelist())

    loaded = GradientMonitor.load(path)
    assert loaded.layer_names == monitor.layer_names
    assert loaded.steps.tolist() == [0, 2, 4]
    for stat in STATS:
        np.testing.assert_array_equal(loaded.history(stat), monitor.history(stat))
    assert loaded.diagnose().to_dict() == monitor.diagnose().to_dict()
    assert loaded.prediction is not None
    np.testing.assert_array_equal(loaded.prediction.gain, monitor.prediction.gain)
    with pytest.raises(RuntimeError, match="read-only"):
        loaded.report_update([])

    summary = json.loads((tmp_path / "run.json").read_text())
    assert summary["layer_names"] == monitor.layer_names
    assert summary["n_recorded"] == 3
    assert summary["diagnosis"]["verdict"] == monitor.diagnose().verdict


def test_recurrent_history_survives_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.RNN(2, 3, rng=rng), nn.Linear(3, 1, rng=rng))
    monitor = GradientMonitor(model)
    out = model(rng.standard_normal((2, 5, 2)))
    model.backward(np.ones_like(out))
    loaded = GradientMonitor.load(monitor.save(tmp_path / "rnn.npz"))
    np.testing.assert_array_equal(
        loaded.grad_through_time("0.RNN"), monitor.grad_through_time("0.RNN")
    )


def test_a_failed_save_leaves_the_existing_file_untouched(tmp_path, monkeypatch):
    model = small_model()
    monitor = GradientMonitor(model)
    one_backward(model, batch=4, features=5, dtype=np.float64)
    path = tmp_path / "run.npz"
    path.write_bytes(b"earlier run")

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(monitor_module.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        monitor.save(path)
    assert path.read_bytes() == b"earlier run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]


def test_save_refuses_a_json_path_and_load_refuses_foreign_files(tmp_path):
    monitor = GradientMonitor(small_model())
    with pytest.raises(ValueError, match="ending in .npz"):
        monitor.save(tmp_path / "run.json")
    foreign = tmp_path / "other.npz"
    np.savez(foreign, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a file written by"):
        GradientMonitor.load(foreign)


@pytest.mark.parametrize(
    "content", [b"this is not a monitor\n", b"\x80\x04K\x01.", b"PK\x03\x04garbage"]
)
def test_load_of_a_garbage_file_says_it_is_not_a_monitor_file(tmp_path, content):
    path = tmp_path / "garbage.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="is not a gradwatch monitor file") as caught:
        GradientMonitor.load(path)
    assert "pickled" not in str(caught.value)


def test_saved_monitor_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    model = small_model()
    monitor = GradientMonitor(model)
    one_backward(model, batch=4, features=5, seed=0, dtype=np.float64)
    path = monitor.save(tmp_path / "run.npz")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
