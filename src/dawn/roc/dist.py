"""Distributed full-graph training: one process per vertex range, halo rows exchanged each layer.

Roc (Jia et al., MLSys 2020) runs one task per partition; each needs, per layer, the rows of the
previous layer's activations for its in-neighbours that live on other partitions (the halo). Here every
process owns rows ``lo:hi`` of the (renumbered) graph and a CSR over local-then-halo columns; inside each
aggregation an autograd function sends exactly the rows the other ranks need with
``torch.distributed.all_to_all_single`` (uneven splits; gloo's ``all_gather`` rejects those) and, in the
backward pass, returns the halo gradients to their owners the same way. Unlike the public Roc code,
which copies the whole activation to every GPU, only boundary rows move. Weight gradients are summed with
``all_reduce``; the loss is divided by the global number of training vertices, so k processes compute
the same loss and gradients as one.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from dawn.core.errors import DawnError
from dawn.roc.partition.profile import local_graph
from dawn.roc.sparse import CSRGraph, spmm

__all__ = [
    "HaloPlan",
    "build_plan",
    "DistAggregator",
    "allreduce_sync",
    "init_from_env",
    "shard_data",
    "dist_evaluate",
]


@dataclass
class HaloPlan:
    """Who sends which rows to whom for one rank.

    ``send_idx`` lists local row indices to send, grouped by destination rank in rank order, with
    ``send_counts[s]`` rows for rank ``s``; ``recv_counts[s]`` rows arrive from rank ``s`` and become
    the halo columns in that order (halo IDs are sorted and ranges ordered by rank, so they line up).
    """

    send_idx: torch.Tensor
    send_counts: list[int]
    recv_counts: list[int]
    n_own: int

    @property
    def n_halo(self) -> int:
        return sum(self.recv_counts)


def build_plan(
    indptr: np.ndarray, indices: np.ndarray, values: np.ndarray | None, bounds: np.ndarray, rank: int
) -> tuple[CSRGraph, HaloPlan]:
    """Local CSR and halo plan of ``rank`` for ranges ``bounds`` of a global CSR (rows = targets)."""
    k = len(bounds) - 1
    lo, hi = int(bounds[rank]), int(bounds[rank + 1])
    g, halo = local_graph(indptr, indices, values, lo, hi)
    owner = np.searchsorted(bounds, halo, side="right") - 1
    recv = np.bincount(owner, minlength=k).astype(int).tolist()
    send_idx: list[np.ndarray] = []
    for s in range(k):
        if s == rank:
            send_idx.append(np.zeros(0, dtype=np.int64))
            continue
        # rows of mine that rank s reads: its halo intersected with my range (computed, not communicated)
        slo, shi = int(bounds[s]), int(bounds[s + 1])
        cols = indices[indptr[slo] : indptr[shi]]
        mine = np.unique(cols[(cols >= lo) & (cols < hi)])
        send_idx.append(mine - lo)
    counts = [len(a) for a in send_idx]
    plan = HaloPlan(torch.as_tensor(np.concatenate(send_idx)), counts, recv, hi - lo)
    return g, plan


class _HaloExchange(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, plan: HaloPlan, group: Any, stats: dict) -> torch.Tensor:
        import torch.distributed as dist

        ctx.plan, ctx.group, ctx.stats = plan, group, stats
        send = h.index_select(0, plan.send_idx).contiguous()
        recv = h.new_empty((plan.n_halo, h.shape[1]))
        dist.all_to_all_single(recv, send, plan.recv_counts, plan.send_counts, group=group)
        stats["rows_sent"] = stats.get("rows_sent", 0) + send.shape[0]
        stats["bytes_sent"] = stats.get("bytes_sent", 0) + send.numel() * send.element_size()
        return torch.cat([h, recv])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        import torch.distributed as dist

        plan = ctx.plan
        grad = grad.contiguous()
        g_own = grad[: plan.n_own].clone()
        back = grad.new_empty((int(plan.send_idx.numel()), grad.shape[1]))
        # the reverse of the forward exchange: halo gradients go home to the rows they came from
        dist.all_to_all_single(
            back, grad[plan.n_own :].contiguous(), plan.send_counts, plan.recv_counts, group=ctx.group
        )
        g_own.index_add_(0, plan.send_idx, back)
        ctx.stats["bytes_sent"] = ctx.stats.get("bytes_sent", 0) + back.numel() * back.element_size()
        return g_own, None, None, None


class DistAggregator:
    """What a model's ``aggregate(adj, h)`` calls on a partition: halo exchange, then the local CSR product.

    ``stats`` counts rows and bytes this rank sent (forward and backward).
    """

    def __init__(self, local: CSRGraph, plan: HaloPlan, group: Any = None) -> None:
        self.local, self.plan, self.group = local, plan, group
        self.stats: dict[str, int] = {}

    def aggregate(self, h: torch.Tensor) -> torch.Tensor:
        if h.shape[0] != self.plan.n_own:
            raise DawnError(
                f"partition got {h.shape[0]} rows, owns {self.plan.n_own}", "pass this rank's rows only"
            )
        return spmm(self.local, _HaloExchange.apply(h, self.plan, self.group, self.stats))


def allreduce_sync(model: torch.nn.Module, loss: torch.Tensor, group: Any = None) -> float:
    """Sum gradients and the loss over ranks (each rank's loss is already divided by the global count)."""
    import torch.distributed as dist

    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if grads:
        flat = torch.cat([g.reshape(-1) for g in grads] + [loss.reshape(1)])
        dist.all_reduce(flat, group=group)  # one message instead of one per tensor
        off = 0
        for g in grads:
            g.copy_(flat[off : off + g.numel()].view_as(g))
            off += g.numel()
        return float(flat[-1])
    t = loss.clone().reshape(1)
    dist.all_reduce(t, group=group)
    return float(t)


@torch.no_grad()
def dist_evaluate(model: torch.nn.Module, data: Any, adj: Any, group: Any = None) -> dict[str, float]:
    """Global accuracies from per-rank correct/total counts."""
    import torch.distributed as dist

    model.eval()
    from dawn.roc.train import _inputs

    pred = model(_inputs(model, data), adj).argmax(-1)
    splits = ("train", "val", "test")
    counts = torch.zeros(6, dtype=torch.float64)
    for i, s in enumerate(splits):
        m = getattr(data, f"{s}_mask")
        counts[2 * i] = float((pred[m] == data.y[m]).sum())
        counts[2 * i + 1] = float(m.sum())
    dist.all_reduce(counts, group=group)
    return {
        f"{s}_acc": float(counts[2 * i]) / max(float(counts[2 * i + 1]), 1.0) for i, s in enumerate(splits)
    }


def shard_data(
    data: Any, perm: np.ndarray | None, bounds: np.ndarray, rank: int, aggr: str
) -> tuple[Any, DistAggregator]:
    """This rank's ``Data`` (its rows of x, y and masks, in the partition order) and its aggregator."""
    from torch_geometric.data import Data

    from dawn.roc.sparse import from_data

    g = from_data(data, aggr)  # global normalisation needs global degrees
    indptr, indices, values = g.indptr.numpy(), g.indices.numpy(), g.values.numpy()
    n = data.num_nodes
    if perm is not None:
        indptr, indices, values = permute_weighted(indptr, indices, values, perm)
    else:
        perm = np.arange(n)
    local, plan = build_plan(indptr, indices, values, bounds, rank)
    rows = torch.as_tensor(perm[int(bounds[rank]) : int(bounds[rank + 1])])
    shard = Data(
        x=data.x[rows],
        y=data.y[rows],
        train_mask=data.train_mask[rows],
        val_mask=data.val_mask[rows],
        test_mask=data.test_mask[rows],
    )
    shard.n_train_global = int(data.train_mask.sum())
    return shard, DistAggregator(local, plan)


def permute_weighted(
    indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, perm: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A weighted CSR renumbered so that new vertex ``j`` is old vertex ``perm[j]`` (columns sorted)."""
    n = len(indptr) - 1
    inv = np.empty(n, dtype=np.int64)
    inv[perm] = np.arange(n)
    deg = np.diff(indptr)[perm]
    new_ptr = np.concatenate([[0], np.cumsum(deg)]).astype(np.int64)
    take = np.repeat(indptr[perm] - new_ptr[:-1], deg) + np.arange(new_ptr[-1])
    cols = inv[indices[take]]
    row = np.repeat(np.arange(n), deg)
    order = np.lexsort((cols, row))
    return new_ptr, cols[order], values[take][order]


def init_from_env(backend: str = "gloo", timeout_s: float = 60.0) -> tuple[int, int]:
    """Join the process group ``torchrun`` describes in the environment; return ``(rank, world_size)``."""
    import torch.distributed as dist

    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return 0, 1
    if not dist.is_initialized():
        timeout = datetime.timedelta(seconds=timeout_s)
        attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
        if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True" and attempt != "0":
            # torchrun's static rendezvous keeps one store for the whole job, and a restarted worker
            # group would find the previous attempt's keys in it: a new rank then reads a dead peer's
            # address and gloo fails with "connectFullMesh ... Connection refused", or waits on it. Keys
            # under a per-attempt prefix are always fresh. Only restarts take this path: on a first
            # attempt there are no stale keys, and a store made here aborted some clean runs at exit
            # ("terminate called without an active exception"; 2 of 6 vs 0 of 16 with env://).
            store = dist.PrefixStore(
                f"dawn-roc/attempt-{attempt}/",
                dist.TCPStore(
                    os.environ["MASTER_ADDR"],
                    int(os.environ["MASTER_PORT"]),
                    int(os.environ["WORLD_SIZE"]),
                    is_master=False,
                    timeout=timeout,
                ),
            )
            dist.init_process_group(
                backend,
                store=store,
                rank=int(os.environ["RANK"]),
                world_size=int(os.environ["WORLD_SIZE"]),
                timeout=timeout,
            )
        else:
            dist.init_process_group(backend, timeout=timeout)
    return dist.get_rank(), dist.get_world_size()
