"""Tests of gradwatch.theory: mean-field q*, chi1, depth scales and predict()."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from scipy import integrate
from scipy.special import erf, expit

from gradwatch import init, nn, theory
from gradwatch.monitor import GradientMonitor

# The activations and their slopes, written here independently of the engine.
SQRT2 = math.sqrt(2.0)
PHI = {
    "tanh": (np.tanh, lambda x: 1.0 - np.tanh(x) ** 2),
    "sigmoid": (expit, lambda x: expit(x) * (1.0 - expit(x))),
    "relu": (lambda x: max(x, 0.0), lambda x: 1.0 if x > 0 else 0.0),
    "leaky_relu": (
        lambda x: x if x > 0 else 0.01 * x,
        lambda x: 1.0 if x > 0 else 0.01,
    ),
    "elu": (
        lambda x: x if x > 0 else math.expm1(x),
        lambda x: 1.0 if x > 0 else math.exp(x),
    ),
    "gelu": (
        lambda x: x * 0.5 * (1 + erf(x / SQRT2)),
        lambda x: (
            0.5 * (1 + erf(x / SQRT2))
            + x * math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
        ),
    ),
    "softsign": (lambda x: x / (1 + abs(x)), lambda x: 1.0 / (1 + abs(x)) ** 2),
}


def gaussian_mean(f, q: float) -> float:
    """E[f(sqrt(q) z)], z ~ N(0, 1), by adaptive quadrature (split at the kink)."""

    def integrand(z):
        return f(math.sqrt(q) * z) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    left = integrate.quad(integrand, -np.inf, 0, epsabs=1e-13, epsrel=1e-12)[0]
    right = integrate.quad(integrand, 0, np.inf, epsabs=1e-13, epsrel=1e-12)[0]
    return left + right


@pytest.mark.parametrize("weight_var", [0.5, 1.0, 2.0, 3.0])
@pytest.mark.parametrize("bias_var", [0.0, 0.1])
def test_relu_chi1_is_half_the_weight_variance(weight_var, bias_var):
    assert theory.chi1("relu", weight_var, bias_var) == pytest.approx(
        weight_var / 2, rel=1e-12
    )


def test_he_initialisation_is_critical_for_relu_and_xavier_halves_the_gradient():
    assert theory.chi1("relu", 2.0) == pytest.approx(1.0, rel=1e-12)
    assert theory.depth_scale("relu", 2.0) == math.inf
    assert theory.chi1("relu", 1.0) == pytest.approx(0.5, rel=1e-12)
    assert theory.depth_scale("relu", 1.0) == pytest.approx(1 / math.log(2), rel=1e-12)


def test_tanh_edge_of_chaos_at_bias_variance_005_is_near_176():
    # Schoenholz et al. (2017), Fig. 1: the critical line passes through
    # sigma_w^2 ~ 1.76 at sigma_b^2 = 0.05.
    critical = theory.critical_weight_var("tanh", 0.05)
    assert critical == pytest.approx(1.76, abs=0.02)
    assert theory.chi1("tanh", 1.76, 0.05) == pytest.approx(1.0, abs=2e-3)
    assert theory.chi1("tanh", 1.0, 0.05) < 1 < theory.chi1("tanh", 3.0, 0.05)


@pytest.mark.parametrize("activation", sorted(PHI))
@pytest.mark.parametrize("weight_var,bias_var", [(1.0, 0.05), (1.5, 0.3)])
def test_q_star_satisfies_its_fixed_point_equation(activation, weight_var, bias_var):
    phi, _ = PHI[activation]
    q = theory.q_star(activation, weight_var, bias_var)
    right_side = weight_var * gaussian_mean(lambda x: phi(x) ** 2, q) + bias_var
    assert math.isfinite(q) and q > 0
    assert right_side == pytest.approx(q, rel=1e-8)


@pytest.mark.parametrize("activation", sorted(PHI))
def test_chi1_matches_an_independent_integral_of_the_slope(activation):
    _, slope = PHI[activation]
    weight_var, bias_var = 1.3, 0.1
    q = theory.q_star(activation, weight_var, bias_var)
    expected = weight_var * gaussian_mean(lambda x: slope(x) ** 2, q)
    assert theory.chi1(activation, weight_var, bias_var) == pytest.approx(
        expected, rel=1e-6
    )


def test_q_star_of_relu_has_the_closed_form_and_diverges_beyond_he():
    # q = sigma_w^2 q / 2 + sigma_b^2  =>  q* = sigma_b^2 / (1 - sigma_w^2 / 2).
    assert theory.q_star("relu", 1.0, 0.1) == pytest.approx(0.2, rel=1e-9)
    assert theory.q_star("relu", 3.0, 0.1) == math.inf
    assert theory.q_star("tanh", 0.5, 0.0) == 0.0


def test_activation_layers_classes_and_names_give_the_same_chi1():
    by_name = theory.chi1("leaky_relu", 1.2, 0.1)
    by_layer = theory.chi1(nn.LeakyReLU(0.01), 1.2, 0.1)
    by_class = theory.chi1(nn.LeakyReLU, 1.2, 0.1)
    assert by_name == pytest.approx(by_layer, rel=1e-14)
    assert by_name == pytest.approx(by_class, rel=1e-14)


def test_depth_scale_and_trainable_depth():
    c = theory.chi1("tanh", 1.0, 0.05)
    assert theory.depth_scale("tanh", 1.0, 0.05) == pytest.approx(-1 / math.log(c))
    assert theory.trainable_depth("tanh", 1.0, 0.05) == pytest.approx(
        6 * theory.depth_scale("tanh", 1.0, 0.05)
    )


@pytest.mark.parametrize(
    "weight_var,bias_var", [(0.0, 0.1), (-1.0, 0.1), (1.0, -0.1), (math.nan, 0.0)]
)
def test_invalid_variances_are_refused(weight_var, bias_var):
    with pytest.raises(ValueError, match="sigma"):
        theory.chi1("tanh", weight_var, bias_var)


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="unknown activation"):
        theory.chi1("swish", 1.0, 0.0)
    with pytest.raises(TypeError, match="activation must be"):
        theory.chi1(3.0, 1.0, 0.0)


def tanh_network(weight_var, bias_var, width, depth, seed):
    rng = np.random.default_rng(seed)
    layers = []
    std = math.sqrt(weight_var / width)
    for i in range(depth):
        linear = nn.Linear(
            width,
            width,
            init=functools.partial(init.normal, std=std),
            dtype=np.float64,
            rng=rng,
        )
        linear.bias.value[:] = rng.normal(0.0, math.sqrt(bias_var), width)
        layers.append(linear)
        if i < depth - 1:
            layers.append(nn.Tanh(dtype=np.float64))
    return nn.Sequential(*layers)


@pytest.mark.parametrize("weight_var", [1.0, 1.76, 3.0])
def test_measured_tanh_gain_matches_chi1_within_ten_percent(weight_var):
    width, depth = 300, 40
    model = tanh_network(weight_var, 0.05, width, depth, seed=3)
    monitor = GradientMonitor(model)
    rng = np.random.default_rng(4)
    out = model(rng.standard_normal((32, width)))
    model.backward(rng.standard_normal(out.shape))

    # Geometric mean over the middle layers, where q has reached q*.
    middle = monitor.gains()[10 : depth - 10]
    measured = math.exp(np.mean(np.log(middle)))
    assert measured == pytest.approx(theory.chi1("tanh", weight_var, 0.05), rel=0.10)


def test_predict_reads_variances_activations_and_gains_of_an_mlp():
    rng = np.random.default_rng(0)
    model = nn.Sequential(
        nn.Linear(50, 50, init="he_normal", rng=rng),
        nn.ReLU(),
        nn.Linear(50, 50, init="he_normal", rng=rng),
        nn.Tanh(),
        nn.Linear(50, 10, rng=rng),
    )
    prediction = theory.predict(model)
    assert prediction.layer_names == ["0.Linear", "2.Linear", "4.Linear"]
    assert prediction.activations == ["relu", "tanh", "linear"]
    for i, index in enumerate((0, 2, 4)):
        w = model[index].weight.value.astype(np.float64)
        assert prediction.weight_var[i] == pytest.approx(w.shape[0] * np.mean(w * w))
    assert prediction.bias_var == pytest.approx(np.zeros(3))
    assert math.isnan(prediction.gain[0])
    # Layer 2.Linear's gain runs through the ReLU after layer 0: E[relu'^2] = 1/2.
    w2 = model[2].weight.value.astype(np.float64)
    assert prediction.gain[1] == pytest.approx(50 * np.mean(w2 * w2) / 2, rel=1e-12)
    # First layer's output variance from unit-variance inputs.
    assert prediction.q[0] == pytest.approx(prediction.weight_var[0])
    assert prediction.gradient_ratio == pytest.approx(
        math.sqrt(prediction.gain[1] * prediction.gain[2])
    )


def test_predict_refuses_layers_it_does_not_cover():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm(4), nn.ReLU(), nn.Linear(4, 1))
    with pytest.raises(ValueError, match="BatchNorm at '1'"):
        theory.predict(model)
    with pytest.raises(ValueError, match="two activations in a row"):
        theory.predict(nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Tanh()))
