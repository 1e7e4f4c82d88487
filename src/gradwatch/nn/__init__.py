"""Layers with hand-written forward and backward passes, one family per module."""

from .activations import (
    ELU,
    GELU,
    Activation,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softsign,
    Tanh,
    get_activation,
)
from .linear import Linear
from .module import Module, Parameter, Sequential, check_no_shared_layers

__all__ = [
    "ELU",
    "GELU",
    "Activation",
    "Identity",
    "LeakyReLU",
    "Linear",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softsign",
    "Tanh",
    "check_no_shared_layers",
    "get_activation",
]
