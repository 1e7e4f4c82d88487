"""gradwatch: see and overcome vanishing and exploding gradients.

An exact NumPy engine (every layer's backward pass written by hand and
checked against finite differences and PyTorch), a gradient monitor that
diagnoses where gradients vanish or explode, and studies on real data.
"""

from . import init, nn, optim, theory
from .clip import clip_grad_norm, clip_grad_value
from .gradcheck import GradcheckResult, gradcheck, numerical_gradient
from .monitor import GradientMonitor, NonFiniteGradientError

__version__ = "0.1.0"

__all__ = [
    "GradcheckResult",
    "__version__",
    "gradcheck",
    "init",
    "nn",
    "numerical_gradient",
    "clip_grad_norm",
    "clip_grad_value",
    "optim",
    "GradientMonitor",
    "NonFiniteGradientError",
    "theory",
]
