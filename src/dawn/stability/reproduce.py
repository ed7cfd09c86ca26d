"""``dawn reproduce`` section: the paper's tables from its own data, and the study rerun offline.

Leszczynski et al., "Understanding the Downstream Instability of Word Embeddings", MLSys 2020. The
correlation, selection and trend tables are recomputed from the per-pair CSVs the authors released
(bundled as the ``stability-paper-results`` dataset of :mod:`dawn.data`); the offline study retrains
CBOW on two Linux kernel documentation snapshots (a tiny grid in quick mode, the CI grid otherwise).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dawn.core.errors import DawnError
from dawn.core.io import atomic_write_json, atomic_write_text, ensure_writable_dir, to_jsonable
from dawn.core.report import Headline, Section


def _results_dir() -> Path:
    """The paper's per-pair CSVs: bundled with dawn, or ``$DAWN_STABILITY_RESULTS`` when set."""
    env = os.environ.get("DAWN_STABILITY_RESULTS")
    if env:
        return Path(env)
    from dawn.data.paper_results import stability_results_dir

    return stability_results_dir()


def _paper_files() -> list[Path]:
    results_dir = _results_dir()
    files = sorted(Path(p) for p in glob.glob(str(results_dir / "*.csv")))
    if not files:
        raise DawnError(
            f"no per-pair result CSVs in {results_dir}",
            "set DAWN_STABILITY_RESULTS to the paper's stability-results directory",
        )
    return files


