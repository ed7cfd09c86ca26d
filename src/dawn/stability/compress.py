"""Orthogonal Procrustes alignment and uniform quantisation with a golden-section clip.

Leszczynski et al. (MLSys 2020, section 3) compress embeddings by uniform quantisation (after May et
al., 2019): the matrix is clipped to ``[-r, r]`` with ``r`` chosen to minimise the Frobenius
reconstruction error by golden-section search, then rounded deterministically to ``2^b`` evenly spaced
levels. The second snapshot is first Procrustes-aligned to the first and then reuses its clip value,
so that both matrices share one quantisation grid.
"""

from __future__ import annotations

import math

import numpy as np

from dawn.core.errors import DawnError
from dawn.stability._linalg import BLOCK_ROWS, cross_products
from dawn.stability.measures import procrustes_rotation

__all__ = ["BITS", "procrustes_align", "quantize", "find_clip", "compress_pair"]

#: Precisions of the paper's grid; 32 means full precision (no quantisation).
BITS = (1, 2, 4, 8, 16, 32)


def procrustes_align(Y: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``Y R`` with ``R`` orthogonal minimising ``||Y R - X||_F`` (rows of ``X`` and ``Y`` aligned)."""
    if Y.shape != X.shape:
        raise DawnError(
            f"Procrustes alignment needs equal shapes, got {Y.shape} and {X.shape}",
            "align embeddings of the same dimension over the same words",
        )
    (C,), _ = cross_products([Y, X], [(0, 1)])
    return (np.asarray(Y, dtype=np.float64) @ procrustes_rotation(C)).astype(np.float32)


def _check_bits(bits: int) -> None:
    if bits not in BITS:
        raise DawnError(f"unsupported precision {bits} bits", f"choose one of {', '.join(map(str, BITS))}")


def quantize(X: np.ndarray, bits: int, clip: float) -> np.ndarray:
    """Clip ``X`` to ``[-clip, clip]`` and round to the nearest of ``2^bits`` evenly spaced levels.

    Rounding is deterministic (to nearest, ties to even), so the same input always gives the same
    output; 32 bits returns a float32 copy unchanged.
    """
    _check_bits(bits)
    if bits == 32:
        return np.array(X, dtype=np.float32)
    if clip <= 0:
        return np.zeros(X.shape, dtype=np.float32)
    step = 2.0 * clip / (2**bits - 1)
    out = np.empty(X.shape, dtype=np.float32)
    for s in range(0, X.shape[0], BLOCK_ROWS):
        b = np.clip(np.asarray(X[s : s + BLOCK_ROWS], dtype=np.float64), -clip, clip)
        out[s : s + BLOCK_ROWS] = np.rint((b + clip) / step) * step - clip
    return out


def _error(X: np.ndarray, bits: int, clip: float) -> float:
    err = 0.0
    for s in range(0, X.shape[0], BLOCK_ROWS):
        b = np.asarray(X[s : s + BLOCK_ROWS], dtype=np.float64)
        err += float(np.sum((quantize(b, bits, clip).astype(np.float64) - b) ** 2))
    return err


def find_clip(X: np.ndarray, bits: int, *, tol: float = 1e-4, max_iter: int = 60) -> float:
    """The clip value in ``[0, max|X|]`` minimising ``||X - quantize(X, bits, r)||_F`` (golden section).

    Parameters
    ----------
    tol : float, default=1e-4
        Stop when the bracket is narrower than ``tol * max|X|``.
    """
    _check_bits(bits)
    hi = float(np.max(np.abs(X))) if X.size else 0.0
    if bits == 32 or hi == 0.0:
        return hi
    invphi = (math.sqrt(5) - 1) / 2
    a, b = 0.0, hi
    c, d = b - invphi * (b - a), a + invphi * (b - a)
    fc, fd = _error(X, bits, c), _error(X, bits, d)
    for _ in range(max_iter):
        if b - a <= tol * hi:
            break
        if fc <= fd:  # the minimum lies in [a, d]
            b, d, fd = d, c, fc
            c = b - invphi * (b - a)
            fc = _error(X, bits, c)
        else:
            a, c, fc = c, d, fd
            d = a + invphi * (b - a)
            fd = _error(X, bits, d)
    return (a + b) / 2


def compress_pair(
    X: np.ndarray, Y: np.ndarray, bits: int, *, align: bool = True
) -> tuple[np.ndarray, np.ndarray, float]:
    """Compress a snapshot pair the paper's way: align ``Y`` to ``X``, clip from ``X``, quantise both.

    Returns
    -------
    Xq, Yq : ndarray of float32
    clip : float
        The clip value found on ``X`` and reused for ``Y``.
    """
    _check_bits(bits)
    Ya = procrustes_align(Y, X) if align else np.asarray(Y, dtype=np.float32)
    clip = find_clip(X, bits)
    return quantize(X, bits, clip), quantize(Ya, bits, clip), clip
