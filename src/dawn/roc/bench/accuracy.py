"""Test accuracy at the best validation epoch, mean over seeds: our GCN vs PyG's, and the deep ResGCN."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["accuracy"]


#: The deep model's setting (GCNII's Cora setting, Chen et al. 2020, at 8 blocks): hidden 64,
#: dropout 0.6, weight decay 0.01 on the blocks and 5e-4 elsewhere; Adam lr 0.01 and epochs as the GCN's.
DEEP = {"layers": 8, "hidden": 64, "dropout": 0.6, "block_weight_decay": 0.01}


def accuracy(
    data: Any,
    *,
    seeds: int = 3,
    epochs: int = 200,
    deep_seeds: int | None = None,
    deep: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Test accuracy at the best validation epoch, mean over seeds: our GCN, PyG's GCN, our ResGCN.

    The GCNs run ``seeds`` seeds (0, 1, ...) at equal hyperparameters (hidden 16, dropout 0.5, Adam lr
    0.01, weight decay 5e-4, ``epochs``). The deep ResGCN (:data:`DEEP`, ``deep_seeds`` seeds, default
    all) is compared with our GCN on the same seeds: ``deep_vs_2layer_acc_gain`` is the mean paired
    difference. ``deep={"layers": 0}`` skips it.
    """
    from dawn.roc.models import GCN, ResGCN
    from dawn.roc.pyg_reference import PygGCN, pyg_adjacency
    from dawn.roc.train import fit, normalize_features

    cfg = {**DEEP, **(deep or {})}
    n_deep = seeds if deep_seeds is None else min(deep_seeds, seeds)
    data = normalize_features(data)  # both sides get the standard Planetoid preprocessing
    C = int(data.y.max()) + 1
    accs: dict[str, list[float]] = {"roc": [], "pyg": [], "deep": []}
    sp = pyg_adjacency(data, "sparse")
    for s in range(seeds):
        torch.manual_seed(s)
        accs["roc"].append(fit(GCN(data.num_features, 16, C), data, epochs=epochs).test_acc)
        torch.manual_seed(s)
        accs["pyg"].append(fit(PygGCN(data.num_features, 16, C), data, epochs=epochs, adj=sp).test_acc)
        if cfg["layers"] and s < n_deep:
            torch.manual_seed(s)
            m = ResGCN(
                data.num_features,
                cfg["hidden"],
                C,
                layers=cfg["layers"],
                dropout=cfg["dropout"],
                block_weight_decay=cfg["block_weight_decay"],
            )
            accs["deep"].append(fit(m, data, epochs=epochs).test_acc)
    mean = {k: float(np.mean(v)) if v else None for k, v in accs.items()}
    nd = len(accs["deep"])
    gain = float(np.mean(np.subtract(accs["deep"], accs["roc"][:nd]))) if nd else None
    return {
        "test_acc": mean["roc"],
        "test_acc_pyg": mean["pyg"],
        "test_acc_std": float(np.std(accs["roc"])),
        "test_acc_pyg_std": float(np.std(accs["pyg"])),
        "seeds": seeds,
        "test_acc_deep": mean["deep"],
        "test_acc_2layer_on_deep_seeds": float(np.mean(accs["roc"][:nd])) if nd else None,
        "deep_seeds": nd,
        "deep_layers": cfg["layers"],
        "deep_config": cfg,
        "deep_vs_2layer_acc_gain": gain,
        "per_seed": accs,
    }
