"""Optimisers: SGD (with momentum and Nesterov), Adam and RMSprop.

Each optimiser follows PyTorch's update rule exactly (same order of
operations, same placement of ``eps``), so a gradwatch model and a PyTorch
model with the same weights and gradients take the same steps. Parameters
are updated in place; a parameter whose ``grad`` is ``None`` is skipped.

A step hook lets the gradient monitor see what each step did::

    handle = optimizer.register_step_hook(fn)   # fn(optimizer, updates)
    handle.remove()

After every ``step()``, ``fn`` receives ``updates``, a list of
``(parameter, new_value - old_value)`` pairs for the parameters updated.
The old values are only copied while a hook is registered.

References
----------
Sutskever, Martens, Dahl & Hinton (2013), "On the importance of
initialization and momentum in deep learning" (Nesterov momentum).
Kingma & Ba (2015), "Adam: A method for stochastic optimization".
Tieleman & Hinton (2012), Lecture 6.5 of "Neural networks for machine
learning" (RMSprop).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np

from .nn.module import HookHandle, Parameter

__all__ = ["SGD", "Adam", "Optimizer", "RMSprop"]

StepHook = Callable[["Optimizer", list[tuple[Parameter, np.ndarray]]], None]


def _non_negative(value, name: str, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{owner}: {name} must be a finite number >= 0, got {value}")
    return float(value)


def _fraction(value, name: str, owner: str) -> float:
    value = _non_negative(value, name, owner)
    if not value < 1:
        raise ValueError(f"{owner}: {name} must lie in [0, 1), got {value}")
    return value


class Optimizer:
    """Base class: holds the parameters, ``zero_grad()`` and the step hooks.

    Parameters
    ----------
    params : iterable of Parameter
        Usually ``model.parameters()``; a generator is read once and kept as
        a list.
    """

    def __init__(self, params: Iterable[Parameter]) -> None:
        owner = type(self).__name__
        if isinstance(params, Parameter):
            params = [params]
        try:
            self.params = list(params)
        except TypeError:
            raise TypeError(
                f"{owner} takes an iterable of Parameters such as "
                f"model.parameters(), got {type(params).__name__}"
            ) from None
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(
                    f"{owner}: item {i} of params is a {type(p).__name__}, not a "
                    "gradwatch Parameter; pass model.parameters()"
                )
        if not self.params:
            raise ValueError(f"{owner} got an empty parameter list")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{owner}: a parameter appears twice in params")
        self.state: dict[int, dict[str, np.ndarray | int]] = {
            id(p): {} for p in self.params
        }
        self._step_hooks: list[StepHook] = []
        self._update_buffers: dict[int, np.ndarray] = {}

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (set it to ``None``)."""
        for p in self.params:
            p.grad = None

    def register_step_hook(self, hook: StepHook) -> HookHandle:
        """Call ``hook(optimizer, updates)`` after every ``step()``.

        ``updates`` lists ``(parameter, new value - old value)`` for every
        parameter the step changed. The update arrays are reused by the next
        step: a hook that keeps one must copy it.
        """
        self._step_hooks.append(hook)
        return HookHandle(self._step_hooks, hook)

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        hooks = tuple(self._step_hooks)
        updates = []
        for p in self.params:
            if p.grad is None:
                continue
            if p.grad.shape != p.value.shape:
                raise ValueError(
                    f"{type(self).__name__}: gradient of {p.name or 'a parameter'} "
                    f"has shape {p.grad.shape} but its value has {p.value.shape}"
                )
            if not hooks:
                self._update(p, p.grad, self.state[id(p)])
                continue
            # One buffer per parameter, reused every step: it holds the old
            # value, then the update (new - old) that the hooks receive.
            before = self._update_buffers.get(id(p))
            if before is None or before.shape != p.value.shape:
                before = self._update_buffers[id(p)] = np.empty_like(p.value)
            np.copyto(before, p.value)
            self._update(p, p.grad, self.state[id(p)])
            np.subtract(p.value, before, out=before)
            updates.append((p, before))
        for hook in hooks:
            hook(self, updates)

    def _update(self, p: Parameter, grad: np.ndarray, state: dict) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({len(self.params)} parameters, {settings})"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    With g = grad + weight_decay * p, a velocity buffer b (started at the
    first g) and PyTorch's dampening 0::

        b = momentum * b + g
        d = g + momentum * b   (nesterov)   or   d = b   (classical)
        p = p - lr * d

    With ``momentum=0`` the step is plain ``p = p - lr * g``.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
        Learning rate, >= 0.
    momentum : float
        Momentum factor in [0, 1).
    nesterov : bool
        Use Nesterov momentum (needs ``momentum > 0``).
    weight_decay : float
        L2 penalty coefficient, >= 0 (added to the gradient).
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params)
        self.lr = _non_negative(lr, "lr", "SGD")
        self.momentum = _fraction(momentum, "momentum", "SGD")
        self.nesterov = bool(nesterov)
        self.weight_decay = _non_negative(weight_decay, "weight_decay", "SGD")
        if self.nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs a momentum > 0")
        self.defaults = {
            "lr": self.lr,
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
        }

    def _update(self, p, grad, state):
        if self.weight_decay:
            grad = grad + self.weight_decay * p.value
        if self.momentum:
            velocity = state.get("velocity")
            if velocity is None:
                velocity = state["velocity"] = grad.copy()
            else:
                velocity *= self.momentum
                velocity += grad
            grad = grad + self.momentum * velocity if self.nesterov else velocity

        p.value -= self.lr * grad


