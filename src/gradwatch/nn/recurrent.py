"""Recurrent layers with exact backpropagation through time: RNN, LSTM and GRU.

Two kinds of layer live here. A *cell* (``RNNCell``, ``LSTMCell``,
``GRUCell``) computes one time step, ``state_t = cell(x_t, state_{t-1})``,
and its backward pass returns the gradients with respect to ``x_t`` and the
previous state; it is written one line per equation and is the reference for
the mathematics. A *sequence layer* (``RNN``, ``LSTM``, ``GRU``, all
subclasses of ``Recurrent``) runs the same equations over a whole sequence
``(batch, time, features)`` with a fused loop, and its backward pass is full
backpropagation through time (BPTT): the gradient reaching the hidden state
h_t is the sum of the gradient from the output at step t and of the gradient
coming back from step t + 1.

Gradient through time
---------------------
After every backward pass a sequence layer sets ``grad_through_time``, a
float64 array of shape ``(T,)``: for each step t the mean over the batch of
the Euclidean norm of dL/dh_t, the *total* gradient reaching h_t (from the
output at t and from all later steps). When it shrinks geometrically towards
t = 0 the gradient vanishes through time; when it grows, it explodes
(Bengio, Simard & Frasconi 1994; Pascanu, Mikolov & Bengio 2013).

Layout
------
Weights are stored as the engine's ``Linear`` stores them, ``y = x @ W``:
``weight_ih`` has shape ``(input_size, G * hidden_size)`` and ``weight_hh``
``(hidden_size, G * hidden_size)``, the transposes of PyTorch's
``weight_ih_l0`` and ``weight_hh_l0``, with the G gate blocks side by side in
PyTorch's order (LSTM: input, forget, cell, output; GRU: reset, update, new).
``bias`` has shape ``(G * hidden_size,)``: PyTorch's ``bias_ih_l0 +
bias_hh_l0`` wherever only their sum matters. The one formulation in which
the recurrent bias acts on its own, ``GRU(reset_after=True)``, keeps it as a
separate parameter ``bias_hh`` (PyTorch's ``bias_hh_l0``), and ``bias`` is
then PyTorch's ``bias_ih_l0``.

References
----------
Elman (1990), "Finding structure in time".
Hochreiter & Schmidhuber (1997), "Long short-term memory".
Gers, Schmidhuber & Cummins (2000), "Learning to forget: continual prediction
with LSTM" (the forget gate).
Cho et al. (2014), "Learning phrase representations using RNN encoder-decoder
for statistical machine translation" (the GRU).
Jozefowicz, Zaremba & Sutskever (2015), "An empirical exploration of recurrent
network architectures" (forget-gate bias 1).
Williams & Peng (1990), "An efficient gradient-based algorithm for on-line
training of recurrent network trajectories" (truncated BPTT).
Saxe, McClelland & Ganguli (2014) (orthogonal recurrent weights).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from .. import init as initializers
from .._validation import as_dtype, as_rng, positive_int
from .module import Module, Parameter

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "GRUCell",
    "LSTMCell",
    "RNNCell",
    "Recurrent",
]

# -- helpers shared by cells and sequence layers -------------------------------


def _sigmoid(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic sigmoid 1 / (1 + exp(-a)), in place when ``out`` is ``a``.

    One exponential and three cheap operations, all in place: NumPy's
    ``exp`` is faster than its ``tanh`` (2 times in float32, 2.7 times in
    float64 on the benchmark machine), which makes this the faster form.
    exp(-a) overflows to inf for very negative a, giving the correct limit 0;
    callers run it under ``np.errstate(over="ignore")``.
    """
    out = np.negative(a, out=out)
    np.exp(out, out=out)
    out += 1
    return np.divide(1, out, out=out)


def _tanh(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """tanh(a) = 2 / (1 + exp(-2a)) - 1, in place when ``out`` is ``a``.

    The same single exponential as ``_sigmoid`` (tanh(a) = 2 sigmoid(2a) - 1)
    and the same overflow to the correct limit, -1.
    """
    out = np.multiply(a, -2, out=out)
    np.exp(out, out=out)
    out += 1
    np.divide(2, out, out=out)
    out -= 1
    return out


def _gate_blocks(spec, rows: int, hidden: int, gates: int, dtype, rng, what: str):
    """A ``(rows, gates * hidden)`` weight whose gate blocks are initialised separately.

    Each ``(rows, hidden)`` block is one gate's weight, so Xavier's fans and
    the orthogonality of a recurrent block are those of a single gate.
    """
    initializer = initializers.get(spec)
    blocks = []
    for g in range(gates):
        block = np.asarray(initializer((rows, hidden), dtype=dtype, rng=rng))
        if block.shape != (rows, hidden):
            raise ValueError(
                f"{what} {initializers.describe(spec)!r} returned shape "
                f"{block.shape} for gate block {g}, expected {(rows, hidden)}"
            )
        blocks.append(block.astype(dtype, copy=False))
    return np.ascontiguousarray(np.concatenate(blocks, axis=1))


def _check_nonlinearity(nonlinearity: str) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(
            f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}; use an "
            "LSTM or GRU for gated recurrences"
        )
    return nonlinearity


def _as_batch_state(value, batch: int, hidden: int, dtype, where: str) -> np.ndarray:
    """Validate one ``(batch, hidden)`` state or state gradient; None means zeros."""
    if value is None:
        return np.zeros((batch, hidden), dtype=dtype)
    array = np.asarray(value)
    if array.shape != (batch, hidden):
        raise ValueError(
            f"{where} must have shape (batch, hidden_size) = {(batch, hidden)}, "
            f"got {array.shape}"
        )
    return array.astype(dtype, copy=True)


def _as_pair(value, where: str) -> tuple:
    """An LSTM state ``(h, c)``: None, or a tuple/list of two arrays (or Nones)."""
    if value is None:
        return (None, None)
    if isinstance(value, tuple | list) and len(value) == 2:
        return tuple(value)
    raise TypeError(
        f"{where} of an LSTM is a tuple (h, c) of two (batch, hidden_size) arrays "
        f"(either may be None), got {type(value).__name__}"
    )


