"""The networks the studies compare, built from gradwatch layers.

Names of initialisations used throughout the studies:

* ``"small"``: Gaussian weights with a small fixed standard deviation
  (``std``, default 0.1), the setup in which a deep tanh or sigmoid network
  loses its gradient: each layer multiplies the backward signal by about
  ``sqrt(width) * std * phi'`` < 1.
* ``"xavier"``: Glorot & Bengio (2010), variance 2 / (fan_in + fan_out).
* ``"he"``: He et al. (2015), variance 2 / fan_in, made for ReLU.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import init as initializers
from .. import nn
from .._validation import as_rng

__all__ = ["INITS", "init_spec", "mlp", "recurrent_regressor"]

INITS = ("small", "xavier", "he")
CELLS = ("RNN", "LSTM", "GRU")


def init_spec(name: str, std: float = 0.1):
    """The ``Linear(init=...)`` argument for one of ``INITS``."""
    if name == "small":
        small = functools.partial(initializers.normal, std=std)
        small.__name__ = f"normal(std={std:g})"
        return small
    if name == "xavier":
        return "xavier_normal"
    if name == "he":
        return "he_normal"
    raise ValueError(f"unknown initialisation {name!r}; choose one of {INITS}")


def mlp(
    in_features: int,
    out_features: int,
    *,
    depth: int,
    width: int,
    activation: str = "tanh",
    init: str = "xavier",
    std: float = 0.1,
    batchnorm: bool = False,
    residual: bool = False,
    dtype=np.float32,
    rng=None,
) -> nn.Sequential:
    """A multilayer perceptron with ``depth`` Linear layers.

    Plain: ``Linear -> phi -> Linear -> phi -> ... -> Linear``. With
    ``batchnorm``, each hidden ``Linear`` is followed by ``BatchNorm``
    before ``phi`` (Ioffe & Szegedy 2015). With ``residual``, the hidden
    layers between the first and the last become pre-activation residual
    blocks ``h + Linear(phi(BN(h)))`` (He et al. 2016, "Identity mappings in
    deep residual networks"), so the gradient has a path that skips every
    block.

    Parameters
    ----------
    in_features, out_features : int
    depth : int
        Number of Linear layers (at least 2).
    width : int
        Units of every hidden layer.
    activation : str
        A name known to ``gradwatch.nn.get_activation``.
    init : {"small", "xavier", "he"}
    std : float
        Standard deviation of the ``"small"`` initialisation.
    batchnorm, residual : bool
    dtype, rng : keyword-only

    Returns
    -------
    Sequential
    """
    if depth < 2:
        raise ValueError(f"an MLP needs depth >= 2 Linear layers, got {depth}")
    generator = as_rng(rng)
    weights = init_spec(init, std)

    def linear(n_in, n_out):
        return nn.Linear(n_in, n_out, init=weights, dtype=dtype, rng=generator)

    def phi():
        return nn.get_activation(activation, dtype=dtype)

    def norm():
        return nn.BatchNorm(width, dtype=dtype)

    layers = [linear(in_features, width)]
    layers += [norm(), phi()] if batchnorm else [phi()]
    for _ in range(depth - 2):
        if residual:
            branch = [norm()] if batchnorm else []
            branch += [phi(), linear(width, width)]
            layers.append(nn.Residual(nn.Sequential(*branch)))
        else:
            layers.append(linear(width, width))
            layers += [norm(), phi()] if batchnorm else [phi()]
    if residual:
        layers += [norm(), phi()] if batchnorm else [phi()]
    layers.append(linear(width, out_features))
    return nn.Sequential(*layers)


def recurrent_regressor(
    cell: str,
    input_size: int,
    hidden_size: int,
    *,
    dtype=np.float32,
    rng=None,
) -> nn.Sequential:
    """``Sequential(RNN|LSTM|GRU(input_size, hidden_size), Linear(hidden_size, 1))``.

    The recurrent layer reads the whole sequence and hands its last hidden
    state to a linear read-out.
    """
    if cell not in CELLS:
        raise ValueError(f"unknown recurrent cell {cell!r}; choose one of {CELLS}")
    generator = as_rng(rng)
    layer = getattr(nn, cell)(input_size, hidden_size, dtype=dtype, rng=generator)
    return nn.Sequential(layer, nn.Linear(hidden_size, 1, dtype=dtype, rng=generator))
