"""Running a memory plan for real: host tensors, a device cache, copies driven by the plan.

On a GPU the loads and write-backs are issued on a side CUDA stream (host buffers pinned) and the
compute stream waits on an event before each operator, as Roc's memory manager moves tensors between
host and device memory (Jia et al., MLSys 2020, section 5). On CPU the "device" is a simulated cache:
copies are real ``clone`` calls and bytes are counted the same way, so the plan, the byte count and
the numerical result can be checked without a GPU. The executor also checks the capacity itself.
"""

from __future__ import annotations

from typing import Any

import torch

from dawn.core.errors import DawnError
from dawn.roc.memory.ops import OpSequence
from dawn.roc.memory.plan import Plan

__all__ = ["GCNTensors", "execute"]


class GCNTensors:
    """Host-side tensors of a tiled GCN pass: feature, label and adjacency blocks and the weights.

    Parameters
    ----------
    adj : CSRGraph
        Symmetric normalised adjacency (``dawn.roc.sparse.gcn_norm_csr``).
    x : Tensor (n, d)
    y : LongTensor (n,)
    train_mask : BoolTensor (n,)
    weights : list of Tensor
        ``W0 .. W{L-1}``.
    tiles : int
    """

    def __init__(
        self,
        adj: Any,
        x: torch.Tensor,
        y: torch.Tensor,
        train_mask: torch.Tensor,
        weights: list[torch.Tensor],
        tiles: int,
    ):
        n = x.shape[0]
        self.bounds = [0]
        for j in range(tiles):
            self.bounds.append(self.bounds[-1] + n // tiles + (1 if j < n % tiles else 0))
        self.host: dict[str, Any] = {}
        self.n_train = int(train_mask.sum())
        for j in range(tiles):
            lo, hi = self.bounds[j], self.bounds[j + 1]
            self.host[f"X.{j}"] = x[lo:hi].contiguous()
            yy = y[lo:hi].clone()
            yy[~train_mask[lo:hi]] = -1  # unlabelled rows carry no loss
            self.host[f"Y.{j}"] = yy
            self.host[f"A.{j}"] = adj.row_slice(lo, hi)
        for l, w in enumerate(weights):
            self.host[f"W{l}"] = w.detach().contiguous()


def _nbytes(v: Any) -> int:
    if isinstance(v, torch.Tensor):
        return v.numel() * v.element_size()
    return int(v.nbytes())  # CSRGraph


def _copy(v: Any, device: torch.device, non_blocking: bool) -> Any:
    if isinstance(v, torch.Tensor):
        return v.to(device, non_blocking=non_blocking, copy=True)
    return v.to(device)


def _run(op_kind: str, ins: list[Any], n_train: int) -> torch.Tensor:
    from dawn.roc.sparse import spmm

    if op_kind == "matmul":
        return ins[0] @ ins[1]
    if op_kind in ("spmm", "spmmT"):  # A is symmetric: block j of A^T is block j of A
        return spmm(ins[0], torch.cat(ins[1:]))
    if op_kind == "relu":
        return torch.relu(ins[0])
    if op_kind == "loss":  # d/dP of mean cross-entropy over training rows
        p, y = ins
        g = torch.softmax(p, -1)
        lab = y >= 0
        g[lab, y[lab]] -= 1.0
        g[~lab] = 0.0
        return g / n_train
    if op_kind == "relubwd":
        return ins[0] * (ins[1] > 0)
    if op_kind == "wgrad":
        out = ins[0].t() @ ins[1]
        return out + ins[2] if len(ins) > 2 else out
    if op_kind == "dgrad":
        return ins[0] @ ins[1].t()
    raise ValueError(op_kind)


def execute(
    seq: OpSequence, plan: Plan, tensors: GCNTensors, capacity: int, device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """Run the pass under ``plan``; return the weight gradients (host) and byte counters.

    Raises :class:`DawnError` if the resident bytes ever exceed ``capacity``.
    """
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    host = dict(tensors.host)
    if cuda:
        host = {k: (v.pin_memory() if isinstance(v, torch.Tensor) else v) for k, v in host.items()}
        side = torch.cuda.Stream(device=dev)
    on_dev: dict[str, Any] = {}
    valid = set(host)  # tensors whose host copy is current
    stats = {"h2d": 0, "d2h": 0, "peak": 0}

    def resident_bytes() -> int:
        return sum(_nbytes(v) for v in on_dev.values())

    for op, st in zip(seq.ops, plan.steps, strict=True):
        if cuda:
            side.wait_stream(torch.cuda.current_stream(dev))  # copies see finished producers
        ctx = torch.cuda.stream(side) if cuda else _nullctx()
        with ctx:
            for t in st.writeback:
                if t in valid:
                    continue  # the host copy is current: nothing to move
                valid.add(t)
                v = on_dev[t]
                host[t] = v.to("cpu", non_blocking=cuda, copy=True) if isinstance(v, torch.Tensor) else v
                stats["d2h"] += _nbytes(v)
            for t in st.evict:
                v = on_dev.pop(t)
                if cuda and isinstance(v, torch.Tensor):
                    v.record_stream(side)  # do not reuse the block before the write-back finishes
            for t in st.load:
                on_dev[t] = _copy(host[t], dev, cuda)
                stats["h2d"] += _nbytes(host[t])
        if cuda:
            torch.cuda.current_stream(dev).wait_stream(side)
        ins = [on_dev[t] for t in op.inputs]
        (out,) = op.outputs
        on_dev[out] = _run(op.kind, ins, tensors.n_train)
        valid.discard(out)
        used = resident_bytes()
        stats["peak"] = max(stats["peak"], used)
        if used > capacity:
            raise DawnError(f"executor holds {used} bytes at {op.name}, capacity {capacity}", "fix the plan")
    for t in plan.final_writeback:
        if t in valid:
            continue
        host[t] = on_dev[t].to("cpu", copy=True)
        stats["d2h"] += _nbytes(on_dev[t])
    if cuda:
        torch.cuda.synchronize(dev)
    grads = {t: host[t] for t, s in seq.tensors.items() if s.result}
    return grads, stats


class _nullctx:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: Any) -> None:
        return None
