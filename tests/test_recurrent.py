"""Recurrent cells and layers: exact BPTT, truncation, gradient through time."""

import functools

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import gradwatch
import gradwatch.nn as gnn
from gradwatch.gradcheck import numerical_gradient, relative_error

BATCH, TIME, FEATURES, HIDDEN = 2, 5, 3, 4

# name -> (sequence-layer factory, matching cell factory)
KINDS = {
    "rnn_tanh": (
        functools.partial(gnn.RNN, nonlinearity="tanh"),
        functools.partial(gnn.RNNCell, nonlinearity="tanh"),
    ),
    "rnn_relu": (
        functools.partial(gnn.RNN, nonlinearity="relu"),
        functools.partial(gnn.RNNCell, nonlinearity="relu"),
    ),
    "lstm": (gnn.LSTM, gnn.LSTMCell),
    "gru_cho": (
        functools.partial(gnn.GRU, reset_after=False),
        functools.partial(gnn.GRUCell, reset_after=False),
    ),
    "gru_reset_after": (
        functools.partial(gnn.GRU, reset_after=True),
        functools.partial(gnn.GRUCell, reset_after=True),
    ),
}


def _randomise_biases(layer, rng):
    # Biases start at zero (or 1 for the forget gate); random ones exercise
    # every bias path of the backward pass.
    for parameter in layer.parameters():
        if parameter.name.startswith("bias"):
            parameter.value[...] = rng.uniform(-0.5, 0.5, parameter.shape)


def _make_layer(kind, rng, **kwargs):
    factory = KINDS[kind][0]
    layer = factory(FEATURES, HIDDEN, dtype=np.float64, rng=rng, **kwargs)
    _randomise_biases(layer, rng)
    return layer


def _initial_state(kind, rng):
    h0 = rng.standard_normal((BATCH, HIDDEN))
    if kind == "lstm":
        return (h0, rng.standard_normal((BATCH, HIDDEN)))
    return h0


def _state_arrays(state):
    return list(state) if isinstance(state, tuple) else [state]


def _check_sequence_gradients(layer, kind, x, state, grad_out, grad_final):
    """Finite differences of L = sum(u1 * out) + sum(u2 * h_T) (+ sum(u3 * c_T))."""
    finals = _state_arrays(grad_final)

    def loss():
        out = layer(x, state)
        total = float(np.sum(grad_out * out))
        for upstream, final in zip(
            finals, _state_arrays(layer.final_state), strict=True
        ):
            total += float(np.sum(upstream * final))
        return total

    layer.zero_grad()
    layer(x, state)
    grad_x = layer.backward(grad_out.copy(), grad_final)
    analytic = {"x": grad_x}
    for i, g in enumerate(_state_arrays(layer.grad_initial_state)):
        analytic[f"state{i}"] = g
    for name, parameter in layer.named_parameters():
        analytic[name] = parameter.grad.copy()

    numeric = {"x": numerical_gradient(loss, x)}
    for i, s in enumerate(_state_arrays(state)):
        numeric[f"state{i}"] = numerical_gradient(loss, s)
    for name, parameter in layer.named_parameters():
        numeric[name] = numerical_gradient(loss, parameter.value)

    assert set(analytic) == set(numeric)
    for name in numeric:
        error = relative_error(analytic[name], numeric[name])
        assert error <= 1e-6, f"{kind}: {name} relative error {error:.2e}"


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("kind", list(KINDS))
def test_sequence_layer_gradients_match_finite_differences(kind, return_sequences):
    rng = np.random.default_rng(0)
    layer = _make_layer(kind, rng, return_sequences=return_sequences)
    x = rng.standard_normal((BATCH, TIME, FEATURES))
    state = _initial_state(kind, rng)
    out_shape = (BATCH, TIME, HIDDEN) if return_sequences else (BATCH, HIDDEN)
    grad_out = rng.standard_normal(out_shape)
    grad_final = _initial_state(kind, rng)
    _check_sequence_gradients(layer, kind, x, state, grad_out, grad_final)


