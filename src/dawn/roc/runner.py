"""The training job behind ``dawn roc train``: one process, or one per partition under ``torchrun``.

Rank 0 partitions the graph (learned, METIS, equal vertices or equal edges) and broadcasts the ranges;
every rank builds its shard and halo plan and trains with gradients summed by ``all_reduce``. With a
checkpoint path, rank 0 writes model, optimizer and the partition every few epochs, and a restarted job
(``torchrun --max-restarts``) resumes from them; each epoch reseeds dropout from ``(seed, epoch, rank)``
so a resumed run computes exactly what an uninterrupted one would.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dawn.core.errors import DawnError

__all__ = ["TrainConfig", "run_train", "make_partition", "gradient_check", "csr_of"]

PARTITIONERS = ("learned", "metis", "nodes", "edges")


@dataclass
class TrainConfig:
    """Options of one training job (the CLI's flags)."""

    dataset: str = "cora"
    model: str = "gcn"
    layers: int | None = None
    hidden: int = 16
    dropout: float = 0.5
    epochs: int = 200
    lr: float = 0.01
    weight_decay: float = 5e-4
    partitioner: str = "learned"
    seed: int = 0
    threads: int = 1
    checkpoint: str | None = None
    checkpoint_every: int = 10
    extra: dict = field(default_factory=dict)


def csr_of(data: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(indptr, indices)`` of the unweighted in-edge CSR (rows = targets, columns sorted)."""
    n = int(data.num_nodes)
    ei = data.edge_index.numpy()
    order = np.lexsort((ei[0], ei[1]))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(ei[1], minlength=n))]).astype(np.int64)
    return indptr, ei[0][order].astype(np.int64)


def make_partition(
    data: Any, k: int, method: str, *, seed: int = 0, hidden: int = 16, repeats: int = 5
) -> Any:
    """A :class:`~dawn.roc.partition.Partition` of ``data`` into ``k`` ranges by ``method``."""
    from dawn.roc import partition as P

    if method not in PARTITIONERS:
        raise DawnError(f"unknown partitioner {method!r}", f"choose one of {', '.join(PARTITIONERS)}")
    indptr, indices = csr_of(data)
    P.base.check_k(k, len(indptr) - 1)
    if method == "nodes":
        return P.equal_vertices(indptr, k)
    if method == "edges":
        return P.equal_edges(indptr, k)
    if method == "metis":
        return P.metis(indptr, indices, k, seed=seed)
    if k == 1:
        return P.Partition(np.array([0, len(indptr) - 1]), method="learned")
    prof = P.PartitionProfiler(
        indptr, indices, data.num_features, hidden, int(data.y.max()) + 1, repeats=repeats, seed=seed
    )
    # profiles the given order, renumbers once into a METIS order balanced in predicted cost, refits
    lp = P.LearnedPartitioner(k, seed=seed).fit(indptr, indices, prof)
    part = lp.partition_
    part.info["history"] = lp.history_
    return part


def _load_dataset(name: str) -> Any:
    from dawn import data as dd

    try:
        return dd.load(name)
    except KeyError as exc:
        raise DawnError(
            f"unknown dataset {name!r}", "run `dawn data list` to see the registered names"
        ) from exc


def _partition_for_world(
    data: Any, cfg: TrainConfig, rank: int, world: int
) -> tuple[np.ndarray | None, np.ndarray]:
    """Partition on rank 0 (or reload it from the checkpoint directory) and broadcast it."""
    import torch.distributed as dist

    obj: list[Any] = [None]
    if rank == 0:
        saved = Path(cfg.checkpoint).with_suffix(".partition.npz") if cfg.checkpoint else None
        if saved is not None and saved.exists():
            z = np.load(saved)
            perm, bounds = (z["perm"] if z["perm"].size else None), z["bounds"]
        else:
            part = make_partition(data, world, cfg.partitioner, seed=cfg.seed, hidden=cfg.hidden)
            perm, bounds = part.perm, part.bounds
            if saved is not None:
                from dawn.core.io import atomic_write

                with atomic_write(saved, "wb") as f:
                    np.savez(f, perm=np.array([], dtype=np.int64) if perm is None else perm, bounds=bounds)
        obj = [(perm, bounds)]
    dist.broadcast_object_list(obj, src=0)
    return obj[0]


def run_train(cfg: TrainConfig) -> dict[str, Any]:
    """Train ``cfg.model`` on ``cfg.dataset``; one process, or one partition per ``torchrun`` rank."""
    from dawn.roc.dist import allreduce_sync, dist_evaluate, init_from_env, shard_data
    from dawn.roc.models import build_model
    from dawn.roc.train import fit

    torch.set_num_threads(cfg.threads)
    rank, world = init_from_env()
    data = _load_dataset(cfg.dataset)
    n_classes = int(data.y.max()) + 1
    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    model = build_model(
        cfg.model, data.num_features, cfg.hidden, n_classes, layers=cfg.layers, dropout=cfg.dropout
    )
    fail_at = os.environ.get("DAWN_ROC_FAIL_AT_EPOCH")

    def on_epoch_start(epoch: int) -> None:
        torch.manual_seed(cfg.seed * 1_000_003 + epoch * 1009 + rank)
        first_attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"
        if fail_at is not None and epoch == int(fail_at) and rank == world - 1 and first_attempt:
            os._exit(17)  # a worker dying mid-training (fault-injection hook for the resume test)

    info: dict[str, Any] = {"rank": rank, "world_size": world}
    common: dict[str, Any] = dict(
        epochs=cfg.epochs,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        checkpoint=cfg.checkpoint,
        checkpoint_every=cfg.checkpoint_every,
        on_epoch_start=on_epoch_start,
    )
    if world == 1:
        res = fit(model, data, **common)
    else:
        perm, bounds = _partition_for_world(data, cfg, rank, world)
        shard, agg = shard_data(data, perm, bounds, rank, model.aggr)
        res = fit(
            model,
            shard,
            adj=agg,
            sync=allreduce_sync,
            evaluate_fn=lambda: dist_evaluate(model, shard, agg),
            write_checkpoint=rank == 0,
            **common,
        )
        info.update(
            bounds=[int(b) for b in bounds],
            halo_rows=agg.plan.n_halo,
            bytes_sent=agg.stats.get("bytes_sent", 0),
        )
    info.update(
        config=asdict(cfg),
        test_acc=res.test_acc,
        val_acc=res.val_acc,
        best_epoch=res.best_epoch,
        final_loss=res.losses[-1] if res.losses else None,
        losses=res.losses,
    )
    return info


def gradient_check(
    dataset: str, model_name: str, *, layers: int | None = None, partitioner: str = "nodes", seed: int = 0
) -> dict[str, Any]:
    """Loss and weight gradients of one full-graph step without dropout, on 1 or ``world`` processes."""
    from dawn.roc.dist import allreduce_sync, init_from_env, shard_data
    from dawn.roc.models import build_model
    from dawn.roc.train import masked_loss

    rank, world = init_from_env()
    data = _load_dataset(dataset) if isinstance(dataset, str) else dataset
    torch.manual_seed(seed)
    model = build_model(model_name, data.num_features, 16, int(data.y.max()) + 1, layers=layers, dropout=0.0)
    if world == 1:
        out = model(data)
        loss = masked_loss(out, data.y, data.train_mask)
        loss.backward()
        value = float(loss.detach())
    else:
        if partitioner == "learned":
            raise DawnError("gradient_check needs a deterministic partitioner", "use nodes, edges or metis")
        part = make_partition(data, world, partitioner, seed=seed)
        shard, agg = shard_data(data, part.perm, part.bounds, rank, model.aggr)
        out = model(shard.x, agg)
        loss = masked_loss(out, shard.y, shard.train_mask, shard.n_train_global)
        loss.backward()
        value = allreduce_sync(model, loss.detach())
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return {"loss": value, "grads": grads, "rank": rank, "world_size": world}
