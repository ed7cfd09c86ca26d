"""Blocked d x d products: every measure reduces to these, so no n x n matrix is ever formed.

The rows of the (float32) inputs are streamed in blocks, converted to float64 and multiplied; only
d x d (or k x d for the anchors) accumulators are kept. A torch backend runs the same products on a
GPU when one is present.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from dawn.core.errors import DawnError

BLOCK_ROWS = 8192


def _torch_device(backend: str) -> Any:
    if backend == "numpy":
        return None
    if backend != "torch":
        raise DawnError(f"unknown backend {backend!r}", "use 'numpy' or 'torch'")
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is in the shared environment
        raise DawnError(
            "the torch backend needs torch", "pip install torch, or use backend='numpy'"
        ) from None
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cross_products(
    mats: Sequence[np.ndarray],
    pairs: Sequence[tuple[int, int]],
    *,
    backend: str = "numpy",
    block_rows: int = BLOCK_ROWS,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``mats[i].T @ mats[j]`` for each ``(i, j)`` in ``pairs``, and every matrix's column sums.

    All matrices must have the same number of rows; they are read once, block by block, and each
    block is converted to float64 before multiplying (float32 storage, float64 arithmetic).
    """
    n = mats[0].shape[0]
    if any(m.shape[0] != n for m in mats):
        raise DawnError(
            f"matrices have different numbers of rows: {[m.shape[0] for m in mats]}",
            "compare embeddings over the same words (use the shared vocabulary)",
        )
    device = _torch_device(backend)
    if device is None:
        acc = [np.zeros((mats[i].shape[1], mats[j].shape[1])) for i, j in pairs]
        sums = [np.zeros(m.shape[1]) for m in mats]
        for s in range(0, n, block_rows):
            blocks = [np.asarray(m[s : s + block_rows], dtype=np.float64) for m in mats]
            for a, (i, j) in zip(acc, pairs, strict=True):
                a += blocks[i].T @ blocks[j]
            for t, b in zip(sums, blocks, strict=True):
                t += b.sum(axis=0)
        return acc, sums
    import torch

    tacc = [
        torch.zeros((mats[i].shape[1], mats[j].shape[1]), dtype=torch.float64, device=device)
        for i, j in pairs
    ]
    tsums = [torch.zeros(m.shape[1], dtype=torch.float64, device=device) for m in mats]
    for s in range(0, n, block_rows):
        tb = [torch.as_tensor(np.asarray(m[s : s + block_rows]), device=device).double() for m in mats]
        for ta, (i, j) in zip(tacc, pairs, strict=True):
            ta += tb[i].T @ tb[j]
        for ts, tbk in zip(tsums, tb, strict=True):
            ts += tbk.sum(dim=0)
    return [a.cpu().numpy() for a in tacc], [t.cpu().numpy() for t in tsums]


@contextlib.contextmanager
def single_thread_lapack() -> Iterator[None]:
    """Run small (d x d) LAPACK calls on one BLAS thread.

    OpenBLAS's threaded eigh/svd spin-wait for their sibling threads; on an oversubscribed machine an
    800 x 800 eigh then takes ~15 s instead of ~0.2 s. For d <= a few thousand one thread is as fast.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - ships with scikit-learn
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


def psd_eig(gram: np.ndarray, rtol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (clipped at 0, tiny ones zeroed) and eigenvectors of a symmetric PSD matrix."""
    with single_thread_lapack():
        lam, vec = np.linalg.eigh((gram + gram.T) / 2)
    lam = np.where(lam > rtol * max(float(lam.max(initial=0.0)), 1e-300), lam, 0.0)
    return lam, vec


def psd_power(lam: np.ndarray, vec: np.ndarray, p: float) -> np.ndarray:
    """``V diag(lam**p) V^T`` on the positive eigenvalues (a pseudo-power for negative ``p``)."""
    pos = lam > 0
    return (vec[:, pos] * lam[pos] ** p) @ vec[:, pos].T


def whitener(gram: np.ndarray) -> np.ndarray:
    """``W`` with ``X W`` an orthonormal basis of the column space of ``X`` (``gram = X^T X``).

    ``W = V diag(lam^-1/2)`` over the positive eigenvalues, so ``X W`` has orthonormal columns even
    when ``X`` is rank deficient (e.g. a 1-bit quantised matrix with repeated columns).
    """
    lam, vec = psd_eig(gram)
    pos = lam > 0
    return vec[:, pos] / np.sqrt(lam[pos])


def row_blocks(n: int, block_rows: int = BLOCK_ROWS) -> range:
    return range(0, n, block_rows)
