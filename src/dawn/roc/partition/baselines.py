"""Baseline partitioners beside Roc's learned one: equal vertices, equal edges (what the public Roc code
cuts), and METIS (Karypis & Kumar, 1998) via pymetis, renumbered into contiguous ranges."""

from __future__ import annotations

import numpy as np

from dawn.roc.partition.base import Partition, _metis_membership, check_k

__all__ = ["equal_vertices", "equal_edges", "metis", "split_prefix"]


def split_prefix(cost: np.ndarray, k: int) -> np.ndarray:
    """Bounds of ``k`` contiguous ranges of near-equal total ``cost`` (non-negative, per vertex).

    Cuts where the prefix sum crosses ``i * total / k``; every range keeps at least one vertex.
    """
    n = len(cost)
    check_k(k, n)
    prefix = np.concatenate([[0.0], np.cumsum(np.asarray(cost, dtype=np.float64))])
    targets = prefix[-1] * np.arange(1, k) / k
    cuts = np.searchsorted(prefix, targets, side="left")
    # choose the nearer of the two prefix points around each target
    prev = np.clip(cuts - 1, 0, n)
    cuts = np.where(
        np.abs(prefix[prev] - targets) < np.abs(prefix[np.clip(cuts, 0, n)] - targets), prev, cuts
    )
    bounds = np.concatenate([[0], cuts, [n]]).astype(np.int64)
    for i in range(1, k + 1):  # at least one vertex per range, left to right then right to left
        bounds[i] = max(bounds[i], bounds[i - 1] + 1)
    bounds[k] = n
    for i in range(k - 1, 0, -1):
        bounds[i] = min(bounds[i], bounds[i + 1] - 1)
    return bounds


def equal_vertices(indptr: np.ndarray, k: int) -> Partition:
    """``k`` ranges of (nearly) equal vertex count."""
    n = len(indptr) - 1
    return Partition(split_prefix(np.ones(n), k), method="nodes")


def equal_edges(indptr: np.ndarray, k: int) -> Partition:
    """``k`` ranges of (nearly) equal in-edge count, the public Roc code's split."""
    return Partition(split_prefix(np.diff(indptr).astype(np.float64), k), method="edges")


def metis(indptr: np.ndarray, indices: np.ndarray, k: int, *, seed: int = 0) -> Partition:
    """METIS k-way min-cut parts, renumbered so each part is one contiguous range."""
    n = len(indptr) - 1
    check_k(k, n)
    if k == 1:
        return Partition(np.array([0, n]), method="metis")
    membership = _metis_membership(indptr, indices, k, seed)
    perm = np.argsort(membership, kind="stable").astype(np.int64)
    counts = np.bincount(membership, minlength=k)
    bounds = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    if (counts == 0).any():  # METIS may leave a part empty on tiny graphs; fall back to equal split
        bounds = split_prefix(np.ones(n), k)
    return Partition(bounds, perm=perm, method="metis")