def _mean_norms(grad_h: np.ndarray) -> np.ndarray:
    """Mean over the batch of the Euclidean norm over features: (T, B, H) -> (T,).

    Summed in the working dtype (fast); recomputed in float64 when float32
    squares overflow, as they do for exploding gradients beyond 1e19.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        squares = np.einsum("tbh,tbh->tb", grad_h, grad_h)
        if not np.all(np.isfinite(squares)):
            wide = grad_h.astype(np.float64)
            squares = np.einsum("tbh,tbh->tb", wide, wide)
        return np.sqrt(squares, dtype=np.float64).mean(axis=1)


class _RecurrentParameters(Module):
    """Creates and describes the parameters shared by cells and sequence layers.

    ``gate_count`` (G) is the number of gate blocks: 1 for the plain RNN, 4
    for the LSTM, 3 for the GRU.
    """

    gate_count = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        recurrent_bias: bool,
        input_init,
        recurrent_init,
        dtype,
        rng,
    ) -> None:
        super().__init__()
        self.input_size = positive_int(input_size, "input_size")
        self.hidden_size = positive_int(hidden_size, "hidden_size")
        self.dtype = as_dtype(dtype)
        self.input_init_name = initializers.describe(input_init)
        self.recurrent_init_name = initializers.describe(recurrent_init)
        rng = as_rng(rng)
        G, H = self.gate_count, self.hidden_size

        self.weight_ih = Parameter(
            _gate_blocks(
                input_init, self.input_size, H, G, self.dtype, rng, "input_init"
            ),
            "weight_ih",
        )
        self.weight_hh = Parameter(
            _gate_blocks(recurrent_init, H, H, G, self.dtype, rng, "recurrent_init"),
            "weight_hh",
        )
        self.bias = (
            Parameter(np.zeros(G * H, dtype=self.dtype), "bias") if bias else None
        )
        self.bias_hh = (
            Parameter(np.zeros(G * H, dtype=self.dtype), "bias_hh")
            if bias and recurrent_bias
            else None
        )

    def _check_step_input(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(
                f"{type(self).__name__} takes one time step of shape (batch, "
                f"input_size={self.input_size}), got an array of shape {x.shape}"
            )
        return x

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias is not None}"


# -- cells: one time step, written one line per equation -----------------------


class RNNCell(_RecurrentParameters):
    """One step of the Elman RNN: h' = phi(x W_ih + b + h W_hh).

    Parameters
    ----------
    input_size, hidden_size : int
        Features of x and of the hidden state h.
    nonlinearity : {"tanh", "relu"}
        phi.
    bias : bool
        Whether to learn ``b`` (initialised to zero).
    input_init, recurrent_init : str or callable
        Initialisers (``gradwatch.init`` names or callables ``(shape, *, dtype,
        rng)``) of each gate block of ``weight_ih`` (default Xavier uniform) and
        ``weight_hh`` (default orthogonal).
    dtype : float32 or float64, keyword-only
    rng : numpy.random.Generator or int, keyword-only

    Shapes
    ------
    x: ``(batch, input_size)``; h, h': ``(batch, hidden_size)``;
    ``weight_ih``: ``(input_size, hidden_size)``, ``weight_hh``:
    ``(hidden_size, hidden_size)``, ``bias``: ``(hidden_size,)``.

    ``forward(x, state=None)`` returns h' (a None state is zeros);
    ``backward(grad_h)`` takes dL/dh' and returns ``(dL/dx, dL/dh)``.

    References
    ----------
    Elman (1990), "Finding structure in time".
    """

    gate_count = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        nonlinearity: str = "tanh",
        bias: bool = True,
        *,
        input_init="xavier_uniform",
        recurrent_init="orthogonal",
        dtype=np.float32,
        rng=None,
    ) -> None:
        self.nonlinearity = _check_nonlinearity(nonlinearity)
        super().__init__(
            input_size, hidden_size, bias, False, input_init, recurrent_init, dtype, rng
        )
        self._cache = None

    def forward(self, x, state=None):
        x = self._check_step_input(x)
        h = _as_batch_state(state, len(x), self.hidden_size, self.dtype, "state")

        a = x @ self.weight_ih.value + h @ self.weight_hh.value
        if self.bias is not None:
            a += self.bias.value
        h_new = np.tanh(a) if self.nonlinearity == "tanh" else np.maximum(a, 0)

        self._cache = (x, h, h_new)
        return h_new

    def backward(self, grad_h):
        if self._cache is None:
            raise RuntimeError("RNNCell.backward() was called before forward()")
        x, h, h_new = self._cache
        grad_h_new = np.asarray(grad_h, dtype=self.dtype)

        if self.nonlinearity == "tanh":
            grad_a = grad_h_new * (1 - h_new * h_new)
        else:
            grad_a = np.where(h_new > 0, grad_h_new, 0).astype(self.dtype)

        self.weight_ih.accumulate(x.T @ grad_a)
        self.weight_hh.accumulate(h.T @ grad_a)
        if self.bias is not None:
            self.bias.accumulate(grad_a.sum(axis=0))
        grad_x = grad_a @ self.weight_ih.value.T
        grad_h_prev = grad_a @ self.weight_hh.value.T
        return grad_x, grad_h_prev

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, nonlinearity={self.nonlinearity!r}"


class LSTMCell(_RecurrentParameters):
    """One step of the LSTM with a forget gate (gates in PyTorch's order i, f, g, o).

    With z = x W_ih + h W_hh + b split into four blocks of ``hidden_size``::

        i = sigmoid(z_i)          input gate
        f = sigmoid(z_f)          forget gate
        g = tanh(z_g)             candidate cell
        o = sigmoid(z_o)          output gate
        c' = f * c + i * g
        h' = o * tanh(c')

    The cell state c carries the gradient back through time multiplied only
    by f, which is why the LSTM resists vanishing gradients.

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool
        Whether to learn ``b``. It starts at zero except the forget block.
    forget_bias : float
        Initial value of the forget-gate bias (default 1.0, Jozefowicz et al.
        2015: the cell starts by remembering). Ignored when ``bias=False``.
    input_init, recurrent_init : str or callable
        Initialisers of each gate block (default Xavier uniform / orthogonal).
    dtype : float32 or float64, keyword-only
    rng : numpy.random.Generator or int, keyword-only

    Shapes
    ------
    x: ``(batch, input_size)``; h, c: ``(batch, hidden_size)``;
    ``weight_ih``: ``(input_size, 4 * hidden_size)``, ``weight_hh``:
    ``(hidden_size, 4 * hidden_size)``, ``bias``: ``(4 * hidden_size,)``.

    ``forward(x, state=None)`` takes ``state = (h, c)`` (None, or either part
    None, means zeros) and returns ``(h', c')``; ``backward((grad_h,
    grad_c))`` takes dL/dh' and dL/dc' (either may be None) and returns
    ``(dL/dx, (dL/dh, dL/dc))``.

    References
    ----------
    Hochreiter & Schmidhuber (1997); Gers, Schmidhuber & Cummins (2000);
    Jozefowicz, Zaremba & Sutskever (2015).
    """

    gate_count = 4

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        forget_bias: float = 1.0,
        *,
        input_init="xavier_uniform",
        recurrent_init="orthogonal",
        dtype=np.float32,
        rng=None,
    ) -> None:
        super().__init__(
            input_size, hidden_size, bias, False, input_init, recurrent_init, dtype, rng
        )
        self.forget_bias = float(forget_bias)
        if self.bias is not None:
            H = self.hidden_size
            self.bias.value[H : 2 * H] = self.forget_bias
        self._cache = None

    def forward(self, x, state=None):
        x = self._check_step_input(x)
        h, c = _as_pair(state, "state")
        h = _as_batch_state(h, len(x), self.hidden_size, self.dtype, "state h")
        c = _as_batch_state(c, len(x), self.hidden_size, self.dtype, "state c")
        H = self.hidden_size

        z = x @ self.weight_ih.value + h @ self.weight_hh.value
        if self.bias is not None:
            z += self.bias.value
        i = expit(z[:, :H])
        f = expit(z[:, H : 2 * H])
        g = np.tanh(z[:, 2 * H : 3 * H])
        o = expit(z[:, 3 * H :])
        c_new = f * c + i * g
        tanh_c = np.tanh(c_new)
        h_new = o * tanh_c

        self._cache = (x, h, c, i, f, g, o, tanh_c)
        return h_new, c_new

    def backward(self, grad_state):
        if self._cache is None:
            raise RuntimeError("LSTMCell.backward() was called before forward()")
        x, h, c, i, f, g, o, tanh_c = self._cache
        grad_h_new, grad_c_new = _as_pair(grad_state, "grad_state")
        shape = (len(x), self.hidden_size)
        grad_h_new = _as_batch_state(grad_h_new, *shape, self.dtype, "grad_h")
        grad_c_new = _as_batch_state(grad_c_new, *shape, self.dtype, "grad_c")

        grad_o = grad_h_new * tanh_c
        grad_c_new = grad_c_new + grad_h_new * o * (1 - tanh_c * tanh_c)
        grad_i = grad_c_new * g
        grad_g = grad_c_new * i
        grad_f = grad_c_new * c
        grad_c = grad_c_new * f
        grad_z = np.concatenate(
            [
                grad_i * i * (1 - i),
                grad_f * f * (1 - f),
                grad_g * (1 - g * g),
                grad_o * o * (1 - o),
            ],
            axis=1,
        )

        self.weight_ih.accumulate(x.T @ grad_z)
        self.weight_hh.accumulate(h.T @ grad_z)
        if self.bias is not None:
            self.bias.accumulate(grad_z.sum(axis=0))
        grad_x = grad_z @ self.weight_ih.value.T
        grad_h = grad_z @ self.weight_hh.value.T
        return grad_x, (grad_h, grad_c)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, forget_bias={self.forget_bias}"


class GRUCell(_RecurrentParameters):
    """One step of the gated recurrent unit, in either of its two formulations.

    With the blocks of ``weight_ih`` (W_ir, W_iz, W_in), ``weight_hh``
    (W_hr, W_hz, W_hn) and ``bias`` (b_r, b_z, b_n)::

        r = sigmoid(x W_ir + h W_hr + b_r)                 reset gate
        z = sigmoid(x W_iz + h W_hz + b_z)                 update gate
        n = tanh(x W_in + (r * h) W_hn + b_n)              reset_after=False
        n = tanh(x W_in + b_n + r * (h W_hn + b_hn))       reset_after=True
        h' = (1 - z) * n + z * h

    ``reset_after=False`` is Cho et al. (2014): the reset gate scales the
    previous state *before* the recurrent matrix. ``reset_after=True`` is the
    PyTorch/cuDNN variant: the gate scales the recurrent product, which then
    needs its own bias; it is kept as ``bias_hh`` ``(3 * hidden_size,)``
    (PyTorch's ``bias_hh_l0``; only its last block b_hn differs in effect from
    ``bias``). Both use PyTorch's h' = (1 - z) n + z h.

    Parameters
    ----------
    input_size, hidden_size : int
    reset_after : bool
        Which formulation (see above). Default False (Cho et al. 2014).
    bias : bool
        Whether to learn the biases (initialised to zero).
    input_init, recurrent_init : str or callable
        Initialisers of each gate block (default Xavier uniform / orthogonal).
    dtype : float32 or float64, keyword-only
    rng : numpy.random.Generator or int, keyword-only

    Shapes
    ------
    x: ``(batch, input_size)``; h: ``(batch, hidden_size)``;
    ``weight_ih``: ``(input_size, 3 * hidden_size)``, ``weight_hh``:
    ``(hidden_size, 3 * hidden_size)``.

    ``forward(x, state=None)`` returns h'; ``backward(grad_h)`` returns
    ``(dL/dx, dL/dh)``.

    References
    ----------
    Cho et al. (2014); Chung, Gulcehre, Cho & Bengio (2014), "Empirical
    evaluation of gated recurrent neural networks on sequence modeling".
    """

    gate_count = 3

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        reset_after: bool = False,
        bias: bool = True,
        *,
        input_init="xavier_uniform",
        recurrent_init="orthogonal",
        dtype=np.float32,
        rng=None,
    ) -> None:
        self.reset_after = bool(reset_after)
        super().__init__(
            input_size,
            hidden_size,
            bias,
            self.reset_after,
            input_init,
            recurrent_init,
            dtype,
            rng,
        )
        self._cache = None

    def forward(self, x, state=None):
        x = self._check_step_input(x)
        h = _as_batch_state(state, len(x), self.hidden_size, self.dtype, "state")
        H = self.hidden_size
        W_ih, W_hh = self.weight_ih.value, self.weight_hh.value
        b = self.bias.value if self.bias is not None else 0
        b_hh = self.bias_hh.value if self.bias_hh is not None else 0

        xw = x @ W_ih + b
        if self.reset_after:
            hw = h @ W_hh + b_hh
            r = expit(xw[:, :H] + hw[:, :H])
            z = expit(xw[:, H : 2 * H] + hw[:, H : 2 * H])
            hn = hw[:, 2 * H :]
            n = np.tanh(xw[:, 2 * H :] + r * hn)
        else:
            hw = h @ W_hh[:, : 2 * H]
            r = expit(xw[:, :H] + hw[:, :H])
            z = expit(xw[:, H : 2 * H] + hw[:, H:])
            hn = r * h
            n = np.tanh(xw[:, 2 * H :] + hn @ W_hh[:, 2 * H :])
        h_new = (1 - z) * n + z * h

        # hn is h W_hn + b_hn (reset_after) or r * h (Cho et al.).
        self._cache = (x, h, r, z, n, hn)
        return h_new

    def backward(self, grad_h):
        if self._cache is None:
            raise RuntimeError("GRUCell.backward() was called before forward()")
        x, h, r, z, n, hn = self._cache
        grad_h_new = np.asarray(grad_h, dtype=self.dtype)
        H = self.hidden_size
        W_hh = self.weight_hh.value

        grad_n_pre = grad_h_new * (1 - z) * (1 - n * n)
        grad_z_pre = grad_h_new * (h - n) * z * (1 - z)
        grad_h_prev = grad_h_new * z
        if self.reset_after:
            grad_r_pre = grad_n_pre * hn * r * (1 - r)
            grad_hw = np.concatenate([grad_r_pre, grad_z_pre, grad_n_pre * r], axis=1)
            self.weight_hh.accumulate(h.T @ grad_hw)
            if self.bias_hh is not None:
                self.bias_hh.accumulate(grad_hw.sum(axis=0))
            grad_h_prev = grad_h_prev + grad_hw @ W_hh.T
        else:
            grad_hn = grad_n_pre @ W_hh[:, 2 * H :].T
            grad_r_pre = grad_hn * h * r * (1 - r)
            grad_rz = np.concatenate([grad_r_pre, grad_z_pre], axis=1)
            self.weight_hh.accumulate(
                np.concatenate([h.T @ grad_rz, hn.T @ grad_n_pre], axis=1)
            )
            grad_h_prev = grad_h_prev + grad_hn * r + grad_rz @ W_hh[:, : 2 * H].T
        grad_xw = np.concatenate([grad_r_pre, grad_z_pre, grad_n_pre], axis=1)

        self.weight_ih.accumulate(x.T @ grad_xw)
        if self.bias is not None:
            self.bias.accumulate(grad_xw.sum(axis=0))
        grad_x = grad_xw @ self.weight_ih.value.T
        return grad_x, grad_h_prev

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, reset_after={self.reset_after}"


# -- sequence layers: fused loops over time -------------------------------------


class Recurrent(_RecurrentParameters):
    """Base class of the sequence layers ``RNN``, ``LSTM`` and ``GRU``.

    It validates inputs, computes the input projection of every time step
    with one matrix product ``(T * B, F) @ (F, G * H)``, keeps the sequence
    time-major (``(T, B, ...)``, so that one step is one block of rows), and
    turns the gate gradients of the whole sequence into the gradients of the
    weights, the bias and the input with one matrix product each: no weight
    gradient is accumulated step by step. A subclass writes the loop over
    time (``_run_forward`` and ``_run_backward``) with the same equations as
    its cell, in buffers allocated once per pass.

    Truncated BPTT (``bptt_steps=k``): the steps are split into blocks
    [0, k), [k, 2k), ...; at the first step t of each block after the first
    (t a positive multiple of k) the gradient is not passed from the state at
    t back to the state at t - 1 (h, and c for the LSTM). The gradient of an
    output at step t therefore reaches steps t, t - 1, ... back to the start
    of its block: between 1 and k steps. This is what detaching the state
    every k steps does in PyTorch. The forward pass is unchanged, the
    gradient with respect to the initial state comes from the first block
    only, and ``grad_final_state`` reaches the last block only. None (the
    default) is full BPTT.

    Shapes
    ------
    x: ``(batch, time, input_size)``; output: ``(batch, time, hidden_size)``
    with ``return_sequences=True``, else the last step ``(batch,
    hidden_size)``; states: ``(batch, hidden_size)``.

    Attributes
    ----------
    final_state : ndarray or tuple
        After forward: h_T, or ``(h_T, c_T)`` for the LSTM (copies).
    grad_initial_state : ndarray or tuple
        After backward: dL/dh_0, or ``(dL/dh_0, dL/dc_0)`` for the LSTM.
    grad_through_time : ndarray, float64, shape ``(time,)``
        After backward: the mean over the batch of ||dL/dh_t||_2, the total
        gradient reaching the hidden state of step t (see the module notes).
    """

    #: Number of state arrays: 1 (h) or 2 (h, c).
    state_size = 1
    #: Whether dL/d(h W_hh) equals dL/d(x W_ih + b), so one product gives both.
    _shares_gate_gradients = True

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        recurrent_bias: bool,
        return_sequences: bool,
        bptt_steps: int | None,
        input_init,
        recurrent_init,
        dtype,
        rng,
    ) -> None:
        super().__init__(
            input_size,
            hidden_size,
            bias,
            recurrent_bias,
            input_init,
            recurrent_init,
            dtype,
            rng,
        )
        self.return_sequences = bool(return_sequences)
        self.bptt_steps = (
            None if bptt_steps is None else positive_int(bptt_steps, "bptt_steps")
        )
        self.final_state = None
        self.grad_initial_state = None
        self.grad_through_time: np.ndarray | None = None
        self._xh: np.ndarray | None = None

    # -- input checks ------------------------------------------------------------

    def _check_sequence(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 3 or x.shape[2] != self.input_size or 0 in x.shape:
            raise ValueError(
                f"{type(self).__name__} takes sequences of shape (batch, time, "
                f"input_size={self.input_size}) with batch and time >= 1, got an "
                f"array of shape {x.shape}"
            )
        return x

    def _states(self, value, batch: int, where: str) -> tuple[np.ndarray, ...]:
        H = self.hidden_size
        if self.state_size == 2:
            h, c = _as_pair(value, where)
            return (
                _as_batch_state(h, batch, H, self.dtype, f"{where}[0] (h)"),
                _as_batch_state(c, batch, H, self.dtype, f"{where}[1] (c)"),
            )
        if isinstance(value, tuple | list):
            raise TypeError(
                f"{where} of {type(self).__name__} is one (batch, hidden_size) "
                "array, not a tuple"
            )
        return (_as_batch_state(value, batch, H, self.dtype, where),)

    def _cut_before(self, t: int) -> bool:
        """Whether truncated BPTT stops the gradient from step t going to t - 1."""
        k = self.bptt_steps
        return k is not None and t > 0 and t % k == 0

    # -- forward and backward ----------------------------------------------------

    def forward(self, x, initial_state=None):
        """Run the sequence; return all hidden states or the last one.

        Parameters
        ----------
        x : ndarray, shape ``(batch, time, input_size)``
        initial_state : ndarray or tuple, optional
            h_0 ``(batch, hidden_size)``, or ``(h_0, c_0)`` for the LSTM; None
            (or a None part) means zeros.

        Returns
        -------
        ndarray
            ``(batch, time, hidden_size)`` if ``return_sequences`` else
            ``(batch, hidden_size)``. ``final_state`` is set as well.
        """
        x = self._check_sequence(x)
        B, T, F = x.shape
        H = self.hidden_size
        states = self._states(initial_state, B, "initial_state")

        xs = np.ascontiguousarray(x.transpose(1, 0, 2))
        W_ih, b = self._projection()
        gates = (xs.reshape(T * B, F) @ W_ih).reshape(T, B, -1)
        if b is not None:
            gates += b

        # Row t of xh holds [x_t, h_{t-1}] (row T: [0, h_T]): the inputs of step
        # t side by side, so that backward gets the gradients of weight_ih and
        # weight_hh from one matrix product with the gate gradients.
        xh = np.empty((T + 1, B, F + H), dtype=self.dtype)
        xh[:T, :, :F] = xs
        xh[T, :, :F] = 0
        h = xh[:, :, F:]
        h[0] = states[0]
        with np.errstate(over="ignore"):
            self._run_forward(gates, h, states)

        self._xh = xh
        if self.return_sequences:
            return np.ascontiguousarray(h[1:].transpose(1, 0, 2))
        return h[T].copy()

    def backward(self, grad_out, grad_final_state=None):
        """Full (or truncated) backpropagation through time.

        Parameters
        ----------
        grad_out : ndarray
            dL/d(output): ``(batch, time, hidden_size)`` with
            ``return_sequences``, else ``(batch, hidden_size)``.
        grad_final_state : ndarray or tuple, optional
            dL/dh_T, or ``(dL/dh_T, dL/dc_T)`` for the LSTM (either may be
            None), for a loss that also depends on ``final_state``.

        Returns
        -------
        ndarray, shape ``(batch, time, input_size)``
            dL/dx. Parameter gradients are accumulated, and
            ``grad_initial_state`` and ``grad_through_time`` are set.
        """
        if self._xh is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward() was called before forward()"
            )
        xh = self._xh
        H = self.hidden_size
        T, B, F = xh.shape[0] - 1, xh.shape[1], self.input_size

        expected = (B, T, H) if self.return_sequences else (B, H)
        grad_out = np.asarray(grad_out)
        if grad_out.shape != expected:
            raise ValueError(
                f"{type(self).__name__}.backward expects grad_out of shape {expected} "
                f"(the shape of its output), got {grad_out.shape}"
            )
        if self.return_sequences:
            grad_h = np.ascontiguousarray(grad_out.transpose(1, 0, 2), dtype=self.dtype)
        else:
            grad_h = np.zeros((T, B, H), dtype=self.dtype)
            grad_h[T - 1] = grad_out
        final = self._states(grad_final_state, B, "grad_final_state")
        grad_h[T - 1] += final[0]

        # grad_h[t] becomes the total gradient reaching h_t as the loop goes back.
        grad_gates, grad_initial = self._run_backward(grad_h, final[1:])
        self.grad_through_time = _mean_norms(grad_h)

        flat = grad_gates.reshape(T * B, -1)
        if self._shares_gate_gradients:
            both = xh[:T].reshape(T * B, F + H).T @ flat
            self.weight_ih.accumulate(both[:F])
            self.weight_hh.accumulate(both[F:])
        else:
            xs = xh[:T, :, :F].reshape(T * B, F)
            self.weight_ih.accumulate(xs.T @ flat)
        if self.bias is not None:
            self.bias.accumulate(flat.sum(axis=0))
        grad_x = (flat @ self.weight_ih.value.T).reshape(T, B, F)

        self.grad_initial_state = (
            grad_initial if self.state_size == 2 else grad_initial[0]
        )
        return np.ascontiguousarray(grad_x.transpose(1, 0, 2))

    def _projection(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The weight and bias of the input projection handed to ``_run_forward``."""
        return self.weight_ih.value, None if self.bias is None else self.bias.value

    def _run_forward(self, gates: np.ndarray, h: np.ndarray, states: tuple) -> None:
        """Loop over time, writing h_1 ... h_T into ``h[1:]``.

        ``gates`` (T, B, G*H) holds x_t W_ih + b and may be overwritten; ``h``
        (T + 1, B, H) already holds h_0; ``states`` are the initial states.
        """
        raise NotImplementedError

    def _run_backward(self, grad_h: np.ndarray, grad_final_rest: tuple):
        """Loop back over time.

        ``grad_h`` (T, B, H) holds the gradient from the outputs; step t adds
        the recurrent part to ``grad_h[t - 1]``. Returns dL/d(x_t W_ih + b) as
        (T, B, G*H) and the tuple of initial-state gradients. A subclass whose
        recurrent product h W_hh has another gradient than that (the GRU)
        sets ``_shares_gate_gradients = False`` and accumulates
        ``weight_hh``'s gradient itself.
        """
        raise NotImplementedError

    def extra_repr(self) -> str:
        text = f"{super().extra_repr()}, return_sequences={self.return_sequences}"
        if self.bptt_steps is not None:
            text += f", bptt_steps={self.bptt_steps}"
        return text


