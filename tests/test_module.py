"""Tests of Parameter, Module and Sequential in gradwatch.nn.module."""

from __future__ import annotations

import numpy as np
import pytest

from gradwatch import gradcheck
from gradwatch.nn import (
    BatchNorm,
    Linear,
    Module,
    Parameter,
    ReLU,
    Residual,
    Sequential,
    Tanh,
    check_no_shared_layers,
)


def _model() -> Sequential:
    return Sequential(
        Linear(3, 4, dtype=np.float64, rng=0),
        Tanh(dtype=np.float64),
        BatchNorm(4, dtype=np.float64),
        Linear(4, 2, dtype=np.float64, rng=1),
    )


def test_named_parameters_use_dotted_layer_paths_in_forward_order():
    names = [name for name, _ in _model().named_parameters()]
    assert names == [
        "0.weight",
        "0.bias",
        "2.weight",
        "2.bias",
        "3.weight",
        "3.bias",
    ]
    assert all(isinstance(p, Parameter) for p in _model().parameters())


def test_named_modules_and_own_parameters():
    model = _model()
    names = [name for name, _ in model.named_modules()]
    assert names == ["", "0", "1", "2", "3"]
    assert model.own_parameters() == []
    assert [p.name for p in model[0].own_parameters()] == ["weight", "bias"]


def test_nested_residual_parameters_are_named_through_the_block():
    model = Sequential(Residual(Sequential(Linear(2, 2), ReLU())), Linear(2, 1))
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.block.0.weight", "0.block.0.bias", "1.weight", "1.bias"]


def test_zero_grad_sets_every_gradient_to_none(rng):
    model = _model()
    model(rng.standard_normal((5, 3)))
    model.backward(rng.standard_normal((5, 2)))
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_parameter_accumulate_stores_first_then_adds():
    p = Parameter(np.zeros(2), "w")
    first = np.array([1.0, 2.0])
    p.accumulate(first)
    assert p.grad is first
    p.accumulate(np.array([0.5, 0.5]))
    np.testing.assert_array_equal(p.grad, [1.5, 2.5])
    assert p.shape == (2,)
    assert "w" in repr(p)


def test_train_and_eval_propagate_to_every_layer():
    model = Sequential(Linear(2, 2), Residual(Sequential(BatchNorm(2), ReLU())))
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.train(False)
    assert not any(m.training for m in model.modules())


def test_repr_shows_the_structure():
    text = repr(Sequential(Linear(3, 4), Tanh(), Residual(Sequential(Linear(4, 4)))))
    assert text.startswith("Sequential(")
    assert "(0): Linear(in_features=3, out_features=4, bias=True" in text
    assert "(1): Tanh()" in text
    assert "(2): Residual(" in text
    assert "(block): Sequential(" in text


def test_forward_and_backward_hooks_fire_once_per_call_and_can_be_removed(rng):
    model = _model()
    calls = []
    layer = model[0]
    forward = layer.register_forward_hook(
        lambda m, x, y: calls.append(("forward", m, x.shape, y.shape))
    )
    backward = layer.register_backward_hook(
        lambda m, g_out, g_in: calls.append(("backward", m, g_out.shape, g_in.shape))
    )
    x = rng.standard_normal((5, 3))
    model(x)
    model.backward(rng.standard_normal((5, 2)))
    assert calls == [
        ("forward", layer, (5, 3), (5, 4)),
        ("backward", layer, (5, 4), (5, 3)),
    ]

    forward.remove()
    backward.remove()
    forward.remove()  # removing twice is harmless
    model(x)
    model.backward(rng.standard_normal((5, 2)))
    assert len(calls) == 2


def test_hook_on_a_subclass_calling_super_fires_once(rng):
    class LoudTanh(Tanh):
        def forward(self, x):
            return super().forward(x)

    layer = LoudTanh(dtype=np.float64)
    seen = []
    layer.register_forward_hook(lambda m, x, y: seen.append(y))
    layer(rng.standard_normal(3))
    assert len(seen) == 1


def test_hooks_on_the_whole_model_see_its_input_and_output(rng):
    model = _model()
    seen = []
    model.register_forward_hook(lambda m, x, y: seen.append((x, y)))
    x = rng.standard_normal((5, 3))
    y = model(x)
    assert seen[0][0] is x and seen[0][1] is y


