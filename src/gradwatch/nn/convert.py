"""Copy a PyTorch layer into the equivalent gradwatch layer.

``from_torch`` reads the weights of a ``torch.nn.Linear``, ``RNN``, ``LSTM``
or ``GRU`` and builds the gradwatch layer that computes the same function,
so a model can be checked against PyTorch or a trained PyTorch model can be
inspected with the gradient monitor. PyTorch is an optional dependency: it
is imported only when ``from_torch`` is called.

Weight layout: PyTorch stores ``weight`` as ``(out, in)`` and computes
``x W^T``; gradwatch stores ``(in, out)`` and computes ``x @ W``, so every
weight is transposed. The gate blocks keep PyTorch's order (LSTM: i, f, g,
o; GRU: r, z, n). RNN and LSTM add PyTorch's two biases into gradwatch's
single ``bias``; the GRU becomes ``GRU(reset_after=True)``, PyTorch's
formulation, with ``bias`` = ``bias_ih_l0`` and ``bias_hh`` = ``bias_hh_l0``.
"""

from __future__ import annotations

import numpy as np

from .linear import Linear
from .module import Module
from .recurrent import GRU, LSTM, RNN

__all__ = ["from_torch"]


def _numpy(tensor, dtype) -> np.ndarray:
    return np.array(tensor.detach().cpu().numpy(), dtype=dtype, copy=True)


def _dtype_of(module, torch) -> np.dtype:
    dtypes = {p.dtype for p in module.parameters()}
    if len(dtypes) != 1:
        raise TypeError(
            f"from_torch needs all parameters of {type(module).__name__} in one "
            f"dtype, found {sorted(str(d) for d in dtypes)}"
        )
    (dtype,) = dtypes
    if dtype == torch.float32:
        return np.dtype(np.float32)
    if dtype == torch.float64:
        return np.dtype(np.float64)
    raise TypeError(
        f"from_torch supports float32 and float64 parameters, got {dtype}; "
        "convert the module first with .float() or .double()"
    )


def _check_recurrent(module) -> None:
    name = type(module).__name__
    unsupported = []
    if module.num_layers != 1:
        unsupported.append(
            f"num_layers={module.num_layers} (convert each layer as its own "
            "single-layer module and stack them in a Sequential)"
        )
    if module.bidirectional:
        unsupported.append("bidirectional=True")
    if not module.batch_first:
        unsupported.append(
            "batch_first=False (gradwatch takes (batch, time, features); build the "
            "torch module with batch_first=True)"
        )
    if getattr(module, "proj_size", 0):
        unsupported.append(f"proj_size={module.proj_size}")
    if unsupported:
        raise ValueError(
            f"from_torch cannot convert this torch.nn.{name}: "
            + "; ".join(unsupported)
            + f" is not supported (only single-layer, unidirectional, batch_first "
            f"{name}s are)"
        )


def from_torch(module) -> Module:
    """Build the gradwatch layer equivalent to a PyTorch layer, with copied weights.

    Parameters
    ----------
    module : torch.nn.Linear, torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU
        Recurrent layers must be single-layer, unidirectional and
        ``batch_first=True``; parameters float32 or float64.

    Returns
    -------
    Module
        ``Linear``, ``RNN`` (same nonlinearity), ``LSTM`` or
        ``GRU(reset_after=True)`` in the module's dtype, holding copies of its
        weights. Recurrent layers come back with ``return_sequences=True``,
        since PyTorch's layers return every step's output; their
        ``final_state`` matches PyTorch's ``h_n`` (and ``c_n``) with the
        layer axis dropped. The LSTM's ``forget_bias`` plays no role: the
        copied bias replaces the initial one.

    Raises
    ------
    ImportError
        If PyTorch is not installed.
    TypeError
        For a module type that has no gradwatch equivalent, or an unsupported
        dtype.
    ValueError
        For an unsupported configuration (several layers, bidirectional,
        ``batch_first=False``, LSTM projections).
    """
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            "from_torch needs PyTorch, an optional dependency of gradwatch; "
            "install it with `pip install torch==2.13.0`"
        ) from error

    if not isinstance(module, torch.nn.Module):
        raise TypeError(
            f"from_torch takes a torch.nn.Module, got {type(module).__name__}"
        )

    if isinstance(module, torch.nn.Linear):
        dtype = _dtype_of(module, torch)
        layer = Linear(
            module.in_features,
            module.out_features,
            bias=module.bias is not None,
            dtype=dtype,
        )
        layer.weight.value[...] = _numpy(module.weight, dtype).T
        if module.bias is not None:
            layer.bias.value[...] = _numpy(module.bias, dtype)
        return layer

    recurrent_types = (torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU)
    if not isinstance(module, recurrent_types):
        raise TypeError(
            f"from_torch converts torch.nn.Linear, RNN, LSTM and GRU; "
            f"{type(module).__name__} has no gradwatch equivalent here"
        )
    _check_recurrent(module)
    dtype = _dtype_of(module, torch)
    sizes = (module.input_size, module.hidden_size)
    has_bias = bool(module.bias)

    if isinstance(module, torch.nn.LSTM):
        layer = LSTM(*sizes, return_sequences=True, bias=has_bias, dtype=dtype)
    elif isinstance(module, torch.nn.GRU):
        layer = GRU(
            *sizes, reset_after=True, return_sequences=True, bias=has_bias, dtype=dtype
        )
    else:
        nonlinearity = module.nonlinearity
        layer = RNN(
            *sizes, nonlinearity, return_sequences=True, bias=has_bias, dtype=dtype
        )

    layer.weight_ih.value[...] = _numpy(module.weight_ih_l0, dtype).T
    layer.weight_hh.value[...] = _numpy(module.weight_hh_l0, dtype).T
    if has_bias:
        bias_ih = _numpy(module.bias_ih_l0, dtype)
        bias_hh = _numpy(module.bias_hh_l0, dtype)
        if isinstance(module, torch.nn.GRU):
            layer.bias.value[...] = bias_ih
            layer.bias_hh.value[...] = bias_hh
        else:
            layer.bias.value[...] = bias_ih + bias_hh
    return layer
