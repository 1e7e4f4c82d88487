"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import os


def blas_threads() -> tuple[int, str]:
    """NumPy's BLAS thread count and where it was read from."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threads = int(os.environ.get("OPENBLAS_NUM_THREADS", os.cpu_count() or 1))
        return threads, "OPENBLAS_NUM_THREADS or os.cpu_count()"
    for pool in threadpool_info():
        if pool["user_api"] == "blas":
            return int(pool["num_threads"]), f"threadpoolctl ({pool['internal_api']})"
    return os.cpu_count() or 1, "os.cpu_count()"