def test_state_dict_round_trip_restores_parameters_and_buffers(rng):
    model = _model()
    x = rng.standard_normal((6, 3))
    model(x)  # updates BatchNorm's running statistics
    saved = model.state_dict()
    assert "2.running_mean" in saved and "2.running_var" in saved
    expected = model.eval()(x)

    other = _model()
    for p in other.parameters():
        p.value[...] = 0.0
    other.load_state_dict(saved)
    np.testing.assert_array_equal(other.eval()(x), expected)

    # The saved arrays are copies: changing the model later leaves them alone.
    model[0].weight.value[...] = 7.0
    assert not np.any(saved["0.weight"] == 7.0)


def test_load_state_dict_reports_missing_unexpected_and_bad_shapes():
    model = _model()
    state = model.state_dict()
    del state["0.bias"]
    state["9.weight"] = np.zeros(1)
    with pytest.raises(
        KeyError, match=r"missing \['0.bias'\].*unexpected \['9.weight'\]"
    ):
        model.load_state_dict(state)
    state = model.state_dict()
    state["0.weight"] = np.zeros((2, 2))
    with pytest.raises(ValueError, match="0.weight: saved shape"):
        model.load_state_dict(state)


def test_sequential_refuses_a_shared_layer_with_clear_error():
    layer = Linear(3, 3)
    with pytest.raises(ValueError, match="same Linear object is used twice"):
        Sequential(layer, ReLU(), layer)


def test_shared_layer_is_refused_through_residual_too():
    layer = Linear(3, 3)
    with pytest.raises(ValueError, match="used twice"):
        Sequential(layer, Residual(Sequential(layer, ReLU())))
    with pytest.raises(ValueError, match="used twice"):
        Residual(layer, projection=layer)
    with pytest.raises(ValueError, match="used twice"):
        check_no_shared_layers(Sequential(Residual(Sequential(layer, layer))))


def test_sequential_refuses_non_layers_and_supports_list_access():
    with pytest.raises(TypeError, match="argument 1 is a ufunc"):
        Sequential(Linear(2, 2), np.tanh)
    model = _model()
    assert len(model) == 4
    assert isinstance(model[-1], Linear)
    assert [type(m).__name__ for m in model] == [
        "Linear",
        "Tanh",
        "BatchNorm",
        "Linear",
    ]


def test_sequential_forward_and_backward_chain_the_layers(rng):
    a, b = Linear(3, 4, dtype=np.float64, rng=0), Linear(4, 2, dtype=np.float64, rng=1)
    model = Sequential(a, b)
    x, g = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    y = model(x)
    np.testing.assert_allclose(y, x @ a.weight.value @ b.weight.value)
    grad_x = model.backward(g)
    np.testing.assert_allclose(grad_x, g @ b.weight.value.T @ a.weight.value.T)


def test_base_module_without_forward_raises_not_implemented():
    class Empty(Module):
        pass

    with pytest.raises(NotImplementedError, match="Empty does not define forward"):
        Empty()(np.zeros(1))
    with pytest.raises(NotImplementedError, match="Empty does not define backward"):
        Empty().backward(np.zeros(1))


def test_deep_sequential_of_every_layer_kind_passes_gradcheck(rng):
    f64 = {"dtype": np.float64}
    layers = [Linear(3, 4, rng=0, **f64)]
    for i, act in enumerate([Tanh, ReLU, Tanh, ReLU, Tanh]):
        layers += [act(**f64), Linear(4, 4, rng=i + 1, **f64)]
    # A bias right before BatchNorm has an exactly zero gradient (the mean is
    # subtracted again), which a relative error cannot judge; leave it out.
    layers += [
        Tanh(**f64),
        Linear(4, 4, bias=False, rng=10, **f64),
        BatchNorm(4, **f64),
        Residual(Sequential(Linear(4, 4, rng=20, **f64), Tanh(**f64))),
        Residual(Linear(4, 2, rng=21, **f64), projection=Linear(4, 2, rng=22, **f64)),
    ]
    model = Sequential(*layers)
    result = gradcheck(model, rng.standard_normal((5, 3)))
    assert result.passed, str(result)
    assert len(result.errors) == 1 + len(list(model.parameters()))