def test_lstm_gradients_of_a_loss_on_the_final_cell_state_only():
    rng = np.random.default_rng(1)
    layer = _make_layer("lstm", rng)
    x = rng.standard_normal((BATCH, TIME, FEATURES))
    state = _initial_state("lstm", rng)
    grad_c = rng.standard_normal((BATCH, HIDDEN))

    _check_sequence_gradients(
        layer,
        "lstm",
        x,
        state,
        np.zeros((BATCH, HIDDEN)),
        (np.zeros((BATCH, HIDDEN)), grad_c),
    )
    # A loss on c_T alone still reaches every weight and the input.
    layer.zero_grad()
    layer(x, state)
    grad_x = layer.backward(np.zeros((BATCH, HIDDEN)), (None, grad_c))
    assert np.all(np.abs(grad_x).sum(axis=(0, 2)) > 0)


@pytest.mark.parametrize("kind", list(KINDS))
def test_sequence_layer_without_bias_passes_gradcheck(kind):
    rng = np.random.default_rng(2)
    layer = KINDS[kind][0](FEATURES, HIDDEN, bias=False, dtype=np.float64, rng=rng)
    assert not any(p.name.startswith("bias") for p in layer.parameters())
    x = rng.standard_normal((BATCH, TIME, FEATURES))
    result = gradwatch.gradcheck(layer, x, rng=3)
    assert result.passed, str(result)


# -- cells ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_cell_gradients_match_finite_differences(kind):
    rng = np.random.default_rng(4)
    cell = KINDS[kind][1](FEATURES, HIDDEN, dtype=np.float64, rng=rng)
    _randomise_biases(cell, rng)
    x = rng.standard_normal((BATCH, FEATURES))
    state = _initial_state(kind, rng)
    upstream = _initial_state(kind, rng)

    def loss():
        new = _state_arrays(cell(x, state))
        return sum(
            float(np.sum(u * s))
            for u, s in zip(_state_arrays(upstream), new, strict=True)
        )

    cell.zero_grad()
    cell(x, state)
    grad_x, grad_state = cell.backward(upstream)
    analytic = {"x": grad_x}
    analytic.update({f"s{i}": g for i, g in enumerate(_state_arrays(grad_state))})
    analytic.update({n: p.grad.copy() for n, p in cell.named_parameters()})

    numeric = {"x": numerical_gradient(loss, x)}
    for i, s in enumerate(_state_arrays(state)):
        numeric[f"s{i}"] = numerical_gradient(loss, s)
    for name, parameter in cell.named_parameters():
        numeric[name] = numerical_gradient(loss, parameter.value)

    for name in numeric:
        error = relative_error(analytic[name], numeric[name])
        assert error <= 1e-6, f"{kind} cell: {name} relative error {error:.2e}"


def _copy_weights(source, target):
    for (name, p), (other, q) in zip(
        source.named_parameters(), target.named_parameters(), strict=True
    ):
        assert name == other
        q.value[...] = p.value


@pytest.mark.parametrize("kind", list(KINDS))
def test_sequence_layer_matches_stepping_its_cell(kind):
    rng = np.random.default_rng(5)
    layer = _make_layer(kind, rng, return_sequences=True)
    x = rng.standard_normal((BATCH, TIME, FEATURES))
    state = _initial_state(kind, rng)
    grad_out = rng.standard_normal((BATCH, TIME, HIDDEN))

    # One cell object per step: a cell keeps only its last forward pass.
    cells = [KINDS[kind][1](FEATURES, HIDDEN, dtype=np.float64) for _ in range(TIME)]
    for cell in cells:
        _copy_weights(layer, cell)
    s, outputs = state, []
    for t, cell in enumerate(cells):
        s = cell(x[:, t], s)
        outputs.append(_state_arrays(s)[0])
    np.testing.assert_allclose(
        layer(x, state), np.stack(outputs, axis=1), rtol=1e-12, atol=1e-12
    )

    grad_x = layer.backward(grad_out)
    is_lstm = kind == "lstm"
    grad_s = (np.zeros((BATCH, HIDDEN)),) * 2 if is_lstm else np.zeros((BATCH, HIDDEN))
    grad_x_cells = np.empty_like(x)
    for t in range(TIME - 1, -1, -1):
        if is_lstm:
            grad_s = (grad_s[0] + grad_out[:, t], grad_s[1])
        else:
            grad_s = grad_s + grad_out[:, t]
        grad_x_cells[:, t], grad_s = cells[t].backward(grad_s)
    np.testing.assert_allclose(grad_x, grad_x_cells, rtol=1e-10, atol=1e-12)
    for name, parameter in layer.named_parameters():
        total = sum(dict(c.named_parameters())[name].grad for c in cells)
        np.testing.assert_allclose(parameter.grad, total, rtol=1e-10, atol=1e-12)


