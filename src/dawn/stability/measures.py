"""Embedding distance measures in one registry; every one is oriented so that larger = less stable.

Implements the measures of Leszczynski et al., "Understanding the Downstream Instability of Word
Embeddings" (MLSys 2020, https://arxiv.org/abs/2003.04983): eigenspace instability (EIS, section 4),
1 - k-NN overlap, semantic displacement, PIP loss and 1 - eigenspace overlap (section 5 baselines), plus
linear CKA and Procrustes distance as extras. Each is computed from d x d Gram matrices gathered in
one blocked pass (:class:`Pair`), or from blocked products (k-NN, displacement): never an n x n matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from dawn.core.errors import DawnError
from dawn.stability._linalg import BLOCK_ROWS, cross_products, single_thread_lapack, whitener
from dawn.stability.anchors import Anchors

__all__ = [
    "Measure",
    "Pair",
    "MEASURES",
    "PAPER_MEASURES",
    "register_measure",
    "get_measure",
    "compute_measures",
]


class Pair:
    """Two row-aligned embedding matrices ``X`` (corpus 1) and ``X~`` (corpus 2) and their statistics.

    The Gram statistics (``X^T X``, ``X~^T X~``, ``X^T X~``, column sums and, with anchors, the four
    anchor cross products) are computed together in one pass over the rows the first time any measure
    needs them, and shared by all measures.
    """

    def __init__(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        *,
        anchors: Anchors | None = None,
        backend: str = "numpy",
        block_rows: int = BLOCK_ROWS,
    ) -> None:
        if X.ndim != 2 or Y.ndim != 2:
            raise DawnError(
                f"embeddings must be 2-D, got shapes {X.shape} and {Y.shape}", "pass n x d matrices"
            )
        if X.shape[0] != Y.shape[0]:
            raise DawnError(
                f"the embeddings cover {X.shape[0]} and {Y.shape[0]} words",
                "align them over the shared vocabulary first (dawn.stability.align_pair)",
            )
        if X.shape[0] < 2:
            raise DawnError(f"only {X.shape[0]} shared word(s)", "compare embeddings over more words")
        if anchors is not None and anchors.n_words != X.shape[0]:
            raise DawnError(
                f"anchors cover {anchors.n_words} words but the embeddings {X.shape[0]}",
                "restrict anchors and embeddings to the same words",
            )
        for name, m in (("X", X), ("X~", Y)):
            for s in range(0, m.shape[0], 65536):
                if not np.isfinite(np.asarray(m[s : s + 65536])).all():
                    raise DawnError(
                        f"embedding {name} holds NaN or infinite values", "drop or fix those vectors"
                    )
        self.X, self.Y, self.anchors = X, Y, anchors
        self.backend, self.block_rows = backend, block_rows

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    def same_dim(self, measure: str) -> None:
        if self.X.shape[1] != self.Y.shape[1]:
            raise DawnError(
                f"{measure} needs equal dimensions, got {self.X.shape[1]} and {self.Y.shape[1]}",
                "compare embeddings of the same dimension, or use eis / knn / pip / eo / cka",
            )

    @cached_property
    def stats(self) -> dict[str, Any]:
        mats = [self.X, self.Y]
        pairs = [(0, 0), (1, 1), (0, 1)]
        if self.anchors is not None:
            self.anchors.check_fitted()
            mats += [self.anchors.E, self.anchors.E_tilde]
            pairs += [(2, 0), (2, 1), (3, 0), (3, 1)]
        prods, sums = cross_products(mats, pairs, backend=self.backend, block_rows=self.block_rows)
        out: dict[str, Any] = {"G1": prods[0], "G2": prods[1], "C": prods[2], "s1": sums[0], "s2": sums[1]}
        if self.anchors is not None:
            out["anchor_cross"] = [(prods[3], prods[4]), (prods[5], prods[6])]
        return out

    @cached_property
    def whiteners(self) -> tuple[np.ndarray, np.ndarray]:
        return whitener(self.stats["G1"]), whitener(self.stats["G2"])


@dataclass(frozen=True)
class Measure:
    """A registered measure: ``func(pair, **params) -> float``; larger always means less stable."""

    name: str
    func: Callable[..., float]
    description: str
    needs_anchors: bool = False
    in_paper: bool = True
    defaults: dict[str, Any] = field(default_factory=dict)
    larger_is_less_stable: bool = True

    def __call__(self, pair: Pair, **params: Any) -> float:
        if self.needs_anchors and pair.anchors is None:
            raise DawnError(f"measure {self.name!r} needs anchor embeddings", "pass --anchors EA EB")
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise DawnError(
                f"measure {self.name!r} has no parameter(s) {sorted(unknown)}",
                f"its parameters are {sorted(self.defaults)}",
            )
        return float(self.func(pair, **{**self.defaults, **params}))


MEASURES: dict[str, Measure] = {}


def register_measure(
    name: str, *, description: str, needs_anchors: bool = False, in_paper: bool = True, **defaults: Any
) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Decorator adding ``func(pair, **params)`` to :data:`MEASURES` under ``name``."""

    def deco(func: Callable[..., float]) -> Callable[..., float]:
        MEASURES[name] = Measure(name, func, description, needs_anchors, in_paper, dict(defaults))
        return func

    return deco


