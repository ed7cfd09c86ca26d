"""Synthetic graphs for the roc unit tests (never used for a reported number)."""

from __future__ import annotations

import torch


def planted_graph(
    n: int = 300, classes: int = 3, feats: int = 24, p_in: float = 0.06, p_out: float = 0.004, seed: int = 0
):
    """A stochastic-block-model graph whose features are noisy class indicators, with masks."""
    from torch_geometric.data import Data
    from torch_geometric.utils import coalesce, to_undirected

    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    same = y[:, None] == y[None, :]
    prob = torch.where(same, torch.tensor(p_in), torch.tensor(p_out))
    adj = torch.rand(n, n, generator=g) < prob
    adj = torch.triu(adj, 1)
    ei = to_undirected(adj.nonzero().t().contiguous(), num_nodes=n)
    ei = coalesce(ei, num_nodes=n)
    x = torch.randn(n, feats, generator=g) * 1.0
    x[torch.arange(n), y] += 1.0
    perm = torch.randperm(n, generator=g)
    train = torch.zeros(n, dtype=torch.bool)
    val = torch.zeros(n, dtype=torch.bool)
    test = torch.zeros(n, dtype=torch.bool)
    train[perm[: n // 5]] = True
    val[perm[n // 5 : 2 * n // 5]] = True
    test[perm[2 * n // 5 :]] = True
    return Data(x=x, edge_index=ei, y=y, train_mask=train, val_mask=val, test_mask=test)