def test_gru_formulations_differ_as_computed_by_hand():
    # Hidden size 2, one input feature, one step; small weights written out.
    w_ih = np.array([[0.5, -0.3, 0.2, 0.1, 0.4, -0.6]])
    w_hh = np.array(
        [
            [0.3, -0.2, 0.1, 0.5, -0.4, 0.7],
            [-0.6, 0.2, 0.3, -0.1, 0.8, -0.5],
        ]
    )
    bias = np.array([0.1, -0.1, 0.2, 0.0, -0.3, 0.25])
    bias_hh = np.array([0.05, 0.0, -0.1, 0.15, 0.3, -0.2])
    x = np.array([[1.5]])
    h = np.array([[0.4, -0.7]])

    def sig(v):
        return 1.0 / (1.0 + np.exp(-v))

    pre = x @ w_ih
    r = sig(pre[0, 0:2] + h[0] @ w_hh[:, 0:2] + bias[0:2])
    z = sig(pre[0, 2:4] + h[0] @ w_hh[:, 2:4] + bias[2:4])
    # Cho et al. (2014): the reset gate scales h before W_hn.
    n_cho = np.tanh(pre[0, 4:6] + (r * h[0]) @ w_hh[:, 4:6] + bias[4:6])
    expected_cho = (1 - z) * n_cho + z * h[0]
    # PyTorch: r scales the recurrent product, which has its own bias b_hn.
    r_after = sig(pre[0, 0:2] + bias[0:2] + h[0] @ w_hh[:, 0:2] + bias_hh[0:2])
    z_after = sig(pre[0, 2:4] + bias[2:4] + h[0] @ w_hh[:, 2:4] + bias_hh[2:4])
    n_after = np.tanh(
        pre[0, 4:6] + bias[4:6] + r_after * (h[0] @ w_hh[:, 4:6] + bias_hh[4:6])
    )
    expected_after = (1 - z_after) * n_after + z_after * h[0]

    for reset_after, expected in ((False, expected_cho), (True, expected_after)):
        for layer in (
            gnn.GRUCell(1, 2, reset_after=reset_after, dtype=np.float64),
            gnn.GRU(1, 2, reset_after=reset_after, dtype=np.float64),
        ):
            layer.weight_ih.value[...] = w_ih
            layer.weight_hh.value[...] = w_hh
            layer.bias.value[...] = bias
            if reset_after:
                layer.bias_hh.value[...] = bias_hh
            out = layer(x if isinstance(layer, gnn.GRUCell) else x[:, None], h)
            np.testing.assert_allclose(out[0], expected, rtol=1e-12)
    assert np.max(np.abs(expected_cho - expected_after)) > 1e-2


