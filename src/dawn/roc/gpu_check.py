"""The GPU check: ``python -m dawn.roc.gpu_check [--out DIR]`` (a few minutes on one GPU).

Runs on CUDA what the CPU bench cannot: (1) a PubMed full-graph 2-layer GCN epoch, ours against PyG
with ``edge_index`` and with a sparse adjacency, side by side, with peak device memory of each; (2) the
memory manager driving real host<->device copies on a side stream under a capacity of half the working
set, with the byte count checked against the exact simulation and the gradients against autograd on
the GPU, and the allocator's own peak beside the plan's. Writes ``DIR/roc_gpu.json`` and prints the
verdicts; exit status 1 when one is false. Run on an H100 on 2026-11-26 (BENCHMARKS.md, "GPU check").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    import torch

    from dawn import data as dd
    from dawn.core.io import atomic_write_json, ensure_writable_dir, to_jsonable
    from dawn.roc import memory as M
    from dawn.roc.bench import execute_check, speed
    from dawn.roc.sparse import from_data

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="results/roc-gpu")
    ap.add_argument("--dataset", default="pubmed")
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device visible; run this on a GPU machine", file=sys.stderr)
        return 2
    d = dd.load(args.dataset)
    import torch_geometric

    res: dict = {
        "device": torch.cuda.get_device_name(0),
        "dataset": args.dataset,
        "torch": torch.__version__,
        "torch_geometric": torch_geometric.__version__,
    }
    res["speed"] = speed(d, repeats=args.repeats, device="cuda")
    g = from_data(d, "gcn")
    dims = [d.num_features, 16, int(d.y.max()) + 1]
    tiles = 8
    seq = M.gcn_sequence(d.num_nodes, M.tile_nnz(g.indptr, d.num_nodes, tiles), dims, tiles=tiles)
    cap = seq.working_set // 2
    res["memory"] = {
        p: execute_check(d, g, seq, cap, M.plan_for(seq, cap, p), dims, tiles, "cuda")
        for p in ("belady", "lru")
    }
    res["memory"]["naive_bytes"] = M.simulate(seq, M.naive_plan(seq), seq.working_set).total
    sp = res["speed"]
    peaks = sp.get("peak_bytes", {})
    verdicts = {
        "epoch_not_slower_than_pyg_sparse": sp["epoch_s_ratio_vs_pyg_csr"] >= 1.0,
        "peak_memory_not_above_pyg_sparse": peaks.get("roc", 0) <= peaks.get("pyg_sparse", 0),
        "copies_match_simulation": all(
            r["bytes"] == r["bytes_simulated"] for k, r in res["memory"].items() if k != "naive_bytes"
        ),
        "never_over_capacity": all(
            r["peak"] <= r["capacity"] for k, r in res["memory"].items() if k != "naive_bytes"
        ),
        "gradients_match_autograd": all(
            r["max_grad_err"] < 1e-4 for k, r in res["memory"].items() if k != "naive_bytes"
        ),
    }
    res["verdicts"] = verdicts
    out = ensure_writable_dir(args.out)
    atomic_write_json(Path(out) / "roc_gpu.json", to_jsonable(res))
    print(
        json.dumps(
            {
                "speedup_vs_pyg_sparse": sp["epoch_s_ratio_vs_pyg_csr"],
                "speedup_vs_pyg_edge_index": sp["epoch_s_ratio_vs_pyg_edge_index"],
                "speedup_vs_pyg_sparse_dense_inputs": sp["epoch_s_ratio_vs_pyg_csr_dense_inputs"],
                "peaks": peaks,
                "memory": {
                    k: {f: r[f] for f in ("bytes", "peak", "capacity", "allocator_peak", "working_set")}
                    for k, r in res["memory"].items()
                    if k != "naive_bytes"
                },
                "naive_bytes": res["memory"]["naive_bytes"],
                **verdicts,
            },
            indent=1,
        )
    )
    return 0 if all(verdicts.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
