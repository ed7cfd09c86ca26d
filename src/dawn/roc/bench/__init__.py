"""``dawn roc bench``: speed, accuracy, partition balance and memory-plan figures, written to ``roc.json``.

One module per concept: :mod:`~dawn.roc.bench.speed` (epoch time and peak memory against PyG),
:mod:`~dawn.roc.bench.accuracy`, :mod:`~dawn.roc.bench.partition` (balance, boundary rows, cost-model
R^2), :mod:`~dawn.roc.bench.memory` (transfer bytes of each plan) and :mod:`~dawn.roc.bench.report`
(headline keys and table). This module runs them and writes the result.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from dawn.core.logging import get_logger
from dawn.roc.bench.accuracy import accuracy
from dawn.roc.bench.memory import execute_check, memory
from dawn.roc.bench.partition import partitioning
from dawn.roc.bench.report import markdown_table, summarize
from dawn.roc.bench.speed import peak_memory_cpu, speed

__all__ = [
    "run_bench",
    "speed",
    "peak_memory_cpu",
    "accuracy",
    "partitioning",
    "memory",
    "execute_check",
    "summarize",
    "markdown_table",
    "PARTS",
]

log = get_logger(__name__)


PARTS = ("speed", "peak", "accuracy", "partition", "memory")


def run_bench(
    out: str | Path,
    *,
    quick: bool = False,
    seed: int = 0,
    threads: int = 1,
    device: str = "cpu",
    parts: tuple[str, ...] = PARTS,
) -> dict[str, Any]:
    """Run the experiments (fewer datasets and seeds with ``quick``) and write ``out/roc.json``.

    With a subset of ``parts`` and an existing ``out/roc.json``, only those parts are rerun and replaced
    in it (``parts_run`` records which run produced which part).
    """
    from dawn import data as dd
    from dawn.core.env import collect_environment
    from dawn.core.io import atomic_write_json, ensure_writable_dir, to_jsonable

    out_dir = ensure_writable_dir(out)
    torch.set_num_threads(threads)
    t_start = time.perf_counter()
    import json
    from datetime import UTC, datetime

    bad = [p for p in parts if p not in PARTS]
    if bad:
        from dawn.core.errors import DawnError

        raise DawnError(f"unknown bench part(s) {', '.join(bad)}", f"choose from {', '.join(PARTS)}")
    res: dict[str, Any] = {"quick": quick, "seed": seed, "threads": threads, "device": device}
    previous = Path(out_dir) / "roc.json"
    if set(parts) != set(PARTS) and previous.exists():
        res = json.loads(previous.read_text())
    stamp = {
        "parts": list(parts),
        "quick": quick,
        "seed": seed,
        "threads": threads,
        "device": device,
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    res.setdefault("parts_run", []).append(stamp)
    speed_sets = ("pubmed",) if quick else ("pubmed", "debian-graph")
    acc_sets = ("cora",) if quick else ("cora", "citeseer", "pubmed")
    # GCN vs PyG: 10 seeds where an epoch is cheap (per-seed spread is about 1 point); PubMed's 2
    acc_seeds = {"cora": 10, "citeseer": 10, "pubmed": 2}
    if "speed" in parts:
        res["speed"] = {}
        for name in speed_sets:
            log.info("speed on %s", name)
            res["speed"][name] = speed(dd.load(name), repeats=3 if quick else 7, device=device, seed=seed)
    if "peak" in parts:
        res["peak"] = {}
        if device == "cpu" and not quick:
            for name in speed_sets:
                log.info("peak memory on %s", name)
                d = dd.load(name)
                res["peak"][name] = {
                    v: peak_memory_cpu(d, v) for v in ("roc", "pyg_sparse", "pyg_edge_index")
                }
    if "accuracy" in parts:
        res["accuracy"] = {}
        for name in acc_sets:
            log.info("accuracy on %s", name)
            res["accuracy"][name] = accuracy(
                dd.load(name),
                seeds=1 if quick else acc_seeds.get(name, 2),
                epochs=100 if quick else 200,
                deep_seeds=1 if quick else 2,
            )
    if "partition" in parts:
        part_set = "pubmed" if quick else "debian-graph"
        log.info("partitioning %s", part_set)
        ks = partitioning(
            dd.load(part_set), (2, 4), repeats=3 if quick else 7, heldout=8 if quick else 16, seed=seed
        )
        res["partition"] = {"dataset": part_set, "ks": ks}
    if "memory" in parts:
        mem_set = "pubmed"
        log.info("memory plans on %s", mem_set)
        res["memory"] = {"dataset": mem_set, **memory(dd.load(mem_set), seed=seed)}
        if device.startswith("cuda"):
            from dawn.roc import memory as M
            from dawn.roc.sparse import from_data

            d = dd.load("pubmed")
            g = from_data(d, "gcn")
            dims = [d.num_features, 16, int(d.y.max()) + 1]
            seq = M.gcn_sequence(d.num_nodes, M.tile_nnz(g.indptr, d.num_nodes, 8), dims, tiles=8)
            cap = seq.working_set // 2
            plan = M.plan_for(seq, cap, "belady")
            res["memory"]["executed_cuda"] = execute_check(d, g, seq, cap, plan, dims, 8, device)
    missing = [p for p in PARTS if p not in res]
    if missing:
        atomic_write_json(Path(out_dir) / "roc.json", to_jsonable(res))
        return res
    res["summary"] = summarize(res)
    res["seconds"] = time.perf_counter() - t_start
    res["environment"] = collect_environment()
    atomic_write_json(Path(out_dir) / "roc.json", to_jsonable(res))
    from dawn.core.io import atomic_write_text

    atomic_write_text(Path(out_dir) / "roc.md", markdown_table(res))
    return res