# -- truncated BPTT ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru_cho", "gru_reset_after"])
def test_truncated_bptt_equals_backpropagating_each_block_separately(kind):
    rng = np.random.default_rng(6)
    time, k = 7, 3
    layer = _make_layer(kind, rng, return_sequences=True, bptt_steps=k)
    reference = _make_layer(kind, rng, return_sequences=True)
    _copy_weights(layer, reference)
    x = rng.standard_normal((BATCH, time, FEATURES))
    state = _initial_state(kind, rng)
    grad_out = rng.standard_normal((BATCH, time, HIDDEN))
    grad_final = _initial_state(kind, rng)

    layer(x, state)
    grad_x = layer.backward(grad_out, grad_final)

    # Reference: blocks [0, 3), [3, 6), [6, 7), each run from the previous
    # block's final state taken as a constant, the final-state gradient
    # going to the last block only.
    grad_x_ref = np.empty_like(x)
    s = state
    grad_initial = None
    for start in range(0, time, k):
        block = slice(start, min(start + k, time))
        reference(x[:, block], s)
        last = block.stop == time
        grad_x_ref[:, block] = reference.backward(
            grad_out[:, block], grad_final if last else None
        )
        if start == 0:
            grad_initial = reference.grad_initial_state
        s = reference.final_state

    np.testing.assert_allclose(grad_x, grad_x_ref, rtol=1e-10, atol=1e-12)
    for got, want in zip(
        _state_arrays(layer.grad_initial_state),
        _state_arrays(grad_initial),
        strict=True,
    ):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    for (name, p), (_, q) in zip(
        layer.named_parameters(), reference.named_parameters(), strict=True
    ):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-10, atol=1e-12, err_msg=name)


def test_truncation_longer_than_the_sequence_is_full_bptt():
    rng = np.random.default_rng(7)
    full = _make_layer("lstm", rng)
    truncated = _make_layer("lstm", rng, bptt_steps=TIME)
    _copy_weights(full, truncated)
    x = rng.standard_normal((BATCH, TIME, FEATURES))
    grad_out = rng.standard_normal((BATCH, HIDDEN))
    full(x)
    truncated(x)
    np.testing.assert_array_equal(full.backward(grad_out), truncated.backward(grad_out))


def test_one_step_truncation_keeps_only_the_direct_path_to_the_last_input():
    # With bptt_steps=1 and a loss on the last output only, the gradient
    # reaches x_{T-1} alone: dL/dx_{T-1} = (u * tanh'(a_{T-1})) W_ih^T.
    rng = np.random.default_rng(8)
    layer = _make_layer("rnn_tanh", rng, bptt_steps=1)
    x = rng.standard_normal((BATCH, TIME, FEATURES))
    u = rng.standard_normal((BATCH, HIDDEN))
    h_last = layer(x)
    grad_x = layer.backward(u)
    expected_last = (u * (1 - h_last**2)) @ layer.weight_ih.value.T
    np.testing.assert_allclose(grad_x[:, -1], expected_last, rtol=1e-12)
    np.testing.assert_array_equal(grad_x[:, :-1], 0.0)
    np.testing.assert_array_equal(layer.grad_initial_state, 0.0)


# -- gradient through time --------------------------------------------------------


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("kind", list(KINDS))
def test_grad_through_time_is_the_mean_norm_of_the_total_hidden_gradient(
    kind, return_sequences
):
    rng = np.random.default_rng(9)
    layer = _make_layer(kind, rng, return_sequences=return_sequences)
    x = rng.standard_normal((BATCH, TIME, FEATURES))
    out_shape = (BATCH, TIME, HIDDEN) if return_sequences else (BATCH, HIDDEN)
    grad_out = rng.standard_normal(out_shape)
    layer(x)
    layer.backward(grad_out)

    # Independent computation: step the cell, then walk back collecting dL/dh_t.
    cells = [KINDS[kind][1](FEATURES, HIDDEN, dtype=np.float64) for _ in range(TIME)]
    s = None
    for t, cell in enumerate(cells):
        _copy_weights(layer, cell)
        s = cell(x[:, t], s)
    grad_h = np.zeros((BATCH, HIDDEN))
    grad_c = np.zeros((BATCH, HIDDEN))
    expected = np.empty(TIME)
    for t in range(TIME - 1, -1, -1):
        if return_sequences:
            grad_h = grad_h + grad_out[:, t]
        elif t == TIME - 1:
            grad_h = grad_h + grad_out
        expected[t] = np.mean([np.sqrt(np.sum(row**2)) for row in grad_h])
        if kind == "lstm":
            _, (grad_h, grad_c) = cells[t].backward((grad_h, grad_c))
        else:
            _, grad_h = cells[t].backward(grad_h)

    assert layer.grad_through_time.dtype == np.float64
    assert layer.grad_through_time.shape == (TIME,)
    np.testing.assert_allclose(layer.grad_through_time, expected, rtol=1e-10)


