"""Fixtures shared by the engine tests."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator for building small test data."""
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    """Run the suite with one BLAS thread.

    The test data are small matrices, for which a second OpenBLAS thread only
    adds contention (badly so on a loaded machine), and one thread makes the
    floating-point results independent of the number of cores.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
