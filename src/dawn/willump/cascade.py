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
import scipy.sparse as sp

from dawn.willump._blocks import hstack
from dawn.willump.bounds import calibrate_threshold, calibrate_threshold_mean
from dawn.willump.cost import Costs, batch_row_cost, single_row_cost
from dawn.willump.fast import single_row_scorer
from dawn.willump.small import fit_small_model, small_model_variants


@dataclass
class CascadePlan:
    """A fitted cascade: cheap groups, small model, and the certified confidence threshold."""

    cheap: list[str]
    small: Any
    threshold: float
    accept_rate: float  # on the calibration rows
    risk: float  # the certified risk's point estimate on the calibration rows
    bound: float  # its upper confidence bound (at the Bonferroni-corrected level, see build_cascade)
    small_cost: tuple[float, float]  # (batch, single) seconds per row
    expected_cost: tuple[float, float]  # (batch, single) seconds per row, cascade
    full_cost: tuple[float, float]
    candidates: list[dict[str, Any]] = field(default_factory=list)
    #: ``small`` as a one-row scorer for ``predict_one`` (see :mod:`dawn.willump.fast`)
    scorer: Any = None
    #: expected median single-row seconds: the early path if it answers at least half the rows,
    #: else the late path (cheap groups, small model, the rest and the full model)
    expected_p50_single: float = float("nan")

    def single_cost(self, objective: str = "mean") -> float:
        """Expected single-row seconds under ``objective`` (``"mean"`` or ``"p50"``)."""
        return self.expected_cost[1] if objective == "mean" else self.expected_p50_single

    @property
    def expected_speedup(self) -> tuple[float, float]:
        return (self.full_cost[0] / self.expected_cost[0], self.full_cost[1] / self.expected_cost[1])


def candidate_sets(
    groups: list[str], costs: Costs, importance: dict[str, tuple[float, float]], *, exhaustive: int = 4
) -> list[list[str]]:
    """Cheap-set candidates: all proper subsets of <= ``exhaustive`` groups, else greedy
    importance-per-cost prefixes (fewer candidates mean a smaller Bonferroni correction)."""
    if len(groups) <= exhaustive:
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


def _describe(model: Any) -> str:
    n = getattr(model, "n_estimators", None)
    return type(model).__name__ + (f"({n} trees)" if isinstance(n, int) else "")


