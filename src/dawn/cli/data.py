"""``dawn data``: list, fetch and describe the registered real datasets."""

from __future__ import annotations

import argparse
import json

from dawn.core.io import to_jsonable


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="list, fetch and describe real datasets")
    verbs = p.add_subparsers(dest="verb", metavar="<verb>", required=True)
    ls = verbs.add_parser("list", help="registered datasets, their sources and whether they are cached")
    ls.add_argument("--format", choices=("text", "json"), default="text")
    ls.set_defaults(func=cmd_list)
    fe = verbs.add_parser("fetch", help="download and verify datasets (once; cached)")
    fe.add_argument("names", nargs="+", metavar="NAME")
    fe.set_defaults(func=cmd_fetch)
    inf = verbs.add_parser("info", help="facts computed from a dataset's real files")
    inf.add_argument("name", metavar="NAME")
    inf.add_argument("--format", choices=("text", "json"), default="text")
    inf.set_defaults(func=cmd_info)


def cmd_list(args: argparse.Namespace) -> int:
    from dawn import data

    rows = [
        {
            "name": n,
            "cached": data.get(n).is_cached(),
            "returns": data.get(n).returns,
            "summary": data.get(n).summary,
        }
        for n in data.names()
    ]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    print(f"data directory: {data.data_dir()}")
    for r in rows:
        mark = "cached" if r["cached"] else "      "
        print(f"  {r['name']:<18} {mark}  {r['summary']}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from dawn import data
    from dawn.core.progress import track

    datasets = [data.get(n) for n in args.names]  # every name checked before any download
    for ds in track(datasets, description="fetching"):
        ds.check_requirements()
        paths = ds.fetch()
        print(
            f"{ds.name}: "
            + (", ".join(str(p) for p in paths) or "nothing to download (installed or bundled)")
        )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from dawn import data

    facts = data.info(args.name)
    if args.format == "json":
        print(json.dumps(to_jsonable(facts), indent=2))
        return 0
    for k, v in facts.items():
        if k == "artifacts":
            for a in v:
                print(f"{'artifact':<24} {a['file']} (sha256 {a['sha256'][:16]}…)")
        else:
            print(f"{k:<24} {v}")
    return 0
