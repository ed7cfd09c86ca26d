"""Willump's headline experiment for ``dawn reproduce``: cascades and top-K on real workloads.

Runs :func:`dawn.willump.bench.run_bench` and sets the measured ratios beside the paper's "up to"
figures (Kraft et al., MLSys 2020: cascades up to 5x, top-K up to 10x, Music with Redis 2.7x).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dawn.core.report import Headline, Section
from dawn.willump.bench import CONFIDENCE, MAX_LOSS, RISK, run_bench


def _rows(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for e in entries:
        for mode, r in (("ours", e), ("willump-heuristics", e["heuristics"])):
            rows.append({
                "workload": e["workload"], "mode": mode, "batch_speedup": r["batch_speedup"],
                "single_p50_speedup": r["single_p50_speedup"], "single_p99_ratio": r["single_p99_ratio"],
                "topk_speedup": r["topk_speedup"], "topk_precision": r["topk_precision"],
                "metric": r["metric_name"], "metric_full": r["metric_full"],
                "metric_optimized": r["metric_optimized"], "bound": r["bound"],
                "test_risk": r.get("test_risk"),
                "accept_rate": None if r["cascade"] is None else r["cascade"]["accept_rate"],
                "bound_holds_of_20": None if r.get("bound_coverage_20") is None
                else round(20 * r["bound_coverage_20"]),
            })  # fmt: skip
    return rows


def _shift_table(out: Any) -> dict[str, list[dict[str, Any]]]:
    """The serving-under-shift rows from ``willump.json`` (absent when the run skipped it)."""
    import json

    shift = json.loads((out / "willump.json").read_text()).get("shift")
    if not shift:
        return {}
    rows = [
        {"small_model_C": plan["small_c"], "served_on": name, "rows": c["rows"],
         "early_share": c["early_share"], "calibration_early_share": plan["calibration_early_share"],
         "p_value": c["p_value"], "shift_flagged": c["shift_suspected"], "accuracy_loss": c["accuracy_loss"]}
        for plan in shift["plans"]
        for name, c in plan["corpora"].items()
    ]  # fmt: skip
    return {"serving under a domain shift (cascade calibrated on movie reviews)": rows}


def _figure(entries: list[dict[str, Any]]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [e["workload"] for e in entries]
    x = np.arange(len(names))
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, key, title in (
        (ax1, "batch_speedup", "cascade batch throughput"),
        (ax2, "topk_speedup", "top-100"),
    ):
        ours = [e[key] if e[key] is not None else 0.0 for e in entries]  # no bar: not applicable
        heur = [e["heuristics"][key] if e["heuristics"][key] is not None else 0.0 for e in entries]
        ax.bar(x - 0.2, ours, 0.4, label="dawn (bounded)")
        ax.bar(x + 0.2, heur, 0.4, label="willump-heuristics")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xticks(x, names)
        ax.set_ylabel("speedup vs unoptimised (x)")
        ax.set_title(title)
    ax1.legend(fontsize=8)
    loss = [
        (e["metric_full"] - e["metric_optimized"]) if e["metric_name"] == "accuracy" else 0.0 for e in entries
    ]
    hloss = [
        (e["metric_full"] - e["heuristics"]["metric_optimized"]) if e["metric_name"] == "accuracy" else 0.0
        for e in entries
    ]
    ax3.bar(x - 0.2, loss, 0.4, label="dawn")
    ax3.bar(x + 0.2, hloss, 0.4, label="willump-heuristics")
    ax3.axhline(MAX_LOSS, color="r", ls="--", lw=0.8, label=f"max_loss {MAX_LOSS}")
    ax3.set_xticks(x, names)
    ax3.set_title("accuracy loss on test (cascade)")
    ax3.legend(fontsize=8)
    fig.tight_layout()
    return fig


def run(ctx: Any) -> Section:
    """Run the (quick) benchmark and build the report section."""
    out = ctx.out_dir
    out.mkdir(parents=True, exist_ok=True)
    entries = run_bench(out, quick=ctx.quick, seed=ctx.seed)
    by = {e["workload"]: e for e in entries}
    batch = [e["batch_speedup"] for e in entries if e["batch_speedup"] is not None]
    topk = [e["topk_speedup"] for e in entries if e["topk_speedup"] is not None]
    single = [e["single_p50_speedup"] for e in entries if e["single_p50_speedup"] is not None]
    losses = [e["metric_full"] - e["metric_optimized"] for e in entries if e["metric_name"] == "accuracy"]
    section = Section(
        "Willump: faster feature-bound inference",
        summary=(
            f"Cascades certified to lose at most {MAX_LOSS} accuracy with confidence {CONFIDENCE} "
            f"(risk '{RISK}': Learn-then-Test fixed-sequence thresholds, Waudby-Smith-Ramdas betting "
            "bound; the candidate predicted cheapest on held-out selection rows certified at half the "
            "level, the others under Bonferroni at the other half), and top-100 with a Clopper-Pearson "
            "precision "
            "bound, on real workloads "
            "(text: VADER sentences; credit: Lending Club; price: diamonds; music: MovieLens with Redis), "
            "beside the original's heuristics run on the same machine. Ratios of medians, side by side."
        ),
        headlines=[
            Headline(
                "best cascade batch speedup", max(batch) if batch else None, 5.0, "x", "paper: up to 5x"
            ),
            Headline("median cascade batch speedup", float(np.median(batch)) if batch else None, None, "x"),
            Headline(
                "median single-row p50 speedup",
                float(np.median(single)) if single else None,
                None,
                "x",
                "predict_one, exits early",
            ),
            Headline("best top-K speedup", max(topk) if topk else None, 10.0, "x", "paper: up to 10x"),
            Headline(
                "music (Redis) batch speedup",
                by.get("music", {}).get("batch_speedup"),
                2.7,
                "x",
                "paper's notebook: 2.7x on Music-remote",
            ),  # fmt: skip
            Headline(
                "largest test accuracy loss",
                max(losses) if losses else None,
                0.0,
                "",
                f"target <= {MAX_LOSS}",
            ),  # fmt: skip
        ],
        tables={"workloads": _rows(entries), **_shift_table(out)},
        data={"willump_json": str(out / "willump.json"), "quick": ctx.quick},
        command=f"dawn willump bench {'--quick ' if ctx.quick else ''}--seed {ctx.seed} "
        "--out results/willump",
    )
    section.add_figure(
        "speedups (ours vs willump-heuristics) and accuracy loss per workload", _figure(entries)
    )
    return section
