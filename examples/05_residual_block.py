"""A residual connection keeps the gradient alive through a deep network.

Two 20-block networks are built from identical blocks, tanh(x W + b) with
small Gaussian weights (std 0.05, width 64): a plain stack, where block k
computes h_k = f_k(h_{k-1}), and a residual stack, where it computes
h_k = h_{k-1} + f_k(h_{k-1}) (He, Zhang, Ren & Sun 2016).

Backward through a plain block multiplies the gradient by the block's
Jacobian, here much smaller than one, so the gradient dies geometrically.
Through a residual block the gradient is g + J_f^T g: the identity path
carries g back unchanged whatever the block does.

A backward hook on every block records the activation gradient dL/dh_k at
its output; the script prints its size for both networks.

What to look for: in the plain network the gradient at block 1 is many
orders of magnitude below the one at block 20; in the residual network it
stays of the same order (it even grows a little towards the input, since
every block adds its own path to the identity one).

Run: ``python examples/05_residual_block.py``
"""

from functools import partial

import numpy as np

import gradwatch
from gradwatch.nn import Linear, Residual, Sequential, Tanh

DEPTH, WIDTH, BATCH = 20, 64, 128
small = partial(gradwatch.init.normal, std=0.05)


def blocks(seed):
    """DEPTH blocks Linear + Tanh; the same seed gives the same weights."""
    rng = np.random.default_rng(seed)
    return [
        Sequential(Linear(WIDTH, WIDTH, init=small, rng=rng), Tanh())
        for _ in range(DEPTH)
    ]


def gradient_per_block(model, hooked, x, target):
    """Mean over the batch of ||dL/dh_k|| at each hooked block's output."""
    norms = [0.0] * len(hooked)
    for k, block in enumerate(hooked):

        def record(module, grad_out, grad_in, k=k):
            norms[k] = float(np.linalg.norm(grad_out, axis=1).mean())

        block.register_backward_hook(record)
    y = model(x)
    # L = 0.5 * mean over the batch of ||y - target||^2.
    model.backward((y - target) / len(x))
    return norms


rng = np.random.default_rng(0)
x = rng.standard_normal((BATCH, WIDTH)).astype(np.float32)
target = rng.standard_normal((BATCH, WIDTH)).astype(np.float32)

plain_blocks = blocks(seed=1)
plain = Sequential(*plain_blocks)
residual_blocks = [Residual(block) for block in blocks(seed=1)]
residual = Sequential(*residual_blocks)

plain_norms = gradient_per_block(plain, plain_blocks, x, target)
residual_norms = gradient_per_block(residual, residual_blocks, x, target)

print("mean ||dL/dh_k|| at each block's output (block 20 is next to the loss)")
print(f"{'block':>5}  {'plain':>10}  {'residual':>10}")
for k in range(DEPTH - 1, -1, -1):
    print(f"{k + 1:5d}  {plain_norms[k]:10.3e}  {residual_norms[k]:10.3e}")
print(
    f"gradient ratio block 1 / block {DEPTH}: "
    f"plain {plain_norms[0] / plain_norms[-1]:.2e}, "
    f"residual {residual_norms[0] / residual_norms[-1]:.2e}"
)
