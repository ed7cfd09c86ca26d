"""Cascade construction: pick the cheap groups, train a small model on them, certify its threshold.

Willump's cascade (Kraft et al., MLSys 2020, section 4): a small model on cheap, important feature
groups answers the rows it is confident about; only the rest pay for the remaining groups and the full
model. Here the small model is distilled from the user's full model (its target is the full model's
prediction), the threshold is certified with :func:`~dawn.willump.bounds.calibrate_threshold`, and the
cheap set is chosen by the expected cost of the cascade each candidate actually produces.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dawn.willump._blocks import hstack
from dawn.willump.bounds import calibrate_threshold
from dawn.willump.cost import Costs, per_row_cost
from dawn.willump.small import fit_small_model


@dataclass
class CascadePlan:
    """A fitted cascade: cheap groups, small model, and the certified confidence threshold."""

    cheap: list[str]
    small: Any
    threshold: float
    accept_rate: float  # on the calibration rows
    risk: float  # disagreement with the full model on the calibration rows (point estimate)
    bound: float  # its upper confidence bound
    small_cost: tuple[float, float]  # (batch, single) seconds per row
    expected_cost: tuple[float, float]  # (batch, single) seconds per row, cascade
    full_cost: tuple[float, float]
    candidates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def expected_speedup(self) -> tuple[float, float]:
        return (self.full_cost[0] / self.expected_cost[0], self.full_cost[1] / self.expected_cost[1])


def candidate_sets(
    groups: list[str], costs: Costs, importance: dict[str, tuple[float, float]]
) -> list[list[str]]:
    """Cheap-set candidates: all proper subsets of <= 4 groups, else greedy importance-per-cost prefixes."""
    if len(groups) <= 4:
        return [list(c) for r in range(1, len(groups)) for c in itertools.combinations(groups, r)]
    ratio = {g: max(importance[g][0], 1e-9) / max(costs.batch[g], 1e-12) for g in groups}
    order = sorted(groups, key=lambda g: -ratio[g])
    return [order[:r] for r in range(1, len(groups))]


def cascade_cost(
    costs: Costs, cheap: list[str], rest: list[str], small: float, accept: float, *, single: bool
) -> float:
    """Expected seconds per row: cheap groups + small model, and for the unaccepted the rest + full model."""
    return (
        costs.total(cheap, single=single)
        + small
        + (1.0 - accept) * (costs.total(rest, single=single) + costs.total(["model"], single=single))
    )


def build_cascade(
    pipeline: Any,
    blocks_fit: dict[str, Any],
    blocks_cal: dict[str, Any],
    full_fit: np.ndarray,
    full_cal: np.ndarray,
    costs: Costs,
    importance: dict[str, tuple[float, float]],
    *,
    max_loss: float,
    confidence: float,
    seed: int = 0,
    small_model: Any = None,
    y_cal: np.ndarray | None = None,
    trace: list[dict[str, Any]] | None = None,
) -> tuple[CascadePlan | None, CascadePlan | None]:
    """The cascades with the lowest expected batch and single-row cost (None where none answers a row).

    The two often differ: per-row overheads make a join or a GBDT call dearer for one row than its
    share of a batch, so the single-row plan may stop at a cheaper set.

    With ``y_cal`` the certified risk is the accuracy loss (rows answered early where the small model
    is wrong and the full model right, an upper bound on the drop in accuracy); without it, the
    disagreement with the full model. Every candidate tried is appended to ``trace``.
    """
    groups = pipeline.group_names
    full = (costs.total([*groups, "model"]), costs.total([*groups, "model"], single=True))
    best: CascadePlan | None = None
    best_single: CascadePlan | None = None
    tried: list[dict[str, Any]] = []
    for cheap in candidate_sets(groups, costs, importance):
        rest = [g for g in groups if g not in cheap]
        small = fit_small_model(
            "classification",
            hstack([blocks_fit[g] for g in cheap]),
            full_fit,
            seed=seed,
            template=small_model,
        )
        feats_cal = hstack([blocks_cal[g] for g in cheap])
        proba = small.predict_proba(feats_cal)
        conf = proba.max(axis=1)
        pred = small.classes_[proba.argmax(axis=1)]
        errors = pred != full_cal if y_cal is None else (pred != y_cal) & (full_cal == y_cal)
        cal = calibrate_threshold(conf, errors, max_loss=max_loss, delta=1.0 - confidence)
        small_cost = per_row_cost(small.predict_proba, feats_cal, seed=seed)
        exp = (
            cascade_cost(costs, cheap, rest, small_cost[0], cal.accept_rate, single=False),
            cascade_cost(costs, cheap, rest, small_cost[1], cal.accept_rate, single=True),
        )
        tried.append(
            {"cheap": cheap, "threshold": cal.threshold, "accept_rate": cal.accept_rate, "bound": cal.bound,
             "expected_speedup": full[0] / exp[0]}
        )  # fmt: skip
        plan = CascadePlan(
            cheap, small, cal.threshold, cal.accept_rate, cal.risk, cal.bound, small_cost, exp, full
        )
        if cal.accept_rate > 0 and (best is None or exp[0] < best.expected_cost[0]):
            best = plan
        if cal.accept_rate > 0 and (best_single is None or exp[1] < best_single.expected_cost[1]):
            best_single = plan
    for p in (best, best_single):
        if p is not None:
            p.candidates = tried
    if trace is not None:
        trace.extend(tried)
    return best, best_single
