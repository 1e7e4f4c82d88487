"""Tests of gradwatch.nn.BatchNorm."""

from __future__ import annotations

import numpy as np
import pytest

from gradwatch import gradcheck
from gradwatch.nn import BatchNorm


def _layer_with_random_affine(rng, features=3) -> BatchNorm:
    layer = BatchNorm(features, dtype=np.float64)
    layer.weight.value[...] = rng.uniform(0.5, 1.5, features)
    layer.bias.value[...] = rng.standard_normal(features)
    return layer


def test_batchnorm_training_passes_gradcheck(rng):
    layer = _layer_with_random_affine(rng)
    result = gradcheck(layer, rng.standard_normal((6, 3)) * 2 + 1)
    assert result.passed, str(result)
    assert set(result.errors) == {"input", "weight", "bias"}


def test_batchnorm_training_passes_gradcheck_on_inputs_with_extra_axes(rng):
    layer = _layer_with_random_affine(rng)
    assert gradcheck(layer, rng.standard_normal((2, 4, 3))).passed


def test_batchnorm_eval_passes_gradcheck_after_training_steps(rng):
    layer = _layer_with_random_affine(rng)
    for _ in range(4):
        layer(rng.standard_normal((8, 3)) * 3 + 2)
    assert not np.allclose(layer.running_mean, 0.0)
    layer.eval()
    result = gradcheck(layer, rng.standard_normal((5, 3)))
    assert result.passed, str(result)


def test_batchnorm_training_normalises_with_biased_batch_variance(rng):
    x = rng.standard_normal((10, 2)) * [1.0, 5.0] + [3.0, -1.0]
    layer = BatchNorm(2, eps=1e-5, dtype=np.float64)
    layer.weight.value[...] = [2.0, 0.5]
    layer.bias.value[...] = [1.0, -1.0]
    mean = x.sum(axis=0) / 10
    var = ((x - mean) ** 2).sum(axis=0) / 10
    expected = (x - mean) / np.sqrt(var + 1e-5) * [2.0, 0.5] + [1.0, -1.0]
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12)


def test_batchnorm_running_statistics_use_momentum_and_unbiased_variance(rng):
    layer = BatchNorm(2, momentum=0.3, dtype=np.float64)
    mean_run, var_run = np.zeros(2), np.ones(2)
    for _ in range(3):
        x = rng.standard_normal((5, 2)) * 2 + 1
        layer(x)
        unbiased = ((x - x.mean(axis=0)) ** 2).sum(axis=0) / 4
        mean_run = 0.7 * mean_run + 0.3 * x.mean(axis=0)
        var_run = 0.7 * var_run + 0.3 * unbiased
    np.testing.assert_allclose(layer.running_mean, mean_run, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, var_run, rtol=1e-12)


def test_batchnorm_eval_uses_running_statistics_and_does_not_update_them(rng):
    layer = BatchNorm(2, dtype=np.float64)
    layer.running_mean[...] = [1.0, -2.0]
    layer.running_var[...] = [4.0, 0.25]
    layer.eval()
    x = rng.standard_normal((3, 2))
    expected = (x - [1.0, -2.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12)
    np.testing.assert_array_equal(layer.running_mean, [1.0, -2.0])


def test_batchnorm_training_batch_of_one_raises_and_eval_accepts_it():
    layer = BatchNorm(3)
    with pytest.raises(ValueError, match=r"use eval\(\) or a batch of >= 2"):
        layer(np.ones((1, 3)))
    layer.eval()
    assert layer(np.ones((1, 3))).shape == (1, 3)


def test_batchnorm_backward_uses_the_mode_of_its_forward_pass(rng):
    layer = _layer_with_random_affine(rng, 2)
    x, g = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    layer(x)
    layer.eval()
    grad_train = layer.backward(g)
    # The gradient through batch statistics sums to zero over the batch.
    np.testing.assert_allclose(grad_train.sum(axis=0), 0.0, atol=1e-12)


def test_batchnorm_rejects_wrong_shapes_and_settings():
    with pytest.raises(ValueError, match=r"expects inputs of shape \(N, 3\)"):
        BatchNorm(3)(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"expects inputs of shape \(N, 3\)"):
        BatchNorm(3)(np.ones(3))
    with pytest.raises(ValueError, match="momentum must lie in"):
        BatchNorm(3, momentum=1.5)
    with pytest.raises(ValueError, match="eps must be > 0"):
        BatchNorm(3, eps=0.0)
    with pytest.raises(RuntimeError, match="before forward"):
        BatchNorm(3).backward(np.ones((2, 3)))


def test_batchnorm_keeps_its_dtype(rng):
    layer = BatchNorm(3)
    y = layer(rng.standard_normal((4, 3)))
    assert y.dtype == np.float32
    assert layer.backward(rng.standard_normal((4, 3))).dtype == np.float32
    assert layer.running_var.dtype == np.float32


def test_batchnorm_state_dict_holds_running_statistics(rng):
    layer = BatchNorm(2, dtype=np.float64)
    layer(rng.standard_normal((4, 2)))
    state = layer.state_dict()
    assert set(state) == {"weight", "bias", "running_mean", "running_var"}
    np.testing.assert_array_equal(state["running_mean"], layer.running_mean)
    assert "BatchNorm(2, momentum=0.1" in repr(layer)
