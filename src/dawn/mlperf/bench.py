"""``dawn mlperf bench``: the numbers the issue asks for, measured by the harness itself.

1. Each reference workload's required runs (digits only with ``quick``): every log checked by the
   official compliance checker, score with shipped RCPs, CI and CV, samples to target, harness
   overhead as a share of run wall time.
2. Reruns with the same seeds (digits): samples-to-target must be identical.
3. Scoring equality: ``n_folders`` official-format result folders scored by us and by the official
   summarizer (settled value), maximum absolute difference.
4. A package of an official-name benchmark checked by the official ``package_checker``.
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any

from dawn.core.logging import get_logger

log = get_logger(__name__)


def suite_summary(
    name: str, out: Path, *, seed: int, runs: int | None = None, fresh: bool = True
) -> dict[str, Any]:
    """Run a benchmark's suite into ``out`` (afresh, or resuming when ``fresh`` is false); summarise it."""
    import numpy as np

    from dawn.mlperf.benchmark import get
    from dawn.mlperf.harness import overhead_pct, run_suite
    from dawn.mlperf.score import score_folder

    b = get(name)
    if fresh:
        shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    m = run_suite(b, out, runs=runs, seed=seed)
    wall = time.perf_counter() - t
    recs = [m["runs"][k] for k in sorted(m["runs"], key=int)]
    sc = score_folder(out, required_runs=runs or b.runs)
    run_wall = sum(r["wall_s"] for r in recs)
    in_clock = sum(r["harness_s"] for r in recs)
    per_run = [overhead_pct(r) for r in recs]
    per_run_whole = [overhead_pct(r, "run") for r in recs]
    ses = m.get("session", {})
    # everything the harness spent in this process during the suite: in and around each timed region,
    # the wait for the helper's start-up and the final wait for the last run's check and filing
    all_in = sum(ses.get(k, 0.0) for k in ("harness_in_clock_s", "harness_outside_clock_s"))
    all_in += ses.get("helper_start_wait_s", 0.0) + ses.get("final_wait_s", 0.0)
    return {
        "benchmark": b.name,
        "target": b.target,
        "metric": b.metric,
        "runs": len(recs),
        "converged": sum(r["status"] == "success" for r in recs),
        "compliance_pass": sum(bool(r["check_ok"]) for r in recs),
        "epochs": [r["epochs"] for r in recs],
        "samples": [r["samples"] for r in recs],
        "score_min": sc.score,
        "score_s": None if sc.score is None else sc.score * 60,
        "scaling": sc.scaling,
        "rcp": sc.rcp.message if sc.rcp else None,
        "rcp_passed": sc.rcp.passed if sc.rcp else None,
        "ci95_s": None if sc.ci95 is None else [x * 60 for x in sc.ci95],
        "cv": sc.cv,
        "samples_to_converge_olympic": sc.samples_to_converge,
        "suite_wall_s": wall,
        "overhead_in_clock_pct": 100 * in_clock / run_wall if run_wall else None,
        # per-run ratios: on a shared machine one preempted log call can dominate a sub-second run
        "overhead_in_clock_median_pct": float(np.median([100 * r["harness_s"] / r["wall_s"] for r in recs])),
        "overhead_in_clock_max_pct": max(100 * r["harness_s"] / r["wall_s"] for r in recs),
        # per run: harness time in this process, in and around the timed region (logging, waiting
        # for the previous run's check and filing, bookkeeping), over the timed region
        "overhead_per_run_median_pct": float(np.median(per_run)),
        "overhead_per_run_max_pct": max(per_run),
        "overhead_total_pct": 100 * all_in / run_wall if run_wall else None,
        # the same over the runs' whole wall time (cache clearing, initialisation, timed region,
        # harness): "a run's wall time" read literally; the figures above divide by the timed region
        "overhead_per_run_of_run_median_pct": float(np.median(per_run_whole)),
        "overhead_per_run_of_run_max_pct": max(per_run_whole),
        "overhead_total_of_runs_pct": 100 * all_in / ses["loop_s"] if ses.get("loop_s") else None,
        "one_time_ms": {
            "helper_start_wait": 1e3 * ses.get("helper_start_wait_s", 0.0),
            "final_wait": 1e3 * ses.get("final_wait_s", 0.0),
        },
        # the official check's own time, in the helper process while the next run initialises
        "check_ms_median": float(np.median([1e3 * r["check_s"] for r in recs])),
        "problems": sc.problems,
        "folder": str(out),
    }


