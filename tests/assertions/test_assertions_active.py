"""BAL, baselines, the loop API and weak-label export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dawn.assertions import (
    BAL,
    ActiveLoop,
    AssertionResult,
    BanditUCB,
    PoolScores,
    Uncertainty,
    make_strategy,
)
from dawn.assertions.active import uncertainty_scores
from dawn.assertions.experiments.active_learning import ci95, labels_to_target
from dawn.assertions.weak import ABSTAIN, label_matrix, majority_vote, weak_labels
from dawn.core.errors import DawnError


def test_uncertainty_baselines_rank_correctly() -> None:
    p = np.array([[0.9, 0.1, 0.0], [0.5, 0.45, 0.05], [0.4, 0.3, 0.3], [0.34, 0.33, 0.33]])
    lc = uncertainty_scores(p, "least_confidence")
    margin = uncertainty_scores(p, "margin")
    ent = uncertainty_scores(p, "entropy")
    assert np.argmax(lc) == 3 and np.argmin(lc) == 0
    # margin: the smallest gap between the top two is the most uncertain (row 3: 0.01), then row 1
    assert list(np.argsort(-margin)[:2]) == [3, 1]
    assert np.argmax(ent) == 3
    pool = PoolScores(np.arange(4), np.zeros((4, 1)), p)
    sel = Uncertainty("margin").select(pool, 2, np.ones(4, bool), np.random.default_rng(0))
    assert sorted(sel.tolist()) == [1, 3]
    with pytest.raises(DawnError, match="unknown uncertainty"):
        uncertainty_scores(p, "bald")


def _pool(sev: np.ndarray) -> PoolScores:
    n = len(sev)
    proba = np.c_[np.linspace(0.5, 1.0, n), 1 - np.linspace(0.5, 1.0, n)]
    return PoolScores(np.arange(n), sev, proba, ["a", "b"])


def test_bal_first_round_even_and_no_double_counting() -> None:
    sev = np.zeros((10, 2))
    sev[[0, 1, 2, 3], 0] = [4, 3, 2, 1]
    sev[[0, 5, 6, 7], 1] = [9, 3, 2, 1]  # item 0 is flagged by both
    bal = BAL()
    pool = _pool(sev)
    bal.observe(pool)
    sel = bal.select(pool, 4, np.ones(10, bool), np.random.default_rng(0))
    assert len(sel) == len(set(sel.tolist())) == 4
    # two each: a takes 0 and 1 (highest severity); b's top is 0 (taken), so it takes 5 and 6
    assert sorted(sel.tolist()) == [0, 1, 5, 6]


def test_bal_budget_follows_reward_then_falls_back() -> None:
    bal = BAL(min_gain=0.01, persistence=False)  # the paper's raw rule: the relative drop in firings
    sev = np.zeros((100, 2))
    sev[:40, 0] = 1
    sev[40:80, 1] = 1
    bal.observe(_pool(sev))
    sev2 = sev.copy()
    sev2[:20, 0] = 0  # assertion a fires half as often after retraining, b unchanged
    pool2 = _pool(sev2)
    bal.observe(pool2)
    assert bal.rewards_ is not None and bal.rewards_.tolist() == pytest.approx([0.5, 0.0])
    sel = bal.select(pool2, 10, np.ones(100, bool), np.random.default_rng(0))
    assert all(20 <= i < 40 for i in sel)  # all budget to a
    bal.observe(pool2)  # no change at all: every reward is 0 -> fall back to margin
    sel = bal.select(pool2, 5, np.ones(100, bool), np.random.default_rng(0))
    assert sorted(sel.tolist()) == [0, 1, 2, 3, 4]  # the smallest-margin items


def test_flag_persistence_is_zero_for_random_flags_and_high_for_a_real_assertion() -> None:
    from dawn.assertions.active import flag_persistence

    rng = np.random.default_rng(0)
    random_before, random_now = rng.random((5000, 1)) < 0.1, rng.random((5000, 1)) < 0.1
    assert flag_persistence(random_before, random_now)[0] < 0.05
    before = np.zeros((1000, 4), bool)
    before[:300, :2] = True
    now = np.zeros((1000, 4), bool)
    now[:200, 0] = True  # the model fixed a third of what column 0 flagged; the rest is still flagged
    now[:30, 1] = True  # ... and nine tenths of column 1's: a bigger drop keeps the whole reward
    now[250:350, 2] = True  # column 2 flagged nothing before and 100 items now
    before[:, 3] = True  # column 3 flagged everything before; it flags nothing now (all fixed)
    got = flag_persistence(before, now)
    assert got[0] == 1.0 and got[1] == 1.0 and got[3] == 1.0
    assert got[2] == 0.0  # its flags are not last round's: no signal that the model fixed anything
    half = now.copy()
    half[:, 0] = False
    half[[*range(100), *range(500, 600)], 0] = True  # half of its flags are new items
    assert flag_persistence(before, half)[0] == pytest.approx((0.5 - 0.3) / 0.7)


def test_bal_gives_a_randomly_firing_assertion_no_budget_by_chance() -> None:
    n = 2000
    rng = np.random.default_rng(0)
    paid = {}
    for persistence in (True, False):
        bal = BAL(persistence=persistence)
        real = np.zeros(n, bool)
        real[:800] = True
        paid[persistence] = 0
        for _ in range(45):
            real[np.flatnonzero(real)[:16]] = False  # the real assertion fires less each round
            bal.observe(_pool(np.c_[real, rng.random(n) < 0.10]))
            if bal.rewards_ is not None:
                paid[persistence] += bool(bal.rewards_[1] > bal.min_gain)
                assert bal.rewards_[0] > bal.min_gain  # the real one keeps earning
    assert paid[True] <= 3 and paid[False] >= 12  # the paper's raw rule pays noise about half the time


def test_bal_passes_a_short_assertions_share_to_the_others_before_falling_back() -> None:
    sev = np.zeros((50, 2))
    sev[:2, 0] = 1.0  # a flags 2 items, but is owed half of 10
    sev[10:40, 1] = np.linspace(0.1, 1.0, 30)  # b flags 30
    bal = BAL()
    pool = _pool(sev)
    bal.observe(pool)
    sel = bal.select(pool, 10, np.ones(50, bool), np.random.default_rng(0)).tolist()
    assert len(sel) == len(set(sel)) == 10
    assert {0, 1} <= set(sel) and all(i < 2 or 10 <= i < 40 for i in sel)  # nothing unflagged
    assert sorted(i for i in sel if i >= 10) == list(range(32, 40))  # b's highest severities
    # budget beyond every flagged item goes to the fallback
    sel = bal.select(pool, 40, np.ones(50, bool), np.random.default_rng(0)).tolist()
    assert len(set(sel)) == 40 and {*range(2), *range(10, 40)} <= set(sel)


def test_ucb_counts_only_the_arms_that_chose_items() -> None:
    ucb = BanditUCB(c=0.5)
    sev = np.zeros((100, 2))
    sev[:50, 0] = 1
    sev[50:52, 1] = 1  # b flags two items
    avail = np.ones(100, bool)
    avail[50:52] = False  # ...both already labelled: b cannot choose anything
    ucb.observe(_pool(sev))
    ucb.select(_pool(sev), 5, avail, np.random.default_rng(0))
    sev[:10, 0] = 0
    ucb.observe(_pool(sev))
    assert ucb._n is not None and ucb._n.tolist() == [1.0, 0.0]


def test_ucb_keeps_some_weight_on_less_tried_arms() -> None:
    ucb = BanditUCB(c=0.5)
    sev = np.zeros((100, 2))
    sev[:50, 0] = 1
    sev[50:, 1] = 1
    ucb.observe(_pool(sev))
    sev[:25, 0] = 0
    ucb.observe(_pool(sev))
    w = ucb.weights(_pool(sev))
    assert w is not None and w[0] > w[1] > 0


def test_active_loop_select_update_precision() -> None:
    y = np.array([0, 1, 0, 1, 0, 1])
    pred = np.array([0, 0, 0, 0, 0, 0])  # wrong on the odd items
    sev = np.c_[np.array([0, 1, 0, 1, 1, 0.0]), np.array([1, 0, 1, 0, 0, 0.0])]
    proba = np.c_[np.full(6, 0.6), np.full(6, 0.4)]

    def score() -> PoolScores:
        return PoolScores(np.array(list("abcdef")), sev, proba, ["odd", "even"], pred)

    loop = ActiveLoop(score, "bal", seed=0)
    ids = loop.select(4)
    assert len(ids) == 4 and set(ids) <= set("abcdef")
    loop.update({i: int(y["abcdef".index(i)]) for i in ids})
    prec = loop.precision()
    assert set(prec) == {"odd", "even"}
    assert prec["even"]["precision"] == 0.0  # it flags items the model gets right
    assert prec["odd"]["errors"] >= 1
    again = loop.select(2)
    assert not set(again) & set(ids)  # never re-asks for a label
    with pytest.raises(DawnError, match="budget"):
        loop.select(0)
    with pytest.raises(DawnError, match="unknown strategy"):
        make_strategy("oracle")
    for bad in (2.5, float("nan")):
        with pytest.raises(DawnError, match="whole number"):
            loop.select(bad)  # type: ignore[arg-type]
    with pytest.raises(DawnError, match="both 0 and 1"):
        loop.update([("a", 0), ("a", 1)])
    with pytest.raises(DawnError, match="not in the pool.*none recorded"):
        loop.update({"zz": 1, again[0]: 0})  # an id the pool does not have: refused, all of it
    assert "zz" not in loop.labels_ and again[0] not in loop.labels_
    loop.update({again[0]: 0})
    assert len(loop.select(1)) == 1  # the loop goes on
    fresh = ActiveLoop(loop.score, "random")
    fresh.update({"zz": 1})  # before the first select the pool is not known yet: checked at select
    with pytest.raises(DawnError, match="keep labelled items in the pool"):
        fresh.select(1)


def test_pool_ids_may_be_tuples_but_not_unhashable_or_two_dimensional() -> None:
    pool = PoolScores([("cam1", 3), ("cam1", 4), ("cam2", 3)], np.array([1.0, 0.0, 2.0]))
    assert pool.ids.shape == (3,) and pool.ids[0] == ("cam1", 3)
    loop = ActiveLoop(lambda: pool, "random")
    assert loop.select(3)[0] in pool.ids.tolist()
    loop.update({("cam2", 3): 1})
    mixed = PoolScores(np.array([1, "2", 3.5], dtype=object), np.ones(3))  # mixed types: hashable, fine
    assert len(mixed.ids) == 3
    with pytest.raises(DawnError, match="not hashable"):
        PoolScores(np.array([{1}, {2}], dtype=object), np.ones(2))
    with pytest.raises(DawnError, match="shape"):
        PoolScores(np.arange(6).reshape(3, 2), np.ones(3))


@pytest.mark.parametrize(
    ("ids", "sev", "msg"),
    [
        ([], np.zeros((0, 1)), "empty"),
        (["a", "b"], np.zeros((3, 1)), "shape"),
        (["a", "b"], np.array([[0.0], [np.nan]]), "NaN"),
        (["a", "a"], np.zeros((2, 1)), "repeat"),
    ],
)
def test_pool_scores_refuse_inconsistent_input(ids: list, sev: np.ndarray, msg: str) -> None:
    with pytest.raises(DawnError, match=msg):
        PoolScores(np.array(ids), sev)


def test_labels_to_target_interpolates_and_ci() -> None:
    curve = [(10, 0.5), (20, 0.7), (30, 0.9)]
    assert labels_to_target(curve, 0.8) == pytest.approx(25.0)
    assert labels_to_target(curve, 0.95) is None
    m, lo, hi = ci95([10.0, 12.0, 14.0])
    assert m == 12.0 and lo < 12.0 < hi


def test_weak_label_export_and_majority_vote() -> None:
    r1 = AssertionResult(
        np.array([0, 1, 2]),
        np.array([1.0, 0, 1]),
        pd.DataFrame({"id": [0, 2], "action": "set", "column": "y", "value": [1, 0]}),
    )
    r2 = AssertionResult(
        np.array([0, 1, 2]),
        np.array([1.0, 1, 0]),
        pd.DataFrame({"id": [0, 1], "action": "set", "column": "y", "value": [1, 2]}),
    )
    long = weak_labels({"a": r1, "b": r2})
    assert len(long) == 4 and set(long["source"]) == {"a", "b"}
    L = label_matrix(long, [0, 1, 2, 3], ["a", "b"])
    assert L.tolist() == [[1, 1], [ABSTAIN, 2], [0, ABSTAIN], [ABSTAIN, ABSTAIN]]
    assert majority_vote(L, 3).tolist() == [1, 2, 0, ABSTAIN]
    bad = pd.DataFrame({"id": [0], "label": [-3], "source": ["a"]})
    with pytest.raises(DawnError, match="negative"):
        label_matrix(bad, [0], ["a"])
    for y in (1.7, "x", None):
        with pytest.raises(DawnError, match="whole number"):
            label_matrix(pd.DataFrame({"id": [0], "label": [y], "source": ["a"]}), [0], ["a"])
    assert label_matrix(pd.DataFrame(), [0, 1]).shape == (2, 0)  # nothing proposed: no sources
    with pytest.raises(DawnError, match="lack column"):
        label_matrix(pd.DataFrame({"id": [0]}), [0])
    with pytest.raises(DawnError, match="n_classes"):
        majority_vote(L, 2)  # L holds class 2


def test_loop_and_pool_inputs_of_the_wrong_type_name_what_is_expected() -> None:
    # a list of probabilities is taken as an array: uncertainty selection works on it
    pool = PoolScores(["a", "b", "c"], [0.0, 1.0, 0.0], proba=[[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]])
    assert ActiveLoop(lambda: pool, "margin").select(1) == ["a"]
    with pytest.raises(DawnError, match=r"not \(items, classes\)"):
        PoolScores(["a", "b"], [0.0, 1.0], proba=[0.3, 0.9])
    with pytest.raises(DawnError, match="score must be a function that returns PoolScores"):
        ActiveLoop(pool)  # type: ignore[arg-type]
    with pytest.raises(DawnError, match="returned a list, not PoolScores"):
        ActiveLoop(lambda: ["a"]).select(1)  # type: ignore[arg-type, return-value]
    loop = ActiveLoop(lambda: pool)
    ids = loop.select(2)
    for bad in (ids, [ids]):  # ids without labels
        with pytest.raises(DawnError, match=r"labels must map id -> label.*pass a dict \{id: label\}"):
            loop.update(bad)  # type: ignore[arg-type]
    assert loop.labels_ == {}


def test_weak_label_functions_refuse_inputs_of_the_wrong_type() -> None:
    r = AssertionResult(
        np.array([0]), np.array([1.0]), pd.DataFrame({"id": [0], "action": "set", "value": [1]})
    )
    with pytest.raises(DawnError, match="mapping of assertion name -> AssertionResult, got list"):
        weak_labels([r])  # type: ignore[arg-type]
    with pytest.raises(DawnError, match="the result for 'a' is a DataFrame"):
        weak_labels({"a": r.corrections})  # type: ignore[dict-item]
    with pytest.raises(DawnError, match="label_matrix needs the weak labels as a DataFrame"):
        label_matrix(np.zeros((2, 3)), [0, 1])  # type: ignore[arg-type]
    assert majority_vote([[0, 1, 1], [ABSTAIN, 2, ABSTAIN]], 3).tolist() == [1, 2]  # type: ignore[arg-type]
    with pytest.raises(DawnError, match="not items x sources of integer classes"):
        majority_vote(np.array([0.5, 1.0]), 2)


def test_bal_without_probabilities_is_refused_at_its_first_selection() -> None:
    sev = np.zeros((6, 1))
    sev[:2, 0] = 1.0  # two flagged items: a budget of 4 would need the fallback for the other two
    loop = ActiveLoop(lambda: PoolScores(np.arange(6), sev), "bal")
    with pytest.raises(DawnError, match="needs model probabilities"):
        loop.select(1)  # refused now, though this round alone would not need the fallback
    random_fallback = ActiveLoop(lambda: PoolScores(np.arange(6), sev), BAL(fallback="random"))
    assert len(set(random_fallback.select(4))) == 4


def test_a_drop_of_exactly_min_gain_is_not_an_improvement() -> None:
    """The docs say BAL falls back unless an assertion improves by *more than* min_gain (1%)."""
    n = 1000
    bal = BAL()
    for flagged in (100, 99):  # a 1% drop, which computes as 0.010000000000000009 from the rates
        sev = np.zeros((n, 1))
        sev[:flagged, 0] = 1.0
        bal.observe(PoolScores(np.arange(n), sev, np.full((n, 2), 0.5), ["a"]))
    assert bal.rewards_ is not None and bal.rewards_[0] > 0.01
    assert bal.weights(PoolScores(np.arange(n), sev, np.full((n, 2), 0.5), ["a"])) is None


def test_precision_without_predictions_says_what_is_missing() -> None:
    sev = np.zeros((6, 1))
    sev[:3, 0] = 1.0
    proba = np.full((6, 2), 0.5)
    loop = ActiveLoop(lambda: PoolScores(np.arange(6), sev, proba, ["a"]), "bal")
    loop.update({int(i): 0 for i in loop.select(2)})
    with pytest.raises(DawnError, match="precision needs the model's predictions"):
        loop.precision()
