"""``dawn stability``: embedding instability measures, compression, selection and the paper's analysis."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dawn.cli import add_common_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stability", help="downstream instability of word embeddings (Leszczynski et al., 2020)"
    )
    verbs = p.add_subparsers(dest="verb", metavar="<verb>", required=True)

    c = verbs.add_parser("compare", help="instability measures between two embeddings")
    c.add_argument("a", metavar="A", help="embedding from corpus 1 (.txt/.bin/.npy/.npz/.kv)")
    c.add_argument("b", metavar="B", help="embedding from corpus 2")
    c.add_argument("--anchors", nargs=2, metavar=("EA", "EB"), help="anchor embeddings for EIS")
    c.add_argument("--measure", action="append", help="measure name (repeatable; default: the paper's five)")
    c.add_argument("--top-n", type=int, default=10000, help="compare over the n most frequent shared words")
    c.add_argument("--alpha", type=float, default=3.0, help="EIS exponent (default 3)")
    c.add_argument("--k", type=int, default=5, help="neighbours for the k-NN measure")
    c.add_argument("--queries", type=int, default=1000, help="query words for the k-NN measure")
    c.add_argument("--vocab", nargs=2, metavar=("VA", "VB"), help="vocab files for .npy inputs")
    c.add_argument("--backend", choices=("numpy", "torch"), default="numpy")
    add_common_options(c)
    c.set_defaults(func=cmd_compare)

    z = verbs.add_parser("compress", help="quantise an embedding (or a snapshot pair) to b bits")
    z.add_argument("a", metavar="A")
    z.add_argument(
        "b", metavar="B", nargs="?", help="second snapshot: aligned to A and quantised with A's clip"
    )
    z.add_argument("--bits", type=int, required=True, choices=(1, 2, 4, 8, 16, 32))
    add_common_options(z, out="stability-compressed")
    z.set_defaults(func=cmd_compress)

    s = verbs.add_parser(
        "sweep", help="measure every (dimension, precision) candidate against shared anchors"
    )
    s.add_argument(
        "--pair",
        nargs=2,
        action="append",
        required=True,
        metavar=("A", "B"),
        help="one full-precision snapshot pair per dimension (repeatable)",
    )
    s.add_argument("--anchors", nargs=2, metavar=("EA", "EB"))
    s.add_argument("--bits", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    s.add_argument("--measure", action="append")
    s.add_argument("--top-n", type=int, default=10000)
    add_common_options(s, out="stability-sweep")
    s.set_defaults(func=cmd_sweep)

    e = verbs.add_parser("select", help="pick the most stable candidate within a memory budget")
    e.add_argument("results", metavar="RESULTS.csv", help="output of `dawn stability sweep` (or study)")
    e.add_argument("--budget", type=float, required=True, help="bits per word")
    e.add_argument("--measure", default="eis")
    add_common_options(e)
    e.set_defaults(func=cmd_select)

    a = verbs.add_parser(
        "analyze", help="correlations, selection errors and memory slope from per-pair results"
    )
    a.add_argument(
        "files", nargs="+", metavar="FILE.csv", help="the paper's CSVs or `dawn stability study` output"
    )
    add_common_options(a)
    a.set_defaults(func=cmd_analyze)

    t = verbs.add_parser("study", help="rerun the paper's study offline on two kernel-doc snapshots")
    t.add_argument("--quick", action="store_true", help="small grid, one seed (CI; a few minutes)")
    t.add_argument("--tiny", action="store_true", help="seconds-scale grid on an eighth of the documents")
    add_common_options(t, out="stability-study")
    t.set_defaults(func=cmd_study)

    b = verbs.add_parser("bench", help="EIS and all measures at 100k x 300 vs the original's SVD way")
    b.add_argument("--quick", action="store_true", help="20k words instead of 100k")
    b.add_argument("--words", type=int, help="override the number of words")
    b.add_argument(
        "--threads",
        type=int,
        default=None,
        help="cap BLAS threads for both sides (1 is steadier on a busy machine)",
    )
    b.add_argument("--repeats", type=int, default=3, help="timed repeats of our measures")
    add_common_options(b, out="stability-bench")
    b.set_defaults(func=cmd_bench)


def _print(obj: Any, fmt: str, text: str) -> None:
    from dawn.core.io import to_jsonable

    print(json.dumps(to_jsonable(obj), indent=2) if fmt == "json" else text)


def _load(path: str, vocab: str | None = None) -> Any:
    from dawn.stability import load_embedding

    emb = load_embedding(path, vocab=vocab)
    emb.check_finite(Path(path).name)
    return emb


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare two embeddings over their shared top-n words."""
    from dawn.stability import Anchors, align_pair, compute_measures
    from dawn.stability.sweep import common_words

    va, vb = args.vocab or (None, None)
    A, B = _load(args.a, va), _load(args.b, vb)
    anchors = None
    if args.anchors:
        EA, EB = _load(args.anchors[0]), _load(args.anchors[1])
        words = common_words([A, B, EA, EB], top_n=args.top_n)
        anchors = Anchors(EA.rows(words), EB.rows(words), alpha=args.alpha, backend=args.backend)
    else:
        words = common_words([A, B], top_n=args.top_n)
    X, Y, _ = align_pair(A, B, words)
    params = {"knn": {"k": args.k, "n_queries": args.queries, "seed": args.seed}}
    res = compute_measures(X, Y, args.measure, anchors=anchors, params=params, backend=args.backend)
    out = {"n_words": len(words), "dims": [A.dim, B.dim], "measures": res}
    _print(
        out,
        args.format,
        "\n".join(
            [f"{len(words)} shared words, dims {A.dim} / {B.dim}"]
            + [f"  {k:<10} {v:.6g}" for k, v in res.items()]
        ),
    )
    return 0


