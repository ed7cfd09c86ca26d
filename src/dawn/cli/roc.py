"""``dawn roc``: train GNNs full-graph (one process or one per partition), partition graphs, benchmark."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys


def register(sub: argparse._SubParsersAction) -> None:
    from dawn.cli import add_common_options

    p = sub.add_parser("roc", help="Roc: distributed full-graph GNN training (Jia et al., MLSys 2020)")
    verbs = p.add_subparsers(dest="verb", required=True)

    t = verbs.add_parser(
        "train", help="train a GNN full-graph; --partitions K runs K processes under torchrun"
    )
    t.add_argument("--dataset", default="cora", help="cora, citeseer, pubmed or debian-graph (default: cora)")
    t.add_argument("--model", choices=("gcn", "sage", "gin", "resgcn"), default="gcn")
    t.add_argument("--layers", type=int, default=None, help="layers (default 2; 4 blocks for resgcn)")
    t.add_argument("--hidden", type=int, default=16)
    t.add_argument("--epochs", type=int, default=200)
    t.add_argument("--lr", type=float, default=0.01)
    t.add_argument("--dropout", type=float, default=0.5)
    t.add_argument(
        "--partitions", type=int, default=None, help="partitions = processes (default: WORLD_SIZE or 1)"
    )
    t.add_argument("--partitioner", choices=("learned", "metis", "nodes", "edges"), default="learned")
    t.add_argument("--threads", type=int, default=1, help="torch threads per process (default: 1)")
    t.add_argument(
        "--checkpoint", default=None, help="checkpoint file: resumed if present, written periodically"
    )
    t.add_argument("--checkpoint-every", type=int, default=10)
    t.add_argument("--json", action="store_true", help="print the result as JSON (same as --format json)")
    add_common_options(t, out=None)
    t.set_defaults(func=cmd_train)

    b = verbs.add_parser("bench", help="speed, accuracy, balance and memory-plan figures -> DIR/roc.json")
    b.add_argument("--quick", action="store_true", help="small version (about a minute)")
    b.add_argument("--threads", type=int, default=1, help="torch threads for every side-by-side timing")
    b.add_argument("--device", default="cpu", help="cpu or cuda (the memory manager then drives real copies)")
    b.add_argument(
        "--parts",
        default="speed,peak,accuracy,partition,memory",
        help="comma-separated subset to (re)run; a subset updates an existing DIR/roc.json in place",
    )
    add_common_options(b, out="results/roc")
    b.set_defaults(func=cmd_bench)

    q = verbs.add_parser("partition", help="partition a graph and report balance inputs and boundary rows")
    q.add_argument("--dataset", default="cora")
    q.add_argument("--partitions", type=int, default=2)
    q.add_argument("--partitioner", choices=("learned", "metis", "nodes", "edges"), default="learned")
    add_common_options(q, out=None)
    q.set_defaults(func=cmd_partition)


def _under_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def cmd_train(args: argparse.Namespace) -> int:
    from dawn.core.errors import DawnError

    k = args.partitions
    if k is not None and k < 1:
        raise DawnError(f"--partitions {k}", "use at least 1")
    if k and k > 1 and not _under_torchrun():
        return _relaunch(args, k)
    if _under_torchrun() and k is not None and int(os.environ["WORLD_SIZE"]) != k:
        raise DawnError(
            f"--partitions {k} but torchrun started {os.environ['WORLD_SIZE']} processes",
            "make --nproc-per-node times --nnodes equal --partitions",
        )
    from dawn.roc.runner import TrainConfig, run_train

    cfg = TrainConfig(
        dataset=args.dataset,
        model=args.model,
        layers=args.layers,
        hidden=args.hidden,
        epochs=args.epochs,
        lr=args.lr,
        dropout=args.dropout,
        partitioner=args.partitioner,
        seed=args.seed,
        threads=args.threads,
        checkpoint=args.checkpoint,
        checkpoint_every=args.checkpoint_every,
    )
    try:
        res = run_train(cfg)
        _barrier()
    finally:
        _shutdown_process_group()
    if res["rank"] == 0:
        res.pop("losses", None)
        if args.json or args.format == "json":
            print(json.dumps(res, default=str))
        else:
            print(
                f"{cfg.model} on {cfg.dataset}, {res['world_size']} process(es): test acc "
                f"{res['test_acc']:.4f} (val {res['val_acc']:.4f}, best epoch {res['best_epoch']}), "
                f"final loss {res['final_loss']:.4f}"
            )
    if _under_torchrun() and res["world_size"] > 1:
        # the work is done, written and printed; skip the interpreter's teardown, where a worker of a
        # restarted group sometimes aborted in a C++ destructor of torch.distributed's store or gloo
        # threads ("terminate called without an active exception", SIGABRT), failing the whole job
        import logging

        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(0)
    return 0


def _barrier() -> None:
    """Wait until every rank has finished training (rank 0 writes the last checkpoint after the others),
    so that no rank tears its gloo group down while a peer still uses it."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def _shutdown_process_group() -> None:
    """Leave the process group cleanly; a gloo group torn down at interpreter exit can abort the process."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _relaunch(args: argparse.Namespace, k: int) -> int:
    """Not under torchrun but asked for k partitions: start k local processes with torchrun."""
    import socket

    local = os.path.join(os.path.dirname(sys.executable), "torchrun")  # the one beside this Python first
    torchrun = local if os.path.exists(local) else (shutil.which("torchrun") or "torchrun")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = [
        "roc",
        "train",
        "--dataset",
        args.dataset,
        "--model",
        args.model,
        "--hidden",
        str(args.hidden),
        "--epochs",
        str(args.epochs),
        "--lr",
        str(args.lr),
        "--dropout",
        str(args.dropout),
        "--partitions",
        str(k),
        "--partitioner",
        args.partitioner,
        "--threads",
        str(args.threads),
        "--checkpoint-every",
        str(args.checkpoint_every),
        "--seed",
        str(args.seed),
        "--format",
        args.format,
    ]
    argv += ["--layers", str(args.layers)] if args.layers is not None else []
    argv += ["--checkpoint", args.checkpoint] if args.checkpoint else []
    argv += ["--json"] if args.json else []
    cmd = [
        torchrun,
        "--nproc-per-node",
        str(k),
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(port),
        "-m",
        "dawn",
        *argv,
    ]
    return subprocess.call(cmd)


def cmd_bench(args: argparse.Namespace) -> int:
    from dawn.core.errors import DawnError
    from dawn.roc.bench import run_bench

    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise DawnError(
                "--device cuda but no CUDA device is visible", "run on a GPU machine or use --device cpu"
            )
    parts = tuple(p.strip() for p in args.parts.split(",") if p.strip())
    res = run_bench(
        args.out, quick=args.quick, seed=args.seed, threads=args.threads, device=args.device, parts=parts
    )
    if "summary" not in res:
        print(f"wrote parts {', '.join(parts)} to {os.path.join(args.out, 'roc.json')} (other parts missing)")
        return 0
    if args.format == "json":
        print(json.dumps(res["summary"], default=str))
    else:
        for k, v in res["summary"].items():
            print(f"{k:45s} {v:.4g}" if isinstance(v, float) else f"{k:45s} {v}")
        print(f"wrote {os.path.join(args.out, 'roc.json')}")
    return 0


def cmd_partition(args: argparse.Namespace) -> int:
    import numpy as np

    from dawn import data as dd
    from dawn.roc.partition import boundary_rows, permute_csr
    from dawn.roc.runner import csr_of, make_partition

    d = dd.load(args.dataset)
    part = make_partition(d, args.partitions, args.partitioner, seed=args.seed)
    indptr, indices = csr_of(d)
    if part.perm is not None:
        indptr, indices = permute_csr(indptr, indices, part.perm)
    b = boundary_rows(indptr, indices, part.bounds)
    sizes = np.diff(part.bounds).tolist()
    edges = [int(indptr[hi] - indptr[lo]) for lo, hi in part.ranges()]
    res = {
        "partitioner": args.partitioner,
        "bounds": part.bounds.tolist(),
        "vertices": sizes,
        "edges": edges,
        "boundary_rows": b,
    }
    if args.format == "json":
        print(json.dumps(res))
    else:
        for i, (v, e, h) in enumerate(zip(sizes, edges, b, strict=True)):
            print(f"partition {i}: {v} vertices, {e} in-edges, {h} boundary rows")
    return 0
