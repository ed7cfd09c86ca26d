"""Graph benchmark: full-graph GCN node classification on Cora (``dawn.data.load("cora")``).

MLPerf added a GNN benchmark later (``gnn``/``rgat``); this is its small-scale analogue. The model is
the two-layer GCN of Kipf & Welling (ICLR 2017) with symmetric normalisation, trained full-graph
(one optimizer step per epoch) and evaluated on the test mask every epoch. It uses ``dawn.roc``'s
public API (``GCN``, ``train_epoch``, ``evaluate``; Jia et al., Roc, MLSys 2020) and falls back to a
GCN written here with torch sparse matrix products only if that package cannot be imported.
"""

from __future__ import annotations

from typing import Any

from dawn.mlperf.workload import Workload


def normalized_adjacency(edge_index: Any, n: int) -> Any:
    """``D^-1/2 (A + I) D^-1/2`` as a sparse COO tensor."""
    import torch

    loops = torch.arange(n)
    row = torch.cat([edge_index[0], loops])
    col = torch.cat([edge_index[1], loops])
    deg = torch.zeros(n).index_add_(0, row, torch.ones(len(row)))
    w = deg[row].rsqrt() * deg[col].rsqrt()
    return torch.sparse_coo_tensor(torch.stack([row, col]), w, (n, n), check_invariants=False).coalesce()


def _gcn(n_in: int, hidden: int, n_out: int, dropout: float) -> Any:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class GCN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.l1, self.l2 = nn.Linear(n_in, hidden), nn.Linear(hidden, n_out)

        def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
            h = F.dropout(x, dropout, self.training)
            h = F.relu(torch.sparse.mm(adj, self.l1(h)))
            h = F.dropout(h, dropout, self.training)
            return torch.sparse.mm(adj, self.l2(h))

    return GCN()


class CoraGCN(Workload):
    """Two-layer GCN (hidden 16, dropout 0.5), Adam with weight decay, full-graph epochs."""

    dataset = "cora"

    backend = ""

    def init(self, seed: int) -> None:
        import torch

        from dawn import data
        from dawn.mlperf.workloads._torch import setup_torch

        g = data.load(self.dataset)
        setup_torch(seed)
        self.data = g
        n_cls = int(g.y.max()) + 1
        hidden = int(self.hparams["hidden_size"])
        try:
            from dawn.roc import GCN, evaluate, train_epoch

            self.model = GCN(g.num_features, hidden, n_cls, dropout=0.5)
            self._roc: Any = (train_epoch, evaluate)
            self.backend = "dawn.roc"
        except ImportError:  # dawn.roc missing or without its public API: the local GCN
            self.adj = normalized_adjacency(g.edge_index, g.num_nodes)
            self.model = _gcn(g.num_features, hidden, n_cls, 0.5)
            self._roc = None
            self.backend = "local"
        self.opt = torch.optim.Adam(
            self.model.parameters(),
            lr=float(self.hparams["opt_base_learning_rate"]),
            weight_decay=float(self.hparams["opt_weight_decay"]),
        )
        self.train_samples = int(g.train_mask.sum())
        self.eval_samples = int(g.test_mask.sum())

    def train_epoch(self, epoch: int) -> None:
        import torch.nn.functional as F

        if self._roc is not None:
            self._roc[0](self.model, self.data, self.opt)
            return
        self.model.train()
        self.opt.zero_grad()
        out = self.model(self.data.x, self.adj)
        F.cross_entropy(out[self.data.train_mask], self.data.y[self.data.train_mask]).backward()
        self.opt.step()

    def evaluate(self) -> float:
        import torch

        if self._roc is not None:
            return float(self._roc[1](self.model, self.data)["test_acc"])
        self.model.eval()
        with torch.no_grad():
            pred = self.model(self.data.x, self.adj).argmax(1)
        m = self.data.test_mask
        return float((pred[m] == self.data.y[m]).float().mean())
