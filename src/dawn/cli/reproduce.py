"""``dawn reproduce``: run each system's headline experiment and write one HTML + JSON report."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from dawn.cli import seed_value

    p = sub.add_parser("reproduce", help="run every system's headline experiment, write report/")
    p.add_argument("--quick", action="store_true", help="small settings: the whole run in a few minutes")
    p.add_argument("--only", default=None, help="comma-separated systems to run (default: all)")
    p.add_argument("--seed", type=seed_value, default=0, help="random seed (default: 0)")
    p.add_argument("--out", default="report", help="output directory (default: report)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_reproduce)


def cmd_reproduce(args: argparse.Namespace) -> int:
    import json

    from dawn.reproduce import reproduce

    systems = [s.strip() for s in args.only.split(",")] if args.only else None
    report, html_path = reproduce(args.out, quick=args.quick, seed=args.seed, systems=systems)
    if args.format == "json":
        print(json.dumps({s.title: s.status for s in report.sections}, indent=2))
    else:
        for s in report.sections:
            heads = "; ".join(
                f"{h.name} {h.ours:.3g}" if isinstance(h.ours, float) else f"{h.name} {h.ours}"
                for h in s.headlines[:3]
            )
            print(f"  {s.title:<52} {s.status}{'  ' + heads if heads else ''}")
        print(f"report: {html_path} (and {html_path.parent / 'report.json'})")
    return 1 if any(s.status.startswith("failed") for s in report.sections) else 0
