"""GNN models over a CSR aggregation matrix: GCN, GraphSAGE-mean, GIN and a deep residual GCN.

The paper (Jia et al., Roc, MLSys 2020) trains GCN, GraphSAGE, GIN and deeper residual GCNs full-graph.
Every model here takes ``(x, adj)`` where ``adj`` is either a :class:`~dawn.roc.sparse.CSRGraph`
(one process) or a partition-local aggregator from :mod:`dawn.roc.dist` (one process per partition,
halo rows exchanged inside ``aggregate``); the same module therefore runs in both settings. Passing a
PyG ``Data`` as ``x`` builds (and caches) the right aggregation matrix. ``x`` may also be a
:class:`~dawn.roc.sparse.SparseFeatures` (sparse bag-of-words inputs: dropout and the first product
then touch only the non-zeros).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from dawn.core.errors import DawnError
from dawn.roc.sparse import CSRGraph, feature_dropout, feature_matmul, from_data, sparse_features, spmm

__all__ = ["GCN", "SAGE", "GIN", "ResGCN", "build_model", "MODELS"]


def aggregate(adj: Any, h: torch.Tensor) -> torch.Tensor:
    """``adj @ h`` for a local CSR graph, or a distributed aggregator's halo-exchanging product."""
    if isinstance(adj, CSRGraph):
        return spmm(adj, h)
    return adj.aggregate(h)


class Linear(nn.Module):
    """``x W + b`` with Glorot-uniform weights and zero bias, the initialisation of PyG's GCNConv.

    Without ``bias`` the bias is a constant zero buffer, so every layer can add ``self.bias``.
    """

    weight: torch.Tensor
    bias: torch.Tensor

    def __init__(self, d_in: int, d_out: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(d_in, d_out))
        if bias:
            self.bias = nn.Parameter(torch.zeros(d_out))
        else:
            self.register_buffer("bias", torch.zeros(d_out))
        a = math.sqrt(6.0 / (d_in + d_out))
        nn.init.uniform_(self.weight, -a, a)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight + self.bias


def _lins(mods: Any) -> list[Linear]:
    """The :class:`Linear` layers of a ``ModuleList`` (typed for the checker)."""
    return [m for m in mods if isinstance(m, Linear)]