def test_grad_through_time_survives_float32_squares_that_overflow():
    # With bptt_steps=1 the gradient reaching h_t is the output gradient at t
    # alone; at 1e25 its squares overflow float32, not the float64 result.
    rng = np.random.default_rng(16)
    layer = gnn.RNN(FEATURES, HIDDEN, return_sequences=True, bptt_steps=1, rng=rng)
    layer(rng.standard_normal((BATCH, TIME, FEATURES)))
    grad_out = (rng.standard_normal((BATCH, TIME, HIDDEN)) * 1e25).astype(np.float32)
    layer.backward(grad_out)
    expected = np.linalg.norm(grad_out.astype(np.float64), axis=2).mean(axis=0)
    np.testing.assert_allclose(layer.grad_through_time, expected, rtol=1e-6)


def test_grad_through_time_vanishes_for_a_small_recurrent_matrix():
    rng = np.random.default_rng(10)
    layer = gnn.RNN(
        FEATURES,
        HIDDEN,
        recurrent_init=functools.partial(gradwatch.init.orthogonal, gain=0.3),
        dtype=np.float64,
        rng=rng,
    )
    layer(rng.standard_normal((BATCH, 20, FEATURES)))
    layer.backward(rng.standard_normal((BATCH, HIDDEN)))
    # Each step back multiplies the gradient by tanh' * W_hh^T, of norm <= 0.3.
    ratios = layer.grad_through_time[:-1] / layer.grad_through_time[1:]
    assert np.all(ratios <= 0.3 + 1e-12)


# -- parameters, dtypes, Sequential -----------------------------------------------


def test_lstm_forget_gate_bias_starts_at_one_and_is_configurable():
    default = gnn.LSTM(FEATURES, HIDDEN, rng=0)
    bias = default.bias.value
    np.testing.assert_array_equal(bias[HIDDEN : 2 * HIDDEN], 1.0)
    np.testing.assert_array_equal(np.delete(bias, np.s_[HIDDEN : 2 * HIDDEN]), 0.0)
    cell = gnn.LSTMCell(FEATURES, HIDDEN, forget_bias=2.5, rng=0)
    np.testing.assert_array_equal(cell.bias.value[HIDDEN : 2 * HIDDEN], 2.5)


@pytest.mark.parametrize(
    ("kind", "gates"), [("rnn_tanh", 1), ("lstm", 4), ("gru_cho", 3)]
)
def test_each_recurrent_gate_block_is_orthogonal_by_default(kind, gates):
    layer = KINDS[kind][0](FEATURES, HIDDEN, dtype=np.float64, rng=0)
    assert layer.weight_ih.shape == (FEATURES, gates * HIDDEN)
    assert layer.weight_hh.shape == (HIDDEN, gates * HIDDEN)
    for g in range(gates):
        block = layer.weight_hh.value[:, g * HIDDEN : (g + 1) * HIDDEN]
        np.testing.assert_allclose(block.T @ block, np.eye(HIDDEN), atol=1e-12)
    # Xavier uniform per block: bound sqrt(6 / (fan_in + fan_out)) of one gate.
    bound = np.sqrt(6.0 / (FEATURES + HIDDEN))
    assert np.max(np.abs(layer.weight_ih.value)) <= bound


def test_initialisers_are_configurable_by_name_or_callable():
    layer = gnn.GRU(
        FEATURES,
        HIDDEN,
        input_init="zeros",
        recurrent_init=functools.partial(gradwatch.init.normal, std=0.01),
        rng=0,
    )
    np.testing.assert_array_equal(layer.weight_ih.value, 0.0)
    assert 0 < np.std(layer.weight_hh.value) < 0.05
    with pytest.raises(ValueError, match="unknown initialiser"):
        gnn.LSTM(FEATURES, HIDDEN, input_init="nope")


