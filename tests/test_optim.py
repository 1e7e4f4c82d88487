"""Tests of the optimisers in gradwatch.optim.

Expected values are written out step by step from the published update rules.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradwatch import optim
from gradwatch.nn import Linear, Parameter


def _param(value, grad=None) -> Parameter:
    p = Parameter(np.array(value, dtype=np.float64), "w")
    p.grad = None if grad is None else np.array(grad, dtype=np.float64)
    return p


def test_sgd_plain_step_is_p_minus_lr_grad():
    p = _param([1.0, -2.0], [0.5, 0.25])
    optim.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.value, [0.95, -2.025], rtol=1e-15)


def test_sgd_momentum_starts_with_the_gradient_and_accumulates():
    p = _param([1.0], [1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.step()  # velocity 1.0 -> p = 0.9
    opt.step()  # velocity 0.9 * 1 + 1 = 1.9 -> p = 0.9 - 0.19
    np.testing.assert_allclose(p.value, [0.71], rtol=1e-14)


def test_sgd_nesterov_looks_ahead_along_the_velocity():
    p = _param([1.0], [1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.5, nesterov=True)
    opt.step()  # v = 1, d = 1 + 0.5 * 1 = 1.5 -> 0.85
    opt.step()  # v = 0.5 + 1 = 1.5, d = 1 + 0.75 = 1.75 -> 0.675
    np.testing.assert_allclose(p.value, [0.675], rtol=1e-14)


def test_sgd_weight_decay_adds_l2_gradient():
    p = _param([2.0], [0.0])
    optim.SGD([p], lr=0.5, weight_decay=0.1).step()
    np.testing.assert_allclose(p.value, [2.0 - 0.5 * 0.2])


def test_adam_first_step_moves_by_lr_times_sign():
    p = _param([1.0, 1.0], [3.0, -0.001])
    optim.Adam([p], lr=0.01, eps=0.0).step()
    np.testing.assert_allclose(p.value, [0.99, 1.01], rtol=1e-12)


def test_adam_two_steps_follow_the_bias_corrected_rule():
    p = _param([0.5], [0.2])
    opt = optim.Adam([p], lr=0.1, betas=(0.8, 0.9), eps=1e-8)
    opt.step()
    p.grad = np.array([-0.4])
    opt.step()
    m1, v1 = 0.2 * 0.2, 0.1 * 0.04
    value = 0.5 - 0.1 / 0.2 * m1 / (math.sqrt(v1) / math.sqrt(0.1) + 1e-8)
    m2, v2 = 0.8 * m1 + 0.2 * -0.4, 0.9 * v1 + 0.1 * 0.16
    value -= 0.1 / (1 - 0.8**2) * m2 / (math.sqrt(v2) / math.sqrt(1 - 0.9**2) + 1e-8)
    np.testing.assert_allclose(p.value, [value], rtol=1e-12)


def test_rmsprop_without_and_with_momentum():
    p = _param([1.0], [2.0])
    optim.RMSprop([p], lr=0.01, alpha=0.9, eps=1e-8).step()
    np.testing.assert_allclose(p.value, [1.0 - 0.01 * 2.0 / (math.sqrt(0.4) + 1e-8)])

    q = _param([1.0], [2.0])
    opt = optim.RMSprop([q], lr=0.01, alpha=0.9, eps=0.0, momentum=0.5)
    opt.step()
    opt.step()
    d1 = 2.0 / math.sqrt(0.4)
    s2 = 0.9 * 0.4 + 0.1 * 4.0
    d2 = 2.0 / math.sqrt(s2)
    np.testing.assert_allclose(q.value, [1.0 - 0.01 * d1 - 0.01 * (0.5 * d1 + d2)])


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
        lambda ps: optim.Adam(ps),
        lambda ps: optim.RMSprop(ps, momentum=0.5),
    ],
)
def test_parameters_without_gradient_are_skipped(make):
    with_grad, without = _param([1.0], [1.0]), _param([5.0])
    make([with_grad, without]).step()
    assert without.value[0] == 5.0
    assert with_grad.value[0] != 1.0


def test_params_may_be_a_generator_and_zero_grad_clears_them():
    layer = Linear(2, 3, rng=0)
    opt = optim.SGD(layer.parameters(), lr=0.1)
    assert len(opt.params) == 2
    layer(np.ones((1, 2)))
    layer.backward(np.ones((1, 3)))
    opt.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None


def test_updates_are_in_place_and_keep_float32():
    layer = Linear(2, 3, rng=0)
    weight = layer.weight.value
    layer(np.ones((4, 2)))
    layer.backward(np.ones((4, 3)))
    grad = layer.weight.grad.copy()
    for opt in (optim.SGD, optim.Adam, optim.RMSprop):
        opt(layer.parameters(), lr=0.1).step()
    assert layer.weight.value is weight
    assert weight.dtype == np.float32
    np.testing.assert_array_equal(layer.weight.grad, grad)


def test_step_hook_receives_new_minus_old_values_and_can_be_removed():
    p, skipped = _param([1.0, 2.0], [1.0, -1.0]), _param([3.0])
    opt = optim.SGD([p, skipped], lr=0.25)
    seen = []
    handle = opt.register_step_hook(lambda o, updates: seen.append((o, updates)))
    opt.step()
    assert len(seen) == 1 and seen[0][0] is opt
    ((param, update),) = seen[0][1]
    assert param is p
    np.testing.assert_allclose(update, [-0.25, 0.25])

    handle.remove()
    handle.remove()
    opt.step()
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda ps: optim.SGD(ps, lr=-1.0), "lr must be a finite number >= 0"),
        (
            lambda ps: optim.SGD(ps, lr=0.1, momentum=1.0),
            r"momentum must lie in \[0, 1\)",
        ),
        (
            lambda ps: optim.SGD(ps, lr=0.1, nesterov=True),
            "nesterov=True needs a momentum",
        ),
        (lambda ps: optim.SGD(ps, lr=float("nan")), "finite"),
        (lambda ps: optim.Adam(ps, betas=(0.9, 1.0)), r"betas\[1\] must lie in"),
        (lambda ps: optim.Adam(ps, betas=0.9), "betas must be a pair"),
        (lambda ps: optim.Adam(ps, eps=-1e-8), "eps must be"),
        (lambda ps: optim.RMSprop(ps, alpha=1.5), r"alpha must lie in"),
        (lambda ps: optim.RMSprop(ps, weight_decay=-0.1), "weight_decay must be"),
    ],
)
def test_bad_hyper_parameters_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make([_param([1.0])])


def test_bad_parameter_lists_are_refused():
    p = _param([1.0])
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="not a gradwatch Parameter"):
        optim.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Parameters"):
        optim.SGD(3, lr=0.1)
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(TypeError, match="lr must be a number"):
        optim.SGD([p], lr="0.1")


def test_gradient_of_the_wrong_shape_is_reported():
    p = _param([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match=r"has shape \(1,\) but its value has \(2,\)"):
        optim.SGD([p], lr=0.1).step()


def test_repr_lists_the_settings():
    assert repr(optim.SGD([_param([1.0])], lr=0.1)).startswith(
        "SGD(1 parameters, lr=0.1"
    )
