"""``dawn assertions``: query an event store, check a detection file, cache detections, run the benchmark."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    from dawn.cli import seed_value

    p = sub.add_parser("assertions", help="model assertions: monitoring, active learning, weak supervision")
    verbs = p.add_subparsers(dest="verb", required=True)

    r = verbs.add_parser("report", help="summarise an event store written by a Monitor")
    r.add_argument("store", help="the SQLite file the monitor wrote")
    r.add_argument(
        "--bucket",
        type=float,
        default=None,
        help="seconds per bucket of firings over time (default: 60, widened to keep at most 1,000 buckets)",
    )
    r.add_argument("--top", type=int, default=20, help="how many high-confidence firings to list")
    r.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    r.add_argument("--html", metavar="DIR", help="also write DIR/index.html and DIR/report.json")
    r.set_defaults(func=cmd_report)

    c = verbs.add_parser(
        "check", help="run flicker, multibox and appear on a detection table (CSV or Parquet)"
    )
    c.add_argument("file", help="columns frame, x1, y1, x2, y2, score[, cls, track]")
    c.add_argument("--assertions", default="flicker,multibox,appear", help="comma-separated built-ins")
    c.add_argument(
        "--flicker-min-score",
        type=float,
        default=None,
        metavar="S",
        help="flicker fires only when both sightings around a gap score at least S",
    )
    c.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    c.set_defaults(func=cmd_check)

    d = verbs.add_parser(
        "detect", help="compute and cache HOG detections on vtest (fast, reference, second; minutes)"
    )
    d.set_defaults(func=cmd_detect)

    b = verbs.add_parser(
        "bench", help="video, active-learning, weak-supervision, overhead and peer benchmarks"
    )
    b.add_argument("--quick", action="store_true", help="small version (about a minute)")
    b.add_argument("--seed", type=seed_value, default=0, help="first seed (default: 0)")
    b.add_argument(
        "--out", default="results/assertions", help="output directory (default: results/assertions)"
    )
    b.add_argument("--no-peer", action="store_true", help="skip the model-assertions 0.0.3 comparison")
    b.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    b.set_defaults(func=cmd_bench)


def _check_report_args(args: argparse.Namespace) -> None:
    """A :class:`DawnError` for a bucket or top that would give a meaningless report."""
    from dawn.core.errors import DawnError

    if args.bucket is not None and (not math.isfinite(args.bucket) or args.bucket <= 0):
        raise DawnError(
            f"--bucket {args.bucket} is not a positive number of seconds", "pass e.g. --bucket 60"
        )
    if args.top < 0:
        raise DawnError(f"--top {args.top} is negative", "pass 0 or more, e.g. --top 20")


def cmd_report(args: argparse.Namespace) -> int:
    from dawn.assertions.store import EventStore, store_section

    _check_report_args(args)
    with EventStore.open_existing(args.store) as store:
        if args.html:  # the store opened: only now create the report's directory
            from dawn.core.io import ensure_writable_dir

            ensure_writable_dir(args.html, "HTML report directory", option="--html")
        rep = store.report(bucket_s=args.bucket, top=args.top)
        if args.html:
            from dawn.core.report import Report

            section = store_section(store, report=rep)
            Report("dawn assertions report", sections=[section]).write(args.html)
    if args.format == "json":
        from dawn.core.io import to_jsonable

        # strict JSON: a non-finite severity or confidence becomes null, not the non-standard Infinity
        print(json.dumps(to_jsonable(rep), indent=2, default=str, allow_nan=False))
        return 0
    print(f"{rep['store']}: {rep['events']} event(s)")
    several = len({row["model"] for row in rep["counts"]}) > 1  # monitors of several models share it
    for row in rep["counts"]:
        model = f"{row['model']:<16} " if several else ""
        print(
            f"  {model}{row['assertion']:<28} {row['kind']:<7} {row['events']:>8}  "
            f"mean severity {row['mean_severity']:.3g}  max {row['max_severity']:.3g}"
        )
    if rep["high_confidence"]:
        print("high-confidence firings (model confidence in the top quartile):")
        for e in rep["high_confidence"]:
            print(
                f"  {e['assertion']:<28} input {e['input_id']:<12} severity {e['severity']:.3g} "
                f"confidence {e['confidence']:.3g}"
            )
    return 0


def _read_table(path: str) -> Any:
    from pathlib import Path

    import pandas as pd

    from dawn.core.errors import DawnError

    p = Path(path)
    if not p.is_file():
        raise DawnError(f"no such file: {p}", "pass a CSV or Parquet detection table")
    try:
        return pd.read_parquet(p) if p.suffix in (".parquet", ".pq") else pd.read_csv(p)
    except Exception as exc:  # pandas/pyarrow raise many types for unreadable files
        raise DawnError(f"cannot read {p}: {exc}", "pass a CSV or Parquet file") from exc


def cmd_check(args: argparse.Namespace) -> int:
    from dawn.assertions import builtin
    from dawn.core.errors import DawnError

    known = {"flicker": builtin.Flicker, "multibox": builtin.MultiBox, "appear": builtin.Appear}
    names = [n.strip() for n in args.assertions.split(",") if n.strip()]
    if not names:
        raise DawnError("--assertions names no assertion", f"e.g. --assertions {','.join(known)}")
    bad = [n for n in names if n not in known]
    if bad:
        raise DawnError(f"unknown assertion(s) {bad}", f"choose from {', '.join(known)}")
    floor = args.flicker_min_score
    if floor is not None and not math.isfinite(floor):
        raise DawnError(f"--flicker-min-score {floor} is not a number", "pass a detector score, e.g. 0.5")
    df = _read_table(args.file)
    out: dict[str, dict[str, Any]] = {}
    for n in names:
        a = builtin.Flicker(min_score=floor) if n == "flicker" else known[n]()
        r = a.check(df)
        out[n] = {
            "frames_checked": int(len(r.ids)),
            "frames_flagged": int(r.fired.sum()),
            "flagged": [[int(i), float(s)] for i, s in zip(r.ids[r.fired], r.severity[r.fired], strict=True)],
        }
    if args.format == "json":
        print(json.dumps(out, indent=2))
    else:
        for n, v in out.items():
            shown = ", ".join(str(i) for i, _ in v["flagged"][:20])
            more = " ..." if len(v["flagged"]) > 20 else ""
            which = f": {shown}{more}" if shown else ""
            print(f"{n}: {v['frames_flagged']} of {v['frames_checked']} frames flagged{which}")
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    from dawn.assertions.experiments import video
    from dawn.assertions.experiments.video_task import load_proposals

    for cfg in (video.FAST, video.REFERENCE, video.SECOND):
        df = video.detections(cfg)
        print(f"{cfg}: {len(df)} detections cached")
    props, _ = load_proposals()  # crops of the temporal active-learning task (about 30 s)
    print(f"{len(props)} proposals with features cached")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from dawn.assertions.bench import run_bench

    res = run_bench(out_dir=args.out, quick=args.quick, seed=args.seed, peer=not args.no_peer)
    if args.format == "json":
        from dawn.core.io import to_jsonable

        print(json.dumps(to_jsonable(res["summary"]), indent=2, default=str, allow_nan=False))
    else:
        for k, v in res["summary"].items():
            print(f"{k}: {v}")
        print(f"wrote {res['path']}")
    return 0
