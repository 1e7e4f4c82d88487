"""Time one training step of an LSTM and of a GRU in gradwatch and in PyTorch.

One step is: zero the gradients, forward pass over the whole sequence,
backward pass (full BPTT) from a fixed random upstream gradient on every
step's output, SGD update. The gradwatch layers are built from the PyTorch
ones with ``gradwatch.nn.from_torch``, so both compute the same function
from the same weights (the GRU is PyTorch's formulation,
``reset_after=True``). The libraries are timed in alternation, so that a
change in the machine's load hits both alike, and the median is reported.

Run ``python benchmarks/bench_rnn.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings

import numpy as np
from _common import blas_threads  # benchmarks/ is on sys.path when run as a script

import gradwatch
from gradwatch import nn


def time_pair(torch_module, x, grad_y, args, torch):
    """(median, fastest) seconds per training step of gradwatch and of torch."""
    layer = nn.from_torch(torch_module)
    optimizer = gradwatch.optim.SGD(layer.parameters(), lr=args.lr)
    torch_optimizer = torch.optim.SGD(torch_module.parameters(), lr=args.lr)
    tx, tgrad = torch.from_numpy(x), torch.from_numpy(grad_y)

    def gradwatch_step():
        optimizer.zero_grad()
        layer(x)
        layer.backward(grad_y)
        optimizer.step()

    def torch_step():
        torch_optimizer.zero_grad()
        with torch.backends.mkldnn.flags(enabled=not args.no_onednn):
            y, _ = torch_module(tx)
            y.backward(tgrad)
        torch_optimizer.step()

    for _ in range(args.warmup):
        gradwatch_step()
        torch_step()

    times: dict[str, list[float]] = {"gradwatch": [], "torch": []}
    for _ in range(args.repeats):
        for library, step in (("gradwatch", gradwatch_step), ("torch", torch_step)):
            # Let the other library's idle worker threads stop spinning, then
            # run one untimed step to warm the caches before the timed one.
            time.sleep(args.pause)
            step()
            start = time.perf_counter()
            step()
            times[library].append(time.perf_counter() - start)
    return {library: (statistics.median(t), min(t)) for library, t in times.items()}


def breakdown(torch_module, x, grad_y, repeats: int) -> dict[str, float]:
    """Median milliseconds of each part of one gradwatch training step.

    The parts are the loop over time of the forward pass, the rest of the
    forward pass (input projection, copies), the loop back over time of the
    backward pass, the rest of the backward pass (the weight and input
    gradients, one matrix product each) and the SGD update.
    """
    layer = nn.from_torch(torch_module)
    optimizer = gradwatch.optim.SGD(layer.parameters(), lr=1e-3)
    parts: dict[str, list[float]] = {}

    def timed(name, method):
        def wrapper(*args):
            start = time.perf_counter()
            result = method(*args)
            parts.setdefault(name, []).append(time.perf_counter() - start)
            return result

        return wrapper

    # Instance attributes shadow the methods for this layer object only.
    layer._run_forward = timed("forward loop", layer._run_forward)
    layer._run_backward = timed("backward loop", layer._run_backward)
    for _ in range(repeats + 1):
        optimizer.zero_grad()
        start = time.perf_counter()
        layer(x)
        middle = time.perf_counter()
        layer.backward(grad_y)
        end = time.perf_counter()
        optimizer.step()
        parts.setdefault("SGD update", []).append(time.perf_counter() - end)
        parts.setdefault("forward", []).append(middle - start)
        parts.setdefault("backward", []).append(end - middle)
    median = {name: statistics.median(t[1:]) * 1e3 for name, t in parts.items()}
    return {
        "forward loop": median["forward loop"],
        "rest of forward": median["forward"] - median["forward loop"],
        "backward loop": median["backward loop"],
        "rest of backward": median["backward"] - median["backward loop"],
        "SGD update": median["SGD update"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=(
            "Time one training step (forward, full BPTT from an upstream gradient "
            "on all outputs, SGD update) of an LSTM and a GRU in gradwatch and "
            "PyTorch, interleaved, float32."
        )
    )
    parser.add_argument("--repeats", type=int, default=20, help="timed steps each")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps each")
    parser.add_argument("--batch", type=int, default=64, help="sequences per batch")
    parser.add_argument("--time", type=int, default=64, help="steps per sequence")
    parser.add_argument("--features", type=int, default=32, help="input features")
    parser.add_argument("--hidden", type=int, default=128, help="hidden units")
    parser.add_argument("--lr", type=float, default=1e-3, help="SGD learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--layers",
        default="lstm,gru",
        help="comma-separated layer types to time, from lstm and gru",
    )
    parser.add_argument(
        "--no-onednn",
        action="store_true",
        help=(
            "run PyTorch with oneDNN (mkldnn) disabled, so that its LSTM uses the "
            "generic ATen loop instead of the fused oneDNN kernel"
        ),
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also time the parts of a gradwatch step (loops, matrix products)",
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=0.1,
        help="seconds to sleep before each (untimed, timed) pair of steps",
    )
    args = parser.parse_args(argv)
    sizes = (args.repeats, args.batch, args.time, args.features, args.hidden)
    if min(sizes) < 1 or args.warmup < 0:
        parser.error("--repeats, --batch, --time, --features and --hidden must be >= 1")
    kinds = [k.strip().lower() for k in args.layers.split(",") if k.strip()]
    if not kinds or not set(kinds) <= {"lstm", "gru"}:
        parser.error(f"--layers takes lstm and/or gru, got {args.layers!r}")

    import torch

    # Toggling the oneDNN flags makes PyTorch warn about Intel-GPU TF32 support,
    # which has nothing to do with this CPU benchmark.
    warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")
    threads, source = blas_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(args.seed)

    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.batch, args.time, args.features)).astype(np.float32)
    grad_y = rng.standard_normal((args.batch, args.time, args.hidden))
    grad_y = grad_y.astype(np.float32)

    print(
        f"recurrent training step: batch {args.batch}, {args.time} steps, "
        f"{args.features} input features, {args.hidden} hidden units, float32, "
        "upstream gradient on every output, SGD"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} logical CPUs; python {platform.python_version()}, "
        f"numpy {np.__version__}, torch {torch.__version__}"
    )
    print(
        f"threads: numpy BLAS {threads} (from {source}), "
        f"torch.set_num_threads({torch.get_num_threads()})"
    )
    print(f"repeats: {args.repeats} interleaved after {args.warmup} warm-up steps each")
    print(f"torch oneDNN (mkldnn): {'disabled' if args.no_onednn else 'default'}")
    for kind in kinds:
        cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
        module = cls(args.features, args.hidden, batch_first=True)
        result = time_pair(module, x, grad_y, args, torch)
        (gw, gw_min), (pt, pt_min) = result["gradwatch"], result["torch"]
        print(
            f"{kind.upper():>4}: median gradwatch {gw * 1e3:7.2f} ms, torch "
            f"{pt * 1e3:7.2f} ms, ratio {gw / pt:.2f} | fastest gradwatch "
            f"{gw_min * 1e3:7.2f} ms, torch {pt_min * 1e3:7.2f} ms, ratio "
            f"{gw_min / pt_min:.2f}"
        )
        if args.breakdown:
            parts = breakdown(module, x, grad_y, args.repeats)
            print(
                "      gradwatch parts (median ms): "
                + ", ".join(f"{name} {ms:.2f}" for name, ms in parts.items())
            )


if __name__ == "__main__":
    main()
