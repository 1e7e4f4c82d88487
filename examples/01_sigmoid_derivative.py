"""The sigmoid's derivative never exceeds 1/4; tanh's never exceeds 1.

Backpropagation multiplies the gradient by phi'(x) at every activation. For
the logistic sigmoid, phi'(x) = phi(x) (1 - phi(x)), which peaks at x = 0
with the value 1/4: each sigmoid layer contributes a factor of at most 1/4,
so unless the weights make up for it, ten layers shrink the gradient by at
least 4**10 ~ 1e6 (Hochreiter 1991; Glorot & Bengio 2010). Tanh is a
rescaled sigmoid, tanh(x) = 2 sigmoid(2x) - 1, whose derivative peaks at 1.

What to look for: the maximum of the sigmoid derivative over a fine grid is
0.25 at x = 0, tanh's is 1 at x = 0, and both fall off quickly away from 0
(saturation).

Run: ``python examples/01_sigmoid_derivative.py``
"""

import numpy as np

from gradwatch.nn import Sigmoid, Tanh

# A symmetric grid that contains 0 exactly.
x = np.linspace(-8.0, 8.0, 16001, dtype=np.float64)

for layer in (Sigmoid(dtype=np.float64), Tanh(dtype=np.float64)):
    layer.forward(x)
    derivative = layer.derivative()
    peak = int(np.argmax(derivative))
    name = type(layer).__name__
    print(f"{name:8s} max phi'(x) = {derivative[peak]:.4f} at x = {x[peak]:+.3f}")

    # The derivative at a few points shows how fast the activation saturates.
    probes = [0.0, 1.0, 2.0, 4.0, 8.0]
    values = [derivative[np.argmin(np.abs(x - p))] for p in probes]
    line = ", ".join(
        f"phi'({p:g}) = {v:.2e}" for p, v in zip(probes, values, strict=True)
    )
    print(f"         {line}")

# The same fact through backward: an upstream gradient of ones comes back
# multiplied by the derivative, so the largest gradient that leaves the layer
# is the largest derivative.
sigmoid = Sigmoid(dtype=np.float64)
sigmoid.forward(x)
grad_x = sigmoid.backward(np.ones_like(x))
print(f"Sigmoid  backward of ones: largest returned gradient = {grad_x.max():.4f}")

# Ten sigmoid derivatives in a row, each at its best point (x = 0), still
# multiply the gradient by 0.25**10 (the weights aside).
print(f"Best case through 10 sigmoid derivatives: 0.25**10 = {0.25**10:.2e}")
