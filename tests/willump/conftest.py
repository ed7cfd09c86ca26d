"""Synthetic pipelines for the willump unit tests (real data only in the data-marked tests)."""

from __future__ import annotations

import time

import numpy as np
import pytest


def cheap_block(X: np.ndarray) -> np.ndarray:
    return X[:, :2]


def slow_block(X: np.ndarray) -> np.ndarray:
    # A feature group that costs real time per row, so the optimizer has something to save.
    time.sleep(1e-3 + 5e-5 * len(X))  # a per-call overhead, like a join's setup, plus a per-row cost
    return X[:, 2:]


@pytest.fixture(scope="module")
def binary_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6000, 5))
    y = (2.5 * X[:, 0] + X[:, 2] + 0.5 * X[:, 3] + 0.3 * rng.normal(size=len(X)) > 0).astype(int)
    return X, y
