"""Time one MLP training step in gradwatch and in PyTorch, side by side.

One step is: zero the gradients, forward pass, mean squared error, backward
pass, SGD update. Both models are the same deep tanh MLP with the same
weights, the same batch and the same thread count. The two libraries are
timed in alternation (gradwatch, PyTorch, gradwatch, ...) so that a change
in the machine's load hits both alike, and the median of each is reported.

Run ``python benchmarks/bench_mlp.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from _common import blas_threads  # benchmarks/ is on sys.path when run as a script

import gradwatch
from gradwatch import nn


def page_faults() -> int:
    """Minor page faults of this process so far (0 where unavailable).

    Counted because freeing and re-allocating a step's arrays can make the C
    allocator hand memory back to the system and fault it in again, which
    costs system time in either library.
    """
    try:
        import resource
    except ImportError:
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo where there is one, else the platform's."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def build_gradwatch(width: int, depth: int, seed: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers.append(nn.Linear(width, width, rng=seed + i))
        if i < depth - 1:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def build_torch(model: nn.Sequential):
    import torch

    layers = []
    for layer in model:
        if isinstance(layer, nn.Linear):
            linear = torch.nn.Linear(layer.in_features, layer.out_features)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(layer.weight.value.T.copy()))
                linear.bias.copy_(torch.from_numpy(layer.bias.value.copy()))
            layers.append(linear)
        else:
            layers.append(torch.nn.Tanh())
    return torch.nn.Sequential(*layers)


def gradwatch_breakdown(model, loss_fn, optimizer, x, y, repeats: int) -> dict:
    """Median milliseconds per step spent in each kind of operation.

    The step is run by hand, layer by layer, so that each layer's forward and
    backward can be timed; the pieces add up to about one step.
    """
    pieces: dict[str, list[float]] = {}
    for _ in range(repeats):
        step: dict[str, float] = {}

        def record(key: str, start: float, step=step) -> None:
            step[key] = step.get(key, 0.0) + time.perf_counter() - start

        start = time.perf_counter()
        optimizer.zero_grad()
        record("zero_grad", start)
        h = x
        for layer in model:
            start = time.perf_counter()
            h = layer(h)
            record(f"{type(layer).__name__}.forward", start)
        start = time.perf_counter()
        loss_fn(h, y)
        g = loss_fn.backward()
        record("MSELoss forward+backward", start)
        for layer in reversed(model.layers):
            start = time.perf_counter()
            g = layer.backward(g)
            record(f"{type(layer).__name__}.backward", start)
        start = time.perf_counter()
        optimizer.step()
        record("SGD.step", start)
        for key, seconds in step.items():
            pieces.setdefault(key, []).append(seconds)
    return {key: statistics.median(v) * 1e3 for key, v in pieces.items()}


def op_times(batch: int, width: int, repeats: int) -> dict:
    """Median microseconds of the single operations the step is made of."""
    import torch

    rng = np.random.default_rng(0)
    a = rng.standard_normal((batch, width)).astype(np.float32)
    g = rng.standard_normal((batch, width)).astype(np.float32)
    w = rng.standard_normal((width, width)).astype(np.float32)
    ta, tg, tw = torch.from_numpy(a), torch.from_numpy(g), torch.from_numpy(w)
    ops = {
        "matmul x @ W": (lambda: a @ w, lambda: ta @ tw),
        "matmul x.T @ g": (lambda: a.T @ g, lambda: ta.T @ tg),
        "matmul g @ W.T": (lambda: g @ w.T, lambda: tg @ tw.T),
        "tanh": (lambda: np.tanh(a), lambda: torch.tanh(ta)),
    }
    result = {}
    for name, pair in ops.items():
        medians = []
        for fn in pair:
            for _ in range(10):
                fn()
            samples = []
            for _ in range(repeats):
                start = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - start)
            medians.append(statistics.median(samples) * 1e6)
        result[name] = tuple(medians)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=(
            "Time one training step (forward, MSE loss, backward, SGD update) of "
            "a deep tanh MLP in gradwatch and PyTorch, interleaved, float32."
        )
    )
    parser.add_argument("--repeats", type=int, default=30, help="timed steps each")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps each")
    parser.add_argument("--width", type=int, default=256, help="features per layer")
    parser.add_argument("--depth", type=int, default=20, help="number of Linear layers")
    parser.add_argument("--batch", type=int, default=128, help="samples per batch")
    parser.add_argument("--lr", type=float, default=1e-3, help="SGD learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also time each kind of operation in the gradwatch step, and the "
        "single operations in NumPy and PyTorch",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help=(
            "threads for both libraries (needs threadpoolctl for NumPy's BLAS); "
            "default: NumPy's BLAS thread count, copied to torch"
        ),
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=0.2,
        help=(
            "seconds to sleep before each (untimed warm-up step, timed step) pair, "
            "so that the other library's idle worker threads stop spinning first"
        ),
    )
    args = parser.parse_args(argv)
    if min(args.repeats, args.width, args.depth, args.batch) < 1 or args.warmup < 0:
        parser.error("--repeats, --width, --depth and --batch must be >= 1")
    if args.pause < 0 or (args.threads is not None and args.threads < 1):
        parser.error("--pause must be >= 0 and --threads >= 1")

    import torch

    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        # Kept alive until the end of main(): the limit lasts while it exists.
        limits = threadpool_limits(limits=args.threads, user_api="blas")  # noqa: F841
    threads, source = blas_threads()
    torch.set_num_threads(threads)

    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.batch, args.width)).astype(np.float32)
    y = rng.standard_normal((args.batch, args.width)).astype(np.float32)

    model = build_gradwatch(args.width, args.depth, args.seed)
    loss_fn = nn.MSELoss()
    optimizer = gradwatch.optim.SGD(model.parameters(), lr=args.lr)

    torch_model = build_torch(model)
    torch_loss_fn = torch.nn.MSELoss()
    torch_optimizer = torch.optim.SGD(torch_model.parameters(), lr=args.lr)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def gradwatch_step() -> float:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        optimizer.step()
        return loss

    def torch_step() -> float:
        torch_optimizer.zero_grad()
        loss = torch_loss_fn(torch_model(tx), ty)
        loss.backward()
        torch_optimizer.step()
        return loss.item()

    for _ in range(args.warmup):
        gradwatch_step()
        torch_step()
    first_losses = (gradwatch_step(), torch_step())

    times: dict[str, list[float]] = {"gradwatch": [], "torch": []}
    faults = {"gradwatch": 0, "torch": 0}
    for _ in range(args.repeats):
        for name, step in (("gradwatch", gradwatch_step), ("torch", torch_step)):
            # Let the other library's worker threads go idle (OpenBLAS's spin
            # for up to ~0.1 s after their last call), then warm this one up.
            time.sleep(args.pause)
            step()
            faults_before = page_faults()
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
            faults[name] += page_faults() - faults_before

    medians = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    quartiles = {
        name: [q * 1e3 for q in statistics.quantiles(t, n=4)] if len(t) > 1 else []
        for name, t in times.items()
    }
    print(
        f"MLP training step: {args.depth} Linear({args.width}, {args.width}) with "
        f"tanh between, batch {args.batch}, float32, SGD"
    )
    print(
        f"machine: {cpu_name()}, "
        f"{os.cpu_count()} logical CPUs; python {platform.python_version()}, "
        f"numpy {np.__version__}, torch {torch.__version__}"
    )
    print(
        f"threads: numpy BLAS {threads} (from {source}), "
        f"torch.set_num_threads({torch.get_num_threads()})"
    )
    print(f"repeats: {args.repeats} interleaved after {args.warmup} warm-up steps each")
    print(
        f"loss before timing: gradwatch {first_losses[0]:.6f}, torch "
        f"{first_losses[1]:.6f}"
    )
    for name in ("gradwatch", "torch"):
        q = quartiles[name]
        spread = f" (quartiles {q[0]:.2f} - {q[2]:.2f})" if q else ""
        print(
            f"{name:>9}: median {medians[name]:.2f} ms per step{spread}, "
            f"{faults[name] / args.repeats:.0f} page faults per step"
        )
    print(f"ratio gradwatch / torch: {medians['gradwatch'] / medians['torch']:.2f}")

    if args.breakdown:
        time.sleep(args.pause)
        pieces = gradwatch_breakdown(model, loss_fn, optimizer, x, y, args.repeats)
        print("\ngradwatch step by operation (median ms per step, summed over layers):")
        for key, ms in sorted(pieces.items(), key=lambda item: -item[1]):
            print(f"  {key:<26} {ms:7.2f}")
        print(f"  {'sum':<26} {sum(pieces.values()):7.2f}")
        time.sleep(args.pause)
        print("\nsingle operations on a batch, median microseconds: numpy vs torch")
        for name, (ours, theirs) in op_times(args.batch, args.width, 200).items():
            print(f"  {name:<16} numpy {ours:8.1f}   torch {theirs:8.1f}")


if __name__ == "__main__":
    main()
