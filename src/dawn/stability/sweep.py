"""A sweep: every (dimension, precision) candidate of a snapshot pair, measured against shared anchors.

This is the loop of Leszczynski et al. (MLSys 2020, section 5): for each dimension's pair of
embeddings (corpus 1, corpus 2) and each precision, compress the pair and compute every measure over
the same top-n words, with the anchors decomposed once for the whole sweep.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dawn.core.errors import DawnError
from dawn.core.progress import track
from dawn.stability.anchors import Anchors
from dawn.stability.compress import BITS, compress_pair
from dawn.stability.embedding import Embedding, shared_vocabulary
from dawn.stability.measures import MEASURES, PAPER_MEASURES, Pair, get_measure

__all__ = ["sweep", "common_words"]


def common_words(
    embeddings: Sequence[Embedding], *, top_n: int | None = 10000, frequencies: Any = None
) -> list[str]:
    """The top-n words (by ``frequencies``, else the first embedding's order) present in all embeddings."""
    words = shared_vocabulary(embeddings[0], embeddings[1], frequencies=frequencies)
    for e in embeddings[2:]:
        idx = e.index
        words = [w for w in words if w in idx]
    if not words:
        raise DawnError("the embeddings share no words", "check that they embed the same corpus vocabulary")
    return words[:top_n] if top_n is not None else words


def sweep(
    pairs: Sequence[tuple[Embedding, Embedding]],
    *,
    anchors: tuple[Embedding, Embedding] | None = None,
    bits: Sequence[int] = BITS,
    measures: Sequence[str] | None = None,
    top_n: int | None = 10000,
    frequencies: Any = None,
    alpha: float = 3.0,
    backend: str = "numpy",
    params: dict[str, dict[str, Any]] | None = None,
    extra: Sequence[dict[str, Any]] | None = None,
) -> pd.DataFrame:
    """Measure every (pair, precision) candidate; one row each with dim, bits, memory and the measures.

    Parameters
    ----------
    pairs : list of (Embedding, Embedding)
        One full-precision pair per dimension: (corpus 1, corpus 2).
    anchors : (Embedding, Embedding), optional
        Anchors for EIS; without them EIS is skipped.
    extra : list of dict, optional
        Extra columns per pair (e.g. seed), merged into that pair's rows.
    """
    names = (
        list(measures)
        if measures is not None
        else [m for m in PAPER_MEASURES if anchors is not None or not MEASURES[m].needs_anchors]
    )
    chosen = [get_measure(m) for m in names]
    embs = [e for p in pairs for e in p] + (list(anchors) if anchors else [])
    words = common_words(embs, top_n=top_n, frequencies=frequencies)
    anc = (
        Anchors(anchors[0].rows(words), anchors[1].rows(words), alpha=alpha, backend=backend).fit()
        if anchors
        else None
    )
    rows = []
    jobs = [(i, b) for i in range(len(pairs)) for b in bits]
    for i, b in track(jobs, description="sweep"):
        a, t = pairs[i]
        if a.dim != t.dim:
            raise DawnError(
                f"pair {i} has dimensions {a.dim} and {t.dim}", "pair embeddings of one dimension"
            )
        X, Y, clip = compress_pair(a.rows(words), t.rows(words), b)
        pair = Pair(X, Y, anchors=anc, backend=backend)
        row: dict[str, Any] = {
            "dim": a.dim,
            "bits": b,
            "memory": a.dim * b,
            "clip": clip,
            "n_words": len(words),
        }
        row.update(extra[i] if extra else {})
        row.update({m.name: m(pair, **(params or {}).get(m.name, {})) for m in chosen})
        rows.append(row)
    return pd.DataFrame(rows)


def quantised_pair(
    a: Embedding, t: Embedding, bits: int, words: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Both snapshots over ``words``, compressed together (``t`` aligned to ``a``, ``a``'s clip)."""
    X, Y, _ = compress_pair(a.rows(words), t.rows(words), bits)
    return X, Y
