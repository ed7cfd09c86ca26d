"""``dawn mlperf``: run MLPerf-style benchmarks and check, score, report and package their results."""

from __future__ import annotations

import argparse
import json
from typing import Any

from dawn.cli.mlperf_results import (
    cmd_check,
    cmd_package,
    cmd_rcp,
    cmd_report,
    cmd_score,
    cmd_system,
    emit,
)


def register(sub: argparse._SubParsersAction) -> None:
    from dawn.cli import add_common_options

    p = sub.add_parser(
        "mlperf", help="MLPerf-Training-style harness: run, check, score, report, rcp, package"
    )
    verbs = p.add_subparsers(dest="verb", required=True, metavar="<verb>")

    v = verbs.add_parser("list", help="list the registered benchmarks")
    add_common_options(v)
    v.set_defaults(func=cmd_list)

    v = verbs.add_parser("bench", help="measure compliance, scoring equality, overhead, determinism, package")
    v.add_argument("--quick", action="store_true", help="digits suite only (about a minute)")
    v.add_argument("--folders", type=int, default=20, help="generated folders for the scoring-equality check")
    add_common_options(v, out="mlperf-bench")
    v.set_defaults(func=cmd_bench)

    v = verbs.add_parser("run", help="run a benchmark's required runs (resumable)")
    v.add_argument("benchmark", help="benchmark name, e.g. digits, mnist, ncf, gcn_cora")
    v.add_argument("--runs", type=int, default=None, help="number of runs (default: the benchmark's)")
    v.add_argument("--division", choices=("closed", "open"), default="closed")
    v.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a hyperparameter"
    )
    add_common_options(v, out="mlperf-results/BENCH")
    v.set_defaults(func=cmd_run)

    v = verbs.add_parser("check", help="run the official compliance checker on a log or a folder of logs")
    v.add_argument("target", help="a :::MLLOG file or a folder of result_*.txt")
    v.add_argument(
        "--ruleset", default=None, help="training ruleset for official names: 4.1.0, 5.0.0, 6.1.0, ..."
    )
    v.add_argument(
        "--config", default=None, help="a rule file to use instead (like --config of the official tool)"
    )
    v.add_argument("--lenient", action="store_true", help="do not count the official checker's warnings")
    add_common_options(v)
    v.set_defaults(func=cmd_check)

    v = verbs.add_parser("score", help="score a result folder (olympic mean, RCP scaling, CI, CV)")
    v.add_argument("folder")
    v.add_argument("--ruleset", default=None)
    v.add_argument("--rcp", default=None, help="RCP JSON to use (default: shipped / official)")
    v.add_argument("--min-runs", type=int, default=None, help="accept fewer runs than the rules require")
    v.add_argument(
        "--window",
        type=int,
        default=None,
        metavar="N",
        help="of M > N runs (in result_<i> order), report the median window of N consecutive runs",
    )
    v.add_argument(
        "--compare-official",
        action="store_true",
        help="also compute the official summarizer's score (on a private copy)",
    )
    add_common_options(v)
    v.set_defaults(func=cmd_score)

    v = verbs.add_parser("report", help="HTML report of a result folder")
    v.add_argument("folder")
    v.add_argument("--rcp", default=None)
    add_common_options(v, out="mlperf-report")
    v.set_defaults(func=cmd_report)

    v = verbs.add_parser("rcp", help="generate RCP JSON (official format) from reference-run folders")
    v.add_argument("folders", nargs="+")
    v.add_argument("--min-runs", type=int, default=None, help="default: 2N, as the rules require")
    add_common_options(v, out="rcps.json")
    v.set_defaults(func=cmd_rcp)

    v = verbs.add_parser("system", help="write this machine's official system-description JSON")
    v.add_argument("--org", default="dawn")
    v.add_argument("--division", choices=("closed", "open"), default="closed")
    add_common_options(v, out="system.json")
    v.set_defaults(func=cmd_system)

    v = verbs.add_parser("package", help="lay out a submission package and run the official package checker")
    v.add_argument("results", nargs="+", metavar="BENCH=FOLDER", help="benchmark name and its result folder")
    v.add_argument("--org", default="dawn")
    v.add_argument("--ruleset", default="5.0.0")
    v.add_argument("--rcp-bypass", action="store_true")
    add_common_options(v, out="mlperf-package")
    v.set_defaults(func=cmd_package)


