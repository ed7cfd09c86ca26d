"""Image classification on MNIST (``dawn.data.load("mnist")``) with a small CNN.

The stand-in for the paper's ResNet-50/ImageNet benchmark at a size two CPU cores can train: same
protocol (fixed validation set, top-1 accuracy target, evaluation every epoch), much smaller model.
"""

from __future__ import annotations

from typing import Any

from dawn.mlperf.workload import Workload


def _cnn() -> Any:
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 7 * 7, 10),
    )


class MnistCNN(Workload):
    """conv(8)-pool-conv(16)-pool-linear(10), Adam; evaluated on the 10,000-image validation split."""

    def init(self, seed: int) -> None:
        import torch

        from dawn import data
        from dawn.mlperf.workloads._torch import setup_torch

        d = data.load("mnist")
        self._gen = setup_torch(seed)
        self.Xtr = torch.as_tensor(d["train"].X).reshape(-1, 1, 28, 28)
        self.ytr = torch.as_tensor(d["train"].y, dtype=torch.long)
        self.Xva = torch.as_tensor(d["val"].X).reshape(-1, 1, 28, 28)
        self.yva = torch.as_tensor(d["val"].y, dtype=torch.long)
        self.model = _cnn()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=float(self.hparams["opt_base_learning_rate"]))
        self.train_samples, self.eval_samples = len(self.Xtr), len(self.Xva)

    def train_epoch(self, epoch: int) -> None:
        from dawn.mlperf.workloads._torch import sgd_epoch

        sgd_epoch(self.model, self.opt, self.Xtr, self.ytr, int(self.hparams["global_batch_size"]), self._gen)

    def evaluate(self) -> float:
        from dawn.mlperf.workloads._torch import accuracy

        return accuracy(self.model, self.Xva, self.yva, batch_size=2000)
