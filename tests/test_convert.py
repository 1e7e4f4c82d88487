"""PyTorch parity of the recurrent layers, through ``gradwatch.nn.from_torch``."""

import sys

import numpy as np
import pytest

import gradwatch.nn as gnn

torch = pytest.importorskip("torch")

BATCH, TIME, FEATURES, HIDDEN = 3, 6, 4, 5


def _torch_double(module):
    torch.manual_seed(0)
    module = module.double()
    # Non-zero biases everywhere, so that every bias path is exercised.
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if "bias" in name:
                parameter.uniform_(-0.5, 0.5)
    return module


def _close(actual, expected, what):
    expected = expected.detach().numpy() if hasattr(expected, "detach") else expected
    scale = max(np.max(np.abs(expected)), 1e-12)
    error = np.max(np.abs(np.asarray(actual) - expected)) / scale
    assert error <= 1e-6, f"{what}: relative difference {error:.2e}"


def _run_parity(torch_module, is_lstm):
    rng = np.random.default_rng(1)
    layer = gnn.from_torch(torch_module)
    x = rng.standard_normal((BATCH, TIME, FEATURES))
    h0 = rng.standard_normal((BATCH, HIDDEN))
    c0 = rng.standard_normal((BATCH, HIDDEN))
    grad_y = rng.standard_normal((BATCH, TIME, HIDDEN))
    grad_hn = rng.standard_normal((BATCH, HIDDEN))
    grad_cn = rng.standard_normal((BATCH, HIDDEN))

    tx = torch.tensor(x, requires_grad=True)
    th0 = torch.tensor(h0[None], requires_grad=True)
    tc0 = torch.tensor(c0[None], requires_grad=True)
    if is_lstm:
        ty, (thn, tcn) = torch_module(tx, (th0, tc0))
        loss = (
            (ty * torch.tensor(grad_y)).sum()
            + (thn[0] * torch.tensor(grad_hn)).sum()
            + (tcn[0] * torch.tensor(grad_cn)).sum()
        )
    else:
        ty, thn = torch_module(tx, th0)
        loss = (ty * torch.tensor(grad_y)).sum() + (
            thn[0] * torch.tensor(grad_hn)
        ).sum()
    loss.backward()

    if is_lstm:
        y = layer(x, (h0, c0))
        grad_x = layer.backward(grad_y, (grad_hn, grad_cn))
        _close(layer.final_state[0], thn[0], "h_n")
        _close(layer.final_state[1], tcn[0], "c_n")
        _close(layer.grad_initial_state[0], th0.grad[0], "dL/dh_0")
        _close(layer.grad_initial_state[1], tc0.grad[0], "dL/dc_0")
    else:
        y = layer(x, h0)
        grad_x = layer.backward(grad_y, grad_hn)
        _close(layer.final_state, thn[0], "h_n")
        _close(layer.grad_initial_state, th0.grad[0], "dL/dh_0")
    _close(y, ty, "output")
    _close(grad_x, tx.grad, "dL/dx")

    params = dict(torch_module.named_parameters())
    _close(layer.weight_ih.grad, params["weight_ih_l0"].grad.T, "weight_ih")
    _close(layer.weight_hh.grad, params["weight_hh_l0"].grad.T, "weight_hh")
    if isinstance(torch_module, torch.nn.GRU):
        _close(layer.bias.grad, params["bias_ih_l0"].grad, "bias_ih")
        _close(layer.bias_hh.grad, params["bias_hh_l0"].grad, "bias_hh")
    else:
        # Only the sum of PyTorch's two biases matters; both get the same gradient.
        _close(layer.bias.grad, params["bias_ih_l0"].grad, "bias")
        _close(layer.bias.grad, params["bias_hh_l0"].grad, "bias")


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_matches_pytorch_outputs_states_and_gradients(nonlinearity):
    module = _torch_double(
        torch.nn.RNN(FEATURES, HIDDEN, nonlinearity=nonlinearity, batch_first=True)
    )
    _run_parity(module, is_lstm=False)


