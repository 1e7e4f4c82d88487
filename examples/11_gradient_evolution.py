"""How each layer's gradient, relative to the output layer's, evolves over training.

Two 8-layer networks (64 -> 64 x 7 -> 10, Xavier initialisation) learn
scikit-learn's handwritten digits for 6 epochs with SGD and a cross-entropy
loss, one with sigmoid activations, one with tanh. A ``GradientMonitor``
records every backward pass. Its history of the activation-gradient RMS
(the size of dL/da at each Linear's output, one row per step) is averaged
per epoch and divided by the output layer's value: a 1e-3 under a layer
means that layer's gradient is a thousand times smaller than the output
layer's.

The sigmoid's derivative is at most 1/4 (example 01) and its outputs are
not centred on zero, so its ratios fall geometrically from the output
towards the input and the early layers barely learn (Glorot & Bengio 2010);
tanh's derivative reaches 1 at 0 and its ratios stay near 1.

What to look for: the sigmoid table's first column five or more orders of
magnitude below 1 in every epoch (and smaller after the first), with the
loss stuck near ln(10) = 2.30, the loss of a uniform guess; the tanh table's
ratios of order 1, the early layers' growing as training proceeds, and its
loss falling.

Run: ``python examples/11_gradient_evolution.py``
"""

import numpy as np
from sklearn.datasets import load_digits

import gradwatch
from gradwatch.nn import CrossEntropyLoss, Linear, Sequential, Sigmoid, Tanh
from gradwatch.optim import SGD

SIZES = [64] + [64] * 7 + [10]
EPOCHS, BATCH = 6, 64

digits = load_digits()
x = (digits.data / 16.0).astype(np.float32)
labels = digits.target
steps_per_epoch = int(np.ceil(len(x) / BATCH))


def train(activation, lr):
    rng = np.random.default_rng(0)
    layers = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:], strict=True):
        layers += [Linear(fan_in, fan_out, rng=rng), activation()]
    model = Sequential(*layers[:-1])  # logits out of the last Linear
    optimizer = SGD(model.parameters(), lr=lr, momentum=0.9)
    loss = CrossEntropyLoss()

    epoch_loss = []
    with gradwatch.GradientMonitor(model) as monitor:
        for _ in range(EPOCHS):
            order = rng.permutation(len(x))
            total = 0.0
            for start in range(0, len(order), BATCH):
                rows = order[start : start + BATCH]
                optimizer.zero_grad()
                total += loss.forward(model(x[rows]), labels[rows]) * len(rows)
                model.backward(loss.backward())
                optimizer.step()
            epoch_loss.append(total / len(x))

    rms = monitor.history("activation_rms")  # (steps, layers), forward order
    per_epoch = rms.reshape(EPOCHS, steps_per_epoch, -1).mean(axis=1)
    ratios = per_epoch / per_epoch[:, -1:]

    name = activation.__name__
    print(f"{name}: activation-gradient RMS of each Linear / the output layer's")
    columns = " ".join(f"{'L' + n.split('.')[0]:>8s}" for n in monitor.layer_names)
    print(f"{'epoch':>5} {'loss':>6}  {columns}")
    for epoch in range(EPOCHS):
        row = " ".join(f"{value:8.1e}" for value in ratios[epoch])
        print(f"{epoch + 1:5d} {epoch_loss[epoch]:6.3f}  {row}")
    accuracy = np.mean(model(x).argmax(axis=1) == labels)
    print(
        f"{name}: training accuracy {accuracy:.1%}, "
        f"monitor verdict {monitor.diagnose().verdict!r}"
    )
    print()


print("(layer = index in the Sequential; L14 is the output layer)\n")
train(Sigmoid, lr=0.5)
train(Tanh, lr=0.03)
