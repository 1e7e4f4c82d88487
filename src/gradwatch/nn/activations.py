"""Element-wise activations and their derivatives.

Each activation keeps what its derivative needs from the forward pass (the
output when the derivative is a function of it, otherwise the input), and
``backward`` multiplies the upstream gradient by that derivative. The
derivative itself is available as ``derivative()`` for the last forward
input: the gradient monitor uses it to count saturated and dead units.

The derivative's size is the whole story of vanishing gradients through an
activation: sigmoid' never exceeds 1/4 and tanh' never exceeds 1, so a deep
chain of them multiplies the gradient by many factors below one.

At a kink the derivative follows PyTorch: ReLU'(0) = 0, LeakyReLU'(0) =
negative_slope, ELU'(0) = alpha.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

from .._validation import as_dtype
from .module import Module

__all__ = [
    "ELU",
    "GELU",
    "Activation",
    "Identity",
    "LeakyReLU",
    "ReLU",
    "Sigmoid",
    "Softsign",
    "Tanh",
    "get_activation",
]


class Activation(Module):
    """Base class of the element-wise activations.

    Parameters
    ----------
    dtype : float32 or float64, keyword-only
        Inputs are converted to this dtype (a no-op when they already have it).
    rng : ignored, keyword-only
        Accepted so that every layer has the same constructor keywords.

    Shapes
    ------
    Input: any shape. Output: the same shape.
    """

    #: The name ``gradwatch.init.calculate_gain`` and ``gradwatch.theory`` know it by.
    nonlinearity = "linear"

    def __init__(self, *, dtype=np.float32, rng=None) -> None:
        super().__init__()
        self.dtype = as_dtype(dtype)
        self._saved: np.ndarray | None = None

    def _input(self, x) -> np.ndarray:
        return np.asarray(x, dtype=self.dtype)

    def _require_forward(self) -> np.ndarray:
        if self._saved is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward() was called before forward(); "
                "run the forward pass first"
            )
        return self._saved

    def derivative(self) -> np.ndarray:
        """phi'(x) at the input of the last forward pass."""
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return np.asarray(grad_out, dtype=self.dtype) * self.derivative()


class Identity(Activation):
    """phi(x) = x. A placeholder where no activation is wanted."""

    def forward(self, x):
        self._saved = self._input(x)
        return self._saved

    def derivative(self):
        return np.ones_like(self._require_forward())

    def backward(self, grad_out):
        self._require_forward()
        return np.asarray(grad_out, dtype=self.dtype)


class Sigmoid(Activation):
    """phi(x) = 1 / (1 + exp(-x)); phi'(x) = phi(x) (1 - phi(x)) <= 1/4.

    Computed from exp(-|x|), which never overflows, so any finite input
    (and +-inf) gives a value in [0, 1] without a warning.
    """

    nonlinearity = "sigmoid"

    def forward(self, x):
        x = self._input(x)
        e = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)
        self._saved = y
        return y

    def derivative(self):
        y = self._require_forward()
        return y * (1.0 - y)


class Tanh(Activation):
    """phi(x) = tanh(x); phi'(x) = 1 - tanh(x)^2 <= 1."""

    nonlinearity = "tanh"

    def forward(self, x):
        y = np.tanh(self._input(x))
        self._saved = y
        return y

    def derivative(self):
        y = self._require_forward()
        return 1.0 - y * y

    def backward(self, grad_out):
        y = self._require_forward()
        grad = y * y
        np.subtract(1.0, grad, out=grad)
        grad *= grad_out
        return grad


class ReLU(Activation):
    """phi(x) = max(x, 0); phi'(x) = 1 for x > 0, else 0 (including at 0).

    Reference: Nair & Hinton (2010); Glorot, Bordes & Bengio (2011).
    """

    nonlinearity = "relu"

    def forward(self, x):
        y = np.maximum(self._input(x), 0)
        self._saved = y
        return y

    def derivative(self):
        return (self._require_forward() > 0).astype(self.dtype)

    def backward(self, grad_out):
        y = self._require_forward()
        return np.where(y > 0, grad_out, 0).astype(self.dtype, copy=False)


class LeakyReLU(Activation):
    """phi(x) = x for x > 0, else negative_slope * x (Maas et al. 2013).

    Parameters
    ----------
    negative_slope : float
        Slope for negative inputs (default 0.01); phi'(0) = negative_slope.
    """

    nonlinearity = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01, *, dtype=np.float32, rng=None):
        super().__init__(dtype=dtype, rng=rng)
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        x = self._input(x)
        self._saved = x
        return np.where(x > 0, x, self.negative_slope * x)

    def derivative(self):
        x = self._require_forward()
        return np.where(x > 0, 1.0, self.negative_slope).astype(self.dtype)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Activation):
    """phi(x) = x for x > 0, else alpha (exp(x) - 1) (Clevert et al. 2016).

    phi'(x) = 1 for x > 0, else alpha exp(x) = phi(x) + alpha.
    """

    nonlinearity = "elu"

    def __init__(self, alpha: float = 1.0, *, dtype=np.float32, rng=None):
        super().__init__(dtype=dtype, rng=rng)
        self.alpha = float(alpha)

    def forward(self, x):
        x = self._input(x)
        negative = self.alpha * np.expm1(np.minimum(x, 0))
        y = np.where(x > 0, x, negative)
        self._saved = x
        self._output = y
        return y

    def derivative(self):
        x = self._require_forward()
        return np.where(x > 0, 1.0, self._output + self.alpha).astype(self.dtype)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class GELU(Activation):
    """phi(x) = x Phi(x), Phi the standard normal CDF (exact erf form).

    phi'(x) = Phi(x) + x * pdf(x). Reference: Hendrycks & Gimpel (2016).
    """

    nonlinearity = "gelu"

    def forward(self, x):
        x = self._input(x)
        self._saved = x
        return x * (0.5 * (1.0 + erf(x / math.sqrt(2.0))))

    def derivative(self):
        x = self._require_forward()
        cdf = 0.5 * (1.0 + erf(x / math.sqrt(2.0)))
        # Beyond |x| = 40 the density is exactly 0 in floating point; clipping
        # keeps x * x from overflowing for huge inputs.
        xc = np.clip(x, -40.0, 40.0)
        pdf = np.exp(-0.5 * xc * xc) / math.sqrt(2.0 * math.pi)
        return (cdf + x * pdf).astype(self.dtype, copy=False)


class Softsign(Activation):
    """phi(x) = x / (1 + |x|); phi'(x) = 1 / (1 + |x|)^2."""

    nonlinearity = "softsign"

    def forward(self, x):
        x = self._input(x)
        self._saved = x
        return x / (1.0 + np.abs(x))

    def derivative(self):
        x = self._require_forward()
        # Squaring the reciprocal (rather than taking the reciprocal of the
        # square) cannot overflow for huge |x|.
        r = 1.0 / (1.0 + np.abs(x))
        return r * r


_BY_NAME = {
    "identity": Identity,
    "linear": Identity,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "gelu": GELU,
    "softsign": Softsign,
}


def get_activation(name: str, *, dtype=np.float32, **kwargs) -> Activation:
    """Build an activation layer from its name (``"tanh"``, ``"relu"``, ...)."""
    try:
        cls = _BY_NAME[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"unknown activation {name!r}; choose one of {', '.join(_BY_NAME)}"
        ) from None
    return cls(dtype=dtype, **kwargs)
