import time

import pytest

from dawn.core.timing import Timing, compare, time_call


def test_time_call_counts_repeats_and_warmup():
    calls = []
    t = time_call(lambda: calls.append(1), warmup=2, repeats=4)
    assert len(calls) == 6
    assert len(t.samples) == 4
    assert t.p25 <= t.median <= t.p75


def test_compare_ratio_points_the_right_way():
    cmp = compare({"slow": lambda: time.sleep(0.02), "fast": lambda: time.sleep(0.002)}, warmup=0, repeats=3)
    assert cmp.baseline == "slow"
    assert cmp.speedup("fast") > 2.0
    assert cmp.speedup("slow") == pytest.approx(1.0)
    d = cmp.as_dict()
    assert set(d["timings"]) == {"slow", "fast"}


def test_compare_rejects_unknown_baseline():
    with pytest.raises(ValueError, match="baseline"):
        compare({"a": lambda: None}, baseline="b")


def test_timing_spread_is_relative_iqr():
    t = Timing((1.0, 1.0, 2.0, 3.0, 3.0))
    assert t.median == 2.0
    assert t.spread == pytest.approx((3.0 - 1.0) / 2.0)