def get_measure(name: str) -> Measure:
    try:
        return MEASURES[name]
    except KeyError:
        raise DawnError(f"unknown measure {name!r}", f"choose from {', '.join(MEASURES)}") from None


@register_measure("eis", description="eigenspace instability (anchor-weighted)", needs_anchors=True)
def eis(pair: Pair) -> float:
    """EIS = tr((P - P~) S (P - P~)) / tr(S), ``P`` the projection onto ``X``'s column space.

    With ``Q = X W`` orthonormal, ``F = L^T E^T X W`` (``L L^T = (E^T E)^(a-1)``) and ``B = Q^T Q~``,
    ``tr(P A P) = ||F||^2`` and ``tr(P A P~ ) = tr(F~^T F B)``, so only k x d products are needed.
    """
    assert pair.anchors is not None
    st = pair.stats
    W1, W2 = pair.whiteners
    B = W1.T @ st["C"] @ W2
    num = 0.0
    for L, (EX, EY) in zip(pair.anchors.factors_, st["anchor_cross"], strict=True):
        F1 = L.T @ (EX @ W1)
        F2 = L.T @ (EY @ W2)
        num += float(np.sum(F1 * F1) + np.sum(F2 * F2) - 2.0 * np.sum(F2 * (F1 @ B)))
    return max(num, 0.0) / pair.anchors.trace_s_


@register_measure("eo", description="1 - eigenspace overlap ||U^T U~||_F^2 / max(d, d~)")
def one_minus_eigenspace_overlap(pair: Pair) -> float:
    W1, W2 = pair.whiteners
    B = W1.T @ pair.stats["C"] @ W2
    return 1.0 - float(np.sum(B * B)) / max(pair.X.shape[1], pair.Y.shape[1])


@register_measure("pip", description="PIP loss ||X X^T - X~ X~^T||_F")
def pip_loss(pair: Pair) -> float:
    st = pair.stats
    sq = np.sum(st["G1"] ** 2) + np.sum(st["G2"] ** 2) - 2.0 * np.sum(st["C"] ** 2)
    return float(np.sqrt(max(float(sq), 0.0)))


@register_measure(
    "knn",
    description="1 - mean k-NN overlap (cosine, queries drawn with a seed)",
    k=5,
    n_queries=1000,
    seed=1234,
)
def knn_instability(pair: Pair, k: int, n_queries: int, seed: int) -> float:
    """1 - mean over queries of |N_k(q) cap N~_k(q)| / k, neighbours among all n words, self excluded."""
    n = pair.n
    if k < 1 or k >= n:
        raise DawnError(f"k = {k} nearest neighbours among {n} words", "use 1 <= k < number of words")
    rng = np.random.default_rng(seed)
    queries = np.sort(rng.choice(n, size=min(n_queries, n), replace=False))
    overlap = 0.0
    nbrs = [_knn(m, queries, k, pair.block_rows) for m in (pair.X, pair.Y)]
    for a, b in zip(*nbrs, strict=True):
        overlap += len(np.intersect1d(a, b, assume_unique=True)) / k
    return 1.0 - overlap / len(queries)


def _unit_rows(block: np.ndarray) -> np.ndarray:
    b = np.asarray(block, dtype=np.float64)
    norms = np.linalg.norm(b, axis=1, keepdims=True)
    return b / np.where(norms > 0, norms, 1.0)


