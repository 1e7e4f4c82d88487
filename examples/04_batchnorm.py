"""Batch normalisation: training mode, running statistics, eval mode, gradients.

In training, BatchNorm normalises each feature with the statistics of the
current batch and then rescales it (Ioffe & Szegedy 2015):

    x_hat = (x - mean_B) / sqrt(var_B + eps),    y = gamma * x_hat + beta

with var_B the biased batch variance. It also keeps running estimates,
updated as running = (1 - momentum) * running + momentum * batch_statistic
(the unbiased variance for running_var, as in PyTorch). In eval mode it uses
those running estimates instead of the batch, so each sample's output no
longer depends on the rest of the batch.

Because the batch mean and variance depend on every input, the training-mode
backward pass has extra terms; the gradient check below verifies them with
finite differences in both modes.

What to look for: training outputs with per-feature mean 0 and std 1; running
statistics equal to the closed form after 20 steps; eval outputs that differ
from training outputs on the same batch; both gradient checks passing; a
clear error for a training batch of one sample.

Run: ``python examples/04_batchnorm.py``
"""

import numpy as np

import gradwatch
from gradwatch.nn import BatchNorm

rng = np.random.default_rng(0)
# Three features with very different scales and offsets.
x = rng.normal(loc=[5.0, -3.0, 0.0], scale=[10.0, 0.1, 1.0], size=(32, 3))

bn = BatchNorm(3, momentum=0.1, dtype=np.float64)
y = bn(x)
for name, values in (("input ", x), ("output", y)):
    mean, std = values.mean(axis=0), values.std(axis=0)
    # Adding 0.0 turns a printed -0.0 into 0.0. The second feature's output
    # std is a little below 1: its variance (0.007) is not large next to eps.
    print(f"{name} per-feature mean {np.round(mean, 4) + 0.0}, std {np.round(std, 4)}")

# After k training steps on the same batch, starting from mean 0 and var 1:
# running_mean = (1 - 0.9^k) * mean_B and
# running_var = 0.9^k + (1 - 0.9^k) * unbiased var_B.
k = 20
for _ in range(k - 1):  # the first step was the call above
    bn(x)
decay = (1 - 0.1) ** k
expected_mean = (1 - decay) * x.mean(axis=0)
expected_var = decay + (1 - decay) * x.var(axis=0, ddof=1)
print(
    f"running_mean after {k} steps {np.round(bn.running_mean, 4)} "
    f"(closed form {np.round(expected_mean, 4)})"
)
print(
    f"running_var  after {k} steps {np.round(bn.running_var, 4)} "
    f"(closed form {np.round(expected_var, 4)})"
)

bn.eval()
y_eval = bn(x)
print(
    f"eval output differs from train output on the same batch: "
    f"max |difference| = {np.abs(y_eval - y).max():.3f}"
)
# gamma = 1 and beta = 0 as initialised.
expected_eval = (x - bn.running_mean) / np.sqrt(bn.running_var + bn.eps)
print(
    f"eval output matches (x - running_mean) / sqrt(running_var + eps): "
    f"{np.allclose(y_eval, expected_eval)}"
)

# Gradient checks, float64, random upstream gradient, in both modes. Random
# gamma and beta make the check exercise the parameter gradients too; the
# training-mode check runs many forward passes, so the eval-mode check then
# uses non-trivial running statistics.
check = BatchNorm(3, dtype=np.float64)
check.weight.value[:] = rng.uniform(0.5, 2.0, size=3)
check.bias.value[:] = rng.normal(size=3)
batch = rng.standard_normal((8, 3))
for mode in ("train", "eval"):
    check.train(mode == "train")
    print(f"{mode:5s} mode: {gradwatch.gradcheck(check, batch, rng=1)}")

try:
    BatchNorm(3)(np.ones((1, 3)))
except ValueError as error:
    print(f"training batch of one sample -> ValueError: {error}")