def test_lstm_matches_pytorch_outputs_states_and_gradients():
    module = _torch_double(torch.nn.LSTM(FEATURES, HIDDEN, batch_first=True))
    _run_parity(module, is_lstm=True)


def test_gru_matches_pytorch_outputs_states_and_gradients():
    module = _torch_double(torch.nn.GRU(FEATURES, HIDDEN, batch_first=True))
    _run_parity(module, is_lstm=False)


def test_from_torch_gru_uses_the_reset_after_formulation():
    layer = gnn.from_torch(torch.nn.GRU(FEATURES, HIDDEN, batch_first=True))
    assert isinstance(layer, gnn.GRU)
    assert layer.reset_after
    assert layer.return_sequences


def test_from_torch_keeps_float32_and_float64():
    torch.manual_seed(0)
    single = gnn.from_torch(torch.nn.LSTM(FEATURES, HIDDEN, batch_first=True))
    double = gnn.from_torch(torch.nn.LSTM(FEATURES, HIDDEN, batch_first=True).double())
    assert single.weight_ih.value.dtype == np.float32
    assert double.weight_hh.value.dtype == np.float64
    assert single.dtype == np.float32 and double.dtype == np.float64


def test_from_torch_float32_lstm_agrees_with_pytorch_to_float32_precision():
    torch.manual_seed(0)
    module = torch.nn.LSTM(FEATURES, HIDDEN, batch_first=True)
    layer = gnn.from_torch(module)
    x = np.random.default_rng(0).standard_normal((BATCH, TIME, FEATURES))
    x = x.astype(np.float32)
    with torch.no_grad():
        expected = module(torch.tensor(x))[0].numpy()
    y = layer(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, expected, atol=1e-5)


def test_from_torch_converts_linear_with_transposed_weight():
    torch.manual_seed(0)
    module = torch.nn.Linear(4, 3).double()
    layer = gnn.from_torch(module)
    x = np.random.default_rng(0).standard_normal((5, 4))
    with torch.no_grad():
        expected = module(torch.tensor(x)).numpy()
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-12)
    assert layer.weight.value.shape == (4, 3)


def test_from_torch_converts_layers_without_bias():
    torch.manual_seed(0)
    module = torch.nn.GRU(FEATURES, HIDDEN, batch_first=True, bias=False).double()
    layer = gnn.from_torch(module)
    assert layer.bias is None and layer.bias_hh is None
    x = np.random.default_rng(0).standard_normal((BATCH, TIME, FEATURES))
    with torch.no_grad():
        expected = module(torch.tensor(x))[0].numpy()
    np.testing.assert_allclose(layer(x), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_layers": 2, "batch_first": True}, "num_layers=2"),
        ({"bidirectional": True, "batch_first": True}, "bidirectional"),
        ({}, "batch_first=False"),
    ],
)
def test_from_torch_refuses_unsupported_recurrent_configurations(kwargs, message):
    module = torch.nn.LSTM(FEATURES, HIDDEN, **kwargs)
    with pytest.raises(ValueError, match=message):
        gnn.from_torch(module)


def test_from_torch_refuses_lstm_projections():
    module = torch.nn.LSTM(FEATURES, HIDDEN, batch_first=True, proj_size=2)
    with pytest.raises(ValueError, match="proj_size"):
        gnn.from_torch(module)


def test_from_torch_refuses_unknown_modules_and_non_modules():
    with pytest.raises(TypeError, match="no gradwatch equivalent"):
        gnn.from_torch(torch.nn.Conv1d(2, 2, 3))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        gnn.from_torch(np.zeros(3))


def test_from_torch_refuses_half_precision():
    module = torch.nn.Linear(2, 2).half()
    with pytest.raises(TypeError, match="float32 and float64"):
        gnn.from_torch(module)


def test_from_torch_without_pytorch_says_how_to_install_it(monkeypatch):
    module = torch.nn.Linear(2, 2)
    # A None entry in sys.modules makes ``import torch`` raise ImportError.
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match="pip install torch"):
        gnn.from_torch(module)
