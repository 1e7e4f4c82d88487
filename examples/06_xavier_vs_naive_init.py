"""Xavier initialisation against naive Gaussian weights, on real gradients.

The same 10-layer tanh network (64 -> 128 x 9 -> 10) is initialised three
ways and backpropagated once on 256 handwritten digits (scikit-learn's
bundled 8x8 images) with a squared-error loss against one-hot labels:

* ``normal(std=1)``: weights far too large. Pre-activations of size
  ~sqrt(128) saturate most tanh units, yet the few unsaturated ones are
  multiplied by large weights: the backward signal grows layer after layer
  (the "chaotic" phase of Poole et al. 2016 and Schoenholz et al. 2017).
* ``normal(std=0.01)``: weights far too small. Each layer multiplies the
  backward signal by about 0.01 * sqrt(128) ~ 0.1, and the forward
  activations shrink the same way, so every weight gradient is tiny.
* ``xavier_uniform``: Var(W) = 2 / (fan_in + fan_out), chosen so that the
  forward activations and the backward gradients keep their variance from
  layer to layer (Glorot & Bengio 2010).

Backward hooks on the Linear layers record the activation gradient dL/da at
each layer's output (a = x W + b) as the backward pass produces it; the
weight gradients dL/dW are read from the parameters afterwards.

What to look for: from layer 10 back to layer 1 the activation gradient
grows by orders of magnitude with std 1 (exploding), shrinks by orders of
magnitude with std 0.01 (vanishing), and stays within a factor of a few with
Xavier. With std 0.01 even the last layer's weight gradient is ~1e-9.

Run: ``python examples/06_xavier_vs_naive_init.py``
"""

from functools import partial

import numpy as np
from sklearn.datasets import load_digits

import gradwatch
from gradwatch.nn import Linear, Sequential, Tanh

SIZES = [64] + [128] * 9 + [10]
DEPTH = len(SIZES) - 1

digits = load_digits()
rng = np.random.default_rng(0)
rows = rng.choice(len(digits.target), size=256, replace=False)
x = (digits.data[rows] / 16.0 - 0.5).astype(np.float32)  # pixels in [-0.5, 0.5]
target = np.eye(10, dtype=np.float32)[digits.target[rows]]

inits = {
    "normal(std=1)": partial(gradwatch.init.normal, std=1.0),
    "normal(std=0.01)": partial(gradwatch.init.normal, std=0.01),
    "xavier_uniform": "xavier_uniform",
}

activation_grads, weight_grads, saturated = {}, {}, {}
for name, init in inits.items():
    layer_rng = np.random.default_rng(1)
    layers = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:], strict=True):
        layers += [Linear(fan_in, fan_out, init=init, rng=layer_rng), Tanh()]
    model = Sequential(*layers[:-1])  # no tanh after the output layer
    linears = [layer for layer in model.layers if isinstance(layer, Linear)]

    rms = {}
    for i, linear in enumerate(linears):

        def record(module, grad_out, grad_in, i=i, rms=rms):
            rms[i] = float(np.sqrt(np.mean(np.square(grad_out))))

        linear.register_backward_hook(record)

    y = model(x)
    # L = 0.5 * mean over the batch of ||y - target||^2.
    model.backward((y - target) / len(x))

    activation_grads[name] = [rms[i] for i in range(DEPTH)]
    weight_grads[name] = [float(np.linalg.norm(lin.weight.grad)) for lin in linears]
    tanhs = [layer for layer in model.layers if isinstance(layer, Tanh)]
    saturated[name] = np.mean([np.mean(t.derivative() < 0.05) for t in tanhs])


def table(title, columns):
    print(title)
    print(f"{'layer':>5}  " + "  ".join(f"{name:>16s}" for name in columns))
    for i in range(DEPTH - 1, -1, -1):
        print(f"{i + 1:5d}  " + "  ".join(f"{columns[n][i]:16.2e}" for n in columns))


table("RMS of the activation gradient dL/da at each layer's output", activation_grads)
table("||dL/dW||_F at each layer", weight_grads)
print(f"activation-gradient ratio layer 1 / layer {DEPTH}, saturated tanh units:")
for name, rms in activation_grads.items():
    ratio = rms[0] / rms[-1]
    print(f"  {name:17s} ratio {ratio:9.2e}   saturated {saturated[name]:.0%}")