class RNN(Recurrent):
    """Elman RNN over a sequence: h_t = phi(x_t W_ih + b + h_{t-1} W_hh).

    The gradient flowing back one step is multiplied by
    ``diag(phi'(.)) W_hh^T``; with tanh (phi' <= 1) and a recurrent matrix of
    spectral radius below one it shrinks geometrically, above one it can
    explode (Bengio et al. 1994; Pascanu et al. 2013).

    Parameters
    ----------
    input_size, hidden_size : int
    nonlinearity : {"tanh", "relu"}
    return_sequences : bool
        Return every step's h (True) or only the last one (False, default).
    bptt_steps : int or None
        Truncated BPTT block length (see ``Recurrent``); None is full BPTT.
    bias : bool
    input_init, recurrent_init : str or callable
        Default Xavier uniform / orthogonal.
    dtype : float32 or float64, keyword-only
    rng : numpy.random.Generator or int, keyword-only

    Shapes
    ------
    See ``Recurrent``; the parameters are those of ``RNNCell``.

    References
    ----------
    Elman (1990); Bengio, Simard & Frasconi (1994); Pascanu, Mikolov & Bengio
    (2013), "On the difficulty of training recurrent neural networks".
    """

    gate_count = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        nonlinearity: str = "tanh",
        return_sequences: bool = False,
        bptt_steps: int | None = None,
        bias: bool = True,
        *,
        input_init="xavier_uniform",
        recurrent_init="orthogonal",
        dtype=np.float32,
        rng=None,
    ) -> None:
        self.nonlinearity = _check_nonlinearity(nonlinearity)
        super().__init__(
            input_size,
            hidden_size,
            bias,
            False,
            return_sequences,
            bptt_steps,
            input_init,
            recurrent_init,
            dtype,
            rng,
        )
        self._h = None

    def _run_forward(self, gates, h, states):
        T = len(gates)
        W_hh = self.weight_hh.value
        recurrent = np.empty_like(gates[0])

        for t in range(T):
            a = gates[t]
            a += np.matmul(h[t], W_hh, out=recurrent)
            if self.nonlinearity == "tanh":
                _tanh(a, out=h[t + 1])
            else:
                np.maximum(a, 0, out=h[t + 1])

        self._h = h
        self.final_state = h[T].copy()

    def _run_backward(self, grad_h, grad_final_rest):
        h = self._h
        T, B, H = grad_h.shape
        W_hh_T = np.ascontiguousarray(self.weight_hh.value.T)
        grad_a = np.empty_like(grad_h)
        grad_h0 = np.zeros((B, H), dtype=self.dtype)
        recurrent = np.empty((B, H), dtype=self.dtype)

        for t in range(T - 1, -1, -1):
            # dL/da_t = dL/dh_t phi'(a_t), phi' = 1 - h_t^2 (tanh) or [h_t > 0]
            if self.nonlinearity == "tanh":
                np.multiply(h[t + 1], h[t + 1], out=grad_a[t])
                np.subtract(1, grad_a[t], out=grad_a[t])
                grad_a[t] *= grad_h[t]
            else:
                np.multiply(grad_h[t], h[t + 1] > 0, out=grad_a[t])

            # dL/dh_{t-1} += dL/da_t W_hh^T
            if self._cut_before(t):
                continue
            target = grad_h[t - 1] if t > 0 else grad_h0
            target += np.matmul(grad_a[t], W_hh_T, out=recurrent)

        return grad_a, (grad_h0,)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, nonlinearity={self.nonlinearity!r}"


