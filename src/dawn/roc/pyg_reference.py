"""The peer: the same models built from PyTorch Geometric layers, for side-by-side accuracy and speed.

PyG runs either with ``edge_index`` (message passing through gather/scatter, its default) or with a
sparse adjacency (``torch.sparse_csr`` ``adj_t``, its sparse-matmul path). Both use ``cached=True``
normalisation so that neither pays for recomputing ``D^-1/2 A D^-1/2`` every epoch.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

__all__ = ["PygGCN", "pyg_adjacency"]


def pyg_adjacency(data: Any, mode: str) -> Any:
    """The graph as PyG takes it: ``edge_index`` (``mode="edge_index"``) or ``adj_t`` (``"sparse"``)."""
    if mode == "edge_index":
        return data.edge_index
    from torch_geometric.utils import to_torch_csr_tensor

    # adj_t[target, source]: the transposed adjacency PyG's sparse path expects
    ei = data.edge_index.flip(0)
    return to_torch_csr_tensor(ei, size=(data.num_nodes, data.num_nodes))


class PygGCN(torch.nn.Module):
    """2-layer (or deeper) GCN from ``torch_geometric.nn.GCNConv`` with the same dropout as ours."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, layers: int = 2, dropout: float = 0.5):
        super().__init__()
        from torch_geometric.nn import GCNConv

        dims = [in_dim] + [hidden] * (layers - 1) + [out_dim]
        self.convs = torch.nn.ModuleList(
            GCNConv(a, b, cached=True) for a, b in zip(dims[:-1], dims[1:], strict=True)
        )
        self.dropout = dropout

    def forward(self, x: torch.Tensor, adj: Any) -> torch.Tensor:
        for i, conv in enumerate(self.convs):
            x = F.dropout(x, self.dropout, self.training)
            x = conv(x, adj)
            if i < len(self.convs) - 1:
                x = torch.relu(x)
        return x
