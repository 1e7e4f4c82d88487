"""The fully connected layer."""

from __future__ import annotations

import numpy as np

from .. import init as initializers
from .._validation import as_dtype, as_rng, check_features, positive_int
from .module import Module, Parameter

__all__ = ["Linear"]


class Linear(Module):
    """Affine map ``y = x @ W + b``.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of the input and output feature axes.
    bias : bool
        Whether to learn the additive bias ``b`` (initialised to zero).
    init : str or callable
        Initialiser of ``W``, by name (``"xavier_uniform"``, ``"he_normal"``,
        ``"normal"``, ...) or as a callable ``(shape, *, dtype, rng)``; see
        ``gradwatch.init``. Default ``"xavier_uniform"`` (Glorot & Bengio 2010).
    dtype : float32 or float64, keyword-only
        Dtype of the weights; inputs are converted to it.
    rng : numpy.random.Generator or int, keyword-only
        Source of the initial weights; a seed gives the same weights bit for bit.

    Shapes
    ------
    W: ``(in_features, out_features)`` (the transpose of PyTorch's layout),
    b: ``(out_features,)``, x: ``(..., in_features)``, y: ``(..., out_features)``.

    Backward
    --------
    With g = dL/dy flattened to ``(N, out_features)`` and x to
    ``(N, in_features)``: dL/dW = x^T g, dL/db = sum of g over rows,
    dL/dx = g W^T.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        init="xavier_uniform",
        *,
        dtype=np.float32,
        rng=None,
    ) -> None:
        super().__init__()
        self.in_features = positive_int(in_features, "in_features")
        self.out_features = positive_int(out_features, "out_features")
        self.dtype = as_dtype(dtype)
        initializer = initializers.get(init)
        self.init_name = initializers.describe(init)
        weight = initializer(
            (self.in_features, self.out_features), dtype=self.dtype, rng=as_rng(rng)
        )
        if weight.shape != (self.in_features, self.out_features):
            raise ValueError(
                f"initialiser {self.init_name!r} returned shape {weight.shape}, "
                f"expected {(self.in_features, self.out_features)}"
            )
        self.weight = Parameter(
            np.ascontiguousarray(weight, dtype=self.dtype), "weight"
        )
        self.bias = (
            Parameter(np.zeros(self.out_features, dtype=self.dtype), "bias")
            if bias
            else None
        )
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=self.dtype)
        check_features(x, self.in_features, f"Linear({self.in_features}, ...)")
        self._x = x
        y = x @ self.weight.value
        if self.bias is not None:
            y += self.bias.value
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._x is None:
            raise RuntimeError("Linear.backward() was called before forward()")
        x = self._x.reshape(-1, self.in_features)
        g = np.asarray(grad_out, dtype=self.dtype).reshape(-1, self.out_features)

        self.weight.accumulate(x.T @ g)
        if self.bias is not None:
            self.bias.accumulate(g.sum(axis=0))
        return (g @ self.weight.value.T).reshape(self._x.shape)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, init={self.init_name!r}"
        )