class LSTM(Recurrent):
    """LSTM over a sequence, with the equations of ``LSTMCell`` at every step.

    Along the cell state the gradient is multiplied by the forget gate f_t
    from one step to the previous (plus the paths through h), so with f near
    1 it is carried over long spans: the constant error carousel of
    Hochreiter & Schmidhuber (1997).

    Parameters
    ----------
    input_size, hidden_size : int
    return_sequences : bool
        Return every step's h (True) or only the last one (False, default).
    bptt_steps : int or None
        Truncated BPTT block length (see ``Recurrent``); None is full BPTT.
        The gradient along c is cut at the same places as along h.
    bias : bool
    forget_bias : float
        Initial forget-gate bias (default 1.0, Jozefowicz et al. 2015).
    input_init, recurrent_init : str or callable
        Default Xavier uniform / orthogonal, per gate block.
    dtype : float32 or float64, keyword-only
    rng : numpy.random.Generator or int, keyword-only

    Notes
    -----
    ``forward(x, initial_state=(h_0, c_0))`` and ``backward(grad_out,
    grad_final_state=(grad_h_T, grad_c_T))``; ``final_state`` and
    ``grad_initial_state`` are ``(h, c)`` tuples.

    References
    ----------
    Hochreiter & Schmidhuber (1997); Gers, Schmidhuber & Cummins (2000);
    Jozefowicz, Zaremba & Sutskever (2015).
    """

    gate_count = 4
    state_size = 2

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        return_sequences: bool = False,
        bptt_steps: int | None = None,
        bias: bool = True,
        forget_bias: float = 1.0,
        *,
        input_init="xavier_uniform",
        recurrent_init="orthogonal",
        dtype=np.float32,
        rng=None,
    ) -> None:
        super().__init__(
            input_size,
            hidden_size,
            bias,
            False,
            return_sequences,
            bptt_steps,
            input_init,
            recurrent_init,
            dtype,
            rng,
        )
        self.forget_bias = float(forget_bias)
        if self.bias is not None:
            H = self.hidden_size
            self.bias.value[H : 2 * H] = self.forget_bias
        self._cache = None

    def _gate_scale(self) -> np.ndarray:
        """-1 for the columns of i, f and o, -2 for those of g.

        The forward pass multiplies the pre-activations by these factors (by
        folding them into the weights and bias), so that one exponential
        gives all four gates: sigmoid(z) = 1 / (1 + exp(-z)) and tanh(z) =
        2 sigmoid(2 z) - 1.
        """
        H = self.hidden_size
        scale = np.full(4 * H, -1.0, dtype=self.dtype)
        scale[2 * H : 3 * H] = -2.0
        return scale

    def _projection(self):
        scale = self._gate_scale()
        b = None if self.bias is None else self.bias.value * scale
        return self.weight_ih.value * scale, b

    def _run_forward(self, gates, h, states):
        # gates holds the scaled pre-activations -z_i, -z_f, -2 z_g, -z_o of
        # x_t W_ih + b (see _gate_scale); W_hh is scaled alike.
        T, B, G = gates.shape
        H = self.hidden_size
        W_hh = self.weight_hh.value * self._gate_scale()
        c = np.empty((T + 1, B, H), dtype=self.dtype)
        tanh_c = np.empty((T, B, H), dtype=self.dtype)
        c[0] = states[1]
        recurrent = np.empty((B, G), dtype=self.dtype)
        ig = np.empty((B, H), dtype=self.dtype)

        for t in range(T):
            z = gates[t]
            z += np.matmul(h[t], W_hh, out=recurrent)
            i, f, g, o = z[:, :H], z[:, H : 2 * H], z[:, 2 * H : 3 * H], z[:, 3 * H :]
            np.exp(z, out=z)
            z += 1
            np.divide(1, z, out=z)
            g *= 2
            g -= 1
            np.multiply(f, c[t], out=c[t + 1])
            c[t + 1] += np.multiply(i, g, out=ig)
            _tanh(c[t + 1], out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=h[t + 1])

        # gates now holds the activated i, f, g, o of every step.
        self._cache = (h, c, gates, tanh_c)
        self.final_state = (h[T].copy(), c[T].copy())

    def _run_backward(self, grad_h, grad_final_rest):
        h, c, gates, tanh_c = self._cache
        T, B, H = grad_h.shape
        W_hh_T = np.ascontiguousarray(self.weight_hh.value.T)
        grad_z = np.empty((T, B, 4 * H), dtype=self.dtype)
        grad_c = grad_final_rest[0].copy()
        grad_h0 = np.zeros((B, H), dtype=self.dtype)
        recurrent = np.empty((B, H), dtype=self.dtype)
        tmp = np.empty((B, H), dtype=self.dtype)
        slope = np.empty((B, 4 * H), dtype=self.dtype)

        for t in range(T - 1, -1, -1):
            dh, tc = grad_h[t], tanh_c[t]
            z, dz = gates[t], grad_z[t]
            i, f, g, o = z[:, :H], z[:, H : 2 * H], z[:, 2 * H : 3 * H], z[:, 3 * H :]
            di, df, dg, do = (dz[:, k * H : (k + 1) * H] for k in range(4))

            # dL/dc_t = (from step t + 1) + dL/dh_t o (1 - tanh(c_t)^2)
            np.multiply(tc, tc, out=tmp)
            np.subtract(1, tmp, out=tmp)
            tmp *= o
            tmp *= dh
            grad_c += tmp

            # Gradients of the gate values: i, f, g through c_t, o through h_t.
            np.multiply(grad_c, g, out=di)
            np.multiply(grad_c, c[t], out=df)
            np.multiply(grad_c, i, out=dg)
            np.multiply(dh, tc, out=do)
            # ... times each gate's slope: s (1 - s) for i, f, o; 1 - g^2 for g.
            np.subtract(1, z, out=slope)
            slope *= z
            slope_g = slope[:, 2 * H : 3 * H]
            np.multiply(g, g, out=slope_g)
            np.subtract(1, slope_g, out=slope_g)
            dz *= slope

            # dL/dc_{t-1} = dL/dc_t f and dL/dh_{t-1} += dL/dz_t W_hh^T
            if self._cut_before(t):
                grad_c[...] = 0
                continue
            grad_c *= f
            target = grad_h[t - 1] if t > 0 else grad_h0
            target += np.matmul(dz, W_hh_T, out=recurrent)

        return grad_z, (grad_h0, grad_c)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, forget_bias={self.forget_bias}"


