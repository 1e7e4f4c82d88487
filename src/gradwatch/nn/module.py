"""The building blocks every layer shares: ``Parameter``, ``Module`` and ``Sequential``.

A gradwatch layer is a plain Python object with two methods written by hand:
``forward(x)`` computes the output and keeps exactly what the backward pass
needs; ``backward(grad_out)`` receives dL/dy, adds dL/dtheta to each
parameter's ``.grad`` and returns dL/dx. There is no autograd: the chain rule
is spelled out in every layer, which is what makes the engine readable and
lets the gradient monitor see each layer's gradients as they are produced.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import numpy as np

Hook = Callable[["Module", np.ndarray, np.ndarray], None]


class Parameter:
    """A trainable array and its gradient.

    Parameters
    ----------
    value : ndarray
        The current value; optimisers update it in place.
    name : str
        Short name inside its layer (``"weight"``, ``"bias"``).

    Notes
    -----
    ``grad`` is ``None`` until a backward pass produces a gradient, and again
    after ``zero_grad()``. Successive backward passes add up, as in PyTorch,
    so call ``zero_grad()`` (or ``optimizer.zero_grad()``) before each step.
    """

    __slots__ = ("value", "grad", "name")

    def __init__(self, value: np.ndarray, name: str = "") -> None:
        self.value = value
        self.grad: np.ndarray | None = None
        self.name = name

    def accumulate(self, grad: np.ndarray) -> None:
        """Add ``grad`` to ``self.grad``; the first one is stored without a copy.

        The caller hands the array over: it must not write to it afterwards.
        """
        if self.grad is None:
            self.grad = grad
        else:
            self.grad += grad

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape

    def __repr__(self) -> str:
        return (
            f"Parameter(name={self.name!r}, shape={self.value.shape}, "
            f"dtype={self.value.dtype})"
        )


class HookHandle:
    """Returned when a hook is registered; ``remove()`` unregisters it."""

    def __init__(self, hooks: list, hook: Callable) -> None:
        self._hooks = hooks
        self._hook = hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _with_hooks(method: Callable, attribute: str) -> Callable:
    """Wrap a layer's ``forward`` or ``backward`` so registered hooks see each call.

    With no hook registered the wrapper costs one attribute lookup. A subclass
    whose method calls ``super()`` fires the hooks once, from the outermost call.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        hooks = getattr(self, attribute)
        if hooks and getattr(type(self), method.__name__) is wrapper:
            for hook in tuple(hooks):
                hook(self, args[0] if args else None, result)
        return result

    return wrapper


