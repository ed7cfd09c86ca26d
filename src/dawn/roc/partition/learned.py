"""Roc's learned partitioner: contiguous ranges of equal *predicted* cost, refitted online.

Jia et al. (Roc, MLSys 2020, section 4) fit a linear per-vertex cost model to measured per-partition
run times during training and re-split the graph between epochs. Here each round measures the current
ranges, adds them to the training set, refits the non-negative ridge model, and re-splits only when the
predicted max/mean balance improves by at least ``min_gain`` (re-partitioning moves data, so a tiny
predicted gain is not worth it). The fitted model then balances a new graph with no profiling run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dawn.core.errors import DawnError
from dawn.roc.partition.base import Partition, check_k
from dawn.roc.partition.baselines import equal_edges, equal_vertices, split_prefix
from dawn.roc.partition.cost_model import NonNegativeRidge, vertex_features

__all__ = ["LearnedPartitioner", "balance"]


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
    snap_tol : float, default=0.03
        With ``anchors`` (cut positions with small boundaries, e.g. METIS part ends), a cut moves to its
        nearest anchor when the predicted max/mean grows by at most this much: fewer halo rows for a
        balance difference below the timing noise.

    Attributes
    ----------
    model_ : NonNegativeRidge
    partition_ : Partition
        The final ranges.
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
        snap_tol: float = 0.03,
    ) -> None:
        self.k = k
        self.alpha = alpha
        self.max_rounds = max_rounds
        self.min_gain = min_gain
        self.snap_tol = snap_tol

    # -- model -------------------------------------------------------------------------------------
    def _range_X(self, prefix: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        return prefix[bounds[1:]] - prefix[bounds[:-1]]

    def observe(self, X: np.ndarray, times: np.ndarray) -> LearnedPartitioner:
        """Add measured ``times`` of partitions with summed features ``X`` and refit the model."""
        self._X = np.vstack([getattr(self, "_X", np.zeros((0, X.shape[1]))), X])
        self._t = np.concatenate([getattr(self, "_t", np.zeros(0)), times])
        self.model_ = NonNegativeRidge(alpha=self.alpha).fit(self._X, self._t)
        return self

    def predict_times(
        self, indptr: np.ndarray, indices: np.ndarray, bounds: np.ndarray, width: float
    ) -> np.ndarray:
        """Predicted seconds of each range of ``bounds`` on a graph (possibly one never profiled)."""
        prefix = self._prefix(indptr, indices, width)
        return self.model_.predict(self._range_X(prefix, np.asarray(bounds)))

    def split(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        width: float,
        k: int | None = None,
        anchors: np.ndarray | None = None,
    ) -> Partition:
        """Ranges of equal predicted cost by prefix sums of ``w . x(v)`` (no profiling needed), each cut
        snapped to the nearest of ``anchors`` where that costs at most ``snap_tol`` predicted balance."""
        if not hasattr(self, "model_"):
            raise DawnError(
                "the learned partitioner has no cost model yet", "call fit() on a profiled graph first"
            )
        k = k or self.k
        X = vertex_features(indptr, indices, k=k, width=width)
        cost = np.maximum(X @ self.model_.coef_ + self.model_.intercept_ / max(len(X), 1), 1e-12)
        bounds = split_prefix(cost, k)
        if anchors is not None and len(anchors):
            prefix = np.concatenate([[0.0], np.cumsum(cost)])
            limit = balance(np.diff(prefix[bounds])) + self.snap_tol
            for i in range(1, k):
                a = int(anchors[np.argmin(np.abs(anchors - bounds[i]))])
                if not bounds[i - 1] < a < bounds[i + 1]:
                    continue
                trial = bounds.copy()
                trial[i] = a
                if balance(np.diff(prefix[trial])) <= limit:
                    bounds = trial
        return Partition(bounds, method="learned")

    def _prefix(self, indptr: np.ndarray, indices: np.ndarray, width: float) -> np.ndarray:
        X = vertex_features(indptr, indices, k=self.k, width=width)
        return np.vstack([np.zeros((1, X.shape[1])), np.cumsum(X, axis=0)])

    # -- online loop -------------------------------------------------------------------------------
    def fit(
        self, indptr: np.ndarray, indices: np.ndarray, profiler: Any, anchors: np.ndarray | None = None
    ) -> LearnedPartitioner:
        """Profile, fit, and re-balance up to ``max_rounds`` times.

        ``profiler.time_partition(bounds)`` returns measured seconds per range and ``profiler.width`` the
        feature width. The first profile measures the equal-vertex and the equal-edge split and one
        deliberately uneven split (range sizes 1 : 2 : ... : k), which gives the regression ``3k``
        differently sized samples to start from, so the per-vertex and fixed costs can be told apart.
        """
        n = len(indptr) - 1
        check_k(self.k, n)
        prefix = self._prefix(indptr, indices, profiler.width)
        self.history_: list[dict[str, Any]] = []
        current = None
        ramp = Partition(
            split_prefix(np.repeat(np.arange(1.0, self.k + 1), -(-n // self.k))[:n], self.k), method="ramp"
        )
        for p in (equal_vertices(indptr, self.k), equal_edges(indptr, self.k), ramp):
            t = profiler.time_partition(p.bounds)
            if p.method == "ramp":  # a sample for the model, never a candidate partition
                self.observe(self._range_X(prefix, p.bounds), t)
                continue
            self.observe(self._range_X(prefix, p.bounds), t)
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
            if current is None or balance(t) < current[1]:
                current = (p.bounds, balance(t))
        assert current is not None
        bounds = current[0]
        for r in range(1, self.max_rounds + 1):
            cand = self.split(indptr, indices, profiler.width, anchors=anchors).bounds
            pred_cur = balance(self.model_.predict(self._range_X(prefix, bounds)))
            pred_new = balance(self.model_.predict(self._range_X(prefix, cand)))
            resplit = pred_cur - pred_new >= self.min_gain or r == 1 and not np.array_equal(cand, bounds)
            if resplit:
                bounds = cand
            t = profiler.time_partition(bounds)
            self.observe(self._range_X(prefix, bounds), t)
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
        self.partition_ = Partition(np.asarray(bounds), method="learned", info={"rounds": self.max_rounds})
        return self
