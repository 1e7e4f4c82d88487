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
from .convert import from_torch
from .linear import Linear
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss
from .module import Module, Parameter, Sequential, check_no_shared_layers
from .normalization import BatchNorm
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, Recurrent, RNNCell
from .residual import Residual

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
    "BatchNorm",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Loss",
    "MSELoss",
    "Residual",
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "RNN",
    "RNNCell",
    "Recurrent",
    "from_torch",
]