def _tradeoff_figure(paper: dict[str, pd.DataFrame], study: pd.DataFrame | None) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = 2 if study is not None else 1
    fig, axes = plt.subplots(1, n, figsize=(5.5 * n, 4), squeeze=False)
    ax = axes[0, 0]
    for name, df in paper.items():
        g = df.groupby("memory")[["di_sst", "di_mr", "di_subj", "di_mpqa"]].mean().mean(axis=1)
        ax.plot(g.index, g.values, marker="o", ms=3, label=name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("memory (bits per word)")
    ax.set_ylabel("downstream instability (% predictions changed)")
    ax.set_title("Paper's data (Wiki'17 vs '18), mean of 4 sentiment tasks")
    ax.legend(fontsize=8)
    if study is not None:
        ax = axes[0, 1]
        for t in [c for c in study.columns if c.startswith("di_")]:
            g = study.groupby("memory")[t].mean()
            ax.plot(g.index, g.values, marker="o", ms=3, label=t.removeprefix("di_"))
        ax.set_xscale("log", base=2)
        ax.set_xlabel("memory (bits per word)")
        ax.set_title("dawn rerun: linux-doc 6.1 vs 6.12, CBOW")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def run(ctx: Any) -> Section:
    from dawn.stability.analysis import PAPER, analyze_files, load_results, memory_slope
    from dawn.stability.study import QUICK, TINY, run_study, summarize

    out = ensure_writable_dir(ctx.out_dir)
    files = _paper_files()
    result = analyze_files(files)
    paper_dfs = {p.stem.split("_optimal")[0]: load_results(p) for p in files}
    atomic_write_json(out / "paper-analysis.json", to_jsonable(result))

    corr_rows = []
    for algo in ("w2v_cbow", "mc"):
        for row in result["tables"].get(algo, {}).get("vs_paper", []):
            corr_rows.append({"algorithm": algo, **row})
    max_diff = max((r["abs_diff"] for r in corr_rows), default=float("nan"))
    sel_rows = []
    for algo, res in result["tables"].items():
        for m in res["measures"]:
            vals = list(res["selection_error"][m].values())
            sel_rows.append(
                {
                    "algorithm": algo,
                    "measure": m,
                    "min": round(min(vals), 3),
                    "max": round(max(vals), 3),
                    "paper range": str(PAPER["selection_error_range"].get(m, ""))
                    if algo == "w2v_cbow"
                    else "",
                }
            )
    cbow = result["tables"]["w2v_cbow"]
    sheet_pair = [paper_dfs[a] for a in ("mc", "w2v_cbow") if a in paper_dfs]
    slopes_paper = {
        by: memory_slope(sheet_pair, PAPER["tasks"], by=by) for by in ("memory", "dim", "precision")
    }
    result["pooled_slope_mc_cbow"] = slopes_paper
    headlines = [
        Headline(
            "DI slope per doubling of memory (MC+CBOW, 5 tasks)",
            round(slopes_paper["memory"], 2),
            PAPER["slope"]["memory"],
            "points",
        ),
        Headline(
            "  ... dimension alone / precision alone",
            f"{slopes_paper['dim']:.2f} / {slopes_paper['precision']:.2f}",
            f"{PAPER['slope']['dim']} / {PAPER['slope']['precision']}",
            "points",
        ),
        Headline("CBOW Spearman(EIS, DI) on MR", round(cbow["spearman"]["eis"]["di_mr"], 2), 0.86),
        Headline("CBOW Spearman(kNN, DI) on MR", round(cbow["spearman"]["knn"]["di_mr"], 2), 0.85),
        Headline(
            "max |Spearman - sheet| (30 values)", round(max_diff, 4), 0.005, "", "sheet rounds to 2 decimals"
        ),
    ]

    config = TINY if ctx.quick else QUICK
    study, info = run_study(config)
    summ = summarize(study)
    atomic_write_text(out / "study.csv", study.to_csv(index=False))
    atomic_write_json(out / "study.json", to_jsonable({"info": info, "summary": summ}))
    tasks = summ["tasks"]
    study_rows = [
        {
            "measure": m,
            **{t.removeprefix("di_"): round(summ["spearman"][m][t], 3) for t in tasks},
            **{f"sel.err {t.removeprefix('di_')}": round(summ["selection_error"][m][t], 3) for t in tasks},
        }
        for m in summ["measures"]
    ]
    slopes = summ["slope_per_task"]
    headlines += [
        Headline(
            "rerun: DI slope per doubling, " + ", ".join(t.removeprefix("di_") for t in slopes),
            " / ".join(f"{v:+.2f}" for v in slopes.values()),
            "< 0",
            "points",
            f"{'tiny' if ctx.quick else 'quick'} grid, one seed",
        ),
        Headline(
            "rerun: Spearman(EIS, DI) per task",
            " / ".join(f"{summ['spearman']['eis'][t]:.2f}" for t in tasks),
            ">= 0.8 (issue)",
        ),
        Headline(
            "rerun: Spearman(kNN, DI) per task",
            " / ".join(f"{summ['spearman']['knn'][t]:.2f}" for t in tasks),
            ">= 0.8 (issue)",
        ),
    ]
    section = Section(
        "Downstream instability of word embeddings",
        summary=(
            "Spearman correlations, pairwise selection errors, oracle gaps and the instability-memory slope "
            "recomputed from the paper's released per-pair CSVs (4 algorithms x 108 pairs), then the study "
            "rerun offline: word2vec CBOW on Debian linux-doc-6.1 vs 6.12, uniform quantisation, every "
            f"measure, downstream logistic regression on VADER sentences ({', '.join(config.tasks)}). "
            f"Grid: dims {config.dims}, bits {config.bits}, seeds {config.seeds}, {config.epochs} epochs"
            + (
                ", 1/8 of the documents: a smoke-scale grid whose embeddings are too noisy for the "
                "correlations to mean much; `dawn stability study --quick` (full corpus, about 3 minutes) "
                "gives the rerun's headline numbers."
                if config.doc_fraction > 1
                else "."
            )
        ),
        headlines=headlines,
        tables={
            "Spearman with DI: recomputed vs the sheet": corr_rows,
            "Pairwise selection error over the five tasks (paper's data)": sel_rows,
            "Offline rerun: Spearman with DI and selection error": study_rows,
        },
        data={
            "paper_analysis": to_jsonable(result),
            "study_info": to_jsonable(info),
            "study_rows": int(len(study)),
            "study_mean_accuracy": {t: float(np.mean(study[f"acc_{t.removeprefix('di_')}"])) for t in tasks},
        },
        command="dawn reproduce --only stability" + (" --quick" if ctx.quick else ""),
    )
    section.add_figure("Instability-memory tradeoff: DI vs bits per word", _tradeoff_figure(paper_dfs, study))
    return section