def _knn(M: np.ndarray, queries: np.ndarray, k: int, block_rows: int) -> np.ndarray:
    """Indices of each query's k cosine nearest neighbours (excluding itself), streaming over rows."""
    q = _unit_rows(M[queries])
    best_sim = np.full((len(queries), k), -np.inf)
    best_idx = np.zeros((len(queries), k), dtype=np.int64)
    for s in range(0, M.shape[0], block_rows):
        sims = q @ _unit_rows(M[s : s + block_rows]).T
        own = (queries >= s) & (queries < s + sims.shape[1])
        sims[np.flatnonzero(own), queries[own] - s] = -np.inf
        kk = min(k, sims.shape[1])
        part = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]  # cut each block to its own top k first
        all_sim = np.concatenate([best_sim, np.take_along_axis(sims, part, axis=1)], axis=1)
        all_idx = np.concatenate([best_idx, part + s], axis=1)
        # ties broken by the lower word index, so the result does not depend on the block size
        order = np.lexsort((all_idx, -all_sim), axis=1)[:, :k]
        best_sim = np.take_along_axis(all_sim, order, axis=1)
        best_idx = np.take_along_axis(all_idx, order, axis=1)
    return best_idx


def procrustes_rotation(C: np.ndarray) -> np.ndarray:
    """The orthogonal ``R`` minimising ``||X R - X~||_F`` given ``C = X^T X~`` (Schönemann, 1966)."""
    with single_thread_lapack():
        u, _, vt = np.linalg.svd(C, full_matrices=False)
    return u @ vt


@register_measure("sem_disp", description="mean cosine distance after orthogonal Procrustes alignment")
def semantic_displacement(pair: Pair) -> float:
    pair.same_dim("sem_disp")
    R = procrustes_rotation(pair.stats["C"])
    total, count = 0.0, 0
    for s in range(0, pair.n, pair.block_rows):
        x = np.asarray(pair.X[s : s + pair.block_rows], dtype=np.float64) @ R
        y = np.asarray(pair.Y[s : s + pair.block_rows], dtype=np.float64)
        denom = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
        ok = denom > 0  # the original takes a nanmean: all-zero vectors have no direction
        total += float(np.sum(1.0 - np.sum(x[ok] * y[ok], axis=1) / denom[ok]))
        count += int(ok.sum())
    return total / max(count, 1)


@register_measure("cka", description="1 - linear CKA (Kornblith et al., 2019)", in_paper=False)
def one_minus_linear_cka(pair: Pair) -> float:
    st, n = pair.stats, pair.n
    g1 = st["G1"] - np.outer(st["s1"], st["s1"]) / n
    g2 = st["G2"] - np.outer(st["s2"], st["s2"]) / n
    c = st["C"] - np.outer(st["s1"], st["s2"]) / n
    denom = np.linalg.norm(g1) * np.linalg.norm(g2)
    return 1.0 - float(np.sum(c * c) / denom) if denom > 0 else 1.0


@register_measure(
    "procrustes", description="Procrustes distance of Frobenius-normalised embeddings", in_paper=False
)
def procrustes_distance(pair: Pair) -> float:
    st = pair.stats
    norms = float(np.sqrt(np.trace(st["G1"]) * np.trace(st["G2"])))
    if norms == 0:
        return 0.0
    with single_thread_lapack():
        nuclear = float(np.linalg.svd(st["C"], compute_uv=False).sum())
    return float(np.sqrt(max(2.0 - 2.0 * nuclear / norms, 0.0)))


#: The five measures the paper compares, in its order.
PAPER_MEASURES = ("eis", "knn", "sem_disp", "pip", "eo")


def compute_measures(
    X: np.ndarray,
    Y: np.ndarray,
    measures: Iterable[str] | None = None,
    *,
    anchors: Anchors | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    backend: str = "numpy",
) -> dict[str, float]:
    """Every requested measure (default: the paper's five, EIS only with anchors) for one pair."""
    names = (
        list(measures)
        if measures is not None
        else [m for m in PAPER_MEASURES if anchors is not None or not MEASURES[m].needs_anchors]
    )
    chosen = [get_measure(m) for m in names]
    pair = Pair(X, Y, anchors=anchors, backend=backend)
    return {m.name: m(pair, **(params or {}).get(m.name, {})) for m in chosen}
