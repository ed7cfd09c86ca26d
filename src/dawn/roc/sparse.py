"""CSR adjacency and the sparse-dense product that every Roc model is built on.

Roc (Jia et al., MLSys 2020, https://proceedings.mlsys.org/paper/2020/hash/91fc23ceccb664ebb0cf4257e1ba9c51)
runs graph aggregation as a CSR sparse-dense matrix product over the in-edges of each vertex. Here the
product is ``torch.sparse.mm`` on a ``torch.sparse_csr`` matrix, wrapped in an autograd function whose
backward uses a transposed CSR built once (the aggregation matrix is fixed during training), so no
per-step transposes or COO conversions are paid, unlike the generic sparse autograd path.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from dawn.core.errors import DawnError

__all__ = ["CSRGraph", "spmm", "from_data", "validate_graph"]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence torch's "sparse CSR is beta" and invariant-check notices, which say nothing actionable."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]parse.*")
        yield


def validate_graph(edge_index: torch.Tensor, num_nodes: int, x: torch.Tensor | None = None) -> None:
    """Raise :class:`DawnError` if ``edge_index`` or ``x`` do not describe a graph of ``num_nodes``."""
    if num_nodes <= 0:
        raise DawnError(f"graph has {num_nodes} vertices", "pass a graph with at least one vertex")
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise DawnError(
            f"edge_index has shape {tuple(edge_index.shape)}, expected (2, E)",
            "pass edge_index as a 2 x E LongTensor of (source, target) pairs",
        )
    if edge_index.numel():
        lo, hi = int(edge_index.min()), int(edge_index.max())
        if lo < 0 or hi >= num_nodes:
            raise DawnError(
                f"edge_index refers to vertex {lo if lo < 0 else hi}, outside the range 0..{num_nodes - 1}",
                "drop or renumber the edges that point outside the vertex range",
            )
    if x is not None and x.shape[0] != num_nodes:
        raise DawnError(
            f"feature matrix has {x.shape[0]} rows but the graph has {num_nodes} vertices",
            "pass one feature row per vertex (x.shape[0] == num_nodes)",
        )


@dataclass
class CSRGraph:
    """A row-major (CSR) weighted adjacency ``A`` with ``A[v, u] != 0`` for each in-edge ``u -> v``.

    Attributes
    ----------
    indptr, indices : LongTensor
        CSR row pointers (``n_rows + 1``) and column indices (``nnz``).
    values : FloatTensor
        Edge weights (``nnz``).
    shape : tuple of int
        ``(n_rows, n_cols)``; ``n_cols`` exceeds ``n_rows`` for a partition with halo columns.
    """

    indptr: torch.Tensor
    indices: torch.Tensor
    values: torch.Tensor
    shape: tuple[int, int]
    _mat: Any = None
    _mat_t: Any = None
    symmetric: bool = False

    @property
    def nnz(self) -> int:
        return int(self.indices.numel())

    @property
    def num_rows(self) -> int:
        return self.shape[0]

    def in_degree(self) -> torch.Tensor:
        """Number of stored entries per row."""
        return self.indptr[1:] - self.indptr[:-1]

    def nbytes(self) -> int:
        """Bytes of the three CSR arrays."""
        return sum(t.numel() * t.element_size() for t in (self.indptr, self.indices, self.values))

    def matrix(self) -> torch.Tensor:
        """The ``torch.sparse_csr`` matrix (built once)."""
        if self._mat is None:
            with _quiet():
                self._mat = torch.sparse_csr_tensor(self.indptr, self.indices, self.values, self.shape)
        return self._mat

    def matrix_t(self) -> torch.Tensor:
        """The transpose as ``torch.sparse_csr`` (built once; the same object when symmetric)."""
        if self.symmetric:
            return self.matrix()
        if self._mat_t is None:
            with _quiet():
                t = self.matrix().to_sparse_coo().t().coalesce().to_sparse_csr()
            self._mat_t = t
        return self._mat_t

    def to(self, device: str | torch.device) -> CSRGraph:
        """A copy on ``device``."""
        return CSRGraph(
            self.indptr.to(device),
            self.indices.to(device),
            self.values.to(device),
            self.shape,
            symmetric=self.symmetric,
        )

    @classmethod
    def from_coo(
        cls,
        row: torch.Tensor,
        col: torch.Tensor,
        values: torch.Tensor | None,
        shape: tuple[int, int],
        *,
        symmetric: bool = False,
    ) -> CSRGraph:
        """Build from (row, col, value) triples; duplicates are summed."""
        if values is None:
            values = torch.ones(row.numel(), dtype=torch.float32)
        with _quiet():
            coo = torch.sparse_coo_tensor(torch.stack([row, col]), values, shape).coalesce()
            csr = coo.to_sparse_csr()
        return cls(
            csr.crow_indices().to(torch.long),
            csr.col_indices().to(torch.long),
            csr.values().to(torch.float32),
            shape,
            symmetric=symmetric,
        )

    def row_slice(self, lo: int, hi: int) -> CSRGraph:
        """Rows ``lo:hi`` (all columns kept, global column IDs)."""
        a, b = int(self.indptr[lo]), int(self.indptr[hi])
        return CSRGraph(
            self.indptr[lo : hi + 1] - a,
            self.indices[a:b].clone(),
            self.values[a:b].clone(),
            (hi - lo, self.shape[1]),
        )


class _SparseMM(torch.autograd.Function):
    """``A @ x`` for a sparse ``A`` with a cached transpose (``matrix()``/``matrix_t()``), used by both
    :class:`CSRGraph` and :class:`SparseFeatures`: the backward multiplies by the prebuilt transpose."""

    @staticmethod
    def forward(ctx: Any, sparse: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.sparse = sparse
        return torch.sparse.mm(sparse.matrix(), x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[None, torch.Tensor]:
        return None, torch.sparse.mm(ctx.sparse.matrix_t(), grad.contiguous())


def spmm(graph: CSRGraph, x: torch.Tensor) -> torch.Tensor:
    """``graph @ x`` for a dense ``x`` of shape ``(n_cols, d)``, differentiable in ``x``."""
    if x.shape[0] != graph.shape[1]:
        raise DawnError(
            f"feature matrix has {x.shape[0]} rows but the adjacency has {graph.shape[1]} columns",
            "pass one feature row per vertex",
        )
    return _SparseMM.apply(graph, x.contiguous())


def _edges(data: Any) -> tuple[torch.Tensor, int]:
    n = int(data.num_nodes)
    ei = data.edge_index
    validate_graph(ei, n, getattr(data, "x", None))
    return ei, n


def gcn_norm_csr(edge_index: torch.Tensor, num_nodes: int, *, self_loops: bool = True) -> CSRGraph:
    """``D^-1/2 (A + I) D^-1/2`` (Kipf & Welling, 2017) as CSR; row = target, column = source."""
    src, dst = edge_index[0], edge_index[1]
    if self_loops:
        keep = src != dst  # replace existing self-loops by exactly one of weight 1, as PyG does
        loop = torch.arange(num_nodes)
        src = torch.cat([src[keep], loop])
        dst = torch.cat([dst[keep], loop])
    deg = torch.zeros(num_nodes).index_add_(0, dst, torch.ones(dst.numel()))
    dinv = deg.pow(-0.5)
    dinv[torch.isinf(dinv)] = 0
    w = dinv[src] * dinv[dst]
    # symmetric only if the input edge set is; we check rather than assume
    g = CSRGraph.from_coo(dst, src, w, (num_nodes, num_nodes))
    g.symmetric = _is_symmetric(edge_index, num_nodes)
    return g


def mean_csr(edge_index: torch.Tensor, num_nodes: int) -> CSRGraph:
    """Row-normalised adjacency ``D^-1 A`` (GraphSAGE mean aggregation); row = target."""
    src, dst = edge_index[0], edge_index[1]
    deg = torch.zeros(num_nodes).index_add_(0, dst, torch.ones(dst.numel()))
    w = 1.0 / deg.clamp(min=1)[dst]
    return CSRGraph.from_coo(dst, src, w, (num_nodes, num_nodes))


def sum_csr(edge_index: torch.Tensor, num_nodes: int) -> CSRGraph:
    """Unweighted adjacency ``A`` (GIN sum aggregation); row = target."""
    src, dst = edge_index[0], edge_index[1]
    g = CSRGraph.from_coo(dst, src, None, (num_nodes, num_nodes))
    g.symmetric = _is_symmetric(edge_index, num_nodes)
    return g


def _is_symmetric(edge_index: torch.Tensor, n: int) -> bool:
    a = edge_index[0].numpy().astype(np.int64) * n + edge_index[1].numpy()
    b = edge_index[1].numpy().astype(np.int64) * n + edge_index[0].numpy()
    return bool(np.array_equal(np.sort(a), np.sort(b)))


def from_data(data: Any, kind: str = "gcn") -> CSRGraph:
    """The aggregation matrix a model of ``kind`` (``gcn``, ``mean`` or ``sum``) needs for ``data``."""
    ei, n = _edges(data)
    if kind == "gcn":
        return gcn_norm_csr(ei, n)
    if kind == "mean":
        return mean_csr(ei, n)
    if kind == "sum":
        return sum_csr(ei, n)
    raise DawnError(f"unknown aggregation {kind!r}", "use one of gcn, mean, sum")


class SparseFeatures:
    """A sparse input feature matrix (bag-of-words, TF-IDF) kept in CSR with its transpose's structure.

    Citation-graph features are 1-10% non-zero; dropout then only needs to draw the stored values, and
    ``dropout(X) @ W`` and its weight gradient ``X^T G`` become CSR products. The transpose's structure is
    built once with a permutation of the values, so a freshly dropped ``X`` costs no re-sorting.
    """

    def __init__(self, x: torch.Tensor) -> None:
        with _quiet():
            csr = x.to_sparse_csr()
            self.crow, self.col, self.values = csr.crow_indices(), csr.col_indices(), csr.values()
            n, d = x.shape
            self.shape = (n, d)
            # order of the stored entries when sorted by (column, row): the transpose's value order
            row = torch.repeat_interleave(torch.arange(n, device=x.device), self.crow[1:] - self.crow[:-1])
            self.perm_t = torch.argsort(self.col * n + row)
            counts = torch.bincount(self.col, minlength=d)
            self.crow_t = torch.cat([torch.zeros(1, dtype=torch.long, device=x.device), counts.cumsum(0)])
            self.col_t = row[self.perm_t]

    @property
    def density(self) -> float:
        return self.values.numel() / max(1, self.shape[0] * self.shape[1])

    def with_values(self, values: torch.Tensor) -> SparseFeatures:
        out = object.__new__(SparseFeatures)
        out.__dict__.update(self.__dict__)
        out.values = values
        return out

    def dropout(self, p: float, training: bool) -> SparseFeatures:
        if not training or p == 0.0:
            return self
        return self.with_values(torch.nn.functional.dropout(self.values, p, True))

    def matrix(self) -> torch.Tensor:
        with _quiet():
            return torch.sparse_csr_tensor(self.crow, self.col, self.values, self.shape)

    def matrix_t(self) -> torch.Tensor:
        with _quiet():
            return torch.sparse_csr_tensor(
                self.crow_t, self.col_t, self.values[self.perm_t], self.shape[::-1]
            )


def sparse_features(x: torch.Tensor, max_density: float = 0.2) -> torch.Tensor | SparseFeatures:
    """``x`` as :class:`SparseFeatures` when at most ``max_density`` of it is non-zero, else ``x``.

    Kept on a GPU too: there dense inputs are about 10% faster (PubMed on an H100: 1.45x PyG's sparse
    path dense, 1.30x sparse) but input dropout then allocates a copy of the whole feature matrix, and the
    step's peak device memory is 5x higher (49.7 MB against 9.9 MB; ``python -m dawn.roc.gpu_check``).
    Set a model's ``sparse_input_density`` to 0 for the dense path.
    """
    nnz = int((x != 0).sum())
    if x.dim() == 2 and nnz <= max_density * x.numel():
        return SparseFeatures(x)
    return x


def feature_dropout(h: Any, p: float, training: bool) -> Any:
    """Dropout for dense or :class:`SparseFeatures` inputs."""
    if isinstance(h, SparseFeatures):
        return h.dropout(p, training)
    return torch.nn.functional.dropout(h, p, training)


def feature_matmul(h: Any, w: torch.Tensor) -> torch.Tensor:
    """``h @ w`` for dense or :class:`SparseFeatures` ``h`` (differentiable in ``w``)."""
    if isinstance(h, SparseFeatures):
        return _SparseMM.apply(h, w)
    return h @ w
