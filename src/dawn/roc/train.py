"""Full-graph training and inference with masks, accuracy metrics and checkpoints.

One epoch is one full-graph forward and backward pass, as in Roc (Jia et al., MLSys 2020). The loss is
the cross-entropy summed over the training vertices divided by their *global* count, so that in the
distributed setting (:mod:`dawn.roc.dist`) the per-partition losses and gradients add up to exactly the
single-process ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from dawn.core.errors import DawnError
from dawn.core.io import atomic_write

__all__ = [
    "normalize_features",
    "train_epoch",
    "evaluate",
    "fit",
    "FitResult",
    "save_checkpoint",
    "load_checkpoint",
]


def normalize_features(data: Any) -> Any:
    """A shallow copy of ``data`` with each feature row scaled to sum 1 (the Planetoid preprocessing of
    Kipf & Welling, 2017, and of PyG's ``NormalizeFeatures``); all-zero rows stay zero."""
    out = data.clone()
    s = out.x.sum(dim=-1, keepdim=True).clamp(min=1e-12)
    out.x = out.x / s
    return out


def _inputs(model: torch.nn.Module, data: Any) -> Any:
    feats = getattr(model, "features", None)
    return feats(data) if callable(feats) else data.x


def masked_loss(
    out: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, n_global: int | None = None
) -> torch.Tensor:
    """Cross-entropy summed over ``mask`` and divided by ``n_global`` (default: the mask's count)."""
    n = int(mask.sum()) if n_global is None else n_global
    if n == 0:
        raise DawnError("the training mask selects no vertices", "pass a graph with a non-empty train_mask")
    return F.cross_entropy(out[mask], y[mask], reduction="sum") / n


def train_epoch(
    model: torch.nn.Module,
    data: Any,
    optimizer: torch.optim.Optimizer,
    adj: Any = None,
    *,
    sync: Any = None,
) -> float:
    """One full-graph training step; returns the training loss.

    Parameters
    ----------
    model : torch.nn.Module
        A :mod:`dawn.roc.models` model (or any module taking ``(x, adj)``).
    data : torch_geometric.data.Data
        Graph with ``x``, ``y`` and ``train_mask``.
    optimizer : torch.optim.Optimizer
    adj : CSRGraph or distributed aggregator, optional
        Defaults to ``model.adjacency(data)``.
    sync : callable, optional
        Called as ``sync(model, loss)`` after ``backward`` (the distributed gradient all-reduce);
        returns the global loss.
    """
    model.train()
    if adj is None:
        adj = model.adjacency(data)  # type: ignore[operator]
    optimizer.zero_grad(set_to_none=True)
    out = model(_inputs(model, data), adj)
    n_global = getattr(data, "n_train_global", None)
    loss = masked_loss(out, data.y, data.train_mask, n_global)
    loss.backward()
    value = float(loss.detach())
    if sync is not None:
        value = float(sync(model, loss.detach()))
    optimizer.step()
    return value


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: Any, adj: Any = None) -> dict[str, float]:
    """Full-graph inference; accuracy on each of ``train_mask``, ``val_mask``, ``test_mask`` present."""
    model.eval()
    if adj is None:
        adj = model.adjacency(data)  # type: ignore[operator]
    pred = model(_inputs(model, data), adj).argmax(-1)
    res = {}
    for split in ("train", "val", "test"):
        m = getattr(data, f"{split}_mask", None)
        if m is not None and int(m.sum()):
            res[f"{split}_acc"] = float((pred[m] == data.y[m]).float().mean())
    return res


def save_checkpoint(
    path: str | Path, model: torch.nn.Module, optimizer: Any, epoch: int, **extra: Any
) -> None:
    """Atomically write model, optimizer and epoch (the last completed epoch) to ``path``."""
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch, **extra}
    with atomic_write(path, "wb") as f:
        torch.save(state, f)


def load_checkpoint(path: str | Path, model: torch.nn.Module, optimizer: Any) -> dict[str, Any]:
    """Restore ``model`` and ``optimizer`` from ``path``; return the saved dict (``epoch`` etc.)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except Exception as exc:  # torch.load raises many kinds (pickle, zip, key, shape): all mean "unusable"
        raise DawnError(
            f"cannot resume from checkpoint {path}: {' '.join(str(exc).split())[:120]}",
            "delete the checkpoint or point --checkpoint at one written by the same model",
        ) from exc
    return state


@dataclass
class FitResult:
    """What :func:`fit` returns: metrics of the best-validation epoch and the loss curve."""

    best_epoch: int
    val_acc: float
    test_acc: float
    losses: list[float] = field(default_factory=list)


def fit(
    model: torch.nn.Module,
    data: Any,
    *,
    epochs: int = 200,
    lr: float = 0.01,
    weight_decay: float = 5e-4,
    adj: Any = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 10,
    sync: Any = None,
    evaluate_fn: Any = None,
    on_epoch_start: Any = None,
    write_checkpoint: bool = True,
) -> FitResult:
    """Train with Adam for ``epochs`` full-graph steps and report test accuracy at the best validation epoch.

    With ``checkpoint`` set, training resumes from it if it exists and writes it every
    ``checkpoint_every`` epochs, so a restarted process loses at most that many epochs of work.
    ``on_epoch_start(epoch)`` runs before each epoch (per-epoch seeding, fault injection);
    ``write_checkpoint=False`` reads but never writes (every rank but rank 0).
    """
    groups = getattr(model, "param_groups", None)  # per-group weight decay (ResGCN's blocks)
    params = groups(weight_decay) if callable(groups) else model.parameters()
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    start, best = 0, (-1.0, 0.0, -1)
    losses: list[float] = []
    if checkpoint is not None and os.path.exists(checkpoint):
        st = load_checkpoint(checkpoint, model, opt)
        start, best, losses = st["epoch"] + 1, tuple(st.get("best", best)), list(st.get("losses", []))
    ev = evaluate_fn or (lambda: evaluate(model, data, adj))
    for epoch in range(start, epochs):
        if on_epoch_start is not None:
            on_epoch_start(epoch)
        losses.append(train_epoch(model, data, opt, adj, sync=sync))
        m = ev()
        if m.get("val_acc", 0.0) > best[0]:
            best = (m.get("val_acc", 0.0), m.get("test_acc", 0.0), epoch)
        if (
            write_checkpoint
            and checkpoint is not None
            and ((epoch + 1) % checkpoint_every == 0 or epoch == epochs - 1)
        ):
            save_checkpoint(checkpoint, model, opt, epoch, best=best, losses=losses)
    return FitResult(best_epoch=int(best[2]), val_acc=float(best[0]), test_acc=float(best[1]), losses=losses)
