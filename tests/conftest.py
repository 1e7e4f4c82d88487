"""Fixtures shared by the engine tests."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator for building small test data."""
    return np.random.default_rng(1234)
