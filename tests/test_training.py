"""End-to-end training smoke tests of the engine: layers, loss and optimiser."""

from __future__ import annotations

import numpy as np

from gradwatch import clip_grad_norm, nn, optim


def _deep_tanh_mlp(depth: int, width: int, *, batchnorm: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(2, width, rng=0)]
    for i in range(1, depth - 1):
        if batchnorm:
            layers.append(nn.BatchNorm(width))
        layers += [nn.Tanh(), nn.Linear(width, width, rng=i)]
    layers += [nn.Tanh(), nn.Linear(width, 1, rng=depth)]
    return nn.Sequential(*layers)


def _problem(rng, n=64):
    x = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    y = (np.sin(2 * x[:, :1]) + x[:, 1:] ** 2).astype(np.float32)
    return x, y


def test_twenty_layer_tanh_mlp_trains_with_sgd(rng):
    model = _deep_tanh_mlp(20, 16)
    assert sum(isinstance(m, nn.Linear) for m in model) == 20
    x, y = _problem(rng)
    loss_fn = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    losses = []
    for _ in range(150):
        optimizer.zero_grad()
        losses.append(loss_fn(model(x), y))
        model.backward(loss_fn.backward())
        clip_grad_norm(model.parameters(), max_norm=1.0)
        optimizer.step()

    assert np.all(np.isfinite(losses))
    assert np.mean(losses[-10:]) < 0.25 * losses[0]


def test_model_in_eval_mode_gives_identical_outputs_on_two_calls(rng):
    model = _deep_tanh_mlp(20, 8, batchnorm=True)
    x, y = _problem(rng, n=16)
    loss_fn = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(3):
        optimizer.zero_grad()
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        optimizer.step()

    model.eval()
    first = model(x)
    second = model(x)
    assert first is not second
    np.testing.assert_array_equal(first, second)
    # A single sample also works in eval mode and matches its row of the batch
    # (up to float32 rounding: BLAS may sum in another order for one row).
    np.testing.assert_allclose(model(x[:1]), first[:1], rtol=1e-5)
