"""``dawn env``: versions and hardware, for bug reports and result provenance."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("env", help="print versions and hardware")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_env)


def cmd_env(args: argparse.Namespace) -> int:
    from dawn.core.env import collect_environment, format_environment

    env = collect_environment()
    print(json.dumps(env, indent=2) if args.format == "json" else format_environment(env))
    return 0
