"""Scoring: olympic mean, non-converged runs, RCPs, and equality with the official summarizer."""

from __future__ import annotations

import json
import math

import pytest

from dawn.core.errors import DawnError
from dawn.mlperf import rcp, score
from dawn.mlperf.official import BERT, official_score
from dawn.mlperf.synthetic import scoring_cases, write_folder


def test_olympic_mean_and_non_converged():
    assert score.olympic_mean([5.0, 1.0, 3.0, 2.0, 4.0]) == pytest.approx(3.0)
    # one non-converged run is the dropped slowest
    assert score.olympic_mean([5.0, 1.0, math.inf, 2.0, 4.0]) == pytest.approx((2 + 4 + 5) / 3)
    assert score.olympic_mean([5.0, 1.0, math.inf, math.inf, 4.0]) is None
    assert score.olympic_mean([1.0] * 40 + [math.inf] * 4, drop=4) == pytest.approx(1.0)


def test_median_window_picks_median_of_consecutive_windows():
    times = [10.0, 11.0, 12.0, 30.0, 13.0, 9.0, 10.5]
    start, s = score.median_window(times, 5)
    windows = sorted(score.olympic_mean(times[i : i + 5]) for i in range(3))
    assert s == windows[1] and score.olympic_mean(times[start : start + 5]) == s
    with pytest.raises(DawnError):
        score.median_window(times[:3], 5)


def test_bootstrap_ci_and_cv_deterministic():
    t = [10.0, 11.0, 12.0, 10.5, 11.5]
    a, b = score.bootstrap_ci(t, seed=1), score.bootstrap_ci(t, seed=1)
    assert a == b and a[0] <= score.olympic_mean(t) <= a[1]
    assert score.coefficient_of_variation(t) == pytest.approx(0.0724, abs=1e-3)
    assert score.bootstrap_ci([1.0, math.inf, math.inf]) is None


def test_score_equals_official_summarizer_on_20_folders(tmp_path):
    cases = scoring_cases(tmp_path, 20, seed=3)
    scaled = nonconv = 0
    for c in cases:
        ours = score.score_folder(c["folder"], ruleset=c["ruleset"])
        theirs, _ = official_score(c["folder"], c["ruleset"])
        if theirs is None:
            assert ours.score is None
        else:
            assert ours.score == pytest.approx(theirs, abs=1e-9, rel=0)
        scaled += ours.scaling != 1.0
        nonconv += c["non_converged"] > 0
        assert not (tmp_path / c["folder"] / "scaling.json").exists()  # nothing written
    assert scaled >= 3 and nonconv >= 5


def test_rcp_interpolation_scaling_and_other_batch_size(tmp_path):
    raw = rcp.generate("dawn_digits", 32, [10, 11, 12, 13, 11, 12, 10, 14, 12, 11], {})
    raw.update(rcp.generate("dawn_digits", 128, [20, 22, 21, 23, 20, 24, 22, 21, 22, 23], {}))
    rs = rcp.RCPSet.from_json(raw)
    exact = rs.check(32, [11.0] * 5)
    assert (
        exact.passed
        and exact.message == "RCP found"
        and exact.scaling == pytest.approx(exact.rcp_mean / 11.0)
    )
    mid = rs.check(64, [16.0] * 5)
    lo, hi = rs.records
    assert mid.message == "RCP Interpolation"
    assert mid.rcp_mean == pytest.approx(lo.mean + (hi.mean - lo.mean) * (64 - 32) / (128 - 32))
    far = rs.check(512, [30.0] * 5)
    assert not far.passed and far.message == "Missing RCP, please submit RCP with BS = 512"
    assert not rs.check(32, [1.0] * 5).passed  # faster than Max Speedup allows
    with pytest.raises(DawnError, match="at least"):
        rcp.generate("dawn_digits", 32, [10, 11], {}, min_runs=10)


def test_rcp_matches_official_checker_statistics():
    from mlperf_logging.rcp_checker import rcp_checker

    path = rcp.official_rcp_path("bert", "5.0.0")
    ours = rcp.RCPSet.load(path)
    with open(path) as fh:
        off = rcp_checker.RCP_Checker("training", "5.0.0", "bert", False, fh)
    assert [r.bs for r in ours.pruned] == [r["BS"] for r in off.pruned_rcp_data.values()]
    for r in ours.records:
        o = next(v for v in off.rcp_data.values() if v["BS"] == r.bs)
        assert r.mean == o["RCP Mean"] and r.max_speedup == o["Max Speedup"]


def test_too_few_runs_and_corrupt_rcp_reported(tmp_path):
    d = write_folder(tmp_path / "bert", BERT, [10.0, 11.0, 12.0], [2.8e6] * 3, [True] * 3, bs=448)
    sc = score.score_folder(d, ruleset="5.0.0")
    assert any("3 result files" in p and "require 10" in p for p in sc.problems)
    wrong = tmp_path / "digits_rcp.json"
    wrong.write_text(json.dumps(rcp.generate("dawn_digits", 448, list(range(10, 20)), {})))
    sc = score.score_folder(d, ruleset="5.0.0", rcp_file=wrong)
    assert "RCP check failed: the RCP file is for benchmark dawn_digits, not bert" in sc.problems
    bad = tmp_path / "rcp.json"
    bad.write_text("{not json")
    with pytest.raises(DawnError, match="not valid JSON"):
        rcp.RCPSet.load(bad)
    bad.write_text(json.dumps({"x": {"Benchmark": "bert"}}))
    with pytest.raises(DawnError, match="lacks field"):
        rcp.RCPSet.load(bad)


def test_every_benchmark_ships_rcps_from_2n_reference_runs():
    from dawn.mlperf.benchmark import BENCHMARKS

    for b in BENCHMARKS.values():
        if b.official:
            continue
        rs = rcp.RCPSet.load(b.rcp_file)
        assert rs.benchmark == b.name and rs.submission_runs == b.runs
        rec = rs.records[0]
        assert rec.bs == b.hyperparameters["global_batch_size"]
        assert len(rec.epochs) >= 2 * b.runs and rec.max_speedup >= 1.0
        assert all(e < rcp.NOT_CONVERGED_EPOCHS for e in rec.epochs)