class GRU(Recurrent):
    """GRU over a sequence, with the equations of ``GRUCell`` at every step.

    Along h the gradient is multiplied by the update gate z_t (plus the paths
    through the gates), so units with z near 1 carry it over long spans.

    Parameters
    ----------
    input_size, hidden_size : int
    reset_after : bool
        False: Cho et al. (2014), n = tanh(x W_in + (r * h) W_hn + b_n).
        True: PyTorch/cuDNN, n = tanh(x W_in + b_n + r * (h W_hn + b_hn)),
        with the separate recurrent bias ``bias_hh``. See ``GRUCell``.
    return_sequences : bool
        Return every step's h (True) or only the last one (False, default).
    bptt_steps : int or None
        Truncated BPTT block length (see ``Recurrent``); None is full BPTT.
    bias : bool
    input_init, recurrent_init : str or callable
        Default Xavier uniform / orthogonal, per gate block.
    dtype : float32 or float64, keyword-only
    rng : numpy.random.Generator or int, keyword-only

    References
    ----------
    Cho et al. (2014); Chung et al. (2014).
    """

    gate_count = 3
    _shares_gate_gradients = False

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        reset_after: bool = False,
        return_sequences: bool = False,
        bptt_steps: int | None = None,
        bias: bool = True,
        *,
        input_init="xavier_uniform",
        recurrent_init="orthogonal",
        dtype=np.float32,
        rng=None,
    ) -> None:
        self.reset_after = bool(reset_after)
        super().__init__(
            input_size,
            hidden_size,
            bias,
            self.reset_after,
            return_sequences,
            bptt_steps,
            input_init,
            recurrent_init,
            dtype,
            rng,
        )
        self._cache = None

    def _gate_scale(self) -> np.ndarray:
        """-1 for the columns of r and z, 1 for those of n.

        The forward pass negates the pre-activations of r and z (by folding
        the sign into the weights and bias), so that sigmoid(z) = 1 / (1 +
        exp(-z)) needs no separate negation.
        """
        H = self.hidden_size
        scale = np.ones(3 * H, dtype=self.dtype)
        scale[: 2 * H] = -1.0
        return scale

    def _projection(self):
        scale = self._gate_scale()
        if self.bias is None:
            return self.weight_ih.value * scale, None
        b = self.bias.value * scale
        if self.bias_hh is not None:
            # b_hr and b_hz act exactly like b_r and b_z; only b_hn is inside r * (.)
            H = self.hidden_size
            b[: 2 * H] -= self.bias_hh.value[: 2 * H]
        return self.weight_ih.value * scale, b

    def _run_forward(self, gates, h, states):
        # gates holds -(x_t W_ir + b_r), -(x_t W_iz + b_z), x_t W_in + b_n (see
        # _gate_scale and _projection); the r and z columns of W_hh are negated
        # alike.
        T, B, G = gates.shape
        H = self.hidden_size
        W_hh = self.weight_hh.value * self._gate_scale()
        W_rz = np.ascontiguousarray(W_hh[:, : 2 * H])
        W_n = np.ascontiguousarray(W_hh[:, 2 * H :])
        # hn[t] is h_{t-1} W_hn + b_hn (reset_after) or r_t * h_{t-1} (Cho et al.)
        if self.reset_after:
            hw = np.empty((T, B, G), dtype=self.dtype)
            hn = hw[:, :, 2 * H :]
        else:
            hn = np.empty((T, B, H), dtype=self.dtype)
            recurrent_rz = np.empty((B, 2 * H), dtype=self.dtype)
        tmp = np.empty((B, H), dtype=self.dtype)

        for t in range(T):
            a = gates[t]
            rz, n = a[:, : 2 * H], a[:, 2 * H :]
            r, z = a[:, :H], a[:, H : 2 * H]
            if self.reset_after:
                np.matmul(h[t], W_hh, out=hw[t])
                if self.bias_hh is not None:
                    hn[t] += self.bias_hh.value[2 * H :]
                rz += hw[t][:, : 2 * H]
            else:
                rz += np.matmul(h[t], W_rz, out=recurrent_rz)
            np.exp(rz, out=rz)
            rz += 1
            np.divide(1, rz, out=rz)
            if self.reset_after:
                n += np.multiply(r, hn[t], out=tmp)
            else:
                np.multiply(r, h[t], out=hn[t])
                n += np.matmul(hn[t], W_n, out=tmp)
            _tanh(n, out=n)
            # h_t = (1 - z) n + z h_{t-1} = n + z (h_{t-1} - n)
            np.subtract(h[t], n, out=tmp)
            tmp *= z
            np.add(n, tmp, out=h[t + 1])

        # gates now holds the activated r, z, n of every step.
        self._cache = (h, gates, hn)
        self.final_state = h[T].copy()

    def _run_backward(self, grad_h, grad_final_rest):
        h, gates, hn = self._cache
        T, B, H = grad_h.shape
        W_hh = self.weight_hh.value
        W_hh_T = np.ascontiguousarray(W_hh.T)
        W_rz_T, W_n_T = W_hh_T[: 2 * H], W_hh_T[2 * H :]
        grad_a = np.empty((T, B, 3 * H), dtype=self.dtype)
        grad_h0 = np.zeros((B, H), dtype=self.dtype)
        # With reset_after, the gradient of the recurrent product h W_hh + b_hh:
        # its n block is grad_a's times r.
        grad_hw = np.empty_like(grad_a) if self.reset_after else None
        grad_hn = np.empty((B, H), dtype=self.dtype)
        recurrent = np.empty((B, H), dtype=self.dtype)
        tmp = np.empty((B, H), dtype=self.dtype)
        slope = np.empty((B, 2 * H), dtype=self.dtype)

        for t in range(T - 1, -1, -1):
            dh = grad_h[t]
            a, da = gates[t], grad_a[t]
            r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
            dr, dz, dn = da[:, :H], da[:, H : 2 * H], da[:, 2 * H :]

            # dL/dn_pre = dL/dh_t (1 - z) (1 - n^2)
            np.subtract(1, a[:, : 2 * H], out=slope)
            np.multiply(dh, slope[:, H:], out=dn)
            np.multiply(n, n, out=tmp)
            np.subtract(1, tmp, out=tmp)
            dn *= tmp
            # dL/dz = dL/dh_t (h_{t-1} - n); dL/dr = dL/d(hn) * (h W_hn + b_hn),
            # or (dL/dn_pre W_hn^T) h_{t-1} (Cho et al.)
            np.subtract(h[t], n, out=dz)
            dz *= dh
            if self.reset_after:
                np.multiply(dn, hn[t], out=dr)
            else:
                np.matmul(dn, W_n_T, out=grad_hn)
                np.multiply(grad_hn, h[t], out=dr)
            # ... times the sigmoid slopes r (1 - r) and z (1 - z)
            slope *= a[:, : 2 * H]
            da[:, : 2 * H] *= slope
            if self.reset_after:
                dw = grad_hw[t]
                dw[:, : 2 * H] = da[:, : 2 * H]
                np.multiply(dn, r, out=dw[:, 2 * H :])

            if self._cut_before(t):
                continue
            # dL/dh_{t-1} = dL/dh_t z + (the paths through the gates)
            target = grad_h[t - 1] if t > 0 else grad_h0
            target += np.multiply(dh, z, out=tmp)
            if self.reset_after:
                target += np.matmul(dw, W_hh_T, out=recurrent)
            else:
                target += np.matmul(da[:, : 2 * H], W_rz_T, out=recurrent)
                target += np.multiply(grad_hn, r, out=tmp)

        h_prev = h[:T].reshape(T * B, H)
        if self.reset_after:
            flat = grad_hw.reshape(T * B, 3 * H)
            self.weight_hh.accumulate(h_prev.T @ flat)
            if self.bias_hh is not None:
                self.bias_hh.accumulate(flat.sum(axis=0))
        else:
            grad_W = np.empty_like(W_hh)
            flat = grad_a.reshape(T * B, 3 * H)
            np.matmul(h_prev.T, flat[:, : 2 * H], out=grad_W[:, : 2 * H])
            np.matmul(hn.reshape(T * B, H).T, flat[:, 2 * H :], out=grad_W[:, 2 * H :])
            self.weight_hh.accumulate(grad_W)
        return grad_a, (grad_h0,)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, reset_after={self.reset_after}"
