"""Tests of gradwatch.clip_grad_norm and gradwatch.clip_grad_value."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradwatch import clip_grad_norm, clip_grad_value
from gradwatch.nn import Parameter


def _params(*grads, dtype=np.float64):
    out = []
    for g in grads:
        p = Parameter(np.zeros(np.shape(g), dtype=dtype), "w")
        p.grad = None if g is None else np.array(g, dtype=dtype)
        out.append(p)
    return out


def test_total_two_norm_is_taken_over_all_gradients_together():
    params = _params([3.0], [[4.0, 0.0]], None)
    total = clip_grad_norm(params, max_norm=100.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_array_equal(params[0].grad, [3.0])  # below the limit: untouched


def test_gradients_above_the_limit_are_scaled_by_max_over_total():
    params = _params([3.0], [4.0])
    total = clip_grad_norm(params, max_norm=1.0)
    assert total == pytest.approx(5.0)
    coefficient = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(params[0].grad, [3.0 * coefficient], rtol=1e-15)
    np.testing.assert_allclose(params[1].grad, [4.0 * coefficient], rtol=1e-15)


def test_infinity_norm_is_the_largest_absolute_entry():
    params = _params([1.0, -7.0], [2.0])
    assert clip_grad_norm(params, max_norm=3.5, norm_type=math.inf) == 7.0
    np.testing.assert_allclose(
        params[0].grad, np.array([1.0, -7.0]) * (3.5 / (7 + 1e-6))
    )


def test_other_p_norms():
    assert clip_grad_norm(_params([3.0], [-4.0]), 100.0, norm_type=1) == pytest.approx(
        7
    )
    expected = (3.0**3 + 4.0**3) ** (1 / 3)
    assert clip_grad_norm(_params([3.0], [-4.0]), 100.0, norm_type=3) == pytest.approx(
        expected
    )


def test_huge_float32_gradients_do_not_overflow_and_are_clipped():
    params = _params([1e20, -1e20], [1e20, 1e20], dtype=np.float32)
    total = clip_grad_norm(params, max_norm=1.0)
    assert total == pytest.approx(2e20, rel=1e-6)
    for p in params:
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(np.abs(p.grad), 0.5, rtol=1e-6)


def test_non_finite_total_raises_and_leaves_gradients_untouched():
    params = _params([1.0, np.nan], [2.0])
    with pytest.raises(FloatingPointError, match="left untouched"):
        clip_grad_norm(params, max_norm=1.0)
    np.testing.assert_array_equal(params[1].grad, [2.0])
    params = _params([np.inf], [2.0])
    with pytest.raises(FloatingPointError, match="error_if_nonfinite=False"):
        clip_grad_norm(params, max_norm=1.0, norm_type=math.inf)
    np.testing.assert_array_equal(params[1].grad, [2.0])


def test_non_finite_total_without_error_is_returned_and_scales_like_pytorch():
    params = _params([np.inf, 1.0], [2.0])
    assert clip_grad_norm(params, 1.0, error_if_nonfinite=False) == math.inf
    np.testing.assert_array_equal(params[1].grad, [0.0])
    params = _params([np.nan], [2.0])
    assert math.isnan(clip_grad_norm(params, 1.0, error_if_nonfinite=False))
    assert np.isnan(params[1].grad).all()


def test_no_gradients_gives_zero_and_single_parameter_is_accepted():
    assert clip_grad_norm(_params(None), 1.0) == 0.0
    (p,) = _params([6.0, 8.0])
    assert clip_grad_norm(p, 5.0) == pytest.approx(10.0)
    np.testing.assert_allclose(p.grad, [3.0, 4.0], rtol=1e-6)


def test_clip_grad_norm_refuses_bad_arguments():
    with pytest.raises(ValueError, match="max_norm must be > 0"):
        clip_grad_norm(_params([1.0]), 0.0)
    with pytest.raises(ValueError, match="norm_type must be > 0"):
        clip_grad_norm(_params([1.0]), 1.0, norm_type=0)
    with pytest.raises(TypeError, match="not a gradwatch Parameter"):
        clip_grad_norm([np.zeros(2)], 1.0)
    with pytest.raises(TypeError, match="iterable of Parameters"):
        clip_grad_norm(5, 1.0)


def test_clip_grad_value_clips_each_entry_in_place():
    params = _params([-3.0, 0.5, 2.0], None)
    grad = params[0].grad
    clip_grad_value(params, 1.0)
    assert params[0].grad is grad
    np.testing.assert_array_equal(grad, [-1.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        clip_grad_value(params, -1.0)