def test_same_seed_gives_the_same_weights():
    a = gnn.LSTM(FEATURES, HIDDEN, rng=3)
    b = gnn.LSTM(FEATURES, HIDDEN, rng=3)
    np.testing.assert_array_equal(a.weight_hh.value, b.weight_hh.value)
    np.testing.assert_array_equal(a.weight_ih.value, b.weight_ih.value)


@pytest.mark.parametrize("kind", list(KINDS))
def test_float32_layers_stay_float32(kind):
    rng = np.random.default_rng(11)
    layer = KINDS[kind][0](FEATURES, HIDDEN, return_sequences=True, rng=rng)
    x = rng.standard_normal((BATCH, TIME, FEATURES))
    y = layer(x)
    grad_x = layer.backward(np.ones_like(y, dtype=np.float64))
    assert y.dtype == np.float32 and grad_x.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())
    assert layer.grad_through_time.dtype == np.float64


def test_parameter_gradients_add_up_over_backward_passes():
    rng = np.random.default_rng(12)
    layer = _make_layer("gru_reset_after", rng)
    x = rng.standard_normal((BATCH, TIME, FEATURES))
    u = rng.standard_normal((BATCH, HIDDEN))
    layer(x)
    layer.backward(u)
    once = {n: p.grad.copy() for n, p in layer.named_parameters()}
    layer(x)
    layer.backward(u)
    for name, parameter in layer.named_parameters():
        np.testing.assert_allclose(parameter.grad, 2 * once[name], rtol=1e-12)


def test_lstm_works_inside_sequential_and_passes_gradcheck():
    rng = np.random.default_rng(13)
    model = gnn.Sequential(
        gnn.LSTM(1, 6, dtype=np.float64, rng=rng),
        gnn.Linear(6, 1, dtype=np.float64, rng=rng),
    )
    x = rng.standard_normal((3, 4, 1))
    assert model(x).shape == (3, 1)
    result = gradwatch.gradcheck(model, x, rng=1)
    assert result.passed, str(result)


def test_forward_and_backward_hooks_see_the_layer_once_per_call():
    layer = gnn.GRU(FEATURES, HIDDEN, rng=0)
    seen = []
    layer.register_forward_hook(lambda m, x, y: seen.append(("forward", y.shape)))
    layer.register_backward_hook(lambda m, g, gi: seen.append(("backward", gi.shape)))
    layer(np.zeros((BATCH, TIME, FEATURES)))
    layer.backward(np.ones((BATCH, HIDDEN)))
    assert seen == [("forward", (BATCH, HIDDEN)), ("backward", (BATCH, TIME, FEATURES))]


def test_final_state_is_the_last_output_and_is_not_aliased():
    rng = np.random.default_rng(14)
    layer = gnn.LSTM(FEATURES, HIDDEN, return_sequences=True, rng=rng)
    y = layer(rng.standard_normal((BATCH, TIME, FEATURES)))
    h, c = layer.final_state
    np.testing.assert_array_equal(h, y[:, -1])
    y[...] = 0
    assert np.any(layer.final_state[0] != 0)
    assert c.shape == (BATCH, HIDDEN)


# -- errors -----------------------------------------------------------------------