def scoring_equality(root: Path, n_folders: int = 20, seed: int = 0) -> dict[str, Any]:
    """Our score vs the official summarizer's on ``n_folders`` generated official-format folders."""
    from dawn.mlperf.official import official_score
    from dawn.mlperf.score import score_folder
    from dawn.mlperf.synthetic import scoring_cases

    shutil.rmtree(root, ignore_errors=True)
    rows = []
    for case in scoring_cases(root, n_folders, seed):
        ours = score_folder(case["folder"], ruleset=case["ruleset"])
        theirs, tscale = official_score(case["folder"], case["ruleset"])
        if ours.score is None or theirs is None:
            diff = 0.0 if ours.score is None and theirs is None else math.inf
        else:
            diff = abs(ours.score - theirs)
        rows.append(
            {
                "case": Path(case["folder"]).name,
                "ruleset": case["ruleset"],
                "bs": case["bs"],
                "non_converged": case["non_converged"],
                "ours": ours.score,
                "official": theirs,
                "scaling": ours.scaling,
                "official_scaling": tscale,
                "rcp": ours.rcp.message if ours.rcp else None,
                "abs_diff": diff,
            }
        )
    return {
        "folders": len(rows),
        "max_abs_diff": max(r["abs_diff"] for r in rows),
        "with_scaling": sum(r["scaling"] != 1.0 for r in rows),
        "with_non_converged": sum(r["non_converged"] > 0 for r in rows),
        "invalid": sum(r["ours"] is None for r in rows),
        "rows": rows,
    }


def rerun_determinism(out: Path, seed: int, runs: int = 3) -> dict[str, Any]:
    """Run the digits suite twice with the same seed; compare samples-to-target run by run."""
    from dawn.mlperf.benchmark import get
    from dawn.mlperf.harness import run_suite

    shutil.rmtree(out, ignore_errors=True)
    a = run_suite(get("digits"), out / "a", runs=runs, seed=seed, check=False)
    b = run_suite(get("digits"), out / "b", runs=runs, seed=seed, check=False)
    sa = [a["runs"][str(i)]["samples"] for i in range(runs)]
    sb = [b["runs"][str(i)]["samples"] for i in range(runs)]
    return {"samples_first": sa, "samples_second": sb, "identical": sa == sb}


def official_package(out: Path, seed: int = 0) -> dict[str, Any]:
    """Export a BERT-named package (logs from our logger) and run the official package checker."""
    import numpy as np

    from dawn.mlperf.official import BERT
    from dawn.mlperf.package import check_package, export_package
    from dawn.mlperf.rcp import RCPSet, official_rcp_path
    from dawn.mlperf.synthetic import write_folder

    shutil.rmtree(out, ignore_errors=True)
    rng = np.random.default_rng(seed)
    mean = RCPSet.load(official_rcp_path("bert", "5.0.0")).check(448, [1.0] * 10).rcp_mean  # type: ignore[arg-type]
    epochs = [float(x) for x in np.round(float(mean) * rng.normal(1.0, 0.01, 10))]  # type: ignore[arg-type]
    res = write_folder(
        out / "results-bert", BERT, [float(x) for x in rng.uniform(10, 20, 10)], epochs, [True] * 10, bs=448
    )
    org = export_package(out / "package", {"bert": res})
    ok, errors, warnings = check_package(org, "5.0.0")
    return {"accepted": ok, "errors": errors, "warnings": warnings, "package": str(org)}


def run_bench(out: str | Path, *, quick: bool = True, seed: int = 0, n_folders: int = 20) -> dict[str, Any]:
    """All measurements; ``quick`` runs only the digits suite."""
    out = Path(out)
    names = ["digits"] if quick else ["digits", "gcn_cora", "ncf", "mnist"]
    res: dict[str, Any] = {"quick": quick, "seed": seed, "suites": {}}
    for name in names:
        log.info("running the %s suite", name)
        res["suites"][name] = suite_summary(name, out / "results" / name, seed=seed)
    res["determinism"] = rerun_determinism(out / "rerun", seed)
    res["scoring_equality"] = scoring_equality(out / "scoring-folders", n_folders, seed)
    res["package"] = official_package(out / "package", seed)
    return res


