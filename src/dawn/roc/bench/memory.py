"""Memory-manager figures: transfer bytes per policy under a capacity, the DP against exhaustive search,
and a plan executed with real copies checked against autograd."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

__all__ = ["memory", "execute_check"]


def memory(
    data: Any, *, tiles: int = 8, dims: list[int] | None = None, frac: float = 0.5, seed: int = 0
) -> dict[str, Any]:
    """Transfer bytes of each policy at ``frac`` of the working set; DP vs brute force on small chains."""
    from dawn.roc import memory as M
    from dawn.roc.sparse import from_data

    g = from_data(data, "gcn")
    n = data.num_nodes
    C_out = int(data.y.max()) + 1
    dims = dims or [data.num_features, 16, C_out]
    seq = M.gcn_sequence(n, M.tile_nnz(g.indptr, n, tiles), dims, tiles=tiles)
    cap = int(frac * seq.working_set)
    res: dict[str, Any] = {
        "working_set_bytes": seq.working_set,
        "capacity_bytes": cap,
        "tiles": tiles,
        "dims": dims,
    }
    for pol in ("naive", "lru", "belady"):
        plan = M.plan_for(seq, cap, pol)
        sim = M.simulate(seq, plan, cap if pol != "naive" else seq.working_set)
        res[pol] = {
            "h2d": sim.h2d,
            "d2h": sim.d2h,
            "total": sim.total,
            "peak": sim.peak,
            "within_capacity": sim.peak <= cap,
        }
    res["transfer_bytes_ratio_vs_naive"] = res["belady"]["total"] / res["naive"]["total"]
    res["transfer_bytes_ratio_vs_lru"] = res["belady"]["total"] / res["lru"]["total"]
    # capacity sweep for the plot
    sweep = []
    for f in (0.3, 0.4, 0.5, 0.6, 0.8, 1.0):
        c = int(f * seq.working_set)
        if c < seq.min_capacity:
            continue
        sweep.append(
            {
                "capacity_frac": f,
                **{p: M.simulate(seq, M.plan_for(seq, c, p), c).total for p in ("lru", "belady")},
            }
        )
    res["sweep"] = sweep
    res["naive_total"] = res["naive"]["total"]
    # exactness: the DP against exhaustive search on small chains at several capacities
    checks = []
    rng = np.random.default_rng(seed)
    for _ in range(6):
        nn_ = int(rng.integers(20, 200))
        dd = [int(rng.integers(2, 32)), int(rng.integers(2, 16)), int(rng.integers(2, 8))]
        s = M.gcn_sequence(nn_, int(rng.integers(nn_, 6 * nn_)), dd, tiles=1)
        for f in (0.5, 0.75):
            c = max(int(f * s.working_set), s.min_capacity)
            plan = M.dp_plan(s, c)
            sim = M.simulate(s, plan, c)
            opt = M.brute_force_cost(s, c)
            bel = M.simulate(s, M.belady_plan(s, c), c).total
            checks.append(
                {
                    "n": nn_,
                    "dims": dd,
                    "capacity_frac": f,
                    "dp": sim.total,
                    "optimum": opt,
                    "belady": bel,
                    "within_capacity": sim.peak <= c,
                }
            )
    res["dp_checks"] = checks
    res["dp_matches_optimum"] = all(c["dp"] == c["optimum"] and c["within_capacity"] for c in checks)
    res["never_over_capacity"] = (
        all(res[p]["within_capacity"] for p in ("lru", "belady")) and res["dp_matches_optimum"]
    )
    # execute the Belady plan for real (simulated device on CPU) and check the gradients against autograd
    res["executed"] = execute_check(data, g, seq, cap, M.plan_for(seq, cap, "belady"), dims, tiles, "cpu")
    return res


def execute_check(
    data: Any, g: Any, seq: Any, cap: int, plan: Any, dims: list[int], tiles: int, device: str
) -> dict[str, Any]:
    from torch.nn import functional as F

    from dawn.roc import memory as M
    from dawn.roc.sparse import spmm

    gen = torch.Generator().manual_seed(0)
    W = [torch.randn(a, b, generator=gen) * 0.1 for a, b in zip(dims[:-1], dims[1:], strict=True)]
    tens = M.GCNTensors(g, data.x, data.y, data.train_mask, W, tiles)
    cuda = torch.device(device).type == "cuda"
    if cuda:
        # the allocator's own high-water mark beside the plan's count: the plan counts resident tensors,
        # the allocator also sees each operator's temporaries and blocks held back by record_stream
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    t0 = time.perf_counter()
    grads, stats = M.execute(seq, plan, tens, cap, device)
    secs = time.perf_counter() - t0
    allocator_peak = int(torch.cuda.max_memory_allocated(device) - base) if cuda else None
    Wr = [w.clone().requires_grad_() for w in W]
    h = data.x
    for l, w in enumerate(Wr):
        h = spmm(g, h @ w)
        if l < len(Wr) - 1:
            h = torch.relu(h)
    F.cross_entropy(h[data.train_mask], data.y[data.train_mask]).backward()
    err = max(
        float((grads[f"GW{l}"].cpu() - w.grad).abs().max()) for l, w in enumerate(Wr) if w.grad is not None
    )
    sim = M.simulate(seq, plan, cap)
    return {
        "device": device,
        "max_grad_err": err,
        "bytes": stats["h2d"] + stats["d2h"],
        "bytes_simulated": sim.total,
        "peak": stats["peak"],
        "capacity": cap,
        "seconds": secs,
        "working_set": seq.working_set,
        "allocator_peak": allocator_peak,
    }