def test_bad_inputs_raise_clear_errors():
    layer = gnn.LSTM(FEATURES, HIDDEN)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((BATCH, HIDDEN)))
    with pytest.raises(ValueError, match=r"\(batch, time, input_size=3\)"):
        layer(np.zeros((BATCH, FEATURES)))
    with pytest.raises(ValueError, match=r"\(batch, time, input_size=3\)"):
        layer(np.zeros((BATCH, TIME, FEATURES + 1)))
    with pytest.raises(ValueError, match="batch and time >= 1"):
        layer(np.zeros((BATCH, 0, FEATURES)))
    with pytest.raises(TypeError, match=r"tuple \(h, c\)"):
        layer(np.zeros((BATCH, TIME, FEATURES)), np.zeros((BATCH, HIDDEN)))
    with pytest.raises(
        ValueError, match="initial_state\\[1\\] \\(c\\) must have shape"
    ):
        layer(np.zeros((BATCH, TIME, FEATURES)), (None, np.zeros((BATCH, 1))))
    layer(np.zeros((BATCH, TIME, FEATURES)))
    with pytest.raises(ValueError, match="grad_out of shape"):
        layer.backward(np.zeros((BATCH, TIME, HIDDEN)))

    with pytest.raises(TypeError, match="not a tuple"):
        gnn.GRU(FEATURES, HIDDEN)(np.zeros((1, 2, FEATURES)), (None, None))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        gnn.RNN(FEATURES, HIDDEN, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="bptt_steps must be a positive integer"):
        gnn.RNN(FEATURES, HIDDEN, bptt_steps=0)
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        gnn.GRU(FEATURES, 0)
    with pytest.raises(ValueError, match="one time step of shape"):
        gnn.RNNCell(FEATURES, HIDDEN)(np.zeros((BATCH, TIME, FEATURES)))
    with pytest.raises(RuntimeError, match="before forward"):
        gnn.GRUCell(FEATURES, HIDDEN).backward(np.zeros((BATCH, HIDDEN)))


# -- training ---------------------------------------------------------------------


def _sgd_step(parameters, lr):
    for parameter in parameters:
        parameter.value -= lr * parameter.grad


@pytest.mark.parametrize("kind", list(KINDS))
def test_repeated_training_steps_on_new_batches_reduce_the_loss(kind):
    # Predict the mean of each sequence's first channel; six plain SGD steps,
    # each on a fresh batch, must all run and lower the loss on a fixed batch.
    rng = np.random.default_rng(15)
    model = gnn.Sequential(
        KINDS[kind][0](2, 8, rng=rng, dtype=np.float64),
        gnn.Linear(8, 1, rng=rng, dtype=np.float64),
    )
    x_eval = rng.uniform(-1, 1, (64, 7, 2))

    def eval_loss():
        return float(np.mean((model(x_eval) - x_eval[:, :, :1].mean(axis=1)) ** 2))

    before = eval_loss()
    for _ in range(6):
        x = rng.uniform(-1, 1, (16, 7, 2))
        target = x[:, :, :1].mean(axis=1)
        model.zero_grad()
        diff = model(x) - target
        model.backward(2 * diff / diff.size)
        assert all(np.all(np.isfinite(p.grad)) for p in model.parameters())
        _sgd_step(model.parameters(), lr=0.1)
    assert eval_loss() < before


def _adding_problem(rng, batch, time):
    values = rng.uniform(0, 1, (batch, time))
    markers = np.zeros((batch, time))
    for row in range(batch):
        first = rng.integers(0, time // 2)
        second = rng.integers(time // 2, time)
        markers[row, [first, second]] = 1.0
    x = np.stack([values, markers], axis=2)
    target = np.sum(values * markers, axis=1, keepdims=True)
    return x, target


def test_lstm_learns_the_adding_problem_well_below_the_baseline():
    # Hochreiter & Schmidhuber (1997): predicting 1 (the mean of the sum)
    # everywhere gives an MSE of 1/6 = 0.167.
    rng = np.random.default_rng(0)
    time = 30
    model = gnn.Sequential(gnn.LSTM(2, 32, rng=1), gnn.Linear(32, 1, rng=2))
    optimizer = gradwatch.optim.Adam(model.parameters(), lr=1e-2)
    loss = gnn.MSELoss()
    # These matrices are tiny: one BLAS thread is faster, and on a busy
    # machine a second, spinning thread can make the loop 20 times slower.
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(400):
            x, target = _adding_problem(rng, 64, time)
            optimizer.zero_grad()
            loss.forward(model(x), target)
            model.backward(loss.backward())
            optimizer.step()

    x, target = _adding_problem(np.random.default_rng(123), 512, time)
    mse = float(np.mean((model(x) - target) ** 2))
    assert mse < 0.05, f"held-out MSE {mse:.3f}"
