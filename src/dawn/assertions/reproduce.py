"""The assertions section of ``dawn reproduce``: video precision, active learning, weak labels, overhead."""

from __future__ import annotations

from typing import Any

from dawn.core.report import Headline, Section


def _fmt(v: Any, pct: bool = False) -> Any:
    if v is None or isinstance(v, str):
        return v
    return round(100 * v, 1) if pct else round(float(v), 3)


def run(ctx: Any) -> Section:
    """Run the benchmark (quick or full) into ``ctx.out_dir`` and summarise it beside the paper."""
    from dawn.assertions.bench import run_bench

    res = run_bench(ctx.out_dir, quick=ctx.quick, seed=ctx.seed, peer=not ctx.quick)
    s = res["summary"]
    sec = Section(
        "Model assertions: monitoring and active learning",
        summary=(
            "Flicker, multibox and appear run on OpenCV HOG people detections of vtest.avi and are "
            "judged by a denser, upscaled HOG scan; BAL and uncertainty baselines label real tasks "
            "(digits, movie-review sentences) with retraining each round; corrections become weak labels. "
            + ("Quick mode: frames 0-399, digits only, 2 seeds, no peer run." if ctx.quick else "Full run.")
        ),
        command="dawn assertions bench" + (" --quick" if ctx.quick else "") + f" --seed {ctx.seed}",
    )
    prec = s.get("precision", {})
    for name in ("flicker", "appear", "multibox"):
        if name in prec:
            sec.headlines.append(
                Headline(f"{name} precision at real errors", _fmt(prec[name]), "0.88-1.0 [recall]")
            )
    if "confident_error_share" in s:
        sec.headlines.append(
            Headline(
                "errors found with top-quartile box score",
                _fmt(s["confident_error_share"], True),
                None,
                "%",
                "target >= 30%",
            )
        )
        sec.headlines.append(
            Headline(
                "errors found in frames uncertainty ranks confident",
                _fmt(s.get("frame_confident_error_share"), True),
                None,
                "%",
            )
        )
    for task, red in s.get("label_reduction_vs_best_uncertainty", {}).items():
        sec.headlines.append(
            Headline(
                f"{task}: label reduction vs best uncertainty",
                _fmt(red, True),
                33,
                "%",
                "negative = BAL needs more labels",
            )
        )
    for task, g in s.get("gain", {}).items():
        sec.headlines.append(
            Headline(
                f"weak supervision, no human labels: relative accuracy gain ({task})",
                _fmt(g, True),
                46,
                "%",
                "target >= 10%",
            )
        )
    sec.headlines.append(
        Headline("vectorised per-row assertion", _fmt(s.get("us_per_row")), None, "µs/row", "target <= 2")
    )
    if s.get("us_per_detection_streaming") is not None:
        sec.headlines.append(
            Headline(
                "streaming flicker+appear",
                _fmt(s["us_per_detection_streaming"]),
                None,
                "µs/detection",
                "target <= 20; tracker excluded",
            )
        )
    if s.get("wrap_overhead_vs_1ms") is not None:
        sec.headlines.append(
            Headline(
                "Monitor overhead on a 1 ms prediction",
                _fmt(s["wrap_overhead_vs_1ms"], True),
                None,
                "%",
                "target <= 5%",
            )
        )
    if s.get("speedup_vs_omg") is not None:
        sec.headlines.append(
            Headline("speedup vs model-assertions 0.0.3 (100k rows)", _fmt(s["speedup_vs_omg"]), None, "x")
        )
    video = res.get("video", {})
    if "per_assertion" in video:
        sec.tables["video assertions vs reference detector"] = [
            {"assertion": k, **v} for k, v in video["per_assertion"].items()
        ]
    rows = []
    for task, r in res.get("active_learning", {}).items():
        if "strategies" not in r:
            continue
        for strat, x in r["strategies"].items():
            rows.append(
                {
                    "task": task,
                    "strategy": strat,
                    "labels_to_target": round(x["labels_to_target"], 1),
                    "ci95_low": round(x["ci95"][0], 1),
                    "ci95_high": round(x["ci95"][1], 1),
                    "seeds_reaching_target": x["reached"],
                    "target": round(r["target"], 4),
                }
            )
    sec.tables["labels to reach 95% of the full-data metric"] = rows
    sec.data = {"summary": s, "assertions_json": res["path"]}
    _plots(sec, res)
    return sec


def _plots(sec: Section, res: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    al = {t: r for t, r in res.get("active_learning", {}).items() if "strategies" in r}
    if al:
        fig, axes = plt.subplots(1, len(al), figsize=(5.5 * len(al), 3.8), squeeze=False)
        for ax, (task, r) in zip(axes[0], al.items(), strict=True):
            for strat, x in r["strategies"].items():
                ax.plot(
                    x["curve_labels"], x["curve_mean"], label=strat, lw=2 if strat.startswith("bal") else 1
                )
            ax.axhline(r["target"], color="k", ls=":", lw=1, label="95% of full data")
            ax.set_xlabel("labels")
            ax.set_ylabel("test accuracy")
            ax.set_title(task)
            ax.legend(fontsize=7)
        sec.add_figure("Test accuracy vs labels (mean over seeds)", fig)
    video = res.get("video", {})
    if "per_assertion" in video:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        names = list(video["per_assertion"])
        vals = [video["per_assertion"][n]["precision"] for n in names]
        ax.bar(names, vals, color=["tab:green" if v >= 0.9 else "tab:orange" for v in vals])
        ax.axhline(0.9, color="k", ls=":", lw=1)
        ax.set_ylim(0, 1)
        ax.set_ylabel("precision at real errors")
        sec.add_figure("Video assertions: precision against the reference detector", fig)
