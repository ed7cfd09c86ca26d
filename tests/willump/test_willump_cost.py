"""The per-call cost model: a fixed part per call plus a part per row (``dawn.willump.cost``)."""

from __future__ import annotations

import numpy as np
import pytest

from dawn.willump.cascade import cascade_cost
from dawn.willump.cost import Costs, measure_costs
from dawn.willump.pipeline import Pipeline


def _costs() -> Costs:
    # a: 2 s a row in a 1,000-row call, 502 s for one row -> 1.5 s a row plus 500.5 s a call
    # model: no fixed part (one row costs what a row of the batch costs)
    return Costs(
        batch={"a": 2.0, "b": 1.0, "model": 4.0},
        single={"a": 502.0, "b": 1.0, "model": 4.0},
        batch_rows={"a": 1000, "b": 1000, "model": 1000},
    )


def test_fixed_part_and_slope_go_through_the_single_row_and_the_batch_timings() -> None:
    costs = _costs()
    fixed, slope = costs.fixed_and_slope("a")
    assert fixed + slope == pytest.approx(502.0)  # one row
    assert fixed + 1000 * slope == pytest.approx(2000.0)  # the measured batch call
    assert costs.fixed_and_slope("model") == pytest.approx((0.0, 4.0))
    assert costs.call(["a", "model"], 10) == pytest.approx(fixed + 10 * slope + 40.0)


def test_without_the_batch_size_the_per_row_figure_stands() -> None:
    costs = Costs(batch={"a": 2.0}, single={"a": 502.0})
    assert costs.fixed_and_slope("a") == (0.0, 2.0)
    assert costs.call(["a"], 10) == pytest.approx(20.0)


def test_a_noisy_single_row_faster_than_a_batch_row_gives_no_negative_part() -> None:
    costs = Costs(batch={"a": 2.0}, single={"a": 1.0}, batch_rows={"a": 100})
    fixed, slope = costs.fixed_and_slope("a")
    assert fixed >= 0.0 and 0.0 <= slope <= 2.0
    assert fixed + 100 * slope == pytest.approx(200.0)


def test_joint_costs_of_a_set_get_their_own_line() -> None:
    costs = _costs()
    costs.stage_batch[("a", "b")] = 2.5
    costs.stage_single[("a", "b")] = 600.0
    costs.batch_rows[("a", "b")] = 1000
    fixed, slope = costs.fixed_and_slope(("a", "b"))
    assert costs.call(["b", "a"], 10) == pytest.approx(fixed + 10 * slope)
    assert costs.call(["b", "a"], 10, joint=False) == pytest.approx(
        costs.call(["a"], 10) + costs.call(["b"], 10)
    )


def test_the_few_rows_a_cascade_sends_on_pay_the_fixed_part_in_full() -> None:
    costs = _costs()
    # 98% answered early on b; 20 of 1,000 rows go on to a and the model
    per_row_only = cascade_cost(costs, ["b"], ["a"], 0.1, 0.98, single=False)
    per_call = cascade_cost(costs, ["b"], ["a"], 0.1, 0.98, single=False, batch_rows=1000)
    assert per_row_only == pytest.approx(1.0 + 0.1 + 0.02 * (2.0 + 4.0))
    fixed, slope = costs.fixed_and_slope("a")
    goes_on = 1.0 - 0.98**1000
    # the fixed part when any row goes on; the per-row part for the 20 rows expected to go on
    # (an expectation that already counts the batches sending none)
    assert per_call == pytest.approx(1.0 + 0.1 + (goes_on * fixed + 20 * (slope + 4.0)) / 1000)
    assert per_call > per_row_only  # the fixed part of a's call is not spread over 1,000 rows
    # every row answered early: the second call never happens
    assert cascade_cost(costs, ["b"], ["a"], 0.1, 1.0, single=False, batch_rows=1000) == pytest.approx(1.1)
    # single rows are unchanged by the batch size
    assert cascade_cost(costs, ["b"], ["a"], 0.1, 0.98, single=True, batch_rows=1000) == pytest.approx(
        cascade_cost(costs, ["b"], ["a"], 0.1, 0.98, single=True)
    )


class _SetUpThenRows:
    """A feature group with real work per call (inverting a matrix) and little per row."""

    def __call__(self, X: np.ndarray) -> np.ndarray:
        m = np.random.default_rng(0).random((250, 250)) + 250 * np.eye(250)
        w = np.linalg.inv(m)[:, :2]
        return np.asarray(X)[:, :2] @ w[:2]


def test_measured_costs_find_a_groups_fixed_part() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 3))
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(np.hstack([_SetUpThenRows()(X), X]), y)
    pipe = Pipeline(features={"setup": _SetUpThenRows(), "raw": lambda Z: np.asarray(Z)}, model=model)
    # the fastest of 5 calls each way: with 2, one call slowed by another process's load once read
    # as 270 us a row (a fresh-clone run beside other jobs)
    costs = measure_costs(pipe, X, repeats=5)
    fixed, slope = costs.fixed_and_slope("setup")
    assert costs.batch_rows["setup"] >= 100 and costs.batch_rows["model"] >= 100
    # the inversion is done once per call: it dwarfs the per-row work of a 100-row call
    assert fixed > 100 * slope
    assert costs.call(["setup"], 10) > 10 * costs.batch["setup"]


def test_a_cascade_pays_per_row_for_the_rows_expected_to_go_on() -> None:
    # rest: 1 ms a call plus 100 us a row; at 99.9% answered early, 37% of 1,000-row batches send
    # none on, yet the expected rows sent on (1 a batch) already count those batches
    costs = Costs(
        batch={"cheap": 0.0, "rest": 101e-6, "model": 0.0},
        single={"cheap": 0.0, "rest": 1.1e-3, "model": 0.0},
        batch_rows={"cheap": 1000, "rest": 1000, "model": 1000},
    )
    n, accept = 1000, 0.999
    fixed, slope = costs.fixed_and_slope("rest")
    got = cascade_cost(costs, ["cheap"], ["rest"], 0.0, accept, single=False, batch_rows=n)
    assert got == pytest.approx(((1 - accept**n) * fixed + slope * (1 - accept) * n) / n)
    sent_on = np.random.default_rng(0).binomial(n, 1 - accept, size=200_000)  # rows a batch sends on
    simulated = np.mean(np.where(sent_on > 0, fixed + slope * sent_on, 0.0)) / n
    assert got == pytest.approx(simulated, rel=0.01)
