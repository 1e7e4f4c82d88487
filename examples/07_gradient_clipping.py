"""Clipping gradients by their global norm.

A 6-layer network with weights of std 1 has exploding gradients: its total
gradient norm on a batch is in the tens of thousands. ``gradwatch.clip_grad_norm``
treats every parameter's gradient as one long vector g and, when its norm
exceeds ``max_norm``, rescales all of them by the same factor:

    g <- g * max_norm / (||g||_2 + 1e-6)    if ||g||_2 > max_norm

(Pascanu, Mikolov & Bengio 2013; the small constant follows PyTorch). One
common factor means the direction of the update is kept and only its length
is capped; gradients already below the limit are left untouched.

What to look for: the norm before clipping (returned by clip_grad_norm, and
recomputed here independently), the norm after (= max_norm), a cosine
similarity of 1 between the gradient before and after, and an unchanged
gradient when the limit is above the norm.

Run: ``python examples/07_gradient_clipping.py``
"""

from functools import partial

import numpy as np

import gradwatch
from gradwatch.nn import Linear, Sequential, Tanh

MAX_NORM = 1.0

rng = np.random.default_rng(0)
layers = []
for _ in range(6):
    layers += [Linear(32, 32, init=partial(gradwatch.init.normal, std=1.0), rng=rng)]
    layers += [Tanh()]
model = Sequential(*layers[:-1])

x = rng.standard_normal((64, 32)).astype(np.float32)
target = rng.standard_normal((64, 32)).astype(np.float32)


def backward_once():
    model.zero_grad()
    y = model(x)
    model.backward(y - target)  # dL/dy of L = 0.5 * ||y - target||^2


def flat_gradient():
    """Every parameter's gradient as one float64 vector."""
    return np.concatenate([p.grad.ravel() for p in model.parameters()]).astype(
        np.float64
    )


backward_once()
before = flat_gradient()
returned = gradwatch.clip_grad_norm(model.parameters(), max_norm=MAX_NORM)
after = flat_gradient()

cosine = before @ after / (np.linalg.norm(before) * np.linalg.norm(after))
print(f"global gradient norm before clipping: {np.linalg.norm(before):.4g}")
print(f"clip_grad_norm returned:              {returned:.4g}")
print(f"global gradient norm after clipping:  {np.linalg.norm(after):.6f}")
print(f"cosine(before, after) = {cosine:.6f} (direction preserved)")
print(f"largest single entry: {np.abs(before).max():.4g} -> {np.abs(after).max():.4g}")

# A limit above the current norm leaves every gradient as it is.
backward_once()
before = flat_gradient()
gradwatch.clip_grad_norm(model.parameters(), max_norm=2 * np.linalg.norm(before))
unchanged = np.array_equal(before, flat_gradient())
print(f"limit above the norm: gradients unchanged = {unchanged}")
