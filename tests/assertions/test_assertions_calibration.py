"""Choosing an assertion's score floor from reviewed firings."""

from __future__ import annotations

import numpy as np
import pytest

from dawn.assertions import floor_for_precision
from dawn.core.errors import DawnError


def test_floor_is_the_lowest_that_reaches_the_target() -> None:
    support = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    correct = np.array([1, 1, 1, 1, 0, 1, 0, 0], dtype=bool)
    # at >= 0.6: 4 of 4; at >= 0.5: 4 of 5 = 0.8; at >= 0.4: 5 of 6 = 0.83; at >= 0.3: 5 of 7
    assert floor_for_precision(support, correct, 0.8, min_firings=1) == 0.4
    assert floor_for_precision(support, correct, 0.9, min_firings=1) == 0.6
    assert floor_for_precision(support, correct, 1.0, min_firings=5) is None
    assert floor_for_precision(support, correct, 0.5, min_firings=1) == 0.2  # no floor needed
    # the order of the firings does not matter
    perm = np.random.default_rng(0).permutation(len(support))
    assert floor_for_precision(support[perm], correct[perm], 0.8, min_firings=1) == 0.4


def test_ties_are_kept_or_dropped_together() -> None:
    # a floor cannot split firings of equal support: at >= 0.5 both 0.5s come in, 2 of 3 correct
    support = np.array([0.9, 0.5, 0.5])
    correct = np.array([True, True, False])
    assert floor_for_precision(support, correct, 0.7, min_firings=1) == 0.9
    assert floor_for_precision(support, correct, 0.6, min_firings=1) == 0.5


def test_min_firings_rules_out_floors_resting_on_a_few_firings() -> None:
    support = np.arange(20, dtype=float)[::-1]
    correct = np.r_[np.ones(3, bool), np.zeros(17, bool)]
    assert floor_for_precision(support, correct, 0.9, min_firings=1) == 17.0
    assert floor_for_precision(support, correct, 0.9) is None  # default needs 10 firings


@pytest.mark.parametrize(
    ("support", "correct", "target", "msg"),
    [
        ([0.1, 0.2], [True], 0.9, "one review verdict per firing"),
        ([0.1], [True], 1.5, "outside"),
        ([np.nan], [True], 0.9, "NaN"),
        ([0.1, 0.2], [1.0, np.nan], 0.9, "unreviewed"),
        ([0.1, 0.2], [1, 2], 0.9, "True/False"),
    ],
)
def test_bad_input(support: list, correct: list, target: float, msg: str) -> None:
    with pytest.raises(DawnError, match=msg):
        floor_for_precision(np.array(support), np.array(correct), target)


def test_zero_one_verdicts_work_like_booleans() -> None:
    support = np.array([0.9, 0.8, 0.7])
    assert floor_for_precision(support, np.array([1, 1, 0]), 0.9, min_firings=1) == floor_for_precision(
        support, np.array([True, True, False]), 0.9, min_firings=1
    )


def test_empty_review_has_no_floor() -> None:
    assert floor_for_precision(np.array([]), np.array([], dtype=bool), 0.9, min_firings=0) is None
