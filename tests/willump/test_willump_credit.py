"""The credit workload's aggregate joins: indexed lookups that give exactly what a left merge gives."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dawn.willump.workloads.credit import AggregateJoin


def _merge(X: pd.DataFrame, table: pd.DataFrame, keys: list[str]) -> np.ndarray:
    joined = X[keys].merge(table, how="left", left_on=keys, right_index=True)
    return joined.drop(columns=keys).to_numpy(dtype=float)


def test_single_and_multi_key_lookups_equal_a_left_merge_with_unseen_keys() -> None:
    rng = np.random.default_rng(0)
    train = pd.DataFrame(
        {"state": rng.choice(["CA", "NY", "TX"], 300), "own": rng.choice(["RENT", "OWN"], 300),
         "x": rng.normal(size=300), "n": rng.integers(0, 5, 300)}
    )  # fmt: skip
    for keys in (["state"], ["state", "own"]):
        table = train.groupby(keys).agg(mean=("x", "mean"), count=("n", "size"), std=("x", "std"))
        X = pd.DataFrame(
            {"state": ["NY", "WA", "CA", "TX", "NY"], "own": ["OWN", "RENT", "MORTGAGE", "RENT", "OWN"]}
        )
        got, want = AggregateJoin(table, keys)(X), _merge(X, table, keys)
        assert got.shape == want.shape == (5, 3)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))  # unseen keys: NaN rows
        np.testing.assert_array_equal(np.nan_to_num(got), np.nan_to_num(want))
        one = AggregateJoin(table, keys)(X.iloc[[1]])
        assert np.isnan(one).all()  # a one-row request with an unseen key
