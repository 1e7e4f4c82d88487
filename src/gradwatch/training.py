"""A small training loop shared by the studies: mini-batches, clipping, history.

``fit`` runs plain mini-batch training of a gradwatch model with any
gradwatch optimiser and loss. Each step is the usual five lines, written out
so a reader sees where the gradient monitor (which hooks into
``model.backward``) and gradient clipping act::

    optimizer.zero_grad()
    loss_value = loss.forward(model(x_batch), y_batch)
    model.backward(loss.backward())
    clip_grad_norm(model.parameters(), clip_norm)   # when clip_norm is set
    optimizer.step()

The loop reports progress through a callback and never prints.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._validation import as_rng, positive_int
from .clip import clip_grad_norm

__all__ = ["FitHistory", "evaluate", "fit", "predict"]

logger = logging.getLogger(__name__)

#: ``progress(done, total)`` is called after every training step.
ProgressCallback = Callable[[int, int], None]


@dataclass
class FitHistory:
    """What happened during ``fit``.

    Attributes
    ----------
    train_loss : list of float
        Mean training loss of each epoch (over its mini-batches).
    val_loss : list of float
        Validation loss after each epoch (empty without validation data).
    grad_norm : list of float
        Global 2-norm of all parameter gradients at each step, before
        clipping (recorded only when ``clip_norm`` is set).
    steps : int
        Optimiser steps taken.
    diverged : bool
        True when a loss became NaN or infinite and training stopped early.
    diverged_epoch : int or None
        The epoch (counted from 1) in which that happened.
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    steps: int = 0
    diverged: bool = False
    diverged_epoch: int | None = None

    def to_dict(self) -> dict:
        """JSON-ready: non-finite numbers become ``None``."""

        def clean(values):
            return [float(v) if math.isfinite(v) else None for v in values]

        finite_norms = [v for v in self.grad_norm if math.isfinite(v)]
        return {
            "train_loss": clean(self.train_loss),
            "val_loss": clean(self.val_loss),
            "steps": self.steps,
            "diverged": self.diverged,
            "diverged_epoch": self.diverged_epoch,
            "max_grad_norm": max(finite_norms) if finite_norms else None,
        }


def _batches(n: int, batch_size: int, generator: np.random.Generator | None):
    order = np.arange(n) if generator is None else generator.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def predict(model, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Outputs of ``model`` on ``x`` in evaluation mode, batch by batch.

    The model's training/evaluation mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        outputs = [
            np.asarray(model(x[rows]))
            for rows in _batches(len(x), positive_int(batch_size, "batch_size"), None)
        ]
    finally:
        model.train(was_training)
    return np.concatenate(outputs, axis=0)


def evaluate(model, loss, x: np.ndarray, y: np.ndarray, batch_size: int = 1024):
    """Loss of ``model`` on the whole of ``(x, y)`` in evaluation mode."""
    return float(loss.forward(predict(model, x, batch_size), y))


def fit(
    model,
    loss,
    optimizer,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 64,
    clip_norm: float | None = None,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    rng=None,
    progress: ProgressCallback | None = None,
) -> FitHistory:
    """Train ``model`` on ``(x, y)`` with shuffled mini-batches.

    Parameters
    ----------
    model : gradwatch.nn.Module
    loss : a gradwatch loss
        ``loss.forward(pred, target) -> float`` and ``loss.backward()``.
    optimizer : a gradwatch optimiser over ``model.parameters()``
    x, y : ndarray
        Inputs and targets; the first axis indexes samples.
    epochs : int
        Passes over the data.
    batch_size : int
        Samples per step (the last batch of an epoch may be smaller).
    clip_norm : float, optional
        Rescale the gradients so that their global 2-norm is at most this
        (``gradwatch.clip_grad_norm``; Pascanu, Mikolov & Bengio 2013).
    x_val, y_val : ndarray, optional
        Evaluated after each epoch.
    rng : numpy.random.Generator or int
        Decides the shuffles; the same seed gives the same run.
    progress : callable, optional
        ``progress(done, total)`` after each step. It may raise (for example
        ``KeyboardInterrupt``) to stop training; the exception propagates.

    Returns
    -------
    FitHistory
        When a mini-batch loss becomes NaN or infinite, training stops there
        and ``diverged`` / ``diverged_epoch`` say so. NumPy's floating-point
        warnings (overflow, invalid value) are silenced during training: a
        diverging run is reported through the history, not through a stream
        of warnings.
    """
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
    if len(x) == 0:
        raise ValueError("fit() needs at least one training sample")
    generator = as_rng(rng)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    total = epochs * steps_per_epoch
    history = FitHistory()
    model.train()

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(epochs):
            losses = []
            for rows in _batches(len(x), batch_size, generator):
                loss_value, grad_norm = _step(
                    model, loss, optimizer, x[rows], y[rows], clip_norm
                )
                if not math.isfinite(loss_value):
                    logger.info(
                        "loss became %s in epoch %d; stopping", loss_value, epoch + 1
                    )
                    history.diverged = True
                    history.diverged_epoch = epoch + 1
                    break
                if grad_norm is not None:
                    history.grad_norm.append(grad_norm)
                losses.append(loss_value)
                history.steps += 1
                if progress is not None:
                    progress(history.steps, total)
            history.train_loss.append(float(np.mean(losses)) if losses else math.nan)
            if x_val is not None and y_val is not None:
                history.val_loss.append(evaluate(model, loss, x_val, y_val))
            if history.diverged:
                break
    return history


def _step(model, loss, optimizer, x, y, clip_norm) -> tuple[float, float | None]:
    """One optimiser step on a mini-batch: (its loss, the global gradient norm).

    A non-finite loss is returned without a backward pass or an update. The
    norm is measured (before clipping) only when ``clip_norm`` is given.
    """
    optimizer.zero_grad()
    loss_value = loss.forward(model(x), y)
    if not math.isfinite(loss_value):
        return loss_value, None
    model.backward(loss.backward())
    grad_norm = None
    if clip_norm is not None:
        grad_norm = float(
            clip_grad_norm(model.parameters(), clip_norm, error_if_nonfinite=False)
        )
    optimizer.step()
    return loss_value, grad_norm
