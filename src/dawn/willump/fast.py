"""Single-row scorers for the optimizer's own small models.

A cascade answers a single request early only if the cheap path is cheap end to end (Willump, Kraft
et al., MLSys 2020, Sec. 4: the cascade pays off when the small model costs far less than the features
it skips). For one row, the estimator wrappers are most of that cost: scikit-learn's input
validation, and LightGBM's parameter handling, ask for hundreds of microseconds before a 60-tree
model does a few microseconds of work. The small models are trained by the optimizer, not the
user, so :func:`single_row_scorer` may serve them through a plain traversal of their fitted
parameters instead; the user's full model is never touched.

A scorer is only used after it reproduced the estimator's ``predict_proba`` on the rows it is
checked on (:func:`single_row_scorer` takes them); anything it does not support (categorical
splits, other estimator types) keeps the estimator's own ``predict_proba``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

#: Row -> class probabilities (one row in, a 1-D array out).
Scorer = Callable[[Any], np.ndarray]

_ZERO = 1e-35  # LightGBM's kZeroThreshold: |x| at or below it is "zero" for missing_type Zero


class LightGBMTrees:
    """A fitted LightGBM classifier's trees as flat lists, scored one row at a time in Python.

    Follows LightGBM's numerical decision rule (``Tree::NumericalDecision``): NaN is read as 0 unless
    the split's missing type is NaN; a missing value (NaN, or zero for missing type Zero) goes to the
    default side; otherwise ``x <= threshold`` goes left. Raises ``ValueError`` for categorical
    splits or objectives other than binary and multiclass softmax.
    """

    def __init__(self, model: Any) -> None:
        dump = model.booster_.dump_model()
        objective = str(dump.get("objective", ""))
        self.n_class = int(dump["num_class"])
        self.per_iter = int(dump["num_tree_per_iteration"])
        if objective.startswith("binary"):
            self.sigmoid = (
                float(objective.split("sigmoid:")[1].split()[0]) if "sigmoid:" in objective else 1.0
            )
        elif objective.startswith("multiclass") and "ova" not in objective:
            self.sigmoid = 0.0
        else:
            raise ValueError(f"objective {objective!r} is not supported")
        if dump.get("average_output"):
            raise ValueError("averaged outputs (random forest mode) are not supported")
        # one entry per node; leaves have feature -1 and their value in `value`
        self.feature: list[int] = []
        self.threshold: list[float] = []
        self.left: list[int] = []
        self.right: list[int] = []
        self.default_left: list[bool] = []
        self.missing: list[int] = []  # 0 None, 1 Zero, 2 NaN
        self.value: list[float] = []
        self.roots = [self._add(t["tree_structure"]) for t in dump["tree_info"]]

    def _add(self, node: dict[str, Any]) -> int:
        i = len(self.feature)
        for column in (self.feature, self.threshold, self.left, self.right, self.default_left,
                       self.missing, self.value):  # fmt: skip
            column.append(0)  # type: ignore[arg-type]
        if "leaf_value" in node:
            self.feature[i], self.value[i] = -1, float(node["leaf_value"])
            return i
        if node.get("decision_type") != "<=":
            raise ValueError("categorical splits are not supported")
        self.feature[i] = int(node["split_feature"])
        self.threshold[i] = float(node["threshold"])
        self.default_left[i] = bool(node["default_left"])
        self.missing[i] = {"None": 0, "Zero": 1, "NaN": 2}[node["missing_type"]]
        self.left[i] = self._add(node["left_child"])
        self.right[i] = self._add(node["right_child"])
        return i

    def raw(self, row: list[float]) -> list[float]:
        """Raw scores (one per class column of the booster) of one row."""
        feature, threshold, left, right = self.feature, self.threshold, self.left, self.right
        default_left, missing, value = self.default_left, self.missing, self.value
        out = [0.0] * self.per_iter
        for t, node in enumerate(self.roots):
            while feature[node] >= 0:
                x = row[feature[node]]
                kind = missing[node]
                if x != x and kind != 2:  # NaN counts as 0 unless NaN is the missing marker
                    x = 0.0
                if (kind == 1 and -_ZERO <= x <= _ZERO) or (kind == 2 and x != x):
                    node = left[node] if default_left[node] else right[node]
                else:
                    node = left[node] if x <= threshold[node] else right[node]
            out[t % self.per_iter] += value[node]
        return out

    def __call__(self, X: Any) -> np.ndarray:
        row = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=float).ravel().tolist()
        raw = self.raw(row)
        if self.per_iter == 1:
            p = 1.0 / (1.0 + math.exp(-self.sigmoid * raw[0]))
            return np.array([1.0 - p, p])
        top = max(raw)
        e = [math.exp(r - top) for r in raw]
        s = sum(e)
        return np.array([v / s for v in e])


class LinearScorer:
    """A fitted binary or multinomial scikit-learn ``LogisticRegression`` as a dot product."""

    def __init__(self, model: Any) -> None:
        coef = np.asarray(model.coef_, dtype=float)
        if coef.shape[0] > 1 and getattr(model, "solver", "") == "liblinear":
            raise ValueError("one-vs-rest probabilities are not supported")
        self.coef_t = np.ascontiguousarray(coef.T)
        self.intercept = np.asarray(model.intercept_, dtype=float)

    def __call__(self, X: Any) -> np.ndarray:
        z = np.asarray(X @ self.coef_t).ravel() + self.intercept
        if len(z) == 1:
            p = 1.0 / (1.0 + math.exp(-float(z[0])))
            return np.array([1.0 - p, p])
        e = np.exp(z - z.max())
        out: np.ndarray = e / e.sum()
        return out


def _build(model: Any) -> Scorer | None:
    name = type(model).__name__
    try:
        if name == "LGBMClassifier":
            return LightGBMTrees(model)
        if name == "LogisticRegression":
            return LinearScorer(model)
    except (ValueError, KeyError, AttributeError):
        return None
    return None


class EstimatorScorer:
    """The estimator's own ``predict_proba`` on a one-row input (the fallback scorer)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __call__(self, X: Any) -> np.ndarray:
        out: np.ndarray = self.model.predict_proba(X)[0]
        return out


def single_row_scorer(
    model: Any, X_check: Any, *, rows: int = 200, atol: float = 1e-9, proba: np.ndarray | None = None
) -> Scorer:
    """A row -> probabilities callable for ``model``: a fast scorer when one is supported and it
    matches ``model.predict_proba`` to ``atol`` on up to ``rows`` rows of ``X_check``; else
    :class:`EstimatorScorer`. ``proba`` is ``model.predict_proba(X_check)`` if the caller has it."""
    slow = EstimatorScorer(model)
    fast = _build(model)
    if fast is None:
        return slow
    n = min(rows, X_check.shape[0])
    if n == 0:
        return slow
    want = model.predict_proba(X_check[:n]) if proba is None else proba[:n]
    for i in range(n):
        if not np.allclose(fast(X_check[i : i + 1]), want[i], rtol=0.0, atol=atol):
            return slow
    return fast