def _parse_value(s: str) -> Any:
    try:
        return json.loads(s)
    except json.JSONDecodeError:
        return s


def cmd_list(args: argparse.Namespace) -> int:
    from dawn.mlperf.benchmark import BENCHMARKS

    rows = [
        {
            "name": b.name,
            "dataset": b.dataset,
            "metric": b.metric,
            "target": b.target,
            "runs": b.runs,
            "model": b.model,
        }
        for b in BENCHMARKS.values()
    ]
    emit(
        args,
        rows,
        "\n".join(
            f"{r['name']:16} {r['dataset']:10} {r['metric']} >= {r['target']}  {r['runs']} runs  {r['model']}"
            for r in rows
        ),
    )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    from dawn.core.io import atomic_write_json
    from dawn.core.report import Report
    from dawn.mlperf.bench import run_bench
    from dawn.mlperf.reproduce import build_section

    out = Path(args.out)
    res = run_bench(out, quick=args.quick, seed=args.seed, n_folders=args.folders)
    atomic_write_json(out / "bench.json", res)
    from dawn.core.env import collect_environment
    from dawn.core.io import atomic_write_text
    from dawn.mlperf.bench import markdown

    cmd = "dawn mlperf bench" + (" --quick" if args.quick else "") + f" --seed {args.seed}"
    atomic_write_text(out / "bench.md", markdown(res, cmd, collect_environment(include_accelerators=False)))
    sec = build_section(res, args.quick)
    Report(title="dawn mlperf bench", seed=args.seed, sections=[sec]).write(out)
    lines = [f"{h.name}: {h.ours} {h.unit} (target/paper: {h.paper})" for h in sec.headlines]
    for s in res["suites"].values():
        lines.append(
            f"{s['benchmark']}: score {s['score_s']} s, {s['converged']}/{s['runs']} converged, "
            f"RCP {s['rcp']}, epochs {s['epochs']}"
        )
    lines.append(f"wrote {out / 'bench.json'} and {out / 'index.html'}")
    emit(args, res, "\n".join(lines))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from dawn.core.errors import DawnError
    from dawn.mlperf.benchmark import get
    from dawn.mlperf.harness import overhead_pct, run_suite
    from dawn.mlperf.score import score_folder

    b = get(args.benchmark)
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # launched by torchrun: one process group, gloo on CPU
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("gloo")
        if dist.get_rank() != 0:
            args.format = "quiet"
    hp = {}
    for item in args.set:
        k, sep, val = item.partition("=")
        if not sep:
            raise DawnError(f"--set {item!r} is not KEY=VALUE", "e.g. --set opt_base_learning_rate=0.1")
        hp[k] = _parse_value(val)
    out = args.out.replace("BENCH", b.name)
    m = run_suite(b, out, runs=args.runs, seed=args.seed, division=args.division, hparams=hp)
    if args.format == "quiet":
        return 0
    runs = m["runs"]
    bad = [r for r in runs.values() if r.get("check_ok") is False]
    lines = [f"{b.name}: {len(runs)} runs in {out}"]
    for i, r in sorted(runs.items(), key=lambda kv: int(kv[0])):
        lines.append(
            f"  run {i}: {r['status']:8} epochs={r['epochs']} samples={r['samples']} "
            f"wall={r['wall_s']:.2f}s harness={overhead_pct(r, 'run'):.2f}% of the run "
            f"({overhead_pct(r):.2f}% of its timed region) "
            f"compliance={'PASS' if r['check_ok'] else 'FAIL'}"
        )
        lines += [f"    {v}" for v in r.get("violations", [])]
    sc = score_folder(out, required_runs=args.runs or b.runs)
    problems = "; ".join(sc.problems) or "none"
    lines.append(f"score {sc.score} min (olympic mean x {sc.scaling:.4f}); problems: {problems}")
    emit(args, {"manifest": m, "score": sc.as_dict()}, "\n".join(lines))
    return 1 if bad else 0
