"""``dawn mlperf``: run MLPerf-style benchmarks and check, score, report and package their results."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


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


def _emit(args: argparse.Namespace, obj: Any, text: str) -> None:
    from dawn.core.io import to_jsonable

    if getattr(args, "format", "text") == "quiet":  # ranks other than 0 under torchrun
        return
    if getattr(args, "format", "text") == "json":
        print(json.dumps(to_jsonable(obj), indent=2))
    else:
        print(text)


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
    _emit(
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
    _emit(args, res, "\n".join(lines))
    return 0


def _overhead_pct(r: dict[str, Any]) -> float:
    """Harness time (logging, bookkeeping, compliance check) as a percentage of the run's wall time."""
    return 100 * (r["harness_s"] + r["check_s"]) / max(r["wall_s"], 1e-9)


def cmd_run(args: argparse.Namespace) -> int:
    from dawn.core.errors import DawnError
    from dawn.mlperf.benchmark import get
    from dawn.mlperf.harness import run_suite
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
            f"wall={r['wall_s']:.2f}s harness={_overhead_pct(r):.2f}% "
            f"compliance={'PASS' if r['check_ok'] else 'FAIL'}"
        )
        lines += [f"    {v}" for v in r.get("violations", [])]
    sc = score_folder(out, required_runs=args.runs or b.runs)
    problems = "; ".join(sc.problems) or "none"
    lines.append(f"score {sc.score} min (olympic mean x {sc.scaling:.4f}); problems: {problems}")
    _emit(args, {"manifest": m, "score": sc.as_dict()}, "\n".join(lines))
    return 1 if bad else 0


def cmd_check(args: argparse.Namespace) -> int:
    from dawn.mlperf.check import check_log, installed_rulesets, result_logs

    if args.ruleset and args.ruleset not in installed_rulesets():
        from dawn.core.errors import DawnError

        raise DawnError(
            f"unknown ruleset {args.ruleset!r}", f"choose one of {', '.join(installed_rulesets())}"
        )
    results = [
        check_log(p, ruleset=args.ruleset, config=args.config, strict=not args.lenient)
        for p in result_logs(args.target)
    ]
    n_ok = sum(r.ok for r in results)
    lines = [ln for r in results for ln in r.lines()] + [f"{n_ok}/{len(results)} logs pass"]
    _emit(
        args,
        [
            {
                "path": r.path,
                "ok": r.ok,
                "benchmark": r.benchmark,
                "ruleset": r.ruleset,
                "config": r.config,
                "violations": r.violations,
            }
            for r in results
        ],
        "\n".join(lines),
    )
    return 0 if n_ok == len(results) else 1


def cmd_score(args: argparse.Namespace) -> int:
    from dawn.core.errors import DawnError
    from dawn.mlperf.score import score_folder

    sc = score_folder(
        args.folder, ruleset=args.ruleset, rcp_file=args.rcp, required_runs=args.min_runs, seed=args.seed
    )
    if (
        sc.required_runs is not None
        and sc.runs < sc.required_runs
        and args.min_runs is None
        and not args.window
    ):
        raise DawnError(
            f"{sc.runs} result files in {args.folder}, {sc.benchmark} requires {sc.required_runs}",
            "finish the runs with `dawn mlperf run` (completed runs are kept) or pass --min-runs",
        )
    d = sc.as_dict()
    lines = [
        f"{sc.benchmark} ({sc.division}): score {sc.score} min"
        f" = olympic {sc.olympic} x RCP scaling {sc.scaling}",
        f"runs {sc.runs} (converged {sum(sc.converged)}), 95% CI {sc.ci95}, CV {sc.cv}",
        f"RCP: {sc.rcp.message if sc.rcp else 'n/a (open division)'}",
    ]
    if args.window:
        from dawn.mlperf.rcp import samples_rejected
        from dawn.mlperf.score import median_window

        order = sorted(range(len(sc.times)), key=lambda i: int(sc.run_names[i].split("_")[-1].split(".")[0]))
        start, wscore = median_window(
            [sc.times[i] for i in order], args.window, samples_rejected(str(sc.benchmark))
        )
        d["median_window"] = {"start": start, "n": args.window, "olympic": wscore}
        lines.append(
            f"median window of {args.window}: runs {start}..{start + args.window - 1}, olympic {wscore} min"
        )
    if args.compare_official:
        from dawn.mlperf.check import official_ruleset_for
        from dawn.mlperf.official import official_score

        rs = args.ruleset or official_ruleset_for(str(sc.benchmark))
        if rs is None:
            lines.append("official summarizer: benchmark not known to the official tools")
        else:
            theirs, scale = official_score(args.folder, rs, division=sc.division or "closed")
            d["official"] = {"score": theirs, "scaling": scale}
            lines.append(f"official summarizer (settled, second run): {theirs} (scaling {scale})")
    lines += [f"problem: {p}" for p in sc.problems]
    _emit(args, d, "\n".join(lines))
    return 0 if sc.valid else 1


def cmd_report(args: argparse.Namespace) -> int:
    from dawn.mlperf.report import write_report

    path = write_report(args.folder, args.out, seed=args.seed, rcp_file=args.rcp, required_runs=None)
    _emit(args, {"html": path}, f"wrote {path}")
    return 0


def cmd_rcp(args: argparse.Namespace) -> int:
    from dawn.core.io import atomic_write_json
    from dawn.mlperf.rcp import RCPSet, rcp_from_folders

    raw = rcp_from_folders(args.folders, min_runs=args.min_runs)
    rs = RCPSet.from_json(json.loads(json.dumps(raw)))
    atomic_write_json(args.out, raw)
    lines = [f"wrote {len(raw)} RCP record(s) to {args.out}"] + [
        f"  {r.name}: BS {r.bs}, mean {r.mean:.3f}, stdev {r.stdev:.3f}, max speedup {r.max_speedup:.4f}"
        for r in rs.records
    ]
    _emit(args, raw, "\n".join(lines))
    return 0


def cmd_system(args: argparse.Namespace) -> int:
    from dawn.core.io import atomic_write_json
    from dawn.mlperf.system import check_system_desc, describe_system

    atomic_write_json(args.out, describe_system(submitter=args.org, division=args.division))
    ok, problems = check_system_desc(args.out)
    _emit(
        args,
        {"path": args.out, "valid": ok, "problems": problems},
        f"wrote {args.out}; system_desc_checker: {'PASS' if ok else 'FAIL ' + '; '.join(problems)}",
    )
    return 0 if ok else 1


def cmd_package(args: argparse.Namespace) -> int:
    from dawn.core.errors import DawnError
    from dawn.mlperf.package import check_package, export_package

    results = {}
    for item in args.results:
        bench, sep, folder = item.partition("=")
        if not sep:
            raise DawnError(f"{item!r} is not BENCH=FOLDER", "e.g. bert=results/bert")
        results[bench] = folder
    org = export_package(args.out, results, org=args.org)
    ok, errors, warnings = check_package(org, args.ruleset, rcp_bypass=args.rcp_bypass)
    lines = [
        f"package at {org}; official package_checker ({args.ruleset}): {'ACCEPTED' if ok else 'REJECTED'}"
    ]
    lines += [f"  error: {e}" for e in errors] + [f"  warning: {w}" for w in warnings]
    _emit(args, {"package": org, "accepted": ok, "errors": errors, "warnings": warnings}, "\n".join(lines))
    print("", end="", file=sys.stderr)
    return 0 if ok else 1
