"""Approximate top-K: a cheap scorer keeps the most promising rows, the full pipeline ranks only those.

Willump (Kraft et al., MLSys 2020, section 5) keeps the small model's top ``r * K`` rows, with ``r``
the smallest ratio whose top contains 95% of the full top-K in 99% of bootstrap samples. Here the
retained fraction is instead certified: among calibration rows in the full model's top band, the
fraction whose cheap score clears the cut must have a Clopper-Pearson lower bound of at least the
target precision. The band is the query's top fraction ``K / N`` but never fewer than ``min_band``
calibration rows; using a wider band is conservative when the top rows are the easiest to find, which
is the usual case and is checked by the benchmark on held-out data rather than assumed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from dawn.willump._blocks import hstack
from dawn.willump.bounds import clopper_pearson_lower
from dawn.willump.cascade import candidate_sets
from dawn.willump.cost import Costs, per_row_cost
from dawn.willump.small import fit_small_model, small_model_variants


def small_scores(small: Any, feats: Any, task: str) -> np.ndarray:
    """The cheap ranking score: predicted value (regression) or probability of the last class."""
    if task == "regression":
        return np.asarray(small.predict(feats), dtype=float).ravel()
    return np.asarray(small.predict_proba(feats))[:, -1]


def retain_fraction(
    cheap_cal: np.ndarray,
    full_cal: np.ndarray,
    band_fraction: float,
    *,
    precision: float,
    confidence: float,
    min_band: int = 150,
) -> tuple[float, float]:
    """``(q, bound)``: the smallest fraction of rows to keep by cheap score so that the full top band
    is kept with a lower confidence bound ``>= precision``; ``q = 1`` when no cut can be certified."""
    n = len(full_cal)
    band = max(math.ceil(band_fraction * n), min(min_band, n))
    top = np.argsort(-full_cal, kind="stable")[:band]
    # Rank of each row by cheap score, as a fraction of rows ranked at or above it.
    rank = np.empty(n)
    rank[np.argsort(-cheap_cal, kind="stable")] = np.arange(1, n + 1) / n
    u = np.sort(rank[top])
    delta = 1.0 - confidence
    for k in range(1, band + 1):
        lb = clopper_pearson_lower(k, band, delta)
        if lb >= precision:
            return max(float(u[k - 1]), band_fraction), lb
    return 1.0, clopper_pearson_lower(band, band, delta)


@dataclass
class TopKPlan:
    """A fitted top-K filter: cheap groups, a scorer, and the calibration rows to size the cut."""

    cheap: list[str]
    small: Any
    task: str
    cheap_cal: np.ndarray
    full_cal: np.ndarray
    precision: float
    confidence: float
    k: int
    n_query: int
    retain: float  # certified fraction for (k, n_query)
    bound: float
    small_cost: tuple[float, float]
    expected_cost: float
    full_cost: float
    candidates: list[dict[str, Any]] = field(default_factory=list)
    ratio: float | None = None  # willump-heuristics mode: keep ratio * K rows instead of a fraction
    _keep: dict[tuple[int, int], int] = field(default_factory=dict, repr=False)  # memo per (n, k)

    def n_keep(self, n: int, k: int) -> int:
        """How many rows of a query of ``n`` rows the full pipeline must score for its top ``k``."""
        if self.ratio is not None:
            return min(n, max(k, int(self.ratio * k)))
        keep = self._keep.get((n, k))
        if keep is None:  # the certified cut depends only on (n, k): compute it once
            q, _ = retain_fraction(
                self.cheap_cal, self.full_cal, k / n, precision=self.precision, confidence=self.confidence
            )
            keep = min(n, max(k, math.ceil(q * n)))
            if len(self._keep) >= 256:  # queries of ever new sizes: a bounded memo
                self._keep.clear()
            self._keep[(n, k)] = keep
        return keep


def build_topk(
    pipeline: Any,
    blocks_fit: dict[str, Any],
    blocks_cal: dict[str, Any],
    full_fit: np.ndarray,
    full_cal: np.ndarray,
    costs: Costs,
    importance: dict[str, tuple[float, float]],
    *,
    k: int,
    n_query: int,
    precision: float,
    confidence: float,
    seed: int = 0,
) -> TopKPlan | None:
    """The top-K filter with the lowest expected batch cost, or None if no cut beats the full pipeline.

    Each candidate is certified at ``1 - (1 - confidence) / n_candidates`` (Bonferroni), so picking
    the cheapest on the same calibration rows keeps the stated confidence.
    """
    groups = pipeline.group_names
    # a query is one batch call of n_query rows, and the rows kept form a second, smaller call
    full = costs.call([*groups, "model"], n_query) / n_query
    best: TopKPlan | None = None
    tried = []
    # Greedy prefixes only: the precision bound of a candidate is a binomial on ~100-150 top rows, and
    # a Bonferroni split over all 14 subsets of four groups would leave it unable to certify 0.95.
    pairs = []
    for cheap in candidate_sets(groups, costs, importance, exhaustive=0):
        feats_fit = hstack([blocks_fit[g] for g in cheap])
        for template in small_model_variants("regression", sparse=sp.issparse(feats_fit), seed=seed):
            pairs.append((cheap, feats_fit, template))
    confidence = 1.0 - (1.0 - confidence) / max(len(pairs), 1)
    for cheap, feats_fit, template in pairs:
        rest = [g for g in groups if g not in cheap]
        small = fit_small_model("regression", feats_fit, full_fit, seed=seed, template=template)
        feats_cal = hstack([blocks_cal[g] for g in cheap])
        cheap_cal = np.asarray(small.predict(feats_cal), dtype=float).ravel()
        q, lb = retain_fraction(cheap_cal, full_cal, k / n_query, precision=precision, confidence=confidence)
        sc = per_row_cost(small.predict, feats_cal, seed=seed)
        exp = (costs.call(cheap, n_query) + costs.call([*rest, "model"], q * n_query)) / n_query + sc[0]
        tried.append(
            {
                "cheap": cheap,
                "trees": getattr(small, "n_estimators", None),
                "retain": q,
                "bound": lb,
                "expected_speedup": full / exp,
            }
        )
        if q < 1.0 and (best is None or exp < best.expected_cost):
            best = TopKPlan(
                cheap, small, "regression", cheap_cal, full_cal, precision, confidence, k, n_query, q, lb, sc,
                exp, full,
            )  # fmt: skip
    if best is not None:
        best.candidates = tried
    return best
