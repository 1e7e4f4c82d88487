"""gradwatch: see and overcome vanishing and exploding gradients.

An exact NumPy engine (every layer's backward pass written by hand and
checked against finite differences and PyTorch), a gradient monitor that
diagnoses where gradients vanish or explode, and studies on real data.
"""

from . import init, nn
from .gradcheck import GradcheckResult, gradcheck, numerical_gradient

__version__ = "0.1.0"

__all__ = [
    "GradcheckResult",
    "__version__",
    "gradcheck",
    "init",
    "nn",
    "numerical_gradient",
]
