"""ReLU forward and backward, and its derivative at 0.

ReLU(x) = max(x, 0) passes a gradient through unchanged where x > 0 and
blocks it where x <= 0 (Nair & Hinton 2010; Glorot, Bordes & Bengio 2011).
Its derivative is 1 or 0, never a fraction, so unlike sigmoid and tanh it
does not shrink the gradients of active units; the price is that a unit whose
input stays negative gets no gradient at all (a "dead" unit).

At the kink x = 0 the derivative is undefined; gradwatch follows PyTorch and
uses 0. A finite-difference check is meaningless exactly at the kink, so the
gradient check below uses inputs away from 0.

What to look for: the backward pass copies the upstream gradient where the
input is positive and writes 0 elsewhere, including at x = 0; the gradient
check passes; a ReLU layer fed a shifted batch has a visible dead fraction.

Run: ``python examples/03_relu_forward_backward.py``
"""

import math

import numpy as np

import gradwatch
from gradwatch.nn import Linear, ReLU, Sequential

relu = ReLU(dtype=np.float64)
x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
upstream = np.array([10.0, 20.0, 30.0, 40.0, 50.0])

y = relu.forward(x)
grad_x = relu.backward(upstream)
print(f"x            = {x}")
print(f"ReLU(x)      = {y}")
print(f"ReLU'(x)     = {relu.derivative()}")
print(f"dL/dy        = {upstream}")
print(f"dL/dx        = {grad_x}")
print(f"ReLU'(0) = {relu.derivative()[2]:g} (the gradient at the kink is 0)")

# Gradient check of a small Linear + ReLU model in float64 with a random
# upstream gradient. With random inputs a pre-activation within the
# finite-difference step (1e-6) of the kink is vanishingly unlikely.
rng = np.random.default_rng(0)
model = Sequential(
    Linear(4, 6, dtype=np.float64, rng=rng),
    ReLU(dtype=np.float64),
    Linear(6, 3, dtype=np.float64, rng=rng),
)
result = gradwatch.gradcheck(model, rng.standard_normal((5, 4)), rng=1)
print(result)

# Dead units: shift the inputs of a ReLU layer well below zero and most of
# its units pass no gradient back.
layer = ReLU()
layer.forward(rng.standard_normal((256, 32)) - 1.5)
dead = np.mean(layer.derivative() == 0)
expected = 0.5 * (1.0 + math.erf(1.5 / math.sqrt(2.0)))  # P(N(-1.5, 1) <= 0)
print(
    f"fraction of units with zero gradient for inputs ~ N(-1.5, 1): {dead:.2f} "
    f"(expected {expected:.2f})"
)