class Adam(Optimizer):
    """Adam with bias-corrected moment estimates (Kingma & Ba 2015).

    With g = grad + weight_decay * p (L2 penalty, not AdamW's decoupled
    decay) and step count t::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
        Learning rate, >= 0.
    betas : (float, float)
        Decay rates of the first and second moment estimates, each in [0, 1).
    eps : float
        Added to the denominator outside the square root, >= 0.
    weight_decay : float
        L2 penalty coefficient, >= 0.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params)
        self.lr = _non_negative(lr, "lr", "Adam")
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(
                f"Adam: betas must be a pair of numbers, got {betas!r}"
            ) from None
        self.betas = (
            _fraction(beta1, "betas[0]", "Adam"),
            _fraction(beta2, "betas[1]", "Adam"),
        )
        self.eps = _non_negative(eps, "eps", "Adam")
        self.weight_decay = _non_negative(weight_decay, "weight_decay", "Adam")
        self.defaults = {
            "lr": self.lr,
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }

    def _update(self, p, grad, state):
        beta1, beta2 = self.betas
        if self.weight_decay:
            grad = grad + self.weight_decay * p.value
        if not state:
            state["t"] = 0
            state["m"] = np.zeros_like(p.value)
            state["v"] = np.zeros_like(p.value)
        state["t"] += 1
        t, m, v = state["t"], state["m"], state["v"]

        m *= beta1
        m += (1.0 - beta1) * grad
        v *= beta2
        v += (1.0 - beta2) * (grad * grad)

        step_size = self.lr / (1.0 - beta1**t)
        denom = np.sqrt(v) / math.sqrt(1.0 - beta2**t)
        denom += self.eps
        p.value -= step_size * (m / denom)


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root mean square of it.

    With g = grad + weight_decay * p::

        s = alpha * s + (1 - alpha) * g^2
        d = g / (sqrt(s) + eps)
        b = momentum * b + d,  p = p - lr * b    (momentum > 0)
        p = p - lr * d                           (otherwise)

    ``eps`` is added outside the square root, as in PyTorch.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
        Learning rate, >= 0.
    alpha : float
        Decay rate of the running mean square, in [0, 1).
    eps : float
        Added to the denominator, >= 0.
    momentum : float
        Momentum factor in [0, 1).
    weight_decay : float
        L2 penalty coefficient, >= 0.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params)
        self.lr = _non_negative(lr, "lr", "RMSprop")
        self.alpha = _fraction(alpha, "alpha", "RMSprop")
        self.eps = _non_negative(eps, "eps", "RMSprop")
        self.momentum = _fraction(momentum, "momentum", "RMSprop")
        self.weight_decay = _non_negative(weight_decay, "weight_decay", "RMSprop")
        self.defaults = {
            "lr": self.lr,
            "alpha": self.alpha,
            "eps": self.eps,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
        }

    def _update(self, p, grad, state):
        if self.weight_decay:
            grad = grad + self.weight_decay * p.value
        if not state:
            state["square_avg"] = np.zeros_like(p.value)
            if self.momentum:
                state["momentum_buffer"] = np.zeros_like(p.value)
        square_avg = state["square_avg"]

        square_avg *= self.alpha
        square_avg += (1.0 - self.alpha) * (grad * grad)
        direction = grad / (np.sqrt(square_avg) + self.eps)
        if self.momentum:
            buffer = state["momentum_buffer"]
            buffer *= self.momentum
            buffer += direction
            direction = buffer
        p.value -= self.lr * direction
