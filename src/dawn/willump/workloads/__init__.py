"""Real-data workloads for the benchmark, one module each, built on ``dawn.data`` datasets.

Each builder returns a :class:`Workload`: a fitted :class:`~dawn.willump.pipeline.Pipeline` (the
"user's" model is trained on a training split here) plus validation rows to optimise on and test rows
to measure on. They stand in for the paper's workloads (Kraft et al., MLSys 2020, table 1) whose
datasets are not available offline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dawn.core.errors import DawnError


@dataclass
class Workload:
    """A fitted pipeline with validation and test rows, and how to score it."""

    name: str
    pipeline: Any
    X_val: Any
    y_val: np.ndarray
    X_test: Any
    y_test: np.ndarray
    metric_name: str  # "accuracy" or "rmse"
    description: str
    close: Callable[[], None] = field(default=lambda: None)
    X_train: Any = None  # the model's training rows, offered to the optimizer to fit small models on
    y_train: np.ndarray | None = None
    # Feature blocks of the training and validation rows computed at build time (from a disk cache
    # for the sentence encoder); optimisation reuses them, every timed path computes features anew.
    blocks_train: dict[str, Any] | None = None
    blocks_val: dict[str, Any] | None = None
    topk: bool = True  # whether the top-K query is meaningful (enough test rows)


def split_indices(
    n: int, fractions: tuple[float, float], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random train/val/test row indices; ``fractions`` are (train, val), test is the rest."""
    perm = np.random.default_rng(seed).permutation(n)
    a, b = int(fractions[0] * n), int((fractions[0] + fractions[1]) * n)
    return perm[:a], perm[a:b], perm[b:]


WORKLOADS = ("text", "credit", "price", "music")
#: The full benchmark adds the sentence-encoder workload (minutes; needs the ``embed`` extra).
FULL_WORKLOADS = (*WORKLOADS, "text-embed")


def load_workload(name: str, *, quick: bool = False, seed: int = 0, redis_url: str | None = None) -> Workload:
    """Build the named workload (``text``, ``credit``, ``price``, ``music``)."""
    if name == "text":
        from dawn.willump.workloads.text import build
    elif name == "text-embed":
        from dawn.willump.workloads.text import build_embed as build
    elif name == "credit":
        from dawn.willump.workloads.credit import build
    elif name == "price":
        from dawn.willump.workloads.price import build
    elif name == "music":
        from dawn.willump.workloads.music import build
    else:
        raise DawnError(f"unknown workload {name!r}", f"choose from {', '.join(WORKLOADS)}, text-embed")
    return build(quick=quick, seed=seed, redis_url=redis_url)
