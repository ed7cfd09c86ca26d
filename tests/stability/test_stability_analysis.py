"""The paper's tables from its own CSVs, selection, and the analysis functions on synthetic tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dawn.core.errors import DawnError
from dawn.data.paper_results import stability_results_dir
from dawn.stability import select, selection_error
from dawn.stability.analysis import PAPER, analyze, load_results, memory_slope, normalise
from dawn.stability.selection import oracle_gap

RESULTS = stability_results_dir()  # bundled with dawn


def _loop_selection_error(df, measure, task):
    # the pairwise vote written as a plain double loop, independently of the vectorised version
    errs = []
    for _, g in df.groupby("seed"):
        g = g.reset_index(drop=True)
        wrong = total = 0
        for i in range(len(g) - 1):
            for j in range(i + 1, len(g)):
                m = 0 if g.loc[i, measure] <= g.loc[j, measure] else 1
                d = 0 if g.loc[i, task] <= g.loc[j, task] else 1
                wrong += m != d
                total += 1
        errs.append(wrong / total)
    return float(np.mean(errs))


@pytest.mark.parametrize("algo", ["w2v_cbow", "mc"])
def test_paper_spearman_and_selection_reproduced(algo):
    df = load_results(RESULTS / f"{algo}_optimal_no_emb_norm_top_10000.csv")
    res = analyze(df, measures=["eis", "knn", "pip"], tasks=PAPER["tasks"])
    for m, vals in PAPER["spearman"][algo].items():
        for t, paper in zip(PAPER["tasks"], vals, strict=False):
            ours = res["spearman"][m][t]
            assert ours == pytest.approx(df[m].corr(df[t], method="spearman"), abs=1e-3)
            assert abs(ours - paper) <= 0.0055  # the sheet rounds to two decimals
    sub = df[df["seed"].isin([1234, 1235])]
    for m in ("eis", "knn"):
        assert selection_error(sub, m, "di_mr") == pytest.approx(
            _loop_selection_error(sub, m, "di_mr"), abs=1e-3
        )


def test_paper_memory_slopes_and_selection_ranges():
    dfs = [load_results(RESULTS / f"{a}_optimal_no_emb_norm_top_10000.csv") for a in ("mc", "w2v_cbow")]
    for by, paper in PAPER["slope"].items():
        assert memory_slope(dfs, PAPER["tasks"], by=by) == pytest.approx(paper, abs=0.005)
    cbow = dfs[1]
    for m in ("eis", "pip"):
        lo, hi = PAPER["selection_error_range"][m]
        errs = [selection_error(cbow, m, t) for t in PAPER["tasks"]]
        assert min(errs) == pytest.approx(lo, abs=0.005) and max(errs) == pytest.approx(hi, abs=0.005)


def test_memory_slope_recovers_known_trend():
    rows = [
        {
            "seed": s,
            "dim": d,
            "bits": b,
            "di_a": 30 - 2.0 * np.log2(d * b) + s,
            "di_b": 10 - 0.5 * np.log2(d * b),
        }
        for s in (0, 1)
        for d in (25, 50, 100)
        for b in (1, 2, 4)
    ]
    df = normalise(pd.DataFrame(rows))
    assert memory_slope([df], ["di_a"]) == pytest.approx(-2.0)
    assert memory_slope([df], ["di_b"], by="dim") == pytest.approx(-0.5)
    assert memory_slope([df], ["di_a", "di_b"], by="precision") == pytest.approx(-1.25)


def test_selection_and_oracle_gap_on_a_small_table():
    df = pd.DataFrame(
        {
            "seed": 0,
            "dim": [25, 50, 100, 25],
            "bits": [4, 2, 1, 2],
            "eis": [0.1, 0.2, 0.3, 0.4],
            "di_x": [1.0, 3.0, 2.0, 5.0],
        }
    )
    df = normalise(df)
    assert select(df, 100, "eis")["dim"] == 25
    assert select(df, 60, "eis")["bits"] == 2
    with pytest.raises(DawnError, match="no candidate fits"):
        select(df, 10, "eis")
    # pairs: (0,1) ok, (0,2) ok, (0,3) ok, (1,2) wrong, (1,3) ok, (2,3) ok
    assert selection_error(df, "eis", "di_x") == pytest.approx(1 / 6)
    # memory 100 has rows 0,1,2: eis picks row 0 (DI 1.0) = oracle
    assert oracle_gap(df, "eis", "di_x") == pytest.approx(0.0)
    assert oracle_gap(df, "lowest-precision", "di_x") == pytest.approx(1.0)
    assert oracle_gap(df, "highest-precision", "di_x") == pytest.approx(0.0)


def test_bad_results_tables(tmp_path):
    (tmp_path / "x.csv").write_text("seed,dim\n1,2\n")
    with pytest.raises(DawnError, match="bits"):
        load_results(tmp_path / "x.csv")
    (tmp_path / "y.csv").write_text("seed,dim,bits,eis\n1,2,3,0.1\n")
    with pytest.raises(DawnError, match="downstream-instability"):
        load_results(tmp_path / "y.csv")
    with pytest.raises(DawnError, match="does not exist"):
        load_results(tmp_path / "missing.csv")