def net_loss(pred_small: np.ndarray, full: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-row net accuracy loss of answering early: +1 breaks a correct row, -1 fixes a wrong one."""
    return ((pred_small != y) & (full == y)).astype(float) - ((pred_small == y) & (full != y))


def build_cascade(
    pipeline: Any,
    blocks_fit: dict[str, Any],
    blocks_cal: dict[str, Any],
    target_fit: np.ndarray,
    full_cal: np.ndarray,
    costs: Costs,
    importance: dict[str, tuple[float, float]],
    *,
    max_loss: float,
    confidence: float,
    seed: int = 0,
    small_model: Any = None,
    y_cal: np.ndarray | None = None,
    risk: str = "disagreement",
    blocks_sel: dict[str, Any] | None = None,
    trace: list[dict[str, Any]] | None = None,
    max_cheap_share: float = 0.9,
    single_objective: str = "mean",
) -> tuple[CascadePlan | None, CascadePlan | None]:
    """The cascades with the lowest expected batch and single-row cost (None where none answers a row).

    The two often differ: per-row overheads make a join or a GBDT call dearer for one row than its
    share of a batch, so the single-row plan may stop at a cheaper set.

    Each cheap set is tried with each of :func:`~dawn.willump.small.small_model_variants` (a cheaper
    small model can win even if it answers fewer rows early). ``risk`` is what ``max_loss`` bounds
    (see :func:`~dawn.willump.optimize`): ``"disagreement"`` with the full model, ``"accuracy_risk"``
    (rows answered early where the small model is wrong and the full model right; needs ``y_cal``)
    or ``"net_loss"`` (the expected drop in accuracy, which credits rows the small model gets right
    and the full model wrong; needs ``y_cal``). Every candidate is certified at level
    ``(1 - confidence) / n_candidates`` (Bonferroni), so
    choosing the cheapest certified candidate on the same calibration rows keeps the guarantee.
    Thresholds are tried on a grid of quantiles of the small model's confidence on ``blocks_sel``
    (rows not used for certification), so the grid does not depend on the calibration rows either.
    Every candidate tried is appended to ``trace``. Cheap sets costing more than
    ``max_cheap_share`` of the full pipeline (batch or single row) are not candidates. The
    single-row plan minimises the expected mean latency, or with ``single_objective="p50"`` the
    median: then a cheaper first stage that answers most rows wins over one that answers more rows
    at a higher cost, at the price of a higher mean.
    """
    if risk != "disagreement" and y_cal is None:
        raise ValueError(f"risk={risk!r} needs y_cal")
    groups = pipeline.group_names
    full = (costs.total([*groups, "model"]), costs.total([*groups, "model"], single=True))
    best: CascadePlan | None = None
    best_single: CascadePlan | None = None
    tried: list[dict[str, Any]] = []
    # Every (cheap set, small model) pair is a candidate; all are fixed before certification.
    pairs = []
    for cheap in candidate_sets(groups, costs, importance):
        # A cheap set that costs nearly the whole pipeline cannot pay off even if every row exits;
        # dropping it here (by cost alone, before any label is looked at) leaves the Bonferroni
        # correction to the candidates that can.
        share = max(costs.total(cheap) / full[0], costs.total(cheap, single=True) / full[1])
        if share > max_cheap_share:
            continue
        feats_fit = hstack([blocks_fit[g] for g in cheap])
        for template in small_model_variants(
            "classification", sparse=sp.issparse(feats_fit), seed=seed, template=small_model
        ):
            pairs.append((cheap, feats_fit, template))
    delta = (1.0 - confidence) / max(len(pairs), 1)
    for cheap, feats_fit, template in pairs:
        rest = [g for g in groups if g not in cheap]
        small = fit_small_model("classification", feats_fit, target_fit, seed=seed, template=template)
        feats_cal = hstack([blocks_cal[g] for g in cheap])
        proba = small.predict_proba(feats_cal)
        conf = proba.max(axis=1)
        pred = small.classes_[proba.argmax(axis=1)]
        grid = None
        if blocks_sel is not None:
            conf_sel = small.predict_proba(hstack([blocks_sel[g] for g in cheap])).max(axis=1)
            grid = np.quantile(conf_sel, np.linspace(0.0, 1.0, 201))
        if risk == "net_loss":
            assert y_cal is not None
            cal = calibrate_threshold_mean(
                conf, net_loss(pred, full_cal, y_cal), max_loss=max_loss, delta=delta, grid=grid, seed=seed
            )
        else:
            # y_cal is present for every risk but "disagreement" (checked above)
            errors = pred != full_cal if risk == "disagreement" else (pred != y_cal) & (full_cal == y_cal)
            cal = calibrate_threshold(conf, errors, max_loss=max_loss, delta=delta, grid=grid)
        scorer = single_row_scorer(small, feats_cal, proba=proba)
        small_cost = (
            batch_row_cost(small.predict_proba, feats_cal),
            single_row_cost(scorer, feats_cal, seed=seed),
        )
        exp = (
            cascade_cost(costs, cheap, rest, small_cost[0], cal.accept_rate, single=False),
            cascade_cost(costs, cheap, rest, small_cost[1], cal.accept_rate, single=True),
        )
        # the median row takes the early path when at least half the rows exit there
        p50 = cascade_cost(costs, cheap, rest, small_cost[1], float(cal.accept_rate >= 0.5), single=True)
        tried.append(
            {"cheap": cheap, "small_model": _describe(small), "threshold": cal.threshold,
             "accept_rate": cal.accept_rate, "bound": cal.bound, "risk": cal.risk,
             "expected_speedup": full[0] / exp[0], "expected_speedup_single": full[1] / exp[1],
             "expected_p50_speedup_single": full[1] / p50}
        )  # fmt: skip
        plan = CascadePlan(
            cheap,
            small,
            cal.threshold,
            cal.accept_rate,
            cal.risk,
            cal.bound,
            small_cost,
            exp,
            full,
            scorer=scorer,
            expected_p50_single=p50,
        )
        if cal.accept_rate > 0 and (best is None or exp[0] < best.expected_cost[0]):
            best = plan
        if cal.accept_rate > 0 and (
            best_single is None
            or plan.single_cost(single_objective) < best_single.single_cost(single_objective)
        ):
            best_single = plan
    for p in (best, best_single):
        if p is not None:
            p.candidates = tried
    if trace is not None:
        trace.extend(tried)
    return best, best_single
