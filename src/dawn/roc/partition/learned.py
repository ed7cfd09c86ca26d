"""Roc's learned partitioner: contiguous ranges of equal *predicted* cost, refitted online.

Jia et al. (Roc, MLSys 2020, section 4) fit a linear per-vertex cost model to measured per-partition
run times during training and re-split the graph between epochs. Here each round measures the current
ranges, adds them to the training set, refits the non-negative ridge model, and re-splits only when the
predicted max/mean balance improves by at least ``min_gain`` (re-partitioning moves data, so a tiny
predicted gain is not worth it). The fitted model then balances a new graph with no profiling run.

Beyond the paper's per-vertex sum, the model has one per-range term, the exact boundary (halo) size,
which the sum cannot express (neighbours are shared); splits cut by prefix sums and then move each cut by
bisection to equalise the full prediction. Before the refit rounds the graph is renumbered once into
METIS groups balanced in predicted time, so that balanced ranges also have METIS-sized boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dawn.core.errors import DawnError
from dawn.roc.partition.base import Partition, check_k
from dawn.roc.partition.baselines import equal_edges, equal_vertices, split_prefix
from dawn.roc.partition.cost_model import NonNegativeRidge, range_boundary, range_features, vertex_features

__all__ = ["LearnedPartitioner", "balance"]


@dataclass
class _Graph:
    """A CSR in one vertex order with its per-vertex feature prefix sums (shape ``(n + 1, 3)``)."""

    indptr: np.ndarray
    indices: np.ndarray
    prefix: np.ndarray
    width: float

    @classmethod
    def of(cls, indptr: np.ndarray, indices: np.ndarray, width: float) -> _Graph:
        X = vertex_features(indptr, indices, width=width)
        return cls(indptr, indices, np.vstack([np.zeros((1, X.shape[1])), np.cumsum(X, axis=0)]), width)


def balance(times: np.ndarray) -> float:
    """Max over mean of per-partition times (1.0 is perfect)."""
    times = np.asarray(times, dtype=np.float64)
    return float(times.max() / times.mean())


class LearnedPartitioner:
    """Online-learned cost-model partitioner (scikit-learn conventions).

    Parameters
    ----------
    k : int
        Number of partitions.
    alpha : float, default=1e-3
        Ridge penalty of the cost model.
    max_rounds : int, default=3
        Re-balancing rounds after the initial profile.
    min_gain : float, default=0.02
        Re-split only if the predicted max/mean drops by at least this much.
    snap_tol : float, default=0.05
        With ``anchors`` (cut positions with small boundaries, e.g. METIS part ends), a cut moves to its
        nearest anchor when the predicted max/mean grows by at most this much: fewer halo rows for a
        balance difference below the timing noise.
    reorder : bool, default=True
        Renumber the graph once, after the first profile, into a METIS order balanced in predicted
        cost (see :meth:`fit`).
    seed : int, default=0
        METIS seed of that order.

    Attributes
    ----------
    model_ : NonNegativeRidge
    partition_ : Partition
        The final ranges (the best measured of the refit rounds), with ``perm`` when re-ordered.
    history_ : list of dict
        Per round: bounds, predicted and measured balance, whether it re-split.
    """

    def __init__(
        self,
        k: int,
        *,
        alpha: float = 1e-3,
        max_rounds: int = 3,
        min_gain: float = 0.02,
        snap_tol: float = 0.05,
        reorder: bool = True,
        seed: int = 0,
    ) -> None:
        self.k = k
        self.alpha = alpha
        self.max_rounds = max_rounds
        self.min_gain = min_gain
        self.snap_tol = snap_tol
        self.reorder = reorder
        self.seed = seed

    # -- model -------------------------------------------------------------------------------------
    def _range_X(self, g: _Graph, bounds: np.ndarray) -> np.ndarray:
        return range_features(g.indptr, g.indices, g.prefix, bounds, g.width)

    def observe(self, X: np.ndarray, times: np.ndarray) -> LearnedPartitioner:
        """Add measured ``times`` of partitions with features ``X`` (:func:`range_features`) and refit."""
        self._X = np.vstack([getattr(self, "_X", np.zeros((0, X.shape[1]))), X])
        self._t = np.concatenate([getattr(self, "_t", np.zeros(0)), times])
        self.model_ = NonNegativeRidge(alpha=self.alpha).fit(self._X, self._t)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise DawnError(
                "the learned partitioner has no cost model yet", "call fit() on a profiled graph first"
            )

    def predict_times(
        self, indptr: np.ndarray, indices: np.ndarray, bounds: np.ndarray, width: float
    ) -> np.ndarray:
        """Predicted seconds of each range of ``bounds`` on a graph (possibly one never profiled)."""
        self._check_fitted()
        return self.model_.predict(self._range_X(_Graph.of(indptr, indices, width), np.asarray(bounds)))

    def split(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        width: float,
        k: int | None = None,
        anchors: np.ndarray | None = None,
    ) -> Partition:
        """Ranges of equal predicted cost (no profiling needed).

        Cuts first by prefix sums of the per-vertex part ``w . x(v)`` (Roc's split), then moves each cut
        by bisection until the predicted times of the two ranges beside it, boundary term included, are
        equal (two sweeps); finally snaps each cut to the nearest of ``anchors`` where that costs at most
        ``snap_tol`` predicted balance.
        """
        self._check_fitted()
        k = k or self.k
        g = _Graph.of(indptr, indices, width)
        n = len(indptr) - 1
        coef, b0 = self.model_.coef_, self.model_.intercept_
        cost = np.maximum(vertex_features(indptr, indices, width=width) @ coef[:3] + b0 / max(n, 1), 1e-12)
        bounds = split_prefix(cost, k)
        per_vertex = g.prefix @ coef[:3]

        def t(lo: int, hi: int) -> float:
            halo = range_boundary(indptr, indices, lo, hi) if coef[3] > 0 else 0
            return float(per_vertex[hi] - per_vertex[lo] + coef[3] * width * halo + b0)

        if coef[3] > 0:
            for _ in range(2):
                for i in range(1, k):
                    lo, hi = int(bounds[i - 1]) + 1, int(bounds[i + 1]) - 1
                    while lo < hi:  # smallest cut whose left range costs at least the right one
                        mid = (lo + hi) // 2
                        if t(int(bounds[i - 1]), mid) >= t(mid, int(bounds[i + 1])):
                            hi = mid
                        else:
                            lo = mid + 1
                    bounds[i] = lo
        if anchors is not None and len(anchors):
            pred = self.model_.predict(self._range_X(g, bounds))
            limit = balance(pred) + self.snap_tol
            for i in range(1, k):
                a = int(anchors[np.argmin(np.abs(anchors - bounds[i]))])
                if not bounds[i - 1] < a < bounds[i + 1]:
                    continue
                trial = bounds.copy()
                trial[i] = a
                if balance(self.model_.predict(self._range_X(g, trial))) <= limit:
                    bounds = trial
        return Partition(bounds, method="learned")

    def _prefix(self, indptr: np.ndarray, indices: np.ndarray, width: float) -> np.ndarray:
        return _Graph.of(indptr, indices, width).prefix

    def _cost_balanced_groups(self, indptr: np.ndarray, indices: np.ndarray, width: float) -> np.ndarray:
        """``k`` METIS groups of equal *predicted time*: vertex weights from the model's per-vertex and
        per-edge terms, then one re-run with target group shares that leave room for each group's
        boundary term (a per-group cost no vertex weight can carry)."""
        from dawn.roc.partition.base import _metis_membership, group_halo_rows

        coef = self.model_.coef_
        # order-independent terms only: neighbour-run counts change meaning when the graph is renumbered
        cost = np.maximum(vertex_features(indptr, indices, width=width)[:, :2] @ coef[:2], 1e-12)
        # (score, membership, per-group vertex cost V, per-group boundary cost B) of the best run so far
        best: tuple[float, np.ndarray, np.ndarray, np.ndarray] | None = None
        tp = None
        for _ in range(2):
            for s in range(self.seed, self.seed + 3):  # METIS is randomised: keep the best of 3 seeds
                mem = _metis_membership(indptr, indices, self.k, s, cost, tp)
                if np.bincount(mem, minlength=self.k).min() == 0:
                    continue
                V = np.bincount(mem, weights=cost, minlength=self.k)
                B = coef[3] * width * group_halo_rows(indptr, indices, mem)
                score = balance(V + B) + 0.5 * float(B.sum() / max(V.sum(), 1e-300))
                if best is None or score < best[0]:
                    best = (score, mem, V, B)
            assert best is not None
            _, _, V, B = best
            # shares that equalise V_i + B_i: a group with a big halo gets fewer vertices
            target = np.maximum((V.sum() + B.sum()) / self.k - B, 1e-3 * V.sum() / self.k)
            tp = target / target.sum()
        assert best is not None
        return best[1]

    # -- online loop -------------------------------------------------------------------------------
    def fit(
        self, indptr: np.ndarray, indices: np.ndarray, profiler: Any, anchors: np.ndarray | None = None
    ) -> LearnedPartitioner:
        """Profile, fit, (re-order,) and re-balance up to ``max_rounds`` times.

        ``profiler.time_partition(bounds)`` returns measured seconds per range and ``profiler.width`` the
        feature width. The first profile measures the equal-vertex and the equal-edge split and one
        deliberately uneven split into ``2k`` ranges of sizes ``1 : 2 : ... : 2k`` (one epoch's work),
        which gives the regression differently sized samples to start from, so the per-vertex, per-edge
        and fixed costs can be told apart.

        With ``reorder`` (the default) and a profiler that can move to another vertex order
        (``profiler.on(indptr, indices)``), the graph is then renumbered once by
        :func:`~dawn.roc.partition.base.locality_order` into ``k`` METIS groups of equal *predicted
        time* (:meth:`_cost_balanced_groups`): contiguous ranges cut at the group ends cross only the
        cut edges of a min-cut partition, which is what makes contiguous ranges competitive with METIS
        in boundary size on a badly numbered graph. Later rounds refit and move the cuts; the final
        :attr:`partition_` (the best measured round) carries the order as ``perm``. The samples of the
        old order are dropped then (their continuity features describe another layout) and the new
        order is profiled afresh (its METIS groups and a ramp) before the refit rounds. Without it,
        ``anchors`` (if given) are cut positions to snap to in the given order.
        """
        n = len(indptr) - 1
        check_k(self.k, n)
        g = _Graph.of(indptr, indices, profiler.width)
        self.history_: list[dict[str, Any]] = []
        ramp = Partition(
            split_prefix(np.repeat(np.arange(1.0, 2 * self.k + 1), -(-n // (2 * self.k)))[:n], 2 * self.k)
            if n >= 2 * self.k
            else equal_vertices(indptr, self.k).bounds,
            method="ramp",
        )
        start: tuple[np.ndarray, float] | None = None
        for p in (equal_vertices(indptr, self.k), equal_edges(indptr, self.k), ramp):
            t = profiler.time_partition(p.bounds)
            self.observe(self._range_X(g, p.bounds), t)
            if p.method == "ramp":  # a sample for the model, never a candidate partition
                continue
            self.history_.append(
                {
                    "round": 0,
                    "method": p.method,
                    "bounds": p.bounds.tolist(),
                    "measured": balance(t),
                    "predicted": None,
                    "resplit": False,
                }
            )
            if start is None or balance(t) < start[1]:
                start = (p.bounds, balance(t))
        assert start is not None
        bounds, perm = start[0], None
        if self.reorder and self.k > 1 and hasattr(profiler, "on"):
            from dawn.roc.partition.base import locality_order, permute_csr

            groups = self._cost_balanced_groups(indptr, indices, profiler.width)
            perm, anchors = locality_order(
                indptr, indices, k=self.k, seed=self.seed, groups=groups, return_anchors=True
            )
            indptr, indices = permute_csr(indptr, indices, perm)
            profiler = profiler.on(indptr, indices)
            g = _Graph.of(indptr, indices, profiler.width)
            bounds = np.concatenate([[0], anchors, [n]]).astype(np.int64)
            self.anchors_ = np.asarray(anchors)
            # the features of the old order (neighbour runs, remote neighbours) describe another memory
            # layout: start the training set afresh in the new order, from the METIS groups and a ramp
            self._X, self._t = np.zeros((0, self._X.shape[1])), np.zeros(0)
            for b in (ramp.bounds, bounds):
                self.observe(self._range_X(g, b), profiler.time_partition(b))
        best: tuple[np.ndarray, float] | None = None
        for r in range(1, self.max_rounds + 1):
            cand = self.split(indptr, indices, profiler.width, anchors=anchors).bounds
            pred_cur = balance(self.model_.predict(self._range_X(g, bounds)))
            pred_new = balance(self.model_.predict(self._range_X(g, cand)))
            resplit = pred_cur - pred_new >= self.min_gain or r == 1 and not np.array_equal(cand, bounds)
            if resplit:
                bounds = cand
            t = profiler.time_partition(bounds)
            self.observe(self._range_X(g, bounds), t)
            self.history_.append(
                {
                    "round": r,
                    "method": "learned",
                    "bounds": bounds.tolist(),
                    "measured": balance(t),
                    "predicted": min(pred_cur, pred_new),
                    "resplit": bool(resplit),
                }
            )
            # keep the best *measured* split: a refit that predicted a gain but measured worse is undone
            if best is None or balance(t) < best[1]:
                best = (np.asarray(bounds), balance(t))
        assert best is not None
        self.partition_ = Partition(best[0], perm=perm, method="learned", info={"rounds": self.max_rounds})
        return self
