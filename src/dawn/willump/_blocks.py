"""Row-indexed helpers shared by the pipeline and the optimizer: take rows, count rows, stack blocks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from dawn.core.errors import DawnError


def n_rows(X: Any) -> int:
    """Number of raw input rows in ``X`` (DataFrame, array, sparse matrix or list)."""
    if hasattr(X, "shape"):
        return int(X.shape[0])
    return len(X)


def take(X: Any, idx: np.ndarray) -> Any:
    """Rows ``idx`` of ``X``, keeping its type (DataFrame via ``iloc``, lists via comprehension)."""
    if hasattr(X, "iloc"):
        return X.iloc[idx]
    if isinstance(X, np.ndarray) or sp.issparse(X):
        return X[idx]
    return [X[i] for i in idx]


def as_block(block: Any, name: str, expected_rows: int) -> np.ndarray | sp.csr_matrix:
    """Normalise a feature group's output to a 2-D float array or CSR matrix with ``expected_rows`` rows."""
    try:
        if sp.issparse(block):
            out: np.ndarray | sp.csr_matrix = sp.csr_matrix(block, dtype=np.float64)
        else:
            if hasattr(block, "to_numpy"):
                block = block.to_numpy()
            out = np.asarray(block, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DawnError(
            f"feature group {name!r} returned values that are not numbers ({exc})",
            "return numeric features: encode text or categories inside the group (in a "
            "ColumnTransformer, an OrdinalEncoder or OneHotEncoder part instead of 'passthrough')",
        ) from exc
    if not sp.issparse(out):
        if out.ndim == 1:
            out = out.reshape(-1, 1)
        if out.ndim != 2:
            raise DawnError(
                f"feature group {name!r} returned a {out.ndim}-D block",
                "return a 2-D array, DataFrame or sparse matrix (rows x features)",
            )
    if out.shape[0] != expected_rows:
        raise DawnError(
            f"feature group {name!r} returned {out.shape[0]} rows for {expected_rows} input rows",
            "make the group return exactly one feature row per input row, in input order",
        )
    return out


def hstack(
    blocks: Sequence[np.ndarray | sp.csr_matrix], *, dense: bool = False
) -> np.ndarray | sp.csr_matrix:
    """Stack feature blocks side by side: CSR if any block is sparse (unless ``dense``), else an array."""
    if not blocks:
        raise DawnError("no feature blocks to stack", "give the pipeline at least one feature group")
    if dense:
        blocks = [sp.csr_matrix(b).toarray() if sp.issparse(b) else b for b in blocks]
    if any(sp.issparse(b) for b in blocks):
        return sp.hstack([sp.csr_matrix(b) for b in blocks], format="csr")
    if len(blocks) == 1:
        return blocks[0]
    return np.hstack(blocks)


def vstack_rows(parts: list[tuple[np.ndarray, Any]], n: int) -> np.ndarray:
    """Scatter per-subset outputs ``(row_indices, values)`` back into one array of ``n`` rows."""
    first = next(v for _, v in parts if len(v))
    out = np.empty((n,) + np.asarray(first).shape[1:], dtype=np.asarray(first).dtype)
    for idx, vals in parts:
        if len(idx):
            out[idx] = vals
    return out
