"""Tests of the weight initialisers in gradwatch.init."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from gradwatch import init

NAMED = ["xavier_normal", "xavier_uniform", "he_normal", "he_uniform", "lecun_normal"]


def test_fans_of_a_one_dimensional_shape_raise_clear_error():
    with pytest.raises(ValueError, match="at least 2 axes"):
        init.fans((5,))
    with pytest.raises(ValueError, match="at least 2 axes"):
        init.xavier_uniform((5,))


def test_fans_read_in_out_layout_and_multiply_receptive_field():
    assert init.fans((3, 7)) == (3, 7)
    assert init.fans((3, 7, 2, 5)) == (30, 70)


def test_negative_shape_is_refused():
    with pytest.raises(ValueError, match="negative"):
        init.normal((2, -1))


@pytest.mark.parametrize(
    ("name", "expected_std"),
    [
        ("xavier_normal", math.sqrt(2 / (400 + 600))),
        ("xavier_uniform", math.sqrt(6 / (400 + 600)) / math.sqrt(3)),
        ("he_normal", math.sqrt(2 / 400)),
        ("he_uniform", math.sqrt(2 / 400)),
        ("lecun_normal", math.sqrt(1 / 400)),
    ],
)
def test_large_sample_std_matches_formula(name, expected_std):
    w = init.get(name)((400, 600), dtype=np.float64, rng=0)
    # 240,000 samples: the sample std is within 1% of the true one.
    assert w.std() == pytest.approx(expected_std, rel=0.01)
    assert abs(w.mean()) < 0.01 * expected_std * 10


def test_uniform_initialisers_stay_within_their_bound():
    bound = math.sqrt(6 / (30 + 50))
    w = init.xavier_uniform((30, 50), dtype=np.float64, rng=1)
    assert np.abs(w).max() <= bound


@pytest.mark.parametrize(
    ("name", "param", "expected"),
    [
        ("linear", None, 1.0),
        ("identity", None, 1.0),
        ("sigmoid", None, 1.0),
        ("tanh", None, 5 / 3),
        ("relu", None, math.sqrt(2)),
        ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))),
        ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
        ("selu", None, 0.75),
    ],
)
def test_calculate_gain_values(name, param, expected):
    assert init.calculate_gain(name, param) == pytest.approx(expected, rel=1e-15)


def test_calculate_gain_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown nonlinearity 'swish'"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("shape", [(6, 6), (8, 5), (5, 8)])
def test_orthogonal_has_orthonormal_rows_or_columns(shape):
    q = init.orthogonal(shape, dtype=np.float64, rng=3)
    rows, cols = shape
    if rows >= cols:
        np.testing.assert_allclose(q.T @ q, np.eye(cols), atol=1e-12)
    else:
        np.testing.assert_allclose(q @ q.T, np.eye(rows), atol=1e-12)


def test_orthogonal_applies_the_sign_correction():
    # gaussian = Q R for the same draw; with the sign correction, R = Q^T gaussian
    # is upper triangular with a positive diagonal.
    gaussian = np.random.default_rng(5).standard_normal((6, 4))
    q = init.orthogonal((6, 4), dtype=np.float64, rng=5)
    r = q.T @ gaussian
    np.testing.assert_allclose(np.tril(r, -1), 0.0, atol=1e-12)
    assert np.all(np.diag(r) > 0)
    np.testing.assert_allclose(q @ r, gaussian, atol=1e-12)


def test_orthogonal_gain_scales_the_matrix():
    q = init.orthogonal((5, 5), gain=2.0, dtype=np.float64, rng=0)
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(5), atol=1e-12)


@pytest.mark.parametrize("name", [*NAMED, "orthogonal", "normal", "uniform"])
def test_same_seed_gives_bit_identical_weights_and_float32_is_rounded_float64(name):
    f = init.get(name)
    a = f((20, 30), rng=7)
    b = f((20, 30), rng=7)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        a, f((20, 30), dtype=np.float64, rng=7).astype(np.float32)
    )


def test_he_fan_out_mode_and_leaky_slope():
    w = init.he_normal((300, 500), mode="fan_out", dtype=np.float64, rng=0)
    assert w.std() == pytest.approx(math.sqrt(2 / 500), rel=0.02)
    w = init.he_normal(
        (500, 300),
        nonlinearity="leaky_relu",
        negative_slope=0.5,
        dtype=np.float64,
        rng=0,
    )
    assert w.std() == pytest.approx(math.sqrt(2 / 1.25 / 500), rel=0.02)
    with pytest.raises(ValueError, match="mode must be"):
        init.he_normal((3, 3), mode="fan")


def test_get_resolves_names_and_callables_and_rejects_unknown():
    assert init.get("Glorot_Uniform") is init.xavier_uniform
    small = functools.partial(init.normal, std=0.01)
    assert init.get(small) is small
    with pytest.raises(ValueError, match="unknown initialiser"):
        init.get("magic")


def test_zeros_and_bad_scales():
    assert not init.zeros((3, 2)).any()
    with pytest.raises(ValueError, match="std must be non-negative"):
        init.normal((2, 2), std=-1.0)
    with pytest.raises(ValueError, match="bound must be non-negative"):
        init.uniform((2, 2), bound=-1.0)


def test_bad_rng_and_dtype_are_refused():
    with pytest.raises(TypeError, match="rng must be"):
        init.normal((2, 2), rng="seed")
    with pytest.raises(TypeError, match="float32 or float64"):
        init.normal((2, 2), dtype=np.int64)


def test_describe_names_partial_initialisers_with_their_keywords():
    from functools import partial

    from gradwatch.nn import Linear

    assert init.describe("he_normal") == "he_normal"
    assert init.describe(init.orthogonal) == "orthogonal"
    assert init.describe(partial(init.normal, std=0.1)) == "normal(std=0.1)"
    layer = Linear(3, 2, init=partial(init.normal, std=0.1), rng=0)
    assert layer.init_name == "normal(std=0.1)"
