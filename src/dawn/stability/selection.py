"""Choosing dimension and precision under a memory budget, and scoring such choices.

Leszczynski et al. (MLSys 2020, section 5.2) use a measure to pick the more stable of two embedding
configurations (pairwise selection error) and to pick, among configurations of equal memory, the one
predicted most stable (difference to the oracle). Memory is ``dim * bits`` bits per word.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dawn.core.errors import DawnError

__all__ = ["select", "selection_error", "oracle_gap"]


def _frame(candidates: pd.DataFrame | Sequence[dict[str, Any]]) -> pd.DataFrame:
    df = candidates if isinstance(candidates, pd.DataFrame) else pd.DataFrame(list(candidates))
    missing = [c for c in ("dim", "bits") if c not in df.columns]
    if missing:
        raise DawnError(f"candidates lack column(s) {missing}", "give each candidate a 'dim' and 'bits'")
    if "memory" not in df.columns:
        df = df.assign(memory=df["dim"] * df["bits"])
    return df


def select(
    candidates: pd.DataFrame | Sequence[dict[str, Any]], budget_bits: float, measure: str
) -> dict[str, Any]:
    """The candidate with the smallest ``measure`` among those using at most ``budget_bits`` per word.

    Parameters
    ----------
    candidates : DataFrame or list of dict
        One row per configuration with ``dim``, ``bits`` and a column named ``measure`` (larger = less
        stable, as for every measure in :data:`dawn.stability.MEASURES`).
    budget_bits : float
        Memory budget in bits per word.
    """
    df = _frame(candidates)
    if measure not in df.columns:
        raise DawnError(
            f"candidates have no column {measure!r}", f"compute it first; columns: {list(df.columns)}"
        )
    fits = df[df["memory"] <= budget_bits]
    if fits.empty:
        raise DawnError(
            f"no candidate fits in {budget_bits:g} bits per word (smallest: {df['memory'].min():g})",
            "raise the budget or add smaller configurations",
        )
    return dict(fits.loc[fits[measure].idxmin()])


def selection_error(
    df: pd.DataFrame,
    measure: str,
    task: str,
    *,
    seed_col: str = "seed",
    same_memory: bool = False,
    budget: float | None = None,
) -> float:
    """Fraction of configuration pairs for which ``measure`` picks the one with higher instability.

    Pairs are formed within each seed (over all configurations, or only those of equal memory with
    ``same_memory``) and the error is averaged over seeds. Ties follow the original analysis: the
    earlier row is chosen on a tie, by the measure and by the downstream instability alike.
    """
    errors = []
    for _, g in df.groupby(seed_col, sort=True):
        if budget is not None:
            g = g[g["memory"] <= budget]
        m, di = g[measure].to_numpy(float), g[task].to_numpy(float)
        i, j = np.triu_indices(len(g), k=1)
        if same_memory:
            mem = g["memory"].to_numpy()
            keep = mem[i] == mem[j]
            i, j = i[keep], j[keep]
        if len(i) == 0:
            continue
        vote_measure = m[j] < m[i]  # True: the later row is predicted more stable
        vote_task = di[j] < di[i]
        errors.append(float(np.mean(vote_measure != vote_task)))
    if not errors:
        raise DawnError("no pairs of configurations to compare", "give at least two configurations per seed")
    return float(np.mean(errors))


def oracle_gap(df: pd.DataFrame, chooser: str, task: str, *, seed_col: str = "seed") -> float:
    """Mean DI difference between a choice and the most stable configuration at each memory budget.

    ``chooser`` is a measure column (smallest value chosen), ``"highest-precision"`` or
    ``"lowest-precision"`` (the paper's baselines). Groups are (memory, seed) with at least two rows.
    """
    gaps = []
    for _, g in df.groupby(["memory", seed_col], sort=True):
        if len(g) < 2:
            continue
        di = g[task].to_numpy(float)
        if chooser == "highest-precision":
            pick = int(np.argmax(g["bits"].to_numpy()))
        elif chooser == "lowest-precision":
            pick = int(np.argmin(g["bits"].to_numpy()))
        else:
            pick = int(np.argmin(g[chooser].to_numpy(float)))
        gaps.append(di[pick] - di.min())
    if not gaps:
        raise DawnError(
            "no memory budget has two or more configurations", "add configurations of equal memory"
        )
    return float(np.mean(gaps))
