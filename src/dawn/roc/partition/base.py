"""Partitions as contiguous vertex ranges, vertex orderings, and their boundary (halo) sizes.

Roc (Jia et al., MLSys 2020) gives each worker a contiguous range of vertex IDs with all their in-edges.
A :class:`Partition` is those ranges over a vertex order; METIS's arbitrary parts become contiguous
ranges after renumbering, so every partitioner here feeds the same training code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dawn.core.errors import DawnError

__all__ = ["Partition", "boundary_rows", "check_k", "permute_csr", "locality_order", "group_halo_rows"]


def check_k(k: int, n: int) -> None:
    """Raise :class:`DawnError` unless ``1 <= k <= n``."""
    if k < 1 or k > n:
        raise DawnError(
            f"asked for {k} partitions of a graph with {n} vertices",
            "use between 1 and the number of vertices partitions",
        )


@dataclass
class Partition:
    """``k`` contiguous ranges ``bounds[i]:bounds[i+1]`` of the vertex order ``perm``.

    ``perm[j]`` is the original ID of the vertex at position ``j`` (identity when ``None``).
    """

    bounds: np.ndarray
    perm: np.ndarray | None = None
    method: str = ""
    info: dict = field(default_factory=dict)

    @property
    def k(self) -> int:
        return len(self.bounds) - 1

    def ranges(self) -> list[tuple[int, int]]:
        return [(int(a), int(b)) for a, b in zip(self.bounds[:-1], self.bounds[1:], strict=True)]

    def sizes(self) -> np.ndarray:
        return np.diff(self.bounds)


def boundary_rows(indptr: np.ndarray, indices: np.ndarray, bounds: np.ndarray) -> list[int]:
    """Per range: the number of distinct in-neighbours outside it (rows it must receive each layer)."""
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        cols = indices[indptr[lo] : indptr[hi]]
        ext = cols[(cols < lo) | (cols >= hi)]
        out.append(int(np.unique(ext).size))
    return out


def permute_csr(indptr: np.ndarray, indices: np.ndarray, perm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The CSR of the graph renumbered so that new vertex ``j`` is old vertex ``perm[j]``; rows sorted."""
    n = len(indptr) - 1
    inv = np.empty(n, dtype=np.int64)
    inv[perm] = np.arange(n)
    deg = np.diff(indptr)[perm]
    new_ptr = np.concatenate([[0], np.cumsum(deg)])
    starts = indptr[perm]
    take = np.repeat(starts - new_ptr[:-1], deg) + np.arange(new_ptr[-1])
    cols = inv[indices[take]]
    row = np.repeat(np.arange(n), deg)
    order = np.lexsort((cols, row))
    return new_ptr.astype(np.int64), cols[order].astype(np.int64)


def _metis_membership(
    indptr: np.ndarray,
    indices: np.ndarray,
    parts: int,
    seed: int,
    vweights: np.ndarray | None = None,
    tpwgts: np.ndarray | None = None,
) -> np.ndarray:
    import pymetis

    n = len(indptr) - 1
    row = np.repeat(np.arange(n), np.diff(indptr))
    keep = indices != row  # METIS rejects self-loops
    ptr = np.concatenate([[0], np.cumsum(np.bincount(row[keep], minlength=n))])
    adj = pymetis.CSRAdjacency(adj_starts=ptr, adjacent=indices[keep])
    vw = None
    if vweights is not None:  # METIS balances integer weights: about 1000 per vertex, total within int32
        w = np.asarray(vweights, dtype=np.float64)
        per_vertex = min(1000.0, 1e9 / max(n, 1))
        vw = np.maximum(1, np.rint(w * (per_vertex / max(float(w.mean()), 1e-300)))).astype(np.int64)
    tp = None if tpwgts is None else [float(v) for v in np.asarray(tpwgts) / np.sum(tpwgts)]
    _, membership = pymetis.part_graph(parts, adj, vweights=vw, tpwgts=tp, options=pymetis.Options(seed=seed))
    return np.asarray(membership, dtype=np.int64)


def group_halo_rows(indptr: np.ndarray, indices: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Per group: distinct in-neighbours in other groups (the halo rows it would receive per layer)."""
    n = len(indptr) - 1
    k = int(groups.max()) + 1
    row = np.repeat(np.arange(n), np.diff(indptr))
    cut = groups[row] != groups[indices]
    pairs = np.unique(indices[cut] * k + groups[row][cut])
    return np.bincount(pairs % k, minlength=k)


def locality_order(
    indptr: np.ndarray,
    indices: np.ndarray,
    *,
    k: int | None = None,
    parts: int = 64,
    seed: int = 0,
    vweights: np.ndarray | None = None,
    tries: int = 1,
    groups: np.ndarray | None = None,
    return_anchors: bool = False,
) -> Any:
    """A vertex order in which neighbours have nearby IDs, which Roc's range partitioning assumes.

    Vertices are grouped by a ``k``-way METIS partition (when ``k`` is given) and, inside each group, by
    a finer ``parts``-way one, so the learned partitioner's cuts land near min-cut boundaries and a
    cut moved to balance the load crosses few edges. Falls back to reverse Cuthill-McKee without pymetis.
    With ``vweights`` (per-vertex predicted cost, e.g. from the learned cost model) the ``k`` groups
    are balanced in that cost instead of in vertex count; with ``tries`` > 1 the ``k``-way split with
    the fewest halo rows of that many METIS seeds is kept; ``groups`` (per-vertex group IDs ``0..k-1``)
    replaces that ``k``-way split altogether. With ``return_anchors`` also returns the
    positions where the ``k`` METIS groups meet (cuts there cross only METIS's cut edges).
    """
    n = len(indptr) - 1
    try:
        import pymetis  # noqa: F401
    except ImportError:  # pragma: no cover - pymetis is in the roc extra
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import reverse_cuthill_mckee

        m = csr_matrix((np.ones(len(indices)), indices, indptr), shape=(n, n))
        order = np.asarray(reverse_cuthill_mckee(m, symmetric_mode=True), dtype=np.int64)
        return (order, np.zeros(0, dtype=np.int64)) if return_anchors else order
    fine = (
        _metis_membership(indptr, indices, max(1, min(parts, n)), seed)
        if parts > 1
        else np.zeros(n, np.int64)
    )
    row = np.repeat(np.arange(n), np.diff(indptr))
    coarse = np.zeros(n, np.int64)
    if groups is not None:
        coarse = np.asarray(groups, dtype=np.int64)
    elif k and k > 1:
        # METIS is randomised and fast: keep the cheapest of a few seeds by halo rows (distinct
        # (vertex, other group) pairs), the quantity the halo exchange pays for
        best = -1
        for s in range(seed, seed + max(1, tries)):
            mem = _metis_membership(indptr, indices, k, s, vweights)
            halo = int(group_halo_rows(indptr, indices, mem).sum())
            if best < 0 or halo < best:
                coarse, best = mem, halo
    # Inside part p, vertices tied to part p-1 go first and those tied to part p+1 last: a cut moved to
    # balance the load then hands over vertices whose neighbours are already on the other side.
    cp = coarse[indices]
    pull = np.bincount(
        row, weights=(cp == coarse[row] + 1).astype(float) - (cp == coarse[row] - 1), minlength=n
    )
    order = np.lexsort((fine, pull, coarse)).astype(np.int64)
    if not return_anchors:
        return order
    anchors = np.cumsum(np.bincount(coarse, minlength=int(coarse.max()) + 1))[:-1]
    return order, anchors.astype(np.int64)
