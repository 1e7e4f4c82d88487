"""Loss functions: the scalar at the end of the network and its gradient.

A loss is called with the prediction and the target, returns the loss as a
Python float, and keeps what its gradient needs. ``backward()`` then returns
dL/dpred with the shape and dtype of the prediction, ready to be fed to the
model's ``backward``::

    loss = loss_fn(model(x), y)
    model.backward(loss_fn.backward())

Every loss averages over the batch (``reduction="mean"`` in PyTorch's terms),
so the gradient carries a factor 1/N.
"""

from __future__ import annotations

import numpy as np

from .module import Module

__all__ = ["BCEWithLogitsLoss", "CrossEntropyLoss", "Loss", "MSELoss"]


def _floating(pred, where: str) -> np.ndarray:
    pred = np.asarray(pred)
    if pred.dtype not in (np.float32, np.float64):
        if not np.issubdtype(pred.dtype, np.number) or np.iscomplexobj(pred):
            raise TypeError(
                f"{where}: predictions must be a float32 or float64 array, "
                f"got dtype {pred.dtype}"
            )
        pred = pred.astype(np.float64)
    if pred.size == 0:
        raise ValueError(f"{where}: predictions are empty (shape {pred.shape})")
    return pred


def _same_shape(pred: np.ndarray, target: np.ndarray, where: str) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"{where}: prediction shape {pred.shape} and target shape "
            f"{target.shape} differ; they must match element for element "
            "(reshape the target, e.g. y.reshape(-1, 1) for one output)"
        )


class Loss(Module):
    """Base class of the losses: ``forward(pred, target) -> float``, ``backward()``.

    ``forward`` (also reached by calling the loss) takes

    pred : ndarray
        The model's output, float32 or float64.
    target : ndarray
        What it should have been (see each loss for its shape and type).

    and returns the mean loss over the batch as a Python float. ``backward``
    takes no argument (the loss is the end of the chain, so its upstream
    gradient is dL/dL = 1) and returns dL/dpred for the last ``forward``
    call, with the shape and dtype of ``pred``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._grad: np.ndarray | None = None

    def __call__(self, pred: np.ndarray, target: np.ndarray) -> float:
        return self.forward(pred, target)

    def _require_forward(self) -> np.ndarray:
        if self._grad is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward() was called before forward(); "
                "compute the loss first"
            )
        return self._grad

    def backward(self) -> np.ndarray:
        """dL/dpred for the last forward call (a new array each time)."""
        return self._require_forward().copy()


class MSELoss(Loss):
    """Mean squared error over every element.

    L = (1 / n) sum_i (pred_i - target_i)^2, with n the number of elements;
    dL/dpred = 2 (pred - target) / n.

    Shapes
    ------
    pred and target: the same shape, any number of axes.
    """

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        pred = _floating(pred, "MSELoss")
        target = np.asarray(target)
        _same_shape(pred, target, "MSELoss")

        diff = pred - target.astype(pred.dtype, copy=False)
        loss = float(np.vdot(diff, diff)) / diff.size

        # The gradient is computed now, in place on diff: it is all backward needs.
        diff *= 2.0 / diff.size
        self._grad = diff
        return loss


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy of logits against integer class indices.

    L = (1 / N) sum_n [ logsumexp(z_n) - z_n[t_n] ], the mean over the batch of
    -log softmax(z_n)[t_n]; dL/dz_n = (softmax(z_n) - onehot(t_n)) / N.

    The log-sum-exp is computed after subtracting each row's maximum, so
    huge logits do not overflow: float32 logits ``[[1e8, 1e8]]`` with target
    1 give L = ln 2 and gradient ``[[0.5, -0.5]]``.

    Shapes
    ------
    pred: ``(N, C)`` logits; target: ``(N,)`` integers in ``[0, C)``.
    """

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        logits = _floating(pred, "CrossEntropyLoss")
        target = np.asarray(target)
        if logits.ndim != 2:
            raise ValueError(
                f"CrossEntropyLoss expects logits of shape (N, C), got {logits.shape}"
            )
        n, classes = logits.shape
        if target.dtype == bool or not np.issubdtype(target.dtype, np.integer):
            raise TypeError(
                "CrossEntropyLoss expects integer class indices as targets, got "
                f"dtype {target.dtype}; convert them with target.astype(np.int64) "
                "(one-hot or probability targets are not supported)"
            )
        if target.shape != (n,):
            raise ValueError(
                f"CrossEntropyLoss: targets must have shape ({n},) to match logits "
                f"{logits.shape}, got {target.shape}"
            )
        if target.min() < 0 or target.max() >= classes:
            bad = target[(target < 0) | (target >= classes)][0]
            raise IndexError(
                f"CrossEntropyLoss: class index {int(bad)} is out of range for "
                f"{classes} classes; targets must lie in [0, {classes - 1}]"
            )

        rows = np.arange(n)
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        sum_exp = exp.sum(axis=1)
        loss = float(np.mean(np.log(sum_exp) - shifted[rows, target]))

        probs = exp / sum_exp[:, None]
        probs[rows, target] -= 1.0
        probs /= n
        self._grad = probs
        return loss


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy of logits x against targets y in [0, 1].

    L = mean of max(x, 0) - x y + log(1 + exp(-|x|)), which equals
    -[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))] but never overflows;
    dL/dx = (sigmoid(x) - y) / n, with n the number of elements.

    Shapes
    ------
    pred and target: the same shape, any number of axes.
    """

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        x = _floating(pred, "BCEWithLogitsLoss")
        target = np.asarray(target)
        _same_shape(x, target, "BCEWithLogitsLoss")
        y = target.astype(x.dtype, copy=False)
        if not np.all((y >= 0) & (y <= 1)):
            raise ValueError(
                "BCEWithLogitsLoss: targets must lie in [0, 1] (probabilities or "
                f"0/1 labels), got values from {y.min()} to {y.max()}"
            )

        e = np.exp(-np.abs(x))
        loss = float(np.mean(np.maximum(x, 0) - x * y + np.log1p(e)))

        # sigmoid(x) from the same exp(-|x|): 1 / (1 + e) for x >= 0, e / (1 + e)
        # otherwise.
        sigmoid = np.where(x >= 0, 1.0, e) / (1.0 + e)
        self._grad = ((sigmoid - y) / x.size).astype(x.dtype, copy=False)
        return loss
