"""One step of an LSTM cell: the gates, the cell state, and the backward pass.

With z = x W_ih + h W_hh + b cut into four blocks (PyTorch's order), one
step of the LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of
Gers, Schmidhuber & Cummins 2000) is::

    i = sigmoid(z_i)   f = sigmoid(z_f)   g = tanh(z_g)   o = sigmoid(z_o)
    c' = f * c + i * g
    h' = o * tanh(c')

The script runs ``gradwatch.nn.LSTMCell`` for one step, recomputes the gates
from these equations with the cell's own weights, and checks the backward
pass against central finite differences (float64, random upstream gradients
on both h' and c').

The key to the LSTM's resistance to vanishing gradients: along the cell
state, the gradient going back one step is only multiplied by the forget
gate, dL/dc = f * dL/dc' (the "constant error carousel"), with no weight
matrix and no squashing derivative in between. The forget-gate bias starts
at 1 (Jozefowicz et al. 2015), so f starts near sigmoid(1) ~ 0.73.

What to look for: the cell's outputs equal to the equations', dL/dc equal to
f * dL/dc', and every relative error of the gradient check below 1e-6.

Run: ``python examples/08_lstm_cell.py``
"""

import numpy as np

from gradwatch import numerical_gradient
from gradwatch.gradcheck import relative_error
from gradwatch.nn import LSTMCell

BATCH, FEATURES, HIDDEN = 4, 3, 5

rng = np.random.default_rng(0)
cell = LSTMCell(FEATURES, HIDDEN, dtype=np.float64, rng=rng)
x = rng.standard_normal((BATCH, FEATURES))
h = rng.standard_normal((BATCH, HIDDEN))
c = rng.standard_normal((BATCH, HIDDEN))

h_new, c_new = cell(x, (h, c))

# The gates from the equations, with the cell's weights.
z = x @ cell.weight_ih.value + h @ cell.weight_hh.value + cell.bias.value
z_i, z_f, z_g, z_o = np.split(z, 4, axis=1)
i, f, o = (1 / (1 + np.exp(-a)) for a in (z_i, z_f, z_o))
g = np.tanh(z_g)
print("gates of sample 0:")
for name, gate in (("input  i", i), ("forget f", f), ("cell   g", g), ("output o", o)):
    print(f"  {name} = {np.array2string(gate[0], precision=3, suppress_small=True)}")
print(f"c' = f * c + i * g:     {np.allclose(c_new, f * c + i * g)}")
print(f"h' = o * tanh(c'):      {np.allclose(h_new, o * np.tanh(c_new))}")

# Backward with an upstream gradient on c' only: dL/dc = f * dL/dc'.
grad_c_new = rng.standard_normal((BATCH, HIDDEN))
cell.zero_grad()
cell(x, (h, c))
_, (_, grad_c) = cell.backward((None, grad_c_new))
print(f"dL/dc = f * dL/dc':     {np.allclose(grad_c, f * grad_c_new)}")

# Gradient check: L = sum(u_h * h') + sum(u_c * c') with random u_h, u_c.
u_h = rng.standard_normal((BATCH, HIDDEN))
u_c = rng.standard_normal((BATCH, HIDDEN))


def loss():
    h_out, c_out = cell(x, (h, c))
    return float(np.sum(u_h * h_out) + np.sum(u_c * c_out))


cell.zero_grad()
cell(x, (h, c))
grad_x, (grad_h, grad_c) = cell.backward((u_h, u_c))
analytic = {"x": grad_x, "h": grad_h, "c": grad_c}
arrays = {"x": x, "h": h, "c": c}
for name, parameter in cell.named_parameters():
    analytic[name] = parameter.grad
    arrays[name] = parameter.value
errors = {
    name: relative_error(analytic[name], numerical_gradient(loss, array))
    for name, array in arrays.items()
}
print("gradient check, relative error of each gradient:")
for name, error in errors.items():
    print(f"  {name:10s} {error:.1e}")
worst = max(errors.values())
print(
    f"gradcheck {'ok' if worst <= 1e-6 else 'FAILED'}: worst relative error {worst:.1e}"
)
