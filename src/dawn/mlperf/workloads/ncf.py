"""Recommendation: Neural Collaborative Filtering on MovieLens (``dawn.data.load("movielens")``).

The MLPerf v0.5/v0.6 NCF benchmark (Mattson et al., MLSys 2020, Table 1; He et al., WWW 2017) trains
NeuMF on implicit feedback and stops at a hit-rate@10 target under the leave-one-out protocol: each
user's latest interaction is held out and ranked against 100 items the user never rated. Here the
same protocol runs on the 100,004-rating MovieLens snapshot; training pairs every positive with
``negatives`` fresh random negatives per epoch.
"""

from __future__ import annotations

from typing import Any

from dawn.mlperf.workload import Workload


class _NeuMF:
    """Factory for the NeuMF module (GMF and MLP towers fused by a linear layer)."""

    @staticmethod
    def build(n_users: int, n_items: int, factors: int) -> Any:
        import torch
        import torch.nn as nn

        class NeuMF(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.ug, self.ig = nn.Embedding(n_users, factors), nn.Embedding(n_items, factors)
                self.um, self.im = nn.Embedding(n_users, 2 * factors), nn.Embedding(n_items, 2 * factors)
                self.mlp = nn.Sequential(
                    nn.Linear(4 * factors, 2 * factors), nn.ReLU(), nn.Linear(2 * factors, factors), nn.ReLU()
                )
                self.out = nn.Linear(2 * factors, 1)
                for e in (self.ug, self.ig, self.um, self.im):
                    nn.init.normal_(e.weight, std=0.01)

            def forward(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
                g = self.ug(u) * self.ig(i)
                m = self.mlp(torch.cat([self.um(u), self.im(i)], dim=1))
                return self.out(torch.cat([g, m], dim=1)).squeeze(1)

        return NeuMF()


class NCF(Workload):
    """NeuMF trained with binary cross-entropy and Adam; metric hit-rate@10 over 100 negatives."""

    eval_negatives = 100

    def init(self, seed: int) -> None:
        import numpy as np
        import torch

        from dawn import data
        from dawn.mlperf.workloads._torch import setup_torch

        df = data.load("movielens")[["userId", "movieId", "timestamp"]]
        users, uidx = np.unique(df["userId"].to_numpy(), return_inverse=True)
        items, iidx = np.unique(df["movieId"].to_numpy(), return_inverse=True)
        self.n_users, self.n_items = len(users), len(items)
        # leave-one-out: each user's latest interaction (ties broken by order) is the test item
        order = np.lexsort((np.arange(len(df)), df["timestamp"].to_numpy(), uidx))
        last = np.ones(len(order), dtype=bool)
        last[:-1] = uidx[order][1:] != uidx[order][:-1]
        test_rows = order[last]
        train_mask = np.ones(len(df), dtype=bool)
        train_mask[test_rows] = False
        self.tr_u, self.tr_i = uidx[train_mask], iidx[train_mask]
        rated: list[set[int]] = [set() for _ in range(self.n_users)]
        for u, i in zip(uidx, iidx, strict=True):
            rated[u].add(int(i))
        # the evaluation set is fixed (seed 0), independent of the run's seed, as MLPerf requires
        ev = np.random.default_rng(0)
        cand = np.empty((self.n_users, 1 + self.eval_negatives), dtype=np.int64)
        for u, row in zip(uidx[test_rows], test_rows, strict=True):
            negs: list[int] = []
            while len(negs) < self.eval_negatives:
                for j in ev.integers(0, self.n_items, 2 * self.eval_negatives):
                    if int(j) not in rated[u] and len(negs) < self.eval_negatives:
                        negs.append(int(j))
            cand[u] = [iidx[row], *negs]
        self.cand = torch.as_tensor(cand)
        self._rng = np.random.default_rng(seed)
        self._gen = setup_torch(seed)
        f = int(self.hparams["factors"])
        self.model = _NeuMF.build(self.n_users, self.n_items, f)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=float(self.hparams["opt_base_learning_rate"]))
        self.train_samples = int(len(self.tr_u) * (1 + int(self.hparams["negatives"])))
        self.eval_samples = int(self.n_users * (1 + self.eval_negatives))

    def train_epoch(self, epoch: int) -> None:
        import numpy as np
        import torch
        import torch.nn.functional as F

        k = int(self.hparams["negatives"])
        n = len(self.tr_u)
        # negatives are sampled uniformly; a rare collision with a rated item is label noise the
        # reference NCF implementation accepts too
        u = np.concatenate([self.tr_u, np.repeat(self.tr_u, k)])
        i = np.concatenate([self.tr_i, self._rng.integers(0, self.n_items, n * k)])
        y = np.concatenate([np.ones(n, dtype=np.float32), np.zeros(n * k, dtype=np.float32)])
        perm = self._rng.permutation(len(u))
        U, I, Y = torch.as_tensor(u[perm]), torch.as_tensor(i[perm]), torch.as_tensor(y[perm])
        bs = int(self.hparams["global_batch_size"])
        self.model.train()
        for s in range(0, len(U), bs):
            self.opt.zero_grad()
            F.binary_cross_entropy_with_logits(
                self.model(U[s : s + bs], I[s : s + bs]), Y[s : s + bs]
            ).backward()
            self.opt.step()

    def evaluate(self) -> float:
        import torch

        self.model.eval()
        with torch.no_grad():
            n, m = self.cand.shape
            users = torch.arange(n).repeat_interleave(m)
            scores = self.model(users, self.cand.reshape(-1)).reshape(n, m)
            # rank of the held-out item (column 0) among its candidates; ties count against it
            rank = (scores[:, 1:] >= scores[:, :1]).sum(1)
        return float((rank < 10).float().mean())
