"""Tests of the losses in gradwatch.nn.losses."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from gradwatch import numerical_gradient
from gradwatch.nn import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss


def _finite_difference_check(loss_fn, pred, target):
    """The loss's backward against central differences of its forward."""
    loss_fn(pred, target)
    analytic = loss_fn.backward()
    numeric = numerical_gradient(lambda: loss_fn(pred, target), pred)
    scale = max(np.linalg.norm(analytic), np.linalg.norm(numeric))
    assert np.linalg.norm(analytic - numeric) / scale <= 1e-6
    assert analytic.shape == pred.shape and analytic.dtype == pred.dtype


def test_mse_value_is_mean_of_squared_differences(rng):
    pred, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    expected = sum(
        (p - t) ** 2 for p, t in zip(pred.ravel(), target.ravel(), strict=True)
    )
    assert MSELoss()(pred, target) == pytest.approx(expected / 12, rel=1e-12)


def test_mse_backward_matches_finite_differences(rng):
    _finite_difference_check(
        MSELoss(), rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    )


def test_cross_entropy_value_is_mean_negative_log_softmax(rng):
    logits = rng.standard_normal((5, 4))
    target = np.array([0, 3, 1, 1, 2])
    expected = np.mean(
        [
            -math.log(math.exp(z[t]) / sum(math.exp(v) for v in z))
            for z, t in zip(logits, target, strict=True)
        ]
    )
    assert CrossEntropyLoss()(logits, target) == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_backward_matches_finite_differences(rng):
    target = np.array([2, 0, 1, 2])
    _finite_difference_check(CrossEntropyLoss(), rng.standard_normal((4, 3)), target)


def test_cross_entropy_is_stable_for_huge_float32_logits():
    loss_fn = CrossEntropyLoss()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = loss_fn(np.array([[1e8, 1e8]], dtype=np.float32), np.array([1]))
    assert loss == pytest.approx(math.log(2), rel=1e-6)
    grad = loss_fn.backward()
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, [[0.5, -0.5]])


def test_bce_with_logits_value_matches_the_naive_formula(rng):
    x = rng.standard_normal((3, 2))
    y = rng.uniform(0, 1, (3, 2))
    s = 1 / (1 + np.exp(-x))
    expected = np.mean(-(y * np.log(s) + (1 - y) * np.log(1 - s)))
    assert BCEWithLogitsLoss()(x, y) == pytest.approx(expected, rel=1e-12)


def test_bce_with_logits_backward_matches_finite_differences(rng):
    y = (rng.uniform(size=(4, 2)) > 0.5).astype(np.float64)
    _finite_difference_check(BCEWithLogitsLoss(), rng.standard_normal((4, 2)) * 3, y)


def test_bce_with_logits_is_stable_for_huge_logits():
    loss_fn = BCEWithLogitsLoss()
    x = np.array([1000.0, -1000.0, 1000.0, -1000.0], dtype=np.float32)
    y = np.array([1.0, 0.0, 0.0, 1.0], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = loss_fn(x, y)
        grad = loss_fn.backward()
    # Two confident right answers cost 0, two confident wrong ones 1000 each.
    assert loss == pytest.approx(500.0)
    np.testing.assert_allclose(grad, [0.0, 0.0, 0.25, -0.25])


def test_loss_backward_keeps_float32(rng):
    pred = rng.standard_normal((3, 2)).astype(np.float32)
    loss_fn = MSELoss()
    loss_fn(pred, rng.standard_normal((3, 2)))
    assert loss_fn.backward().dtype == np.float32


def test_backward_returns_a_fresh_array_each_time(rng):
    loss_fn = MSELoss()
    loss_fn(rng.standard_normal(3), rng.standard_normal(3))
    first = loss_fn.backward()
    first[...] = 0.0
    assert np.any(loss_fn.backward() != 0.0)


def test_shape_mismatch_is_refused_with_a_hint():
    with pytest.raises(ValueError, match=r"reshape the target"):
        MSELoss()(np.zeros((4, 1)), np.zeros(4))
    with pytest.raises(ValueError, match="differ"):
        BCEWithLogitsLoss()(np.zeros((4, 1)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"targets must have shape \(2,\)"):
        CrossEntropyLoss()(np.zeros((2, 3)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match=r"logits of shape \(N, C\)"):
        CrossEntropyLoss()(np.zeros(3), np.zeros(3, dtype=int))


def test_cross_entropy_refuses_out_of_range_and_non_integer_targets():
    with pytest.raises(IndexError, match="class index 3 is out of range for 3 classes"):
        CrossEntropyLoss()(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(IndexError, match="class index -1"):
        CrossEntropyLoss()(np.zeros((2, 3)), np.array([-1, 0]))
    with pytest.raises(TypeError, match="integer class indices"):
        CrossEntropyLoss()(np.zeros((2, 3)), np.array([0.0, 1.0]))


def test_bce_refuses_targets_outside_zero_one():
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        BCEWithLogitsLoss()(np.zeros(2), np.array([0.0, 2.0]))


def test_backward_before_forward_and_bad_predictions_raise():
    with pytest.raises(RuntimeError, match="compute the loss first"):
        MSELoss().backward()
    with pytest.raises(TypeError, match="float32 or float64"):
        MSELoss()(np.array(["a"]), np.array(["b"]))
    with pytest.raises(ValueError, match="empty"):
        MSELoss()(np.zeros(0), np.zeros(0))
