"""Tests of gradwatch.gradcheck, numerical_gradient and relative_error."""

from __future__ import annotations

import numpy as np
import pytest

from gradwatch import gradcheck, numerical_gradient
from gradwatch.gradcheck import relative_error
from gradwatch.nn import Linear, Module, Parameter, Sequential, Tanh


class _Scale(Module):
    """y = a * x with a deliberately wrong or right backward for the input."""

    def __init__(self, wrong: bool) -> None:
        super().__init__()
        self.a = Parameter(np.array([1.5]), "a")
        self.wrong = wrong

    def forward(self, x):
        self._x = x
        return self.a.value * x

    def backward(self, grad_out):
        self.a.accumulate(np.array([np.sum(grad_out * self._x)]))
        factor = 1.0 if self.wrong else self.a.value
        return grad_out * factor


class _SumOnlyBug(Module):
    """y = x - mean(x) with a backward that always returns zeros.

    The correct input gradient is g - mean(g): zero for the all-ones g of a
    plain sum loss, so only a random upstream gradient exposes the bug.
    """

    def forward(self, x):
        return x - x.mean()

    def backward(self, grad_out):
        return np.zeros_like(grad_out)


def test_gradcheck_passes_a_correct_layer(rng):
    result = gradcheck(_Scale(wrong=False), rng.standard_normal(5))
    assert result.passed
    assert result.max_error < 1e-8
    assert set(result.errors) == {"input", "a"}


def test_gradcheck_catches_a_wrong_input_gradient_and_says_where(rng):
    result = gradcheck(_Scale(wrong=True), rng.standard_normal(5))
    assert not result.passed
    assert result.worst == "input"
    assert result.errors["a"] < 1e-8
    assert "FAILED" in str(result)


def test_gradcheck_uses_a_random_upstream_gradient(rng):
    result = gradcheck(_SumOnlyBug(), rng.standard_normal(6))
    assert not result.passed


def test_gradcheck_of_a_deep_model_checks_every_parameter(rng):
    model = Sequential(
        Linear(3, 4, dtype=np.float64, rng=0),
        Tanh(dtype=np.float64),
        Linear(4, 2, dtype=np.float64, rng=1),
    )
    result = gradcheck(model, rng.standard_normal((2, 3)))
    assert result.passed, str(result)
    assert set(result.errors) == {"input", "0.weight", "0.bias", "2.weight", "2.bias"}


def test_gradcheck_refuses_float32_parameters(rng):
    with pytest.raises(TypeError, match="float64 parameters"):
        gradcheck(Linear(2, 2), rng.standard_normal((1, 2)))


def test_gradcheck_can_skip_the_input(rng):
    result = gradcheck(_Scale(wrong=True), rng.standard_normal(4), check_input=False)
    assert result.passed
    assert set(result.errors) == {"a"}


def test_numerical_gradient_of_a_known_function():
    x = np.array([0.3, -1.2, 2.0])
    grad = numerical_gradient(lambda: float(np.sum(np.sin(x) * x)), x)
    np.testing.assert_allclose(grad, np.cos(x) * x + np.sin(x), rtol=1e-8)
    np.testing.assert_array_equal(x, [0.3, -1.2, 2.0])


def test_numerical_gradient_refuses_float32_and_non_contiguous_arrays():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda: 0.0, np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="contiguous"):
        numerical_gradient(lambda: 0.0, np.zeros((3, 4)).T)


def test_relative_error_is_zero_for_two_zero_arrays_and_scale_free():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    a, n = np.array([1.0, 2.0]), np.array([1.0, 2.2])
    expected = 0.2 / np.hypot(1.0, 2.2)
    assert relative_error(a, n) == pytest.approx(expected)
    assert relative_error(1e9 * a, 1e9 * n) == pytest.approx(expected)
