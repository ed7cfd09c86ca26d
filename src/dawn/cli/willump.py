"""``dawn willump``: benchmark the inference optimizer on real workloads, fit one, explain its plan."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from dawn.cli import add_common_options

    p = sub.add_parser("willump", help="statistically-aware inference optimizer (Willump, MLSys 2020)")
    verbs = p.add_subparsers(dest="verb", required=True)

    b = verbs.add_parser("bench", help="run every workload, ours and willump-heuristics, write willump.json")
    b.add_argument("--quick", action="store_true", help="smaller data and fewer repeats (about a minute)")
    b.add_argument(
        "--workloads",
        default=None,
        help="comma-separated subset of text,credit,price,music,text-embed (default: all; --quick: "
        "all but text-embed)",
    )
    b.add_argument("--redis-url", default=None, help="Redis for the music workload (default: start one)")
    b.add_argument(
        "--candidate-choice",
        choices=("auto", "selection", "hedged", "bonferroni"),
        default="auto",
        help="how the cascade candidate is chosen (see optimize(); auto: hedged)",
    )
    add_common_options(b, out="results/willump")
    b.set_defaults(func=cmd_bench)

    o = verbs.add_parser("optimize", help="optimise one workload's pipeline and save it")
    o.add_argument("--workload", required=True, help="text, credit, price, music or text-embed")
    o.add_argument("--save", required=True, help="file to write the optimised pipeline to")
    _add_optimise_options(o)
    add_common_options(o)
    o.set_defaults(func=cmd_optimize)

    e = verbs.add_parser("explain", help="print a fitted optimizer's plan (saved file or a workload)")
    src = e.add_mutually_exclusive_group(required=True)
    src.add_argument("--load", help="a file written by `dawn willump optimize --save` or .save()")
    src.add_argument("--workload", help="optimise this workload now and explain it")
    _add_optimise_options(e)  # for --workload; a --load plan was optimised already
    add_common_options(e)
    e.set_defaults(func=cmd_explain)


def _add_optimise_options(parser: argparse.ArgumentParser) -> None:
    """How a workload is optimised: the same options for ``optimize`` and ``explain --workload``."""
    parser.add_argument("--quick", action="store_true", help="the workload's smaller data")
    parser.add_argument("--mode", choices=("bounded", "willump"), default="bounded")
    parser.add_argument("--max-loss", type=float, default=0.005)
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument(
        "--risk",
        choices=("net_loss", "accuracy_risk", "disagreement"),
        default="net_loss",
        help="what --max-loss bounds for classification (default net_loss, as the bench; the "
        "library's optimize() defaults to disagreement, which needs no labels)",
    )
    parser.add_argument("--redis-url", default=None, help="Redis for the music workload (default: start one)")


def cmd_bench(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from dawn.core.errors import DawnError
    from dawn.core.io import ensure_writable_dir
    from dawn.willump.bench import format_shift, format_table, run_bench
    from dawn.willump.workloads import FULL_WORKLOADS

    names = None
    if args.workloads is not None:
        names = tuple(s.strip() for s in args.workloads.split(","))
        if not all(names):
            raise DawnError(
                f"--workloads {args.workloads!r} has an empty name",
                f"e.g. --workloads {','.join(FULL_WORKLOADS[:2])}",
            )
    bad = [n for n in names or () if n not in FULL_WORKLOADS]
    if bad:
        raise DawnError(f"unknown workload(s) {', '.join(bad)}", f"choose from {', '.join(FULL_WORKLOADS)}")
    ensure_writable_dir(args.out)  # before minutes of benchmarking, not after
    entries = run_bench(
        args.out,
        quick=args.quick,
        seed=args.seed,
        workloads=names,
        redis_url=args.redis_url,
        candidate_choice=args.candidate_choice,
    )
    if args.format == "json":
        from dawn.core.io import to_jsonable

        print(json.dumps(to_jsonable(entries), indent=2))
    else:
        print(format_table(entries))
        doc = json.loads((Path(args.out) / "willump.json").read_text())
        if doc.get("shift"):
            print(format_shift(doc["shift"]))
        print(f"results: {args.out}/willump.json")
    return 0


def _optimise(args: argparse.Namespace) -> object:
    from dawn.willump import optimize
    from dawn.willump._blocks import n_rows
    from dawn.willump.workloads import load_workload

    w = load_workload(args.workload, quick=args.quick, seed=args.seed, redis_url=args.redis_url)
    try:
        return optimize(
            w.pipeline, w.X_val, w.y_val, max_loss=args.max_loss, confidence=args.confidence,
            mode=args.mode, risk=args.risk if w.metric_name == "accuracy" else "disagreement",
            top_k=100 if w.topk else None, top_k_n=n_rows(w.X_test), seed=args.seed,
            X_train=w.X_train, y_train=w.y_train, blocks_val=w.blocks_val, blocks_train=w.blocks_train,
        )  # fmt: skip
    finally:
        w.close()


def cmd_optimize(args: argparse.Namespace) -> int:
    import json

    from dawn.core.io import to_jsonable

    opt = _optimise(args)
    path = opt.save(args.save)  # type: ignore[attr-defined]
    if args.format == "json":  # the plan, as `dawn willump explain --format json` prints it, and the file
        plan = to_jsonable(opt.explain())  # type: ignore[attr-defined]
        print(json.dumps({**plan, "saved": str(path)}, indent=2, allow_nan=False))
    else:
        print(f"{opt!r}\nsaved: {path}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    import json

    from dawn.core.errors import DawnError
    from dawn.core.io import to_jsonable
    from dawn.willump.explain import format_plan
    from dawn.willump.optimized import OptimizedPipeline

    if args.load is not None and not args.load.strip():
        raise DawnError(
            "--load was given an empty path", "pass the file that `dawn willump optimize --save` wrote"
        )
    opt = OptimizedPipeline.load(args.load) if args.load is not None else _optimise(args)
    plan = opt.explain()  # type: ignore[attr-defined]
    if args.format == "json":
        print(json.dumps(to_jsonable(plan), indent=2, allow_nan=False))  # strict: NaN became null
    else:
        print(format_plan(plan))
    return 0