class Module:
    """Base class of every layer and model.

    Subclasses set their parameters and sub-layers as attributes in
    ``__init__`` (after calling ``super().__init__()``) and write ``forward``
    and ``backward``. ``parameters()``, ``train()``, ``eval()``,
    ``zero_grad()`` and ``repr()`` then work on the whole tree.

    Hooks: ``register_forward_hook(fn)`` calls ``fn(module, x, y)`` after each
    forward pass; ``register_backward_hook(fn)`` calls
    ``fn(module, grad_out, grad_in)`` after each backward pass. The gradient
    monitor is built on them.
    """

    training: bool = True
    _buffer_names: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.training = True
        self._forward_hooks: list[Hook] = []
        self._backward_hooks: list[Hook] = []

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "forward" in cls.__dict__:
            cls.forward = _with_hooks(cls.__dict__["forward"], "_forward_hooks")
        if "backward" in cls.__dict__:
            cls.backward = _with_hooks(cls.__dict__["backward"], "_backward_hooks")

    # -- computation -----------------------------------------------------------

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not define backward()")

    def __call__(self, x: np.ndarray, *args, **kwargs) -> np.ndarray:
        return self.forward(x, *args, **kwargs)

    # -- the tree of layers ----------------------------------------------------

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-layers, in the order they were assigned."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif (
                isinstance(value, list | tuple)
                and value
                and all(isinstance(v, Module) for v in value)
            ):
                for i, child in enumerate(value):
                    yield f"{i}" if name == "layers" else f"{name}.{i}", child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every module below it, depth first, with dotted names."""
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every parameter below this module, named ``"<module path>.<name>"``."""
        for path, module in self.named_modules(prefix):
            for value in vars(module).values():
                if isinstance(value, Parameter):
                    yield (f"{path}.{value.name}" if path else value.name), value

    def parameters(self) -> Iterator[Parameter]:
        for _, parameter in self.named_parameters():
            yield parameter

    def own_parameters(self) -> list[Parameter]:
        """The parameters held directly by this module (not by its sub-layers)."""
        return [v for v in vars(self).values() if isinstance(v, Parameter)]

    # -- modes and gradients ---------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Put every layer in training mode (or eval mode with ``mode=False``)."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Put every layer in evaluation mode (BatchNorm uses running statistics)."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (set it to ``None``)."""
        for parameter in self.parameters():
            parameter.grad = None

    # -- hooks -----------------------------------------------------------------

    def register_forward_hook(self, hook: Hook) -> HookHandle:
        """Call ``hook(module, x, y)`` after every forward pass of this module."""
        self._forward_hooks.append(hook)
        return HookHandle(self._forward_hooks, hook)

    def register_backward_hook(self, hook: Hook) -> HookHandle:
        """Call ``hook(module, grad_out, grad_in)`` after every backward pass."""
        self._backward_hooks.append(hook)
        return HookHandle(self._backward_hooks, hook)

    # -- saving ----------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer (running statistics), by dotted name."""
        state = {name: p.value.copy() for name, p in self.named_parameters()}
        for path, module in self.named_modules():
            for buffer in module._buffer_names:
                key = f"{path}.{buffer}" if path else buffer
                state[key] = np.array(getattr(module, buffer), copy=True)
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy values saved by ``state_dict`` back, checking names and shapes."""
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise KeyError(
                f"state does not match the model: missing {missing}, "
                f"unexpected {unexpected}"
            )
        for key, value in state.items():
            if np.shape(value) != own[key].shape:
                raise ValueError(
                    f"{key}: saved shape {np.shape(value)} differs from the "
                    f"model's {own[key].shape}"
                )
        parameters = dict(self.named_parameters())
        for path, module in self.named_modules():
            for buffer in module._buffer_names:
                key = f"{path}.{buffer}" if path else buffer
                getattr(module, buffer)[...] = state[key]
        for key, parameter in parameters.items():
            parameter.value[...] = state[key]

    # -- display ---------------------------------------------------------------

    def extra_repr(self) -> str:
        """The arguments shown between the parentheses of ``repr``."""
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)


def check_no_shared_layers(root: Module) -> None:
    """Refuse a model in which one layer object appears twice.

    A layer keeps the inputs of its last forward pass for its backward pass,
    so one object used at two places would backpropagate through the wrong
    inputs. Build a new layer for each place instead (copy the weights if
    they should start equal).
    """
    seen: dict[int, str] = {}
    for path, module in root.named_modules():
        if id(module) in seen:
            raise ValueError(
                f"the same {type(module).__name__} object is used twice, at "
                f"{seen[id(module)] or '<root>'!r} and {path!r}; gradwatch layers "
                "keep their forward inputs for backward, so each place needs "
                "its own layer object"
            )
        seen[id(module)] = path


class Sequential(Module):
    """Layers applied one after the other: ``y = f_n(...f_2(f_1(x)))``.

    Backward runs the layers in reverse, feeding each one the gradient
    returned by the layer after it. Indexing and ``len`` work as on a list.

    Raises
    ------
    ValueError
        If a layer object appears twice in the model.
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(
                    f"Sequential takes gradwatch layers; argument {i} is a "
                    f"{type(layer).__name__}"
                )
        self.layers = list(layers)
        check_no_shared_layers(self)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            grad_out = layer.backward(grad_out)
        return grad_out

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)