def markdown(res: dict[str, Any], command: str, env: dict[str, Any]) -> str:
    """The headline table of a bench run, for the mlperf section of ``BENCHMARKS.md``."""

    def yes(ok: bool) -> str:
        return "yes" if ok else "**no**"

    suites = res["suites"]
    n_pass = sum(s["compliance_pass"] for s in suites.values())
    n_runs = sum(s["runs"] for s in suites.values())
    eq = res["scoring_equality"]
    rows = [
        (
            "logs passing the official compliance checker (all suites)",
            f"{n_pass}/{n_runs}",
            "official tool = referee",
            "100%",
            yes(n_pass == n_runs),
        ),
        (
            f"max abs(our score - official summarizer), {eq['folders']} folders "
            f"({eq['with_scaling']} RCP-scaled, {eq['with_non_converged']} with non-converged runs)",
            f"{eq['max_abs_diff']:.3g} min",
            "official summarizer (settled value)",
            "<= 1e-9",
            yes(eq["max_abs_diff"] <= 1e-9),
        ),
        (
            "official package_checker accepts exported `bert` package",
            str(res["package"]["accepted"]),
            "-",
            "accepted",
            yes(res["package"]["accepted"]),
        ),
        (
            "samples-to-target identical on rerun (digits, same seeds)",
            f"{res['determinism']['samples_first']} vs {res['determinism']['samples_second']}",
            "paper sheet: identical",
            "identical",
            yes(res["determinism"]["identical"]),
        ),
    ]
    if "digits" in suites:
        d = suites["digits"]
        rows.append(
            (
                "digits suite (5 required runs) wall time",
                f"{d['suite_wall_s']:.1f} s",
                "-",
                "< 60 s",
                yes(d["suite_wall_s"] < 60),
            )
        )
    for name, s in suites.items():
        if "overhead_in_clock_median_pct" not in s:
            continue

        def share(label: str, value: str, ok: bool, s: dict[str, Any] = s, name: str = name) -> None:
            rows.append((f"{name}: {label}", value, "-", "< 1%", yes(ok)))

        med, mx = s["overhead_in_clock_median_pct"], s["overhead_in_clock_max_pct"]
        share(
            "harness time in the timed region (what a score sees) / timed region, median (max) over runs",
            f"{med:.3f}% ({mx:.3f}%)",
            mx < 1,
        )
        med, mx = s["overhead_per_run_of_run_median_pct"], s["overhead_per_run_of_run_max_pct"]
        share(
            "all harness time per run (in and around the clock, waits for the helper) / the run's wall "
            "time (cache clearing, init, timed region, harness), median (max)",
            f"{med:.3f}% ({mx:.3f}%)",
            mx < 1,
        )
        share(
            "all harness time in the suite, one-time waits included / the suite's run loop wall time",
            f"{s['overhead_total_of_runs_pct']:.3f}%",
            s["overhead_total_of_runs_pct"] < 1,
        )
        med, mx = s["overhead_per_run_median_pct"], s["overhead_per_run_max_pct"]
        share(
            "stricter: all harness time per run / timed region alone, median (max) over runs",
            f"{med:.3f}% ({mx:.3f}%)",
            med < 1,
        )
        share(
            "stricter: all harness time in the suite, one-time waits included / timed regions alone",
            f"{s['overhead_total_pct']:.3f}%",
            s["overhead_total_pct"] < 1,
        )
    lines = ["| metric | ours | paper / peer | target (issue 7) | met? |", "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(r)} |" for r in rows]
    lines += [
        "",
        "| benchmark | metric >= target | runs (converged) | score (s, olympic x RCP scaling) | 95% CI (s) "
        "| RCP | scaling | CV | epochs to target per run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in suites.values():
        ci = "n/a" if s["ci95_s"] is None else f"{s['ci95_s'][0]:.2f}-{s['ci95_s'][1]:.2f}"
        lines.append(
            f"| {s['benchmark']} | {s['metric']} >= {s['target']} | {s['runs']} ({s['converged']}) | "
            f"{s['score_s']:.2f} | {ci} | {s['rcp']} | {s['scaling']:.3f} | {s['cv']:.3f} | {s['epochs']} |"
        )
    lines += [
        "",
        f"Command: `{command}`; seed {res['seed']}; machine: {env.get('cpu')} ({env.get('cpu_count')} "
        f"logical cores, shared with other jobs), {env.get('os')}; date {env.get('date_utc')}.",
    ]
    return "\n".join(lines) + "\n"
