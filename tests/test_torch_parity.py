"""The engine against PyTorch, in float64, to a tolerance of 1e-6.

Weights are copied across; gradwatch stores a linear weight as
(in_features, out_features), PyTorch as (out_features, in_features), so
weights and their gradients are compared transposed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import gradwatch  # noqa: E402
from gradwatch import init, nn, optim  # noqa: E402

TOL = {"rtol": 1e-6, "atol": 1e-9}
F64 = {"dtype": np.float64}


def _t(array, grad=False):
    return torch.tensor(np.asarray(array), dtype=torch.float64, requires_grad=grad)


def _close(ours, theirs):
    if isinstance(theirs, torch.Tensor):
        theirs = theirs.detach().numpy()
    np.testing.assert_allclose(ours, theirs, **TOL)


def _away_from_kinks(rng, shape):
    x = rng.standard_normal(shape) * 2
    return np.where(np.abs(x) < 0.05, 0.5, x)


# -- layers -------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(bias, rng):
    ours = nn.Linear(4, 3, bias=bias, rng=0, **F64)
    theirs = torch.nn.Linear(4, 3, bias=bias, dtype=torch.float64)
    if bias:
        ours.bias.value[...] = rng.standard_normal(3)
    with torch.no_grad():
        theirs.weight.copy_(_t(ours.weight.value.T))
        if bias:
            theirs.bias.copy_(_t(ours.bias.value))
    x, g = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    tx = _t(x, grad=True)

    y = ours(x)
    ty = theirs(tx)
    ty.backward(_t(g))
    _close(y, ty)
    _close(ours.backward(g), tx.grad)
    _close(ours.weight.grad, theirs.weight.grad.T)
    if bias:
        _close(ours.bias.grad, theirs.bias.grad)


ACTIVATION_PAIRS = [
    (lambda: nn.Identity(**F64), lambda: torch.nn.Identity()),
    (lambda: nn.Sigmoid(**F64), lambda: torch.nn.Sigmoid()),
    (lambda: nn.Tanh(**F64), lambda: torch.nn.Tanh()),
    (lambda: nn.ReLU(**F64), lambda: torch.nn.ReLU()),
    (lambda: nn.LeakyReLU(0.1, **F64), lambda: torch.nn.LeakyReLU(0.1)),
    (lambda: nn.ELU(0.8, **F64), lambda: torch.nn.ELU(0.8)),
    (lambda: nn.GELU(**F64), lambda: torch.nn.GELU(approximate="none")),
    (lambda: nn.Softsign(**F64), lambda: torch.nn.Softsign()),
]


@pytest.mark.parametrize(("make_ours", "make_theirs"), ACTIVATION_PAIRS)
def test_activation_matches_torch(make_ours, make_theirs, rng):
    ours, theirs = make_ours(), make_theirs()
    x, g = _away_from_kinks(rng, (6, 5)), rng.standard_normal((6, 5))
    tx = _t(x, grad=True)
    ty = theirs(tx)
    ty.backward(_t(g))
    _close(ours(x), ty)
    _close(ours.backward(g), tx.grad)


def _batchnorm_pair(rng, features=4, momentum=0.1):
    ours = nn.BatchNorm(features, momentum=momentum, eps=1e-5, **F64)
    ours.weight.value[...] = rng.uniform(0.5, 1.5, features)
    ours.bias.value[...] = rng.standard_normal(features)
    theirs = torch.nn.BatchNorm1d(
        features, momentum=momentum, eps=1e-5, dtype=torch.float64
    )
    with torch.no_grad():
        theirs.weight.copy_(_t(ours.weight.value))
        theirs.bias.copy_(_t(ours.bias.value))
    return ours, theirs


def test_batchnorm_training_matches_torch_outputs_gradients_and_running_stats(rng):
    ours, theirs = _batchnorm_pair(rng, momentum=0.2)
    for _ in range(4):
        x = rng.standard_normal((7, 4)) * 3 + 1
        g = rng.standard_normal((7, 4))
        tx = _t(x, grad=True)
        theirs.zero_grad()
        ours.zero_grad()
        ty = theirs(tx)
        ty.backward(_t(g))
        _close(ours(x), ty)
        _close(ours.backward(g), tx.grad)
        _close(ours.weight.grad, theirs.weight.grad)
        _close(ours.bias.grad, theirs.bias.grad)
    _close(ours.running_mean, theirs.running_mean)
    _close(ours.running_var, theirs.running_var)


def test_batchnorm_eval_matches_torch_after_training_steps(rng):
    ours, theirs = _batchnorm_pair(rng)
    for _ in range(3):
        x = rng.standard_normal((6, 4)) * 2 - 1
        ours(x)
        theirs(_t(x))
    ours.eval()
    theirs.eval()
    x, g = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    tx = _t(x, grad=True)
    ty = theirs(tx)
    ty.backward(_t(g))
    _close(ours(x), ty)
    _close(ours.backward(g), tx.grad)
    _close(ours.weight.grad, theirs.weight.grad)


def test_batchnorm_on_sequences_matches_torch_with_channels_moved(rng):
    # gradwatch normalises (N, L, C) over N and L; torch takes (N, C, L).
    ours, theirs = _batchnorm_pair(rng, features=3)
    x = rng.standard_normal((4, 5, 3))
    tx = _t(x.transpose(0, 2, 1))
    _close(ours(x), theirs(tx).permute(0, 2, 1))
    _close(ours.running_var, theirs.running_var)


def test_small_model_matches_torch_end_to_end(rng):
    ours = nn.Sequential(
        nn.Linear(3, 5, rng=0, **F64),
        nn.BatchNorm(5, **F64),
        nn.Tanh(**F64),
        nn.Residual(nn.Sequential(nn.Linear(5, 5, rng=1, **F64), nn.ReLU(**F64))),
        nn.Linear(5, 2, rng=2, **F64),
    )
    lin = [ours[0], ours[3].block[0], ours[4]]
    tl = [
        torch.nn.Linear(m.in_features, m.out_features, dtype=torch.float64) for m in lin
    ]
    with torch.no_grad():
        for a, b in zip(lin, tl, strict=True):
            b.weight.copy_(_t(a.weight.value.T))
            b.bias.copy_(_t(a.bias.value))
    bn = torch.nn.BatchNorm1d(5, dtype=torch.float64)

    def theirs(x):
        h = torch.tanh(bn(tl[0](x)))
        h = torch.relu(tl[1](h)) + h
        return tl[2](h)

    x, target = rng.standard_normal((6, 3)), np.array([0, 1, 1, 0, 1, 0])
    loss_fn = nn.CrossEntropyLoss()
    loss = loss_fn(ours(x), target)
    ours.backward(loss_fn.backward())
    tx = _t(x, grad=True)
    tloss = torch.nn.functional.cross_entropy(theirs(tx), torch.tensor(target))
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=1e-9)
    for a, b in zip(lin, tl, strict=True):
        _close(a.weight.grad, b.weight.grad.T)
        _close(a.bias.grad, b.bias.grad)


# -- losses -------------------------------------------------------------------


def _loss_parity(ours, theirs, pred, target, torch_target):
    tpred = _t(pred, grad=True)
    tloss = theirs(tpred, torch_target)
    tloss.backward()
    assert ours(pred, target) == pytest.approx(tloss.item(), rel=1e-9)
    _close(ours.backward(), tpred.grad)


def test_mse_loss_matches_torch(rng):
    pred, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    _loss_parity(nn.MSELoss(), torch.nn.MSELoss(), pred, target, _t(target))


def test_cross_entropy_loss_matches_torch(rng):
    pred, target = rng.standard_normal((6, 5)) * 3, rng.integers(0, 5, 6)
    _loss_parity(
        nn.CrossEntropyLoss(),
        torch.nn.CrossEntropyLoss(),
        pred,
        target,
        torch.tensor(target),
    )


def test_bce_with_logits_loss_matches_torch(rng):
    pred, target = rng.standard_normal((5, 2)) * 4, rng.uniform(0, 1, (5, 2))
    _loss_parity(
        nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss(), pred, target, _t(target)
    )


# -- initialisers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "param"),
    [
        ("linear", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
    ],
)
def test_calculate_gain_matches_torch(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(
        torch.nn.init.calculate_gain(name, param), rel=1e-15
    )


@pytest.mark.parametrize("shape", [(3, 7), (7, 3), (2, 5, 3), (4, 6, 3, 2)])
def test_fans_match_torch_on_the_transposed_shape(shape):
    torch_shape = (shape[1], shape[0], *shape[2:])
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(
        torch.empty(torch_shape)
    )
    assert init.fans(shape) == (fan_in, fan_out)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (init.xavier_normal, torch.nn.init.xavier_normal_),
        (init.xavier_uniform, torch.nn.init.xavier_uniform_),
        (
            init.he_normal,
            lambda t: torch.nn.init.kaiming_normal_(t, nonlinearity="relu"),
        ),
        (
            init.he_uniform,
            lambda t: torch.nn.init.kaiming_uniform_(t, nonlinearity="relu"),
        ),
        (
            init.lecun_normal,
            lambda t: torch.nn.init.normal_(t, std=1 / math.sqrt(t.shape[1])),
        ),
    ],
)
def test_initialiser_std_matches_torch(ours, theirs):
    torch.manual_seed(0)
    w = ours((300, 500), **F64, rng=0)
    tw = theirs(torch.empty(500, 300, dtype=torch.float64))
    # 150,000 samples each: both sample stds are within ~0.5% of the truth.
    assert w.std() == pytest.approx(tw.std().item(), rel=0.02)


# -- optimisers ---------------------------------------------------------------


OPTIMISERS = [
    ("sgd", {"lr": 0.1}),
    ("sgd", {"lr": 0.1, "momentum": 0.9}),
    ("sgd", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    ("sgd", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.01}),
    ("adam", {"lr": 0.01}),
    ("adam", {"lr": 0.02, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1}),
    ("rmsprop", {"lr": 0.01}),
    ("rmsprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.7, "weight_decay": 0.05}),
]


@pytest.mark.parametrize(("kind", "settings"), OPTIMISERS)
def test_optimiser_matches_torch_over_several_steps(kind, settings, rng):
    ours_cls = {"sgd": optim.SGD, "adam": optim.Adam, "rmsprop": optim.RMSprop}[kind]
    theirs_cls = {
        "sgd": torch.optim.SGD,
        "adam": torch.optim.Adam,
        "rmsprop": torch.optim.RMSprop,
    }[kind]
    start = rng.standard_normal((3, 4))
    p = nn.Parameter(start.copy(), "w")
    tp = torch.nn.Parameter(_t(start))
    ours, theirs = ours_cls([p], **settings), theirs_cls([tp], **settings)
    for _ in range(6):
        grad = rng.standard_normal((3, 4))
        p.grad = grad.copy()
        tp.grad = _t(grad)
        ours.step()
        theirs.step()
        _close(p.value, tp)


# -- clipping -----------------------------------------------------------------


@pytest.mark.parametrize("norm_type", [2.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, rng):
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(4) * 3]
    params = []
    for g in grads:
        params.append(nn.Parameter(np.zeros_like(g), "w"))
        params[-1].grad = g.copy()
    tparams = [torch.nn.Parameter(_t(np.zeros_like(g))) for g in grads]
    for tp, g in zip(tparams, grads, strict=True):
        tp.grad = _t(g)
    total = gradwatch.clip_grad_norm(params, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type=norm_type)
    assert total == pytest.approx(ttotal.item(), rel=1e-12)
    for p, tp in zip(params, tparams, strict=True):
        _close(p.grad, tp.grad)


def test_clip_grad_value_matches_torch(rng):
    g = rng.standard_normal((4, 5)) * 2
    p = nn.Parameter(np.zeros_like(g), "w")
    p.grad = g.copy()
    tp = torch.nn.Parameter(_t(np.zeros_like(g)))
    tp.grad = _t(g)
    gradwatch.clip_grad_value([p], 0.7)
    torch.nn.utils.clip_grad_value_([tp], 0.7)
    _close(p.grad, tp.grad)
