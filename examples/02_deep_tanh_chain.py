"""Gradients fade through a deep chain of tanh layers.

A 20-layer tanh network is run forward on a batch and backward from a
squared-error loss. A backward hook on every Tanh records the activation
gradient dL/dh (h the layer's output) as it is produced, and the script prints
its size layer by layer, from the output back to the input.

Each step back multiplies the gradient by W^T diag(tanh'(a)); when the
typical size of that product is below one, the gradient shrinks
geometrically with depth (Hochreiter 1991; Bengio, Simard & Frasconi 1994).
Two initialisations are compared: small Gaussian weights (std 0.05) and
Xavier/Glorot (Glorot & Bengio 2010).

What to look for: with small weights the gradient at layer 1 is many orders
of magnitude below the one at layer 20; with Xavier it fades far more slowly.

Run: ``python examples/02_deep_tanh_chain.py``
"""

from functools import partial

import numpy as np

import gradwatch
from gradwatch.nn import Linear, Sequential, Tanh

DEPTH, WIDTH, BATCH = 20, 64, 128


def build(init, seed):
    rng = np.random.default_rng(seed)
    layers = []
    for _ in range(DEPTH):
        layers += [Linear(WIDTH, WIDTH, init=init, rng=rng), Tanh()]
    return Sequential(*layers)


def activation_gradient_norms(model, x, target):
    """Mean over the batch of ||dL/dh||_2 at every Tanh output, first to last."""
    norms = {}
    handles = []
    for index, layer in enumerate(model.layers):
        if isinstance(layer, Tanh):

            def record(module, grad_out, grad_in, index=index):
                norms[index] = float(np.linalg.norm(grad_out, axis=1).mean())

            handles.append(layer.register_backward_hook(record))

    y = model(x)
    # L = 0.5 * mean over the batch of ||y - target||^2.
    model.backward((y - target) / len(x))
    for handle in handles:
        handle.remove()
    return [norms[i] for i in sorted(norms)]


rng = np.random.default_rng(0)
x = rng.standard_normal((BATCH, WIDTH)).astype(np.float32)
target = rng.standard_normal((BATCH, WIDTH)).astype(np.float32)

inits = {
    "normal(std=0.05)": partial(gradwatch.init.normal, std=0.05),
    "xavier_uniform": "xavier_uniform",
}
columns = {
    name: activation_gradient_norms(build(init, 1), x, target)
    for name, init in inits.items()
}

print("mean ||dL/dh|| at each tanh layer (layer 20 is next to the loss)")
print(f"{'layer':>5}  " + "  ".join(f"{name:>17s}" for name in columns))
for layer in range(DEPTH, 0, -1):
    values = "  ".join(f"{columns[name][layer - 1]:17.3e}" for name in columns)
    print(f"{layer:5d}  {values}")

for name, norms in columns.items():
    print(
        f"{name}: gradient ratio layer 1 / layer {DEPTH} = {norms[0] / norms[-1]:.2e}"
    )
