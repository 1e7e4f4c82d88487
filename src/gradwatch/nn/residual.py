"""Residual (skip) connections (He, Zhang, Ren & Sun 2016).

A residual block adds its input to its output, ``y = F(x) + x``. Its
Jacobian is ``I + dF/dx``, so the gradient reaching x always contains the
upstream gradient unchanged, however small dF/dx becomes: stacking residual
blocks keeps gradients from vanishing with depth.

References
----------
He, Zhang, Ren & Sun (2016), "Deep residual learning for image recognition".
"""

from __future__ import annotations

import numpy as np

from .module import Module, check_no_shared_layers

__all__ = ["Residual"]


class Residual(Module):
    """``y = block(x) + x``, or ``y = block(x) + projection(x)``.

    Parameters
    ----------
    block : Module
        The residual branch F, e.g. ``Sequential(Linear(d, d), ReLU())``.
    projection : Module, optional
        A layer that maps x to the shape of F(x) when the two differ (usually
        ``Linear(in_features, out_features, bias=False)``). Without it the
        shortcut is the identity.

    Shapes
    ------
    x: whatever ``block`` accepts; y: the shape of ``block(x)``, which must
    equal x's shape unless a projection is given.

    Backward
    --------
    With g = dL/dy, the gradient flows down both paths and adds up:
    dL/dx = block.backward(g) + g (identity shortcut) or
    block.backward(g) + projection.backward(g).

    Raises
    ------
    ValueError
        If a layer object is used twice inside the block (or in both paths).
    """

    def __init__(self, block: Module, projection: Module | None = None) -> None:
        super().__init__()
        for name, layer in (("block", block), ("projection", projection)):
            if layer is not None and not isinstance(layer, Module):
                raise TypeError(
                    f"Residual: {name} must be a gradwatch layer, got "
                    f"{type(layer).__name__}"
                )
        self.block = block
        self.projection = projection
        check_no_shared_layers(self)

    def forward(self, x: np.ndarray) -> np.ndarray:
        h = self.block(x)
        if self.projection is None:
            shortcut = np.asarray(x)
            if shortcut.shape != h.shape:
                raise ValueError(
                    f"Residual: the block maps shape {shortcut.shape} to {h.shape}, "
                    "so x cannot be added to its output; pass "
                    "projection=Linear(in_features, out_features) to map x to the "
                    "block's output shape"
                )
        else:
            shortcut = self.projection(x)
            if shortcut.shape != h.shape:
                raise ValueError(
                    f"Residual: the block's output has shape {h.shape} but the "
                    f"projection's has {shortcut.shape}; they must match"
                )
        # The shortcut takes the block's dtype, so a float32 block stays float32.
        return h + shortcut.astype(h.dtype, copy=False)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        grad_h = self.block.backward(grad_out)
        if self.projection is None:
            grad_shortcut = grad_out
        else:
            grad_shortcut = self.projection.backward(grad_out)
        return grad_h + grad_shortcut

    def extra_repr(self) -> str:
        return "" if self.projection is not None else "shortcut=identity"
