"""Roc's linear cost model: per-vertex features summed over a partition, fitted by non-negative ridge.

Roc (Jia et al., MLSys 2020, section 4) predicts the run time of a partition as
``t(P) = sum_{v in P} w . x(v)``; because the model is a sum over vertices, prefix sums of ``w . x(v)``
split the graph into contiguous ranges of equal predicted cost. The weights are refitted online from
measured per-partition times. Weights are kept non-negative so that no feature can make a vertex
"free" and the prefix sums stay monotone.
"""

from __future__ import annotations

import numpy as np

from dawn.core.errors import DawnError

__all__ = ["FEATURES", "vertex_features", "NonNegativeRidge", "range_boundary", "range_features"]

#: Features of a range (each multiplied by the model's total feature width): the first three are sums of
#: per-vertex features, the last is the range's exact boundary (halo) size.
FEATURES = ("vertex", "in_degree", "neighbour_runs", "boundary_rows")


def vertex_features(indptr: np.ndarray, indices: np.ndarray, *, width: float = 1.0) -> np.ndarray:
    """Per-vertex features ``x(v)``, shape ``(n, 3)``.

    Columns: 1; in-degree; neighbour-ID runs (maximal runs of consecutive IDs among a vertex's sorted
    in-neighbours, the paper's memory-access continuity: one run is one contiguous read). All are scaled
    by ``width``, the feature width the model moves per row, so one model serves models and graphs of
    other widths.
    """
    n = len(indptr) - 1
    deg = np.diff(indptr).astype(np.float64)
    row = np.repeat(np.arange(n), np.diff(indptr))
    idx = np.asarray(indices, dtype=np.int64)
    # a new run starts at each neighbour that is not previous+1 within the same row
    starts = np.ones(len(idx), dtype=bool)
    if len(idx) > 1:
        same_row = row[1:] == row[:-1]
        starts[1:] = ~(same_row & (idx[1:] == idx[:-1] + 1))
    runs = np.bincount(row[starts], minlength=n).astype(np.float64)
    return np.column_stack([np.ones(n), deg, runs]) * width


def range_boundary(indptr: np.ndarray, indices: np.ndarray, lo: int, hi: int) -> int:
    """Distinct in-neighbours of ``lo:hi`` outside it: the halo rows the range receives per layer."""
    cols = indices[indptr[lo] : indptr[hi]]
    return int(np.unique(cols[(cols < lo) | (cols >= hi)]).size)


def range_features(
    indptr: np.ndarray, indices: np.ndarray, prefix: np.ndarray, bounds: np.ndarray, width: float
) -> np.ndarray:
    """Features of each range of ``bounds``, shape ``(k, 4)``: summed per-vertex features (from their
    column prefix sums ``prefix``, shape ``(n + 1, 3)``) and the exact boundary size.

    The boundary is not a sum over vertices (two vertices may share a halo neighbour), which is why it is
    computed per range; the halo exchange and the gather of halo rows cost in proportion to it.
    """
    b = np.asarray(bounds, dtype=np.int64)
    halo = [range_boundary(indptr, indices, int(lo), int(hi)) for lo, hi in zip(b[:-1], b[1:], strict=True)]
    return np.column_stack([prefix[b[1:]] - prefix[b[:-1]], np.asarray(halo, dtype=np.float64) * width])


class NonNegativeRidge:
    """Ridge regression with non-negative coefficients and an unpenalised non-negative intercept.

    Solves ``min ||X w + b - t||^2 + alpha ||w||^2`` subject to ``w >= 0, b >= 0`` by non-negative least
    squares on the augmented system, with columns scaled to unit norm so that ``alpha`` is unit-free.

    Parameters
    ----------
    alpha : float, default=1e-3
    fit_intercept : bool, default=True
        Intercept models a per-partition fixed cost (kernel launches, Python overhead); it does not
        affect where the prefix sums cut.
    """

    def __init__(self, alpha: float = 1e-3, fit_intercept: bool = True) -> None:
        self.alpha = alpha
        self.fit_intercept = fit_intercept

    def fit(self, X: np.ndarray, t: np.ndarray) -> NonNegativeRidge:
        from scipy.optimize import nnls

        X = np.asarray(X, dtype=np.float64)
        t = np.asarray(t, dtype=np.float64)
        if X.ndim != 2 or len(X) != len(t) or len(t) == 0:
            raise DawnError(f"cost model got X {X.shape} and t {t.shape}", "pass one feature row per timing")
        A = np.column_stack([X, np.ones(len(X))]) if self.fit_intercept else X
        scale = np.linalg.norm(A, axis=0)
        scale[scale == 0] = 1.0
        As = A / scale
        f = X.shape[1]
        pen = np.zeros((f, As.shape[1]))
        pen[np.arange(f), np.arange(f)] = np.sqrt(self.alpha)
        sol, _ = nnls(np.vstack([As, pen]), np.concatenate([t, np.zeros(f)]), maxiter=50 * As.shape[1])
        w = sol / scale
        self.coef_ = w[:f]
        self.intercept_ = float(w[f]) if self.fit_intercept else 0.0
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise DawnError("cost model is not fitted", "call fit() with measured partition times first")
        return np.asarray(X, dtype=np.float64) @ self.coef_ + self.intercept_

    def score(self, X: np.ndarray, t: np.ndarray) -> float:
        """Coefficient of determination R^2 of the predictions."""
        t = np.asarray(t, dtype=np.float64)
        ss = float(((t - t.mean()) ** 2).sum())
        return 1.0 - float(((t - self.predict(X)) ** 2).sum()) / ss if ss > 0 else 0.0
