"""Cost of the gradient monitor, as a fraction of a training step without it.

The model is the engine benchmark's: 20 Linear layers of width 256 with tanh
between them, batch 128, float32, MSE loss, plain SGD. Steps with and
without the monitor are timed in interleaved blocks (so drifts in machine
load hit both alike) and the overhead is the ratio of the median block
times, minus one.

Two clocks: ``--clock wall`` (elapsed time; what a user waits for, but on a
shared machine other processes' load swamps a few-percent difference) and
``--clock cpu`` (``time.process_time``: CPU seconds of this process, all its
threads, which other processes' load barely moves). Run with
``OPENBLAS_NUM_THREADS=1`` for the steadiest CPU-time figures.

Usage::

    python benchmarks/bench_monitor.py            # default settings
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_monitor.py --clock cpu
    python benchmarks/bench_monitor.py --help
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

from gradwatch import nn
from gradwatch.monitor import GradientMonitor
from gradwatch.optim import SGD


def build(depth: int, width: int, seed: int) -> nn.Sequential:
    rng = np.random.default_rng(seed)
    layers: list[nn.Module] = []
    for i in range(depth):
        layers.append(nn.Linear(width, width, rng=rng))
        if i < depth - 1:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_steps(model, optimizer, loss, x, y, steps: int, clock=time.perf_counter):
    """Seconds per training step, averaged over ``steps`` steps."""
    start = clock()
    for _ in range(steps):
        optimizer.zero_grad()
        loss.forward(model(x), y)
        model.backward(loss.backward())
        optimizer.step()
    return (clock() - start) / steps


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return os.environ.get(
            "OPENBLAS_NUM_THREADS", f"default ({os.cpu_count()} cores)"
        )
    counts = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    return ", ".join(str(c) for c in counts) or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depth", type=int, default=20, help="Linear layers (20)")
    parser.add_argument("--width", type=int, default=256, help="layer width (256)")
    parser.add_argument("--batch", type=int, default=128, help="batch size (128)")
    parser.add_argument("--steps", type=int, default=20, help="steps per block (20)")
    parser.add_argument(
        "--repeats", type=int, default=15, help="blocks per setting (15)"
    )
    parser.add_argument(
        "--every", type=int, default=1, help="record every n-th backward call (1)"
    )
    parser.add_argument(
        "--with-optimizer",
        action="store_true",
        help="also record update-to-weight ratios (the optimiser then copies "
        "every parameter each step)",
    )
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="wall", help="wall or cpu (wall)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, args.width)).astype(np.float32)
    y = rng.standard_normal((args.batch, args.width)).astype(np.float32)
    plain = build(args.depth, args.width, seed=1)
    watched = build(args.depth, args.width, seed=1)
    plain_opt = SGD(plain.parameters(), lr=1e-3)
    watched_opt = SGD(watched.parameters(), lr=1e-3)
    monitor = GradientMonitor(
        watched,
        every=args.every,
        optimizer=watched_opt if args.with_optimizer else None,
    )
    loss_a, loss_b = nn.MSELoss(), nn.MSELoss()

    # Warm up both (BLAS threads, caches, the monitor's first allocations).
    time_steps(plain, plain_opt, loss_a, x, y, 5)
    time_steps(watched, watched_opt, loss_b, x, y, 5)
    clock = CLOCKS[args.clock]
    without, with_monitor = [], []
    for _ in range(args.repeats):
        without.append(time_steps(plain, plain_opt, loss_a, x, y, args.steps, clock))
        with_monitor.append(
            time_steps(watched, watched_opt, loss_b, x, y, args.steps, clock)
        )
    monitor.detach()

    base, monitored = statistics.median(without), statistics.median(with_monitor)
    paired = sorted(w / b for w, b in zip(with_monitor, without, strict=True))
    result = {
        "model": f"{args.depth} x Linear({args.width}) + tanh, batch {args.batch}, "
        "float32, SGD",
        "every": args.every,
        "with_optimizer": args.with_optimizer,
        "clock": args.clock,
        "blas_threads": blas_threads(),
        "step_ms_without": 1e3 * base,
        "step_ms_with": 1e3 * monitored,
        "overhead": monitored / base - 1.0,
        "overhead_paired_median": statistics.median(paired) - 1.0,
        "recorded_steps": int(monitor.steps.size),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"model: {result['model']}; BLAS threads {result['blas_threads']}")
        print(
            f"{args.clock} time per step without monitor "
            f"{result['step_ms_without']:.2f} ms, with monitor "
            f"(every={args.every}, optimizer={args.with_optimizer}) "
            f"{result['step_ms_with']:.2f} ms"
        )
        print(
            f"overhead: {100 * result['overhead']:+.2f}% (ratio of medians), "
            f"{100 * result['overhead_paired_median']:+.2f}% (median of paired ratios)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