class _GraphModel(nn.Module):
    """Shared plumbing: which aggregation matrix the model wants, and ``Data`` inputs."""

    aggr = "gcn"

    #: input features at most this dense are kept sparse (see :class:`~dawn.roc.sparse.SparseFeatures`)
    sparse_input_density = 0.2

    def __init__(self) -> None:
        super().__init__()
        self._adj_cache: tuple[int, CSRGraph] | None = None
        self._x_cache: tuple[int, Any] | None = None

    def features(self, data: Any) -> Any:
        """``data.x``, as :class:`~dawn.roc.sparse.SparseFeatures` when sparse enough (cached per object)."""
        if self._x_cache is None or self._x_cache[0] != id(data.x):
            self._x_cache = (id(data.x), sparse_features(data.x, self.sparse_input_density))
        return self._x_cache[1]

    def adjacency(self, data: Any) -> CSRGraph:
        """The aggregation matrix this model uses for ``data`` (cached per ``Data`` object)."""
        if self._adj_cache is None or self._adj_cache[0] != id(data):
            self._adj_cache = (id(data), from_data(data, self.aggr))
        return self._adj_cache[1]

    def forward(self, x: Any, adj: Any = None) -> torch.Tensor:
        if adj is None:
            if not hasattr(x, "edge_index"):
                raise DawnError("no adjacency given", "call model(x, adj) or model(data) with a PyG Data")
            adj, x = self.adjacency(x), self.features(x)
        return self._forward(x, adj)

    def _forward(self, x: torch.Tensor, adj: Any) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class GCN(_GraphModel):
    """Graph convolutional network (Kipf & Welling, ICLR 2017), ``H' = A_hat H W + b``.

    Parameters
    ----------
    in_dim, hidden, out_dim : int
        Feature, hidden and class widths.
    layers : int, default=2
    dropout : float, default=0.5
        Applied to the input of every layer, as in the reference GCN.
    """

    aggr = "gcn"

    def __init__(self, in_dim: int, hidden: int, out_dim: int, layers: int = 2, dropout: float = 0.5):
        super().__init__()
        if layers < 1:
            raise DawnError(f"layers={layers}", "use at least one layer")
        dims = [in_dim] + [hidden] * (layers - 1) + [out_dim]
        self.lins = nn.ModuleList(Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.dropout = dropout

    def _forward(self, x: torch.Tensor, adj: Any) -> torch.Tensor:
        h = x
        for i, lin in enumerate(_lins(self.lins)):
            h = feature_dropout(h, self.dropout, self.training)
            # multiply by W before aggregating: the product then moves hidden-width rows, not input-width
            h = aggregate(adj, feature_matmul(h, lin.weight)) + lin.bias
            if i < len(self.lins) - 1:
                h = torch.relu(h)
        return h


class SAGE(_GraphModel):
    """GraphSAGE with mean aggregation (Hamilton et al., NeurIPS 2017): ``W_l mean(N(v)) + W_r h_v``."""

    aggr = "mean"

    def __init__(self, in_dim: int, hidden: int, out_dim: int, layers: int = 2, dropout: float = 0.5):
        super().__init__()
        dims = [in_dim] + [hidden] * (layers - 1) + [out_dim]
        self.lin_l = nn.ModuleList(Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.lin_r = nn.ModuleList(Linear(a, b, bias=False) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.dropout = dropout

    def _forward(self, x: torch.Tensor, adj: Any) -> torch.Tensor:
        h = x
        for i, (ll, lr) in enumerate(zip(_lins(self.lin_l), _lins(self.lin_r), strict=True)):
            h = feature_dropout(h, self.dropout, self.training)
            h = aggregate(adj, feature_matmul(h, ll.weight)) + ll.bias + feature_matmul(h, lr.weight)
            if i < len(self.lin_l) - 1:
                h = torch.relu(h)
        return h


class GIN(_GraphModel):
    """Graph isomorphism network (Xu et al., ICLR 2019): ``MLP((1 + eps) h_v + sum(N(v)))``, eps = 0.

    The paper's MLPs use batch normalisation; here a row-wise LayerNorm keeps sums over high-degree
    vertices in range without statistics across vertices, so partitions need no extra communication.
    """

    aggr = "sum"

    def __init__(self, in_dim: int, hidden: int, out_dim: int, layers: int = 2, dropout: float = 0.5):
        super().__init__()
        dims = [in_dim] + [hidden] * layers
        self.mlps = nn.ModuleList(
            nn.Sequential(Linear(a, b), nn.LayerNorm(b), Linear(b, b))
            for a, b in zip(dims[:-1], dims[1:], strict=True)
        )
        self.head = Linear(hidden, out_dim)
        self.dropout = dropout

    def _forward(self, x: torch.Tensor, adj: Any) -> torch.Tensor:
        h = x
        for mlp in self.mlps:
            h = feature_dropout(h, self.dropout, self.training)
            first, norm, second = mlp.children()
            assert isinstance(first, Linear)
            # the first MLP layer is linear, so apply it before the sum: A (h W) = (A h) W
            z = feature_matmul(h, first.weight)
            z = z + aggregate(adj, z) + first.bias
            h = torch.relu(second(torch.relu(norm(z))))
        return self.head(F.dropout(h, self.dropout, self.training))


class ResGCN(_GraphModel):
    """Deep residual GCN, the paper's deeper models, with GCNII's initial residual and identity mapping.

    An input projection ``h0 = relu(x W_in)``, then ``layers`` blocks
    ``h <- relu(((1 - a) A_hat h + a h0) ((1 - b_l) I + b_l W_l))`` with ``b_l = log(lam / l + 1)``
    (Chen et al., "Simple and Deep Graph Convolutional Networks", ICML 2020), and an output projection.
    The plain residual ``h + relu(A_hat h W)`` of the public Roc code's deeper GCNs over-smooths:
    with it a 4-block model lost 2-6 points to the 2-layer GCN on CiteSeer and PubMed here. The initial
    residual keeps a share ``a`` of every vertex's own features in each layer, and the identity mapping
    keeps deep blocks near the identity, which is what lets depth help.

    Parameters
    ----------
    in_dim, hidden, out_dim : int
    layers : int, default=4
        Number of propagation blocks.
    dropout : float, default=0.5
    alpha : float, default=0.1
        Initial-residual share ``a``.
    lam : float, default=0.5
        Identity-mapping strength ``lam`` (smaller keeps blocks closer to the identity).
    block_weight_decay : float or None, default=None
        Weight decay of the block weights when trained by :func:`~dawn.roc.train.fit` (GCNII uses 0.01
        on them and 5e-4 on the projections); ``None`` uses ``fit``'s for every parameter.
    """

    aggr = "gcn"

    def __init__(
        self,
        in_dim: int,
        hidden: int,
        out_dim: int,
        layers: int = 4,
        dropout: float = 0.5,
        *,
        alpha: float = 0.1,
        lam: float = 0.5,
        block_weight_decay: float | None = None,
    ):
        super().__init__()
        if layers < 1:
            raise DawnError(f"layers={layers}", "use at least one block")
        self.inp = Linear(in_dim, hidden)
        self.blocks = nn.ModuleList(Linear(hidden, hidden, bias=False) for _ in range(layers))
        self.out = Linear(hidden, out_dim)
        self.dropout, self.alpha, self.lam = dropout, alpha, lam
        self.block_weight_decay = block_weight_decay

    def param_groups(self, weight_decay: float) -> list[dict[str, Any]]:
        """Optimizer groups: the blocks at ``block_weight_decay``, the projections at ``weight_decay``."""
        wd = weight_decay if self.block_weight_decay is None else self.block_weight_decay
        rest = [p for n, p in self.named_parameters() if not n.startswith("blocks.")]
        return [
            {"params": list(self.blocks.parameters()), "weight_decay": wd},
            {"params": rest, "weight_decay": weight_decay},
        ]

    def _forward(self, x: torch.Tensor, adj: Any) -> torch.Tensor:
        h = feature_dropout(x, self.dropout, self.training)
        h0 = h = torch.relu(feature_matmul(h, self.inp.weight) + self.inp.bias)
        for depth, blk in enumerate(_lins(self.blocks), start=1):
            beta = math.log(self.lam / depth + 1.0)
            s = (1.0 - self.alpha) * aggregate(
                adj, F.dropout(h, self.dropout, self.training)
            ) + self.alpha * h0
            h = torch.relu((1.0 - beta) * s + beta * (s @ blk.weight))
        return self.out(F.dropout(h, self.dropout, self.training))


MODELS: dict[str, Any] = {"gcn": GCN, "sage": SAGE, "gin": GIN, "resgcn": ResGCN}


def build_model(
    name: str, in_dim: int, hidden: int, out_dim: int, *, layers: int | None = None, dropout: float = 0.5
) -> _GraphModel:
    """A model by name (``gcn``, ``sage``, ``gin``, ``resgcn``); ``layers`` defaults to 2 (4 for resgcn)."""
    if name not in MODELS:
        raise DawnError(f"unknown model {name!r}", f"choose one of {', '.join(MODELS)}")
    if layers is None:
        layers = 4 if name == "resgcn" else 2
    return MODELS[name](in_dim, hidden, out_dim, layers=layers, dropout=dropout)
