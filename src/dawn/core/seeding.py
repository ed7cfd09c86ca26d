"""One explicit seeding function for python, numpy and torch."""

from __future__ import annotations

import os
import random
import sys

import numpy as np


def seed_everything(seed: int, *, deterministic_torch: bool = False) -> np.random.Generator:
    """Seed Python's ``random``, NumPy's global state and torch (if imported), and return a Generator.

    Library code in dawn never draws from the global states; it takes a ``seed`` or a
    :class:`numpy.random.Generator`. This function exists for scripts and experiments that call third-party
    code which does use them (scikit-learn estimators without ``random_state``, torch initialisers).

    Parameters
    ----------
    seed : int
        Non-negative seed.
    deterministic_torch : bool, default=False
        Also ask torch for deterministic algorithms (slower on some ops).

    Returns
    -------
    numpy.random.Generator
        A fresh generator seeded with ``seed``, for the caller's own draws.
    """
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    os.environ["PYTHONHASHSEED"] = str(seed)
    # Import torch only if the caller already did: seeding must not cost a 1 s import.
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
        if deterministic_torch:
            torch.use_deterministic_algorithms(True, warn_only=True)
    return np.random.default_rng(seed)
