"""*credit*: Lending Club loans (``loans``) with aggregate-table joins and LightGBM.

Stands in for the paper's Credit workload (Home Credit, aggregate-table joins, LightGBM). The label
is whether the loan was graded A or B (prime); the grade's own derivatives (interest rate, sub-grade,
instalment) and post-origination payments are left out. The application columns are cheap; the
aggregate groups join per-state, per-employer-title and per-purpose/month tables built from the
training split, as a feature store would serve them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dawn.willump.pipeline import Pipeline
from dawn.willump.workloads import Workload, split_indices

APPLICATION = ["loan_amount", "term", "annual_income", "debt_to_income", "emp_length"]
BUREAU = [
    "delinq_2y", "inquiries_last_12m", "total_credit_lines", "open_credit_lines", "total_credit_limit",
    "total_credit_utilized", "num_collections_last_12m", "num_historical_failed_to_pay",
    "accounts_opened_24m", "months_since_last_credit_inquiry", "num_satisfactory_accounts",
    "total_debit_limit", "num_total_cc_accounts", "num_open_cc_accounts", "num_cc_carrying_balance",
    "num_mort_accounts", "account_never_delinq_percent", "public_record_bankrupt", "earliest_credit_line",
]  # fmt: skip


class Columns:
    """A group that selects numeric columns (the cheap, local part of a request)."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns

    def __call__(self, X: pd.DataFrame) -> np.ndarray:
        return X[self.columns].to_numpy(dtype=float)


class AggregateJoin:
    """A group that left-joins an aggregate table on ``keys`` (NaN where the key is unseen).

    The join is an indexed lookup, as a feature store serves it: the request's keys are located in
    the table's (hash) index and the matching rows gathered. A ``DataFrame.merge`` gives the same
    values but costs about a millisecond and a half a call however few rows it joins.
    """

    def __init__(self, table: pd.DataFrame, keys: list[str]) -> None:
        self.table = table
        self.keys = keys
        # the table's rows plus one NaN row, which unseen keys (indexer -1) land on
        values = table.to_numpy(dtype=float)
        self._rows = np.vstack([values, np.full((1, values.shape[1]), np.nan)])

    def __call__(self, X: pd.DataFrame) -> np.ndarray:
        if len(self.keys) == 1:
            where = self.table.index.get_indexer(X[self.keys[0]])
        else:
            where = self.table.index.get_indexer(pd.MultiIndex.from_frame(X[self.keys]))
        out: np.ndarray = self._rows[where]  # -1 picks the NaN row
        return out


def _aggregate(train: pd.DataFrame, keys: list[str], y: np.ndarray) -> pd.DataFrame:
    df = train.assign(_y=y, _util=train["total_credit_utilized"] / train["total_credit_limit"].clip(lower=1))
    agg = df.groupby(keys).agg(
        n=("_y", "size"), income_mean=("annual_income", "mean"),
        income_std=("annual_income", "std"), dti_mean=("debt_to_income", "mean"),
        util_mean=("_util", "mean"), amount_mean=("loan_amount", "mean"),
        inq_mean=("inquiries_last_12m", "mean"),
        delinq_mean=("delinq_2y", "mean"), lines_mean=("total_credit_lines", "mean"),
    )  # fmt: skip
    # No target encoding: a label mean over the training rows would leak into the model's fit.
    return agg


def build(*, quick: bool = False, seed: int = 0, redis_url: str | None = None) -> Workload:
    import lightgbm as lgb

    from dawn import data

    df = data.load("loans").reset_index(drop=True)
    df["emp_title"] = df["emp_title"].fillna("").str.strip().str.lower()
    y = df["grade"].isin(["A", "B"]).to_numpy().astype(int)
    tr, va, te = split_indices(len(df), (0.4, 0.3), seed)
    train = df.iloc[tr]
    groups: dict[str, Any] = {
        "application": Columns(APPLICATION),
        "bureau": Columns(BUREAU),
        "state_agg": AggregateJoin(
            _aggregate(train, ["state", "homeownership"], y[tr]), ["state", "homeownership"]
        ),
        "title_agg": AggregateJoin(_aggregate(train, ["emp_title"], y[tr]), ["emp_title"]),
        "purpose_agg": AggregateJoin(
            _aggregate(train, ["loan_purpose", "issue_month", "verified_income"], y[tr]),
            ["loan_purpose", "issue_month", "verified_income"],
        ),
    }
    model = lgb.LGBMClassifier(n_estimators=100 if quick else 300, num_leaves=31, learning_rate=0.05,
                               n_jobs=1, random_state=seed, verbose=-1)  # fmt: skip
    pipe = Pipeline(groups, model)
    model.fit(pipe.transform(train), y[tr])
    return Workload(
        "credit", pipe, df.iloc[va], y[va], df.iloc[te], y[te], "accuracy",
        f"Lending Club loans, {len(df)} rows; prime grade (A/B) vs rest; groups {list(groups)}; LightGBM",
        X_train=train, y_train=y[tr],
    )  # fmt: skip
