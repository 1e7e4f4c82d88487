"""Batch normalisation (Ioffe & Szegedy 2015).

Normalising each feature to zero mean and unit variance over the batch keeps
the pre-activations of a deep network in the range where the activations
are not saturated, whatever the scale of the weights; this keeps gradients
from vanishing or exploding through the layers.

References
----------
Ioffe & Szegedy (2015), "Batch normalization: Accelerating deep network
training by reducing internal covariate shift".
"""

from __future__ import annotations

import numpy as np

from .._validation import as_dtype, positive_int
from .module import Module, Parameter

__all__ = ["BatchNorm"]


class BatchNorm(Module):
    """Batch normalisation over every axis but the last (the features).

    Training (statistics of the batch, m samples per feature)::

        mu = mean(x),  var = mean((x - mu)^2)          (biased variance)
        x_hat = (x - mu) / sqrt(var + eps)
        y = weight * x_hat + bias
        running_mean = (1 - momentum) * running_mean + momentum * mu
        running_var  = (1 - momentum) * running_var
                       + momentum * var * m / (m - 1)  (unbiased variance)

    Evaluation (``eval()``): the same with ``running_mean`` and
    ``running_var`` in place of mu and var; nothing is updated.

    These are PyTorch's ``BatchNorm1d`` conventions.

    Parameters
    ----------
    num_features : int
        Size of the last axis of the input.
    momentum : float
        Weight of the newest batch in the running statistics, in [0, 1].
    eps : float
        Added to the variance before the square root, > 0.
    dtype : float32 or float64, keyword-only
        Dtype of the parameters and running statistics; inputs are converted.
    rng : ignored, keyword-only
        Accepted so that every layer has the same constructor keywords.

    Shapes
    ------
    x and y: ``(N, C)`` or ``(N, ..., C)`` with C = ``num_features``;
    ``weight``, ``bias``, ``running_mean``, ``running_var``: ``(C,)``.

    Backward
    --------
    With g = dL/dy and m samples per feature, in training::

        dL/dweight = sum(g * x_hat),  dL/dbias = sum(g),  g_hat = g * weight
        dL/dx = (m g_hat - sum(g_hat) - x_hat sum(g_hat x_hat)) / (m sqrt(var + eps))

    (the last two terms are the paths through mu and var). In evaluation the
    statistics are constants: dL/dx = g_hat / sqrt(running_var + eps).
    """

    _buffer_names = ("running_mean", "running_var")

    def __init__(
        self,
        num_features: int,
        momentum: float = 0.1,
        eps: float = 1e-5,
        *,
        dtype=np.float32,
        rng=None,
    ) -> None:
        super().__init__()
        self.num_features = positive_int(num_features, "num_features")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm momentum must lie in [0, 1], got {momentum}")
        if not eps > 0:
            raise ValueError(f"BatchNorm eps must be > 0, got {eps}")
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.dtype = as_dtype(dtype)

        self.weight = Parameter(np.ones(self.num_features, dtype=self.dtype), "weight")
        self.bias = Parameter(np.zeros(self.num_features, dtype=self.dtype), "bias")
        self.running_mean = np.zeros(self.num_features, dtype=self.dtype)
        self.running_var = np.ones(self.num_features, dtype=self.dtype)

        self._x_hat: np.ndarray | None = None
        self._inv_std: np.ndarray | None = None
        self._used_batch_statistics = True

    def _flatten(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim < 2 or x.shape[-1] != self.num_features:
            raise ValueError(
                f"BatchNorm({self.num_features}) expects inputs of shape (N, "
                f"{self.num_features}) or (N, ..., {self.num_features}), got an "
                f"array of shape {x.shape}"
            )
        return x.reshape(-1, self.num_features)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x2 = self._flatten(x)
        m = x2.shape[0]

        if self.training:
            if m < 2:
                raise ValueError(
                    "BatchNorm in training mode needs at least 2 samples per "
                    f"feature to estimate a variance, got input of shape "
                    f"{np.shape(x)}; use eval() or a batch of >= 2"
                )
            mu = x2.mean(axis=0)
            centred = x2 - mu
            var = np.mean(centred * centred, axis=0)

            unbiased = var * (m / (m - 1))
            self.running_mean *= 1.0 - self.momentum
            self.running_mean += self.momentum * mu
            self.running_var *= 1.0 - self.momentum
            self.running_var += self.momentum * unbiased
        else:
            centred = x2 - self.running_mean
            var = self.running_var

        inv_std = 1.0 / np.sqrt(var + self.eps)
        x_hat = centred * inv_std
        y = x_hat * self.weight.value + self.bias.value

        self._x_hat = x_hat
        self._inv_std = inv_std
        self._used_batch_statistics = self.training
        return y.reshape(np.shape(x))

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._x_hat is None:
            raise RuntimeError("BatchNorm.backward() was called before forward()")
        x_hat, inv_std = self._x_hat, self._inv_std
        g = np.asarray(grad_out, dtype=self.dtype).reshape(x_hat.shape)

        self.weight.accumulate(np.sum(g * x_hat, axis=0))
        self.bias.accumulate(g.sum(axis=0))
        grad_x_hat = g * self.weight.value

        if self._used_batch_statistics:
            m = x_hat.shape[0]
            grad_x = m * grad_x_hat
            grad_x -= grad_x_hat.sum(axis=0)
            grad_x -= x_hat * np.sum(grad_x_hat * x_hat, axis=0)
            grad_x *= inv_std / m
        else:
            grad_x = grad_x_hat * inv_std
        return grad_x.reshape(np.shape(grad_out))

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, momentum={self.momentum}, eps={self.eps}, "
            f"dtype={self.dtype.name}"
        )