def cmd_compress(args: argparse.Namespace) -> int:
    """Quantise A (and B, aligned to A and sharing A's clip) and write .npy + .vocab files."""
    from dawn.core.io import ensure_writable_dir
    from dawn.stability import Embedding, compress_pair, find_clip, quantize, save_embedding
    from dawn.stability.sweep import common_words

    out = ensure_writable_dir(args.out)
    A = _load(args.a)
    written = []
    if args.b:
        B = _load(args.b)
        words = common_words([A, B], top_n=None)
        Xq, Yq, clip = compress_pair(A.rows(words), B.rows(words), args.bits)
        for src, mat in ((args.a, Xq), (args.b, Yq)):
            written.append(
                save_embedding(Embedding(words, mat), out / f"{Path(src).stem}.{args.bits}bit.npy")
            )
    else:
        clip = find_clip(A.vectors, args.bits)
        q = quantize(A.vectors, args.bits, clip)
        written.append(save_embedding(Embedding(A.words, q), out / f"{Path(args.a).stem}.{args.bits}bit.npy"))
    _print(
        {"clip": clip, "bits": args.bits, "files": [str(p) for p in written]},
        args.format,
        f"clip {clip:.6g}, {args.bits} bits -> " + ", ".join(str(p) for p in written),
    )
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """Measure each pair at each precision; write sweep.csv."""
    from dawn.core.io import atomic_write_text, ensure_writable_dir
    from dawn.stability.sweep import sweep

    out = ensure_writable_dir(args.out)
    pairs = [(_load(a), _load(b)) for a, b in args.pair]
    anchors = (_load(args.anchors[0]), _load(args.anchors[1])) if args.anchors else None
    params = {"knn": {"seed": args.seed}}
    df = sweep(pairs, anchors=anchors, bits=args.bits, measures=args.measure, top_n=args.top_n, params=params)
    path = atomic_write_text(out / "sweep.csv", df.to_csv(index=False))
    _print(
        {"file": str(path), "rows": df.to_dict("records")},
        args.format,
        f"{df.to_string(index=False)}\n-> {path}",
    )
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    """Pick the candidate with the smallest measure within the budget."""
    import pandas as pd

    from dawn.core.errors import DawnError
    from dawn.stability import select

    try:
        df = pd.read_csv(args.results)
    except FileNotFoundError:
        raise DawnError(
            f"results file {args.results!r} does not exist", "run `dawn stability sweep` first"
        ) from None
    if "bitrate" in df.columns and "bits" not in df.columns:
        df = df.rename(columns={"bitrate": "bits"})
    choice = select(df, args.budget, args.measure)
    _print(
        choice,
        args.format,
        f"choose dim {choice['dim']} at {choice['bits']} bits "
        f"({choice['memory']:g} bits/word, {args.measure} = {choice[args.measure]:.4g})",
    )
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    """Reproduce the paper's correlation, selection and trend tables from per-pair CSVs."""
    from dawn.stability.analysis import analysis_text, analyze_files

    result = analyze_files(args.files)
    _print(result, args.format, analysis_text(result))
    return 0


def cmd_study(args: argparse.Namespace) -> int:
    """Train, compress, measure and evaluate the grid; write study.csv and study.json."""
    from dawn.core.io import atomic_write_json, atomic_write_text, ensure_writable_dir, to_jsonable
    from dawn.stability.analysis import analysis_text
    from dawn.stability.study import FULL, QUICK, TINY, run_study, summarize

    out = ensure_writable_dir(args.out)
    config = TINY if args.tiny else QUICK if args.quick else FULL
    df, info = run_study(config)
    summary = summarize(df)
    atomic_write_text(out / "study.csv", df.to_csv(index=False))
    atomic_write_json(out / "study.json", to_jsonable({"info": info, "summary": summary}))
    text = analysis_text({"tables": {"study": summary}}) + f"\nwrote {out / 'study.csv'} and study.json"
    text += "\nDI-vs-log2(memory) slope per task: " + ", ".join(
        f"{t} {v:+.2f}" for t, v in summary["slope_per_task"].items()
    )
    _print({"info": info, "summary": summary}, args.format, text)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Time EIS and all measures against the original's SVD-based EIS, side by side."""
    from dawn.core.io import atomic_write_json, ensure_writable_dir
    from dawn.stability.bench import bench_text, run_bench

    out = ensure_writable_dir(args.out)
    n = args.words or (20000 if args.quick else 100000)
    res = run_bench(n_words=n, seed=args.seed, threads=args.threads, repeats=args.repeats)
    atomic_write_json(out / "bench.json", res)
    _print(res, args.format, bench_text(res))
    sys.stdout.flush()
    return 0
