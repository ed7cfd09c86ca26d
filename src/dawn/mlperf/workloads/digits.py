"""The quick CI benchmark: an MLP on scikit-learn's 8x8 digits (``dawn.data.load("digits")``).

Small enough that the required runs take seconds on two CPU cores; the reference sheet notes that
such a model reaches 0.97 accuracy in 20-32 epochs with samples-to-target identical on every rerun
with a fixed seed, while wall time varies widely, which is why tests assert on samples.
"""

from __future__ import annotations

from typing import Any

from dawn.mlperf.workload import Workload


class DigitsMLP(Workload):
    """MLP 64-hidden-10 trained with SGD + momentum on a fixed 80/20 stratified split."""

    def init(self, seed: int) -> None:
        import torch
        from sklearn.model_selection import train_test_split

        from dawn import data
        from dawn.mlperf.workloads._torch import setup_torch

        d = data.load("digits")
        Xtr, Xte, ytr, yte = train_test_split(d.X / 16.0, d.y, test_size=0.2, random_state=0, stratify=d.y)
        self._gen = setup_torch(seed)
        self.Xtr = torch.as_tensor(Xtr, dtype=torch.float32)
        self.ytr = torch.as_tensor(ytr, dtype=torch.long)
        self.Xte = torch.as_tensor(Xte, dtype=torch.float32)
        self.yte = torch.as_tensor(yte, dtype=torch.long)
        h = int(self.hparams["hidden_size"])
        self.model: Any = torch.nn.Sequential(torch.nn.Linear(64, h), torch.nn.ReLU(), torch.nn.Linear(h, 10))
        self.opt = torch.optim.SGD(
            self.model.parameters(),
            lr=float(self.hparams["opt_base_learning_rate"]),
            momentum=float(self.hparams["opt_momentum"]),
        )
        self.train_samples, self.eval_samples = len(self.Xtr), len(self.Xte)

    def train_epoch(self, epoch: int) -> None:
        from dawn.mlperf.workloads._torch import sgd_epoch

        sgd_epoch(self.model, self.opt, self.Xtr, self.ytr, int(self.hparams["global_batch_size"]), self._gen)

    def evaluate(self) -> float:
        from dawn.mlperf.workloads._torch import accuracy

        return accuracy(self.model, self.Xte, self.yte)
