"""Cascade construction: pick the cheap groups, train a small model on them, certify its threshold.

Willump's cascade (Kraft et al., MLSys 2020, section 4): a small model on cheap, important feature
groups answers the rows it is confident about; only the rest pay for the remaining groups and the full
model. Here the small model learns the user's full model's predictions (distillation) or the labels,
the threshold is certified with :func:`~dawn.willump.bounds.calibrate_threshold`, and the
cheap set is chosen by the expected cost of the cascade each candidate actually produces.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from dawn.willump._blocks import hstack
from dawn.willump.bounds import (
    ThresholdCalibration,
    calibrate_threshold,
    calibrate_threshold_mean,
    predicted_accept_rate,
)
from dawn.willump.cost import Costs, batch_row_cost, single_row_cost
from dawn.willump.fast import single_row_scorer
from dawn.willump.small import fit_small_model, small_model_variants

#: How far above one half the exit share must be for the p50 objective to count the median row as
#: answered early (see ``build_cascade``).
P50_MARGIN = 0.05


@dataclass
class CascadePlan:
    """A fitted cascade: cheap groups, small model, and the certified confidence threshold."""

    cheap: list[str]
    small: Any
    threshold: float
    accept_rate: float  # on the calibration rows
    risk: float  # the certified risk's point estimate on the calibration rows
    bound: float  # its upper confidence bound (at the level this plan was certified at, see build_cascade)
    small_cost: tuple[float, float]  # (batch, single) seconds per row
    expected_cost: tuple[float, float]  # (batch, single) seconds per row, cascade
    full_cost: tuple[float, float]
    candidates: list[dict[str, Any]] = field(default_factory=list)
    #: ``small`` as a one-row scorer for ``predict_one`` (see :mod:`dawn.willump.fast`)
    scorer: Any = None
    #: expected median single-row seconds: the early path if it answers at least 55% of the rows
    #: (``P50_MARGIN``), else the late path (cheap groups, small model, the rest and the full model)
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
    costs: Costs,
    cheap: list[str],
    rest: list[str],
    small: float,
    accept: float,
    *,
    single: bool,
    batch_rows: int | None = None,
) -> float:
    """Expected seconds per row: cheap groups + small model, and for the unaccepted the rest + full model.

    With ``batch_rows`` (batch use), the rest and the full model are costed as one call on the rows
    that go on, ``fixed + per_row * rows`` (:meth:`Costs.call`): the fixed part is paid when at
    least one row of the batch goes on, the per-row part for the expected ``(1 - accept) * n`` rows
    (which already counts the batches that send none). On credit, 63 of 3,000 rows go on, and two
    joins and a 300-tree model take 3 ms on them, where their share of the per-row figures is under
    1 ms. Without it, per-row figures (the original's model, kept for the heuristics mode).
    """
    if single or batch_rows is None:
        return (
            costs.total(cheap, single=single)
            + small
            + (1.0 - accept) * (costs.total(rest, single=single) + costs.total(["model"], single=single))
        )
    n = max(int(batch_rows), 1)
    goes_on = 1.0 - min(max(accept, 0.0), 1.0) ** n  # the chance that a batch sends any row on
    late = [*rest, "model"]
    fixed = costs.call(late, 0)  # what the second call costs however few rows it gets
    per_rows = costs.call(late, (1.0 - accept) * n) - fixed  # E[rows sent on] * per-row cost
    return costs.call(cheap, n) / n + small + (goes_on * fixed + per_rows) / n


def describe_model(model: Any) -> str:
    """A short name for a small model: its class and size (trees) or regularisation (C)."""
    n, c = getattr(model, "n_estimators", None), getattr(model, "C", None)
    detail = f"({n} trees)" if isinstance(n, int) else f"(C={c:g})" if isinstance(c, float) else ""
    return type(model).__name__ + detail


def net_loss(pred_small: np.ndarray, full: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-row net accuracy loss of answering early: +1 breaks a correct row, -1 fixes a wrong one."""
    return ((pred_small != y) & (full == y)).astype(float) - ((pred_small == y) & (full != y))


def risk_losses(risk: str, pred: np.ndarray, full: np.ndarray, y: np.ndarray | None) -> np.ndarray:
    """Per-row cost of answering early under ``risk`` (float; binary for the two counting risks)."""
    if risk == "net_loss":
        assert y is not None
        return net_loss(pred, full, y)
    if risk == "disagreement":
        return (pred != full).astype(float)
    assert y is not None
    return ((pred != y) & (full == y)).astype(float)


def certify_threshold(
    risk: str,
    conf: np.ndarray,
    loss: np.ndarray,
    *,
    max_loss: float,
    delta: float,
    grid: Any = None,
    seed: int = 0,
) -> ThresholdCalibration:
    """The threshold certified for ``risk`` on rows with confidences ``conf`` and :func:`risk_losses`
    ``loss``: the betting bound for ``net_loss``, Clopper-Pearson for the two counting risks."""
    if risk == "net_loss":
        return calibrate_threshold_mean(conf, loss, max_loss=max_loss, delta=delta, grid=grid, seed=seed)
    return calibrate_threshold(conf, loss > 0, max_loss=max_loss, delta=delta, grid=grid)


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
    full_sel: np.ndarray | None = None,
    y_sel: np.ndarray | None = None,
    trace: list[dict[str, Any]] | None = None,
    max_cheap_share: float = 0.9,
    single_objective: str = "mean",
    hedge: bool = False,
    batch_rows: int | None = None,
) -> tuple[CascadePlan | None, CascadePlan | None]:
    """The cascades with the lowest expected batch and single-row cost (None where none answers a row).

    The two often differ: per-row overheads make a join or a GBDT call dearer for one row than its
    share of a batch, so the single-row plan may stop at a cheaper set.

    Each cheap set is tried with each of :func:`~dawn.willump.small.small_model_variants` (a cheaper
    small model can win even if it answers fewer rows early). ``risk`` is what ``max_loss`` bounds
    (see :func:`~dawn.willump.optimize`): ``"disagreement"`` with the full model, ``"accuracy_risk"``
    (rows answered early where the small model is wrong and the full model right; needs ``y_cal``)
    or ``"net_loss"`` (the expected drop in accuracy, which credits rows the small model gets right
    and the full model wrong; needs ``y_cal``).

    How the candidate is chosen without spending the guarantee:

    - With held-out selection rows (``blocks_sel`` and ``full_sel``, plus ``y_sel`` for the
      label-based risks, rows the small models were not fitted on), each candidate's certified
      accept rate is *predicted* on them (:func:`~dawn.willump.bounds.predicted_accept_rate`), the
      candidates with the lowest predicted batch and single-row cost are chosen there, and only
      those (one or two) are certified on the calibration rows, at ``1 - confidence`` split between
      them. One candidate serves both uses when that is predicted no slower for single rows than
      two certified at half the level each. The calibration rows play no part in the choice.
      With ``hedge``, only the batch choice is made there and certified, at half of
      ``1 - confidence``; every other candidate is certified with the other half split among all
      candidates (Bonferroni), and each use takes the cheapest certified plan: a choice mispredicted
      on few selection rows then costs little.
    - Otherwise every candidate is certified at ``(1 - confidence) / n_candidates`` (Bonferroni),
      so choosing the cheapest certified candidate on the same calibration rows keeps the guarantee.

    Thresholds are tried on a grid of quantiles of the small model's confidence on ``blocks_sel``
    (rows not used for certification), so the grid does not depend on the calibration rows either.
    Every candidate tried is appended to ``trace``. Cheap sets costing more than
    ``max_cheap_share`` of the full pipeline (batch or single row) are not candidates. The
    single-row plan minimises the expected mean latency, or with ``single_objective="p50"`` the
    median: then a cheaper first stage that answers most rows wins over one that answers more rows
    at a higher cost, at the price of a higher mean. ``batch_rows`` is the batch size the batch
    plan is costed for (see :func:`cascade_cost`); None costs every stage per row.
    """
    if risk != "disagreement" and y_cal is None:
        raise ValueError(f"risk={risk!r} needs y_cal")
    held_out = (
        blocks_sel is not None and full_sel is not None and (risk == "disagreement" or y_sel is not None)
    )
    groups = pipeline.group_names
    full_batch = (
        costs.total([*groups, "model"])
        if batch_rows is None
        else costs.call([*groups, "model"], batch_rows) / max(batch_rows, 1)
    )
    full = (full_batch, costs.total([*groups, "model"], single=True))
    n_cal = len(full_cal)
    # Every (cheap set, small model) pair is a candidate; all are fixed before certification.
    pairs = []
    for cheap in candidate_sets(groups, costs, importance):
        # A cheap set that costs nearly the whole pipeline cannot pay off even if every row exits;
        # dropping it here (by cost alone, before any label is looked at) leaves fewer candidates.
        share = max(costs.total(cheap) / full[0], costs.total(cheap, single=True) / full[1])
        if share > max_cheap_share:
            continue
        feats_fit = hstack([blocks_fit[g] for g in cheap])
        for template in small_model_variants(
            "classification", sparse=sp.issparse(feats_fit), seed=seed, template=small_model, wide=held_out
        ):
            pairs.append((cheap, feats_fit, template))

    def plan_for(c: dict[str, Any], accept: float, cal: Any) -> CascadePlan:
        exp = (
            cascade_cost(
                costs, c["cheap"], c["rest"], c["small_cost"][0], accept, single=False, batch_rows=batch_rows
            ),
            cascade_cost(costs, c["cheap"], c["rest"], c["small_cost"][1], accept, single=True),
        )
        # the median row takes the early path when more than half the rows exit there; with a margin,
        # since an exit share just over 1/2 on calibration rows leaves the median of any other sample
        # of rows a coin flip between the two paths
        early = float(accept >= 0.5 + P50_MARGIN)
        p50 = cascade_cost(costs, c["cheap"], c["rest"], c["small_cost"][1], early, single=True)
        return CascadePlan(
            c["cheap"], c["small"], cal.threshold if cal else float("inf"), accept,
            cal.risk if cal else float("nan"), cal.bound if cal else float("nan"), c["small_cost"], exp,
            full, scorer=c["scorer"], expected_p50_single=p50,
        )  # fmt: skip

    cands: list[dict[str, Any]] = []
    for cheap, feats_fit, template in pairs:
        small = fit_small_model("classification", feats_fit, target_fit, seed=seed, template=template)
        feats_cal = hstack([blocks_cal[g] for g in cheap])
        proba = small.predict_proba(feats_cal)
        c: dict[str, Any] = {"cheap": cheap, "rest": [g for g in groups if g not in cheap], "small": small}
        c["conf"], c["pred"] = proba.max(axis=1), small.classes_[proba.argmax(axis=1)]
        c["grid"] = None
        if blocks_sel is not None:
            p_sel = small.predict_proba(hstack([blocks_sel[g] for g in cheap]))
            conf_sel = p_sel.max(axis=1)
            c["grid"] = np.quantile(conf_sel, np.linspace(0.0, 1.0, 201))
            if held_out:
                pred_sel = small.classes_[p_sel.argmax(axis=1)]
                loss_sel = risk_losses(risk, pred_sel, full_sel, y_sel)  # type: ignore[arg-type]
                # predicted at the full level (one candidate certified) and at half (two: the batch
                # and the single-row choices differ)
                c["predicted_accept"], c["predicted_accept_split"] = (
                    predicted_accept_rate(
                        conf_sel, loss_sel, max_loss=max_loss, delta=d, n_cal=n_cal, grid=c["grid"]
                    )
                    for d in (1.0 - confidence, (1.0 - confidence) / 2)
                )
        c["scorer"] = single_row_scorer(small, feats_cal, proba=proba)
        c["small_cost"] = (
            batch_row_cost(small.predict_proba, feats_cal),
            single_row_cost(c["scorer"], feats_cal, seed=seed),
        )
        cands.append(c)

    def certify(c: dict[str, Any], delta: float) -> CascadePlan:
        loss = risk_losses(risk, c["pred"], full_cal, y_cal)
        cal = certify_threshold(
            risk, c["conf"], loss, max_loss=max_loss, delta=delta, grid=c["grid"], seed=seed
        )
        c["certified"], c["level"] = cal, delta
        return plan_for(c, cal.accept_rate, cal)

    def cheapest(plans: list[CascadePlan]) -> tuple[int | None, int | None]:
        """Indices of the plans with the lowest batch and single-row cost among those answering rows
        (None when no certified plan admits a row: then the full pipeline answers)."""
        live = [i for i, p in enumerate(plans) if p.accept_rate > 0]
        if not live:
            return None, None
        return (
            min(live, key=lambda i: plans[i].expected_cost[0]),
            min(live, key=lambda i: plans[i].single_cost(single_objective)),
        )

    if held_out:
        i_batch, i_single = cheapest([plan_for(c, c["predicted_accept_split"], None) for c in cands])
        if hedge:
            # one prediction only: the batch plan's. The single-row plan is then the cheapest of
            # everything certified (a p50 plan hinges on half the rows exiting, a bad bet to predict)
            i_single = i_batch
        elif i_batch is not None and i_single is not None and i_batch != i_single:
            # two certifications split the level; the batch choice serves single rows too if, at the
            # full level, it is predicted no slower there than the single-row choice at half (within
            # 5%: the costs are timings, and e.g. two logistic regressions on the same set cost the same)
            shared = plan_for(cands[i_batch], cands[i_batch]["predicted_accept"], None)
            split = plan_for(cands[i_single], cands[i_single]["predicted_accept_split"], None)
            if shared.single_cost(single_objective) <= 1.05 * split.single_cost(single_objective):
                i_single = i_batch
        chosen = sorted({i for i in (i_batch, i_single) if i is not None})
        arm = 0.5 if hedge else 1.0
        certified = [certify(cands[i], (1.0 - confidence) * arm / len(chosen)) for i in chosen]
        if hedge:
            # the other half of the level certifies every other candidate (Bonferroni), so a
            # prediction that missed on noisy selection rows still leaves the old rule's choice
            certified += [
                certify(c, (1.0 - confidence) * 0.5 / len(cands))
                for i, c in enumerate(cands)
                if i not in chosen
            ]
        # every plan certified here is covered by the split of the level, so any may serve either
        # use: a prediction that missed (e.g. a single-row choice certified on under half the rows)
        # costs no guarantee
        best, best_single = (None if i is None else certified[i] for i in cheapest(certified))
    else:
        delta = (1.0 - confidence) / max(len(cands), 1)
        plans = [certify(c, delta) for c in cands]
        best, best_single = (None if i is None else plans[i] for i in cheapest(plans))

    tried = []
    for c in cands:
        cal = c.get("certified")
        accept = cal.accept_rate if cal is not None else c.get("predicted_accept", 0.0)
        plan = plan_for(c, accept, cal)
        tried.append(
            {"cheap": c["cheap"], "small_model": describe_model(c["small"]), "certified": cal is not None,
             "predicted_accept_rate": c.get("predicted_accept"), "level": c.get("level"),
             "threshold": cal.threshold if cal is not None else None,
             "accept_rate": cal.accept_rate if cal is not None else None,
             "bound": cal.bound if cal is not None else None, "risk": cal.risk if cal is not None else None,
             "expected_speedup": full[0] / plan.expected_cost[0],
             "expected_speedup_single": full[1] / plan.expected_cost[1],
             "expected_p50_speedup_single": full[1] / plan.expected_p50_single}
        )  # fmt: skip
    for p in (best, best_single):
        if p is not None:
            p.candidates = tried
    if trace is not None:
        trace.extend(tried)
    return best, best_single
