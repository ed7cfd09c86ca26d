"""*price*: diamond prices (``diamonds``) with a comparable-sales feature, LightGBM regression, top-K.

Stands in for the paper's Price workload (Mercari, regression, top-K of predicted price). Physical
measurements are cheap; the grading group encodes cut/colour/clarity; the comparables group is an
appraiser's feature, the mean log price of the 10 most similar diamonds sold in the training split,
found by a nearest-neighbour search, and dominates the cost.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dawn.willump.pipeline import Pipeline
from dawn.willump.workloads import Workload, split_indices
from dawn.willump.workloads.credit import Columns

CUT = ["Fair", "Good", "Very Good", "Premium", "Ideal"]
COLOR = ["J", "I", "H", "G", "F", "E", "D"]
CLARITY = ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"]


def _grades(X: pd.DataFrame) -> np.ndarray:
    return np.column_stack([
        pd.Categorical(X["cut"], categories=CUT).codes,
        pd.Categorical(X["color"], categories=COLOR).codes,
        pd.Categorical(X["clarity"], categories=CLARITY).codes,
    ]).astype(float)  # fmt: skip


class Comparables:
    """Mean and spread of log price among the ``k`` nearest training diamonds (scaled attributes)."""

    def __init__(self, train: pd.DataFrame, k: int = 10) -> None:
        from sklearn.neighbors import NearestNeighbors

        self.k = k
        Z = self._space(train)
        self.mu, self.sd = Z.mean(axis=0), Z.std(axis=0) + 1e-9
        self.nn = NearestNeighbors(n_neighbors=k, algorithm="brute", n_jobs=1).fit((Z - self.mu) / self.sd)
        self.logp = np.log(train["price"].to_numpy(dtype=float))

    @staticmethod
    def _space(X: pd.DataFrame) -> np.ndarray:
        return np.column_stack(
            [X[["carat", "depth", "table", "x", "y", "z"]].to_numpy(float), _grades(X) * 2]
        )

    def __call__(self, X: pd.DataFrame) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        # One thread, as n_jobs=1 intends: scikit-learn's brute-force search otherwise starts an
        # OpenMP team per call, whose start-up dominates small batches on a shared two-core host.
        with threadpool_limits(1):
            _, idx = self.nn.kneighbors((self._space(X) - self.mu) / self.sd)
        p = self.logp[idx]
        return np.column_stack([p.mean(axis=1), p.std(axis=1), p.min(axis=1), p.max(axis=1)])


def build(*, quick: bool = False, seed: int = 0, redis_url: str | None = None) -> Workload:
    import lightgbm as lgb

    from dawn import data

    df = data.load("diamonds").reset_index(drop=True)
    if quick:
        df = df.iloc[np.random.default_rng(seed).permutation(len(df))[:12_000]].reset_index(drop=True)
    y = df["price"].to_numpy(dtype=float)
    tr, va, te = split_indices(len(df), (0.35, 0.2), seed)
    train = df.iloc[tr]
    groups: dict[str, Any] = {
        "size": Columns(["carat", "x", "y", "z"]),
        "grading": _grades,
        "proportions": Columns(["depth", "table"]),
        "comparables": Comparables(train),
    }
    model = lgb.LGBMRegressor(n_estimators=100 if quick else 300, num_leaves=31, learning_rate=0.05,
                              n_jobs=1, random_state=seed, verbose=-1)  # fmt: skip
    pipe = Pipeline(groups, model)
    model.fit(pipe.transform(train), y[tr])
    return Workload(
        "price", pipe, df.iloc[va], y[va], df.iloc[te], y[te], "rmse",
        f"ggplot2 diamonds, {len(df)} rows; price regression; groups {list(groups)}; LightGBM",
        X_train=train, y_train=y[tr],
    )  # fmt: skip
