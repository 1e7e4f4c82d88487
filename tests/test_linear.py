"""Tests of gradwatch.nn.Linear."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from gradwatch import gradcheck, init
from gradwatch.nn import Linear


@pytest.mark.parametrize("bias", [True, False])
def test_linear_passes_gradcheck_for_input_and_parameters(bias, rng):
    layer = Linear(4, 3, bias=bias, dtype=np.float64, rng=0)
    if bias:
        layer.bias.value[...] = rng.standard_normal(3)
    result = gradcheck(layer, rng.standard_normal((5, 4)))
    assert result.passed, str(result)
    expected = {"input", "weight", "bias"} if bias else {"input", "weight"}
    assert set(result.errors) == expected


def test_linear_passes_gradcheck_on_inputs_with_extra_axes(rng):
    layer = Linear(3, 2, dtype=np.float64, rng=1)
    assert gradcheck(layer, rng.standard_normal((2, 4, 3))).passed


def test_linear_computes_x_times_weight_plus_bias(rng):
    layer = Linear(3, 2, dtype=np.float64, rng=0)
    layer.bias.value[...] = [0.5, -1.0]
    x = rng.standard_normal((4, 3))
    w = layer.weight.value
    expected = np.array(
        [[sum(x[n, i] * w[i, j] for i in range(3)) for j in range(2)] for n in range(4)]
    ) + np.array([0.5, -1.0])
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12)


def test_linear_weight_has_in_out_layout_and_zero_bias():
    layer = Linear(5, 7)
    assert layer.weight.value.shape == (5, 7)
    assert layer.bias.value.shape == (7,)
    assert not layer.bias.value.any()


def test_float32_linear_fed_float64_input_outputs_float32(rng):
    layer = Linear(3, 2, rng=0)
    y = layer(rng.standard_normal((4, 3)))
    assert y.dtype == np.float32
    assert layer.backward(np.ones((4, 2))).dtype == np.float32
    assert layer.weight.grad.dtype == np.float32


def test_float64_linear_keeps_float64(rng):
    layer = Linear(3, 2, dtype=np.float64, rng=0)
    assert layer(rng.standard_normal((4, 3))).dtype == np.float64


def test_same_seed_gives_bit_identical_weights():
    a = Linear(16, 8, rng=42, init="he_normal")
    b = Linear(16, 8, rng=42, init="he_normal")
    c = Linear(16, 8, rng=43, init="he_normal")
    np.testing.assert_array_equal(a.weight.value, b.weight.value)
    assert not np.array_equal(a.weight.value, c.weight.value)


def test_wrong_number_of_features_raises_clear_error():
    with pytest.raises(ValueError, match="last axis has 3 features"):
        Linear(3, 2)(np.ones((4, 5)))


def test_invalid_sizes_and_initialisers_are_refused():
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        Linear(0, 2)
    with pytest.raises(ValueError, match="unknown initialiser"):
        Linear(2, 2, init="nope")


def test_callable_initialiser_is_used_and_named():
    small = functools.partial(init.normal, std=0.01)
    layer = Linear(200, 300, init=small, dtype=np.float64, rng=0)
    assert abs(layer.weight.value.std() - 0.01) < 0.001
    assert layer.init_name == "normal(std=0.01)"


def test_backward_gradients_add_up_over_two_passes(rng):
    layer = Linear(3, 2, dtype=np.float64, rng=0)
    x, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    layer(x)
    layer.backward(g)
    layer(x)
    layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad, 2 * x.T @ g)
    np.testing.assert_allclose(layer.bias.grad, 2 * g.sum(axis=0))


def test_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="before forward"):
        Linear(2, 2).backward(np.ones((1, 2)))
