"""HTML report of a result folder: convergence curves, time-to-train distribution, the RCP band.

The plots show what the olympic score hides (Mattson et al., MLSys 2020, Sec. 5 discuss run-to-run
variance): every run's quality over time against the target, the spread of times-to-train with the
bootstrap confidence interval of the score, and each run's epochs-to-converge against the RCP mean
and the fastest acceptable mean (``Min Epochs``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from dawn.core.report import Headline, Report, Section
from dawn.mlperf.rcp import NOT_CONVERGED_EPOCHS
from dawn.mlperf.score import Score, read_run, score_folder


def build_section(
    folder: str | os.PathLike[str], score: Score | None = None, *, title: str | None = None, command: str = ""
) -> Section:
    """A report section for one result folder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = Path(folder)
    sc = score or score_folder(d)
    runs = [read_run(p) for p in sorted(d.glob("result_*.txt"))]
    from dawn.mlperf.benchmark import BENCHMARKS

    target = BENCHMARKS[sc.benchmark].target if sc.benchmark in BENCHMARKS else None
    sec = Section(
        title or f"MLPerf-style result: {sc.benchmark} ({sc.division})",
        status="ok" if sc.valid else "invalid: " + "; ".join(sc.problems),
        summary=f"{sc.runs} runs in {d}; olympic mean of time-to-train"
        + (f", RCP: {sc.rcp.message}" if sc.rcp else ""),
        command=command or f"dawn mlperf report {d}",
    )
    sec.headlines = [
        Headline("score (olympic mean, scaled)", _r(sc.score), None, "min"),
        Headline(
            "95% bootstrap CI", f"{_r(sc.ci95[0])} - {_r(sc.ci95[1])}" if sc.ci95 else "n/a", None, "min"
        ),
        Headline("run-to-run CV", _r(sc.cv), None, ""),
        Headline("RCP scaling factor", _r(sc.scaling), None, ""),
    ]
    sec.tables["runs"] = [
        {
            "run": r.path.name,
            "status": r.status,
            "seed": r.seed,
            "minutes": _r(r.minutes),
            "epochs_to_converge": None if r.conv_epochs >= NOT_CONVERGED_EPOCHS else r.conv_epochs,
            "evals": len(r.curve),
            "counted": c,
        }
        for r, c in zip(runs, sc.converged, strict=False)
    ]
    sec.data = {"score": sc.as_dict()}
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for r in runs:
        if r.curve:
            ax.plot([c[2] for c in r.curve], [c[1] for c in r.curve], marker=".", lw=1, label=r.path.stem)
    if target is not None:
        ax.axhline(target, color="k", ls="--", lw=1, label=f"target {target}")
    ax.set_xlabel("minutes since run_start")
    ax.set_ylabel("eval quality")
    ax.legend(fontsize=6, ncol=2)
    sec.add_figure("Convergence curve of every run", fig)
    fig, ax = plt.subplots(figsize=(6, 2.5))
    finite = [t for t in sc.times if math.isfinite(t)]
    ax.scatter(finite, [0] * len(finite), marker="|", s=400, label="runs")
    if sc.olympic is not None:
        ax.axvline(sc.olympic, color="C1", label="olympic mean")
    if sc.ci95 and math.isfinite(sc.ci95[1]):
        ax.axvspan(sc.ci95[0], sc.ci95[1], color="C1", alpha=0.2, label="95% bootstrap CI")
    ax.set_yticks([])
    ax.set_xlabel("time to train (minutes)")
    ax.legend(fontsize=7)
    sec.add_figure("Time-to-train distribution", fig)
    if sc.rcp is not None and sc.rcp.rcp_mean is not None:
        fig, ax = plt.subplots(figsize=(6, 2.5))
        ep = [r.conv_epochs for r in runs if r.conv_epochs < NOT_CONVERGED_EPOCHS]
        ax.scatter(range(len(ep)), ep, label="run epochs to converge")
        ax.axhspan(
            sc.rcp.min_epochs or 0, sc.rcp.rcp_mean, color="C2", alpha=0.2, label="RCP band (min .. mean)"
        )
        if sc.rcp.submission_mean is not None:
            ax.axhline(sc.rcp.submission_mean, color="C3", label="submission olympic mean")
        ax.set_xlabel("run")
        ax.set_ylabel("epochs")
        ax.legend(fontsize=7)
        sec.add_figure("Epochs to converge against the RCP", fig)
    return sec


def write_report(
    folder: str | os.PathLike[str], out: str | os.PathLike[str], *, seed: int = 0, **score_kw: Any
) -> Path:
    """Score ``folder`` and write ``report.json`` + ``index.html`` into ``out``; return the HTML path."""
    sec = build_section(folder, score_folder(folder, **score_kw))
    Report(title=f"dawn mlperf report: {Path(folder)}", seed=seed, sections=[sec]).write(Path(out))
    return Path(out) / "index.html"


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, nd)
