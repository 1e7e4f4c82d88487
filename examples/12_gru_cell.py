"""The GRU cell in its two formulations, on the same weights.

With r the reset gate and z the update gate (Cho et al. 2014)::

    r = sigmoid(x W_ir + h W_hr + b_r)
    z = sigmoid(x W_iz + h W_hz + b_z)
    n = tanh(x W_in + (r * h) W_hn + b_n)            reset_after=False (Cho et al.)
    n = tanh(x W_in + b_n + r * (h W_hn + b_hn))     reset_after=True (PyTorch, cuDNN)
    h' = (1 - z) * n + z * h

The only difference is where the reset gate acts on the previous state:
before the recurrent matrix (element-wise on h, then mixed by W_hn) or after
it (element-wise on the already mixed h W_hn, which then needs its own bias
b_hn). The gates r and z, and the final interpolation, are identical.

The script builds both cells from the same seed (identical weights), runs
them on the same input and state, and shows that their outputs differ; that
the difference disappears when the reset gate is fully open (r = 1, forced
by a large bias b_r) or the state has a single unit (then r * (h W) =
(r * h) W); and that both backward passes match central finite differences.

What to look for: a non-zero difference in general, zero in the two special
cases, and both gradient checks passing.

Run: ``python examples/12_gru_cell.py``
"""

import numpy as np

from gradwatch import numerical_gradient
from gradwatch.gradcheck import relative_error
from gradwatch.nn import GRUCell

BATCH, FEATURES = 4, 3
rng = np.random.default_rng(0)


def pair(hidden, seed=1):
    """Both formulations, built from the same seed: identical weights."""
    cho = GRUCell(FEATURES, hidden, reset_after=False, dtype=np.float64, rng=seed)
    cudnn = GRUCell(FEATURES, hidden, reset_after=True, dtype=np.float64, rng=seed)
    bias = np.random.default_rng(seed).normal(scale=0.5, size=3 * hidden)
    cho.bias.value[:] = bias
    cudnn.bias.value[:] = bias  # bias_hh of reset_after=True stays 0
    return cho, cudnn


x = rng.standard_normal((BATCH, FEATURES))
cho, cudnn = pair(hidden=5)
same = np.array_equal(cho.weight_hh.value, cudnn.weight_hh.value)
print(f"same weights: {same}")
for cell in (cho, cudnn):
    names = [name for name, _ in cell.named_parameters()]
    print(f"reset_after={cell.reset_after!s:5s} parameters: {', '.join(names)}")
h = rng.standard_normal((BATCH, 5))
difference = np.abs(cho(x, h) - cudnn(x, h)).max()
print(f"hidden 5:               max |h'(False) - h'(True)| = {difference:.3e}")

# A fully open reset gate (r = 1) makes (r * h) W_hn equal to r * (h W_hn).
cho_open, cudnn_open = pair(hidden=5)
for cell in (cho_open, cudnn_open):
    cell.bias.value[:5] = 50.0  # b_r: sigmoid(50) = 1 in float64
difference = np.abs(cho_open(x, h) - cudnn_open(x, h)).max()
print(f"hidden 5, r forced to 1: max |h'(False) - h'(True)| = {difference:.3e}")

# With one hidden unit r is a scalar per sample and commutes with W_hn.
cho_one, cudnn_one = pair(hidden=1)
h_one = rng.standard_normal((BATCH, 1))
difference = np.abs(cho_one(x, h_one) - cudnn_one(x, h_one)).max()
print(f"hidden 1:               max |h'(False) - h'(True)| = {difference:.3e}")

# Gradient check of each formulation: L = sum(u * h') with a random u.
# A non-zero recurrent bias makes the check exercise b_hn too.
u = rng.standard_normal((BATCH, 5))
cudnn.bias_hh.value[:] = rng.normal(scale=0.5, size=15)
for cell in (cho, cudnn):

    def loss(cell=cell):
        return float(np.sum(u * cell(x, h)))

    cell.zero_grad()
    cell(x, h)
    grad_x, grad_h = cell.backward(u)
    errors = [
        relative_error(grad_x, numerical_gradient(loss, x)),
        relative_error(grad_h, numerical_gradient(loss, h)),
    ]
    errors += [
        relative_error(p.grad, numerical_gradient(loss, p.value))
        for p in cell.parameters()
    ]
    status = "ok" if max(errors) <= 1e-6 else "FAILED"
    print(
        f"reset_after={cell.reset_after!s:5s} gradcheck {status}: "
        f"worst relative error {max(errors):.1e}"
    )
