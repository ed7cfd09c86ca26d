"""Shared helpers for the torch workloads: thread count, seeding, mini-batch epochs, accuracy."""

from __future__ import annotations

from typing import Any


def setup_torch(seed: int) -> Any:
    """Seed torch and return a CPU generator; one intra-op thread keeps runs deterministic and polite
    on a shared machine."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def sgd_epoch(model: Any, opt: Any, X: Any, y: Any, batch_size: int, gen: Any) -> None:
    """One epoch of mini-batch training with cross-entropy, in a seeded shuffled order."""
    import torch
    import torch.nn.functional as F

    model.train()
    perm = torch.randperm(len(X), generator=gen)
    for start in range(0, len(X), batch_size):
        idx = perm[start : start + batch_size]
        opt.zero_grad()
        F.cross_entropy(model(X[idx]), y[idx]).backward()
        opt.step()


def accuracy(model: Any, X: Any, y: Any, batch_size: int = 4096) -> float:
    """Top-1 accuracy of ``model`` on ``(X, y)``."""
    import torch

    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            correct += int(
                (model(X[start : start + batch_size]).argmax(1) == y[start : start + batch_size]).sum()
            )
    return correct / len(X)
