"""``willump-heuristics`` mode: the original's construction rules, run on the same machine for comparison.

Reproduces, as read in the authors' code (stanford-futuredata/Willump): cheap sets from a knapsack of
the most important groups under cost cutoffs 0.1..0.6 of the total feature cost; a small model trained
on the labels; thresholds 0.6..1.0 accepted when the cascade's validation accuracy is above the full
model's minus 0.001 (a point estimate, no bound); the lowest expected cost wins. Top-K keeps ``r * K``
rows with the smallest ``r`` in 1..99 whose cheap top holds 95% of the full top-K in 99% of 100
bootstrap samples of a quarter of the rows. Unlike the original, the user's model is not retrained.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from dawn.willump._blocks import hstack
from dawn.willump.cascade import CascadePlan, cascade_cost
from dawn.willump.cost import Costs, batch_row_cost, per_row_cost, single_row_cost
from dawn.willump.fast import single_row_scorer
from dawn.willump.small import fit_small_model
from dawn.willump.topk import TopKPlan

COST_CUTOFFS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
THRESHOLDS = (0.6, 0.7, 0.8, 0.9, 1.0)
TOLERANCE = 0.001


def knapsack_sets(
    groups: list[str], costs: Costs, importance: dict[str, tuple[float, float]]
) -> list[list[str]]:
    """For each cost cutoff, the most important proper subset of groups within the cost budget."""
    total = costs.total(groups, joint=False)
    out: list[list[str]] = []
    subsets = [list(c) for r in range(1, len(groups)) for c in itertools.combinations(groups, r)]
    for cut in COST_CUTOFFS:
        fits = [s for s in subsets if costs.total(s, joint=False) <= cut * total]
        if not fits:
            continue
        best = max(fits, key=lambda s: sum(importance[g][0] for g in s))
        if best not in out:
            out.append(best)
    return out


def build_cascade_willump(
    pipeline: Any,
    blocks_fit: dict[str, Any],
    blocks_cal: dict[str, Any],
    y_fit: np.ndarray,
    y_cal: np.ndarray,
    full_cal: np.ndarray,
    costs: Costs,
    importance: dict[str, tuple[float, float]],
    *,
    seed: int = 0,
) -> CascadePlan | None:
    groups = pipeline.group_names
    full = (
        costs.total([*groups, "model"], joint=False),
        costs.total([*groups, "model"], single=True, joint=False),
    )
    full_acc = float(np.mean(full_cal == y_cal))
    best: CascadePlan | None = None
    tried = []
    for cheap in knapsack_sets(groups, costs, importance):
        rest = [g for g in groups if g not in cheap]
        small = fit_small_model("classification", hstack([blocks_fit[g] for g in cheap]), y_fit, seed=seed)
        feats_cal = hstack([blocks_cal[g] for g in cheap])
        proba = small.predict_proba(feats_cal)
        conf, pred_small = proba.max(axis=1), small.classes_[proba.argmax(axis=1)]
        # the same serving engine as the bounded mode (its one-row scorer); only the rules differ
        scorer = single_row_scorer(small, feats_cal, proba=proba)
        sc = (
            batch_row_cost(small.predict_proba, feats_cal),
            single_row_cost(scorer, feats_cal, seed=seed),
        )
        for t in THRESHOLDS:
            acc = conf > t
            score = float(np.mean(np.where(acc, pred_small, full_cal) == y_cal))
            f = float(acc.mean())
            tried.append({"cheap": cheap, "threshold": t, "accept_rate": f, "accuracy": score})
            if score <= full_acc - TOLERANCE or f == 0:
                continue
            exp = (cascade_cost(costs, cheap, rest, sc[0], f, single=False),
                   cascade_cost(costs, cheap, rest, sc[1], f, single=True))  # fmt: skip
            if best is None or exp[0] < best.expected_cost[0]:
                risk = float(np.mean(acc & (pred_small != full_cal)))
                # The runtime answers early when confidence >= threshold; the original used '>'.
                thr = float(np.nextafter(t, np.inf))
                best = CascadePlan(cheap, small, thr, f, risk, float("nan"), sc, exp, full, scorer=scorer)
    if best is not None:
        best.candidates = tried
    return best


def bootstrap_ratio(cheap: np.ndarray, full: np.ndarray, k: int, *, seed: int = 0) -> int | None:
    """Smallest r in 1..99 whose cheap top r*k holds >= 95% of the full top k in >= 99% of 100 bootstraps."""
    rng = np.random.default_rng(seed)
    n = len(full)
    m = max(n // 4, 2)
    k = min(k, max(m // 4, 1))  # the quarter-size samples must hold K rows and more
    samples = [rng.choice(n, size=m, replace=True) for _ in range(100)]
    for r in range(1, 100):
        keep = min(r * k, m)
        ok = 0
        for s in samples:
            top_full = set(s[np.argsort(-full[s], kind="stable")[:k]].tolist())
            top_cheap = set(s[np.argsort(-cheap[s], kind="stable")[:keep]].tolist())
            ok += len(top_full & top_cheap) >= 0.95 * len(top_full)
        if ok >= 99:
            return r
        if keep >= m:
            break
    return None


def build_topk_willump(
    pipeline: Any,
    blocks_fit: dict[str, Any],
    blocks_cal: dict[str, Any],
    target_fit: np.ndarray,
    full_cal: np.ndarray,
    costs: Costs,
    importance: dict[str, tuple[float, float]],
    *,
    k: int,
    n_query: int,
    seed: int = 0,
) -> TopKPlan | None:
    groups = pipeline.group_names
    full = costs.total([*groups, "model"], joint=False)
    best: TopKPlan | None = None
    tried = []
    for cheap in knapsack_sets(groups, costs, importance):
        rest = [g for g in groups if g not in cheap]
        small = fit_small_model("regression", hstack([blocks_fit[g] for g in cheap]), target_fit, seed=seed)
        feats_cal = hstack([blocks_cal[g] for g in cheap])
        cheap_cal = np.asarray(small.predict(feats_cal), dtype=float).ravel()
        r = bootstrap_ratio(cheap_cal, full_cal, k, seed=seed)
        tried.append({"cheap": cheap, "ratio": r})
        if r is None:
            continue
        q = min(1.0, r * k / n_query)
        sc = per_row_cost(small.predict, feats_cal, seed=seed)
        exp = costs.total(cheap, joint=False) + sc[0] + q * costs.total([*rest, "model"], joint=False)
        if best is None or exp < best.expected_cost:
            best = TopKPlan(cheap, small, "regression", cheap_cal, full_cal, 0.95, 0.99, k, n_query, q,
                            float("nan"), sc, exp, full, ratio=float(r))  # fmt: skip
    if best is not None:
        best.candidates = tried
    return best
