"""Tests of gradwatch.nn.Residual."""

from __future__ import annotations

import numpy as np
import pytest

from gradwatch import gradcheck
from gradwatch.nn import Identity, Linear, ReLU, Residual, Sequential, Tanh

F64 = {"dtype": np.float64}


def test_residual_with_identity_shortcut_passes_gradcheck(rng):
    block = Sequential(
        Linear(3, 3, rng=0, **F64), Tanh(**F64), Linear(3, 3, rng=1, **F64)
    )
    result = gradcheck(Residual(block), rng.standard_normal((4, 3)))
    assert result.passed, str(result)


def test_residual_with_projection_passes_gradcheck(rng):
    block = Sequential(Linear(3, 5, rng=0, **F64), Tanh(**F64))
    model = Residual(block, projection=Linear(3, 5, bias=False, rng=1, **F64))
    result = gradcheck(model, rng.standard_normal((4, 3)))
    assert result.passed, str(result)
    assert "projection.weight" in result.errors


def test_residual_adds_the_input_to_the_block_output(rng):
    block = Linear(3, 3, rng=0, **F64)
    x = rng.standard_normal((2, 3))
    np.testing.assert_allclose(Residual(block)(x), x @ block.weight.value + x)


def test_residual_backward_sums_both_paths(rng):
    block = Linear(3, 3, bias=False, rng=0, **F64)
    layer = Residual(block)
    x, g = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    layer(x)
    np.testing.assert_allclose(layer.backward(g), g @ block.weight.value.T + g)


def test_identity_block_does_not_modify_the_upstream_gradient(rng):
    layer = Residual(Identity(**F64))
    g = rng.standard_normal((2, 3))
    kept = g.copy()
    layer(rng.standard_normal((2, 3)))
    np.testing.assert_array_equal(layer.backward(g), 2 * kept)
    np.testing.assert_array_equal(g, kept)


def test_shape_change_without_projection_tells_user_to_pass_one():
    layer = Residual(Linear(3, 5))
    with pytest.raises(ValueError, match=r"pass projection=Linear\(in_features, out"):
        layer(np.ones((2, 3)))


def test_projection_with_wrong_output_shape_is_refused():
    layer = Residual(Linear(3, 5), projection=Linear(3, 4))
    with pytest.raises(ValueError, match="projection's has"):
        layer(np.ones((2, 3)))


def test_residual_refuses_non_layers_and_shared_layers():
    with pytest.raises(TypeError, match="block must be a gradwatch layer"):
        Residual(np.tanh)
    shared = Linear(2, 2)
    with pytest.raises(ValueError, match="used twice"):
        Residual(Sequential(shared, ReLU(), shared))


def test_residual_keeps_the_block_dtype(rng):
    layer = Residual(Linear(3, 3, rng=0))
    assert layer(rng.standard_normal((2, 3))).dtype == np.float32


def test_deep_residual_stack_keeps_the_gradient_from_vanishing(rng):
    # With zero weights no gradient flows through a block; the skips carry it.
    def block(seed):
        lin = Linear(4, 4, init="zeros", rng=seed, **F64)
        return Residual(Sequential(lin, Tanh(**F64)))

    model = Sequential(*[block(i) for i in range(30)])
    model(rng.standard_normal((3, 4)))
    g = rng.standard_normal((3, 4))
    np.testing.assert_allclose(model.backward(g), g)
