"""Measured per-row costs of feature groups and models, and permutation importance of groups.

The original timed each statement once, on the first input, and hard-coded joins at 0.1; it shuffled
each group once. Here a batch cost is the best of several repeats after a warm-up and a single-row
cost the median over several rows, both per row, and the model's own cost is measured too;
importance is the mean drop of a score over several permutations of the group's block on held-out
rows.
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from dawn.core.timing import time_call
from dawn.willump._blocks import n_rows, take
from dawn.willump.pipeline import is_remote


@dataclass
class Costs:
    """Seconds per row for each group and the model, in batch and in single-row use.

    ``stage_batch`` and ``stage_single`` hold, for pipelines with remote groups, the measured cost of
    computing a *set* of groups together (key: the sorted group names). Remote lookups run
    concurrently with local groups and with each other, and handing them to a thread costs something
    too, so a set's cost is not the sum of its parts, and how far off the sum is depends on the set
    (on music two lookups together cost 10% less than their sum, a lookup beside the local group 8%
    more).
    """

    batch: dict[str, float] = field(default_factory=dict)
    single: dict[str, float] = field(default_factory=dict)
    stage_batch: dict[tuple[str, ...], float] = field(default_factory=dict)
    stage_single: dict[tuple[str, ...], float] = field(default_factory=dict)
    #: rows per call at which each ``batch`` (and ``stage_batch``) figure was measured
    batch_rows: dict[Any, int] = field(default_factory=dict)

    def total(self, names: list[str], *, single: bool = False, joint: bool = True) -> float:
        """Cost of ``names`` (groups, and ``"model"`` for the model) per row.

        The groups' measured joint cost where there is one (and ``joint``), else the sum of their costs.
        """
        table = self.single if single else self.batch
        stages = self.stage_single if single else self.stage_batch
        key = self._joint_key(names, stages, joint)
        if key is not None:
            return float(stages[key] + sum(table[n] for n in names if n == "model"))
        return float(sum(table[n] for n in names))

    @staticmethod
    def _joint_key(
        names: list[str], stages: dict[tuple[str, ...], float], joint: bool
    ) -> tuple[str, ...] | None:
        """The key of the groups of ``names`` in ``stages`` when they were timed together (and ``joint``)."""
        groups = tuple(sorted(n for n in names if n != "model"))
        return groups if joint and groups in stages else None

    def call(self, names: list[str], rows: float, *, joint: bool = True) -> float:
        """Seconds of one batch call of ``names`` (groups, and ``"model"``) on ``rows`` rows.

        Each part costs ``fixed + per_row * rows`` (:meth:`fixed_and_slope`). Per-row figures alone
        miss what every call pays however few rows it gets (a join's index set-up, a model's input
        checks): on the credit workload a join takes 0.59 ms on 63 rows and 0.77 ms on 3,000, so
        the few rows a cascade sends on cost far more than their share of a 3,000-row batch.
        """
        key = self._joint_key(names, self.stage_batch, joint)
        parts: list[Any] = [key] if key is not None else sorted(n for n in names if n != "model")
        parts += [n for n in names if n == "model"]
        total = 0.0
        for part in parts:
            fixed, slope = self.fixed_and_slope(part)
            total += fixed + slope * rows
        return total

    def fixed_and_slope(self, part: Any) -> tuple[float, float]:
        """``(seconds per call, seconds per row)`` of a group, ``"model"`` or a set of groups (tuple).

        Two measurements pin the line: a call on one row (the single-row cost) and the batch call on
        ``batch_rows[part]`` rows. Without the batch size the per-row figure stands (no fixed part).
        """
        if isinstance(part, tuple):
            per_row, one = self.stage_batch[part], self.stage_single[part]
        else:
            per_row, one = self.batch[part], self.single[part]
        n = self.batch_rows.get(part, 0)
        if n <= 1:
            return 0.0, per_row
        slope = min(max((per_row * n - one) / (n - 1), 0.0), per_row)
        fixed = max(per_row * n - slope * n, 0.0)  # the batch call's time not explained by its rows
        return fixed, slope


def _best_seconds(fn: Callable[[], Any], *, warmup: int, repeats: int) -> float:
    # The fastest repeat (timeit's convention): other processes' load only ever adds time, and a
    # cost model built on inflated samples would reject cascades on a busy machine.
    return float(min(time_call(fn, warmup=warmup, repeats=repeats).samples))


def per_row_cost(
    fn: Callable[[Any], Any], X: Any, *, warmup: int = 1, repeats: int = 3, n_single: int = 15, seed: int = 0
) -> tuple[float, float]:
    """``(batch, single)`` seconds per row of ``fn`` on ``X``: one batch call, and single-row calls."""
    return batch_row_cost(fn, X, warmup=warmup, repeats=repeats), single_row_cost(
        fn, X, n_single=n_single, seed=seed
    )


def batch_row_cost(fn: Callable[[Any], Any], X: Any, *, warmup: int = 1, repeats: int = 3) -> float:
    """Seconds per row of one call of ``fn`` on all of ``X`` (best of ``repeats``)."""
    return _best_seconds(lambda: fn(X), warmup=warmup, repeats=repeats) / max(n_rows(X), 1)


def single_row_cost(fn: Callable[[Any], Any], X: Any, *, n_single: int = 15, seed: int = 0) -> float:
    """Median seconds of ``fn`` on one row of ``X``, over ``n_single`` rows drawn with ``seed``."""
    n = n_rows(X)
    rng = np.random.default_rng(seed)
    rows = rng.choice(n, size=min(n_single, n), replace=False)
    singles = [take(X, np.array([i])) for i in rows]
    fn(singles[0])  # warm-up (first-call allocations)
    times = []
    for x in singles:
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def measure_costs(
    pipeline: Any, X: Any, *, repeats: int = 3, max_rows: int = 2000, budget_s: float = 1.0, seed: int = 0
) -> Costs:
    """Per-row cost of every group of ``pipeline`` and of its model (key ``"model"``) on ``X``.

    Each group is first timed once on up to 100 rows; the batch it is then measured on is sized so
    one call takes about ``budget_s`` (between 100 and ``max_rows`` rows), so an expensive group
    (a neural encoder) does not make optimisation take minutes.
    """
    n = n_rows(X)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    costs = Costs()
    probe = take(X, order[: min(n, 100)])
    for name in pipeline.group_names:
        t0 = time.perf_counter()
        pipeline.compute(probe, [name])
        per_row = (time.perf_counter() - t0) / n_rows(probe)
        rows = int(np.clip(budget_s / max(per_row, 1e-9), 100, max_rows))
        Xg = take(X, order[: min(n, rows)])
        b, s = per_row_cost(
            functools.partial(pipeline.compute, groups=[name]), Xg, repeats=repeats, seed=seed
        )
        costs.batch[name], costs.single[name] = b, s
        costs.batch_rows[name] = n_rows(Xg)
    if any(is_remote(pipeline.features[g]) for g in pipeline.group_names):
        _measure_stages(
            pipeline, X, costs, order=order, repeats=repeats, max_rows=max_rows, budget_s=budget_s, seed=seed
        )
    feats = pipeline.transform(take(X, order[: min(n, 500)]))
    method = "predict_proba" if pipeline.task == "classification" else "predict"
    predict = functools.partial(pipeline.call_model, method)  # as served (see Pipeline.call_model)
    b, s = per_row_cost(predict, feats, repeats=repeats, seed=seed)
    costs.batch["model"], costs.single["model"] = b, s
    costs.batch_rows["model"] = n_rows(feats)
    return costs


def _measure_stages(
    pipeline: Any,
    X: Any,
    costs: Costs,
    *,
    order: np.ndarray,
    repeats: int,
    max_rows: int,
    budget_s: float,
    seed: int,
    max_groups: int = 4,
) -> None:
    """Joint per-row cost of every set of groups (up to ``max_groups`` groups: 2^g - 1 sets).

    Batches are sized so that the whole pipeline takes about ``budget_s`` (100 to ``max_rows`` rows);
    single rows are timed as in :func:`single_row_cost`. With more groups the sums stand.
    """
    groups = list(pipeline.group_names)
    if len(groups) > max_groups:
        return
    per_row = max(sum(costs.batch[g] for g in groups), 1e-9)
    rows = min(n_rows(X), int(np.clip(budget_s / per_row, 100, max_rows)))
    Xs = take(X, order[:rows])
    for r in range(1, len(groups) + 1):
        for subset in itertools.combinations(groups, r):
            key = tuple(sorted(subset))
            b, s = per_row_cost(
                functools.partial(pipeline.compute, groups=list(subset)), Xs, repeats=repeats, seed=seed
            )
            costs.stage_batch[key], costs.stage_single[key] = b, s
            costs.batch_rows[key] = rows


def permutation_importance(
    pipeline: Any,
    blocks: dict[str, Any],
    target: np.ndarray,
    *,
    n_repeats: int = 3,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Mean and std of the score drop when one group's rows are shuffled, per group.

    The score is accuracy against ``target`` for classification (pass the full model's own predictions
    to measure what the model relies on) and negative RMSE for regression.
    """
    rng = np.random.default_rng(seed)

    def score(feats: Any) -> float:
        pred = np.asarray(pipeline.call_model("predict", feats))
        if pipeline.task == "classification":
            return float(np.mean(pred == target))
        return -float(np.sqrt(np.mean((pred.astype(float) - target.astype(float)) ** 2)))

    base = score(pipeline.assemble(blocks))
    out: dict[str, tuple[float, float]] = {}
    for name in pipeline.group_names:
        drops = []
        for _ in range(n_repeats):
            perm = rng.permutation(n_rows(blocks[name]))
            shuffled = dict(blocks)
            b = blocks[name]
            shuffled[name] = b[perm] if not sp.issparse(b) else b.tocsr()[perm]
            drops.append(base - score(pipeline.assemble(shuffled)))
        out[name] = (float(np.mean(drops)), float(np.std(drops)))
    return out
