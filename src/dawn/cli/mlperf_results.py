"""``dawn mlperf`` verbs that read results: check, score, report, rcp, system, package.

Split from :mod:`dawn.cli.mlperf` (which registers every verb and runs benchmarks) so each module stays
one concern: these commands never train, they judge what a run wrote.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def emit(args: argparse.Namespace, obj: Any, text: str) -> None:
    from dawn.core.io import to_jsonable

    if getattr(args, "format", "text") == "quiet":  # ranks other than 0 under torchrun
        return
    if getattr(args, "format", "text") == "json":
        print(json.dumps(to_jsonable(obj), indent=2))
    else:
        print(text)


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
    emit(
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
    emit(args, d, "\n".join(lines))
    return 0 if sc.valid else 1


def cmd_report(args: argparse.Namespace) -> int:
    from dawn.mlperf.report import write_report

    path = write_report(args.folder, args.out, seed=args.seed, rcp_file=args.rcp, required_runs=None)
    emit(args, {"html": path}, f"wrote {path}")
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
    emit(args, raw, "\n".join(lines))
    return 0


def cmd_system(args: argparse.Namespace) -> int:
    from dawn.core.io import atomic_write_json
    from dawn.mlperf.system import check_system_desc, describe_system

    atomic_write_json(args.out, describe_system(submitter=args.org, division=args.division))
    ok, problems = check_system_desc(args.out)
    emit(
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
    emit(args, {"package": org, "accepted": ok, "errors": errors, "warnings": warnings}, "\n".join(lines))
    return 0 if ok else 1
