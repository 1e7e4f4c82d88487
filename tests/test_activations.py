"""Tests of the element-wise activations in gradwatch.nn.activations."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from gradwatch import gradcheck, numerical_gradient
from gradwatch.nn import (
    ELU,
    GELU,
    Activation,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softsign,
    Tanh,
    get_activation,
)

ALL = [Identity, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, GELU, Softsign]


def _away_from_kinks(rng, shape):
    """Inputs at least 0.05 away from 0, where ReLU-like derivatives jump."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < 0.05, 0.5, x)


@pytest.mark.parametrize("cls", ALL)
def test_activation_passes_gradcheck_in_float64(cls, rng):
    layer = cls(dtype=np.float64)
    result = gradcheck(layer, _away_from_kinks(rng, (4, 5)))
    assert result.passed, str(result)


@pytest.mark.parametrize("cls", ALL)
def test_derivative_matches_finite_differences_of_forward(cls, rng):
    x = _away_from_kinks(rng, (3, 4))
    layer = cls(dtype=np.float64)
    layer(x)
    analytic = layer.derivative()

    # d phi(x_i) / d x_i from central differences on each entry separately.
    numeric = np.empty_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += 1e-6
        xm[i] -= 1e-6
        numeric[i] = (
            cls(dtype=np.float64)(xp)[i] - cls(dtype=np.float64)(xm)[i]
        ) / 2e-6
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_sigmoid_of_huge_inputs_is_zero_and_one_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = Sigmoid(dtype=np.float64)(np.array([-1000.0, 1000.0]))
    np.testing.assert_array_equal(y, [0.0, 1.0])


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_is_finite_on_huge_inputs(cls, dtype):
    big = np.finfo(dtype).max / 4
    x = np.array([-big, -1e30, -50.0, 0.0, 50.0, 1e30, big], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer = cls(dtype=dtype)
        y = layer(x)
        grad = layer.backward(np.ones_like(x))
    assert np.all(np.isfinite(y))
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("cls", ALL)
def test_float32_layer_keeps_float32_for_float64_input(cls, rng):
    layer = cls(dtype=np.float32)
    y = layer(rng.standard_normal((2, 3)))
    assert y.dtype == np.float32
    assert layer.backward(np.ones((2, 3))).dtype == np.float32


@pytest.mark.parametrize("cls", ALL)
def test_float64_layer_keeps_float64(cls, rng):
    layer = cls(dtype=np.float64)
    y = layer(rng.standard_normal((2, 3)))
    assert y.dtype == np.float64
    assert layer.backward(np.ones((2, 3))).dtype == np.float64
    assert layer.derivative().dtype == np.float64


def test_forward_values_match_their_formulas():
    x = np.array([-2.0, -0.5, 0.5, 2.0])
    erf = np.vectorize(math.erf)
    expected = {
        Identity: x,
        Sigmoid: 1 / (1 + np.exp(-x)),
        Tanh: np.tanh(x),
        ReLU: np.maximum(x, 0),
        LeakyReLU: np.where(x > 0, x, 0.01 * x),
        ELU: np.where(x > 0, x, np.exp(x) - 1),
        GELU: x * 0.5 * (1 + erf(x / math.sqrt(2))),
        Softsign: x / (1 + np.abs(x)),
    }
    for cls, want in expected.items():
        np.testing.assert_allclose(cls(dtype=np.float64)(x), want, rtol=1e-12)


def test_derivatives_at_zero_follow_pytorch_conventions():
    zero = np.zeros(1)
    relu, leaky, elu = (
        ReLU(dtype=np.float64),
        LeakyReLU(0.2, dtype=np.float64),
        ELU(0.7, dtype=np.float64),
    )
    for layer in (relu, leaky, elu):
        layer(zero)
    assert relu.derivative()[0] == 0.0
    assert leaky.derivative()[0] == pytest.approx(0.2)
    assert elu.derivative()[0] == pytest.approx(0.7)


def test_leaky_relu_and_elu_use_their_parameters():
    x = np.array([-2.0])
    assert LeakyReLU(0.3, dtype=np.float64)(x)[0] == pytest.approx(-0.6)
    assert ELU(2.0, dtype=np.float64)(x)[0] == pytest.approx(2.0 * (math.exp(-2) - 1))


def test_backward_before_forward_raises_clear_error():
    with pytest.raises(RuntimeError, match="before forward"):
        Tanh().backward(np.ones(3))


def test_get_activation_builds_by_name_and_rejects_unknown_names():
    layer = get_activation("TANH", dtype=np.float64)
    assert isinstance(layer, Tanh) and layer.dtype == np.float64
    assert isinstance(get_activation("leaky_relu", negative_slope=0.2), LeakyReLU)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        get_activation("swish")


def test_every_activation_names_its_nonlinearity():
    for cls in ALL:
        assert issubclass(cls, Activation)
        assert isinstance(cls.nonlinearity, str)
    assert Tanh.nonlinearity == "tanh" and ReLU.nonlinearity == "relu"


def test_bad_dtype_is_refused():
    with pytest.raises(TypeError, match="float32 or float64"):
        Tanh(dtype=np.int32)


def test_numerical_gradient_of_sigmoid_sum_matches_derivative(rng):
    x = rng.standard_normal(5)
    layer = Sigmoid(dtype=np.float64)
    numeric = numerical_gradient(lambda: float(np.sum(layer(x))), x)
    layer(x)
    np.testing.assert_allclose(numeric, layer.derivative(), rtol=1e-6)
