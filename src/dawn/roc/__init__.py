"""dawn.roc: distributed full-graph GNN training with a learned partitioner and a memory manager.

Reimplements Roc (Jia, Lin, Gao, Sun, Aiken, MLSys 2020, "Improving the Accuracy, Scalability, and
Performance of Graph Neural Networks with Roc") on PyTorch: CSR sparse-dense kernels and GNN models
(:mod:`~dawn.roc.models`), full-graph training (:mod:`~dawn.roc.train`), the learned cost-model
partitioner and baselines (:mod:`~dawn.roc.partition`), halo-exchange data parallelism over
``torch.distributed`` (:mod:`~dawn.roc.dist`, :mod:`~dawn.roc.runner`) and the memory manager
(:mod:`~dawn.roc.memory`).

The small public API other code should use::

    from dawn.roc import GCN, train_epoch, evaluate, fit
    model = GCN(data.num_features, 16, n_classes)      # any PyG Data with x, edge_index, y, masks
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    loss = train_epoch(model, data, opt)               # one full-graph step
    accs = evaluate(model, data)                       # {"train_acc", "val_acc", "test_acc"}
"""

from dawn.roc.models import GCN, GIN, SAGE, ResGCN, build_model
from dawn.roc.sparse import CSRGraph, from_data, spmm
from dawn.roc.train import FitResult, evaluate, fit, load_checkpoint, save_checkpoint, train_epoch

__all__ = [
    "GCN",
    "GIN",
    "SAGE",
    "ResGCN",
    "build_model",
    "CSRGraph",
    "from_data",
    "spmm",
    "FitResult",
    "evaluate",
    "fit",
    "load_checkpoint",
    "save_checkpoint",
    "train_epoch",
]
