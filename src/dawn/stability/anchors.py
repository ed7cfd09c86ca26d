"""Anchor embeddings for the eigenspace instability measure, decomposed once per sweep.

Leszczynski et al. (MLSys 2020, section 4) weight disagreement by ``S = (E E^T)^a + (E~ E~^T)^a``, where
``E`` and ``E~`` are the highest-dimension full-precision embeddings trained on the two corpora. The
original code recomputes both anchors' SVDs for every pair compared; here the k x k Gram matrices are
eigendecomposed once and reused for every candidate.
"""

from __future__ import annotations

import numpy as np

from dawn.core.errors import DawnError
from dawn.stability._linalg import BLOCK_ROWS, cross_products, psd_eig


class Anchors:
    """The anchor pair ``(E, E~)`` over a fixed, row-aligned vocabulary.

    Parameters
    ----------
    E, E_tilde : ndarray of shape (n_words, k) and (n_words, k~)
        Anchors trained on corpus 1 and corpus 2 (float32 storage is fine).
    alpha : float, default=3.0
        Exponent of ``E E^T`` in ``S``; the paper uses 3.
    backend : {"numpy", "torch"}, default="numpy"

    Attributes
    ----------
    factors_ : list of ndarray
        ``L`` with ``L L^T = (E^T E)^(alpha - 1)``, one per anchor, so that
        ``(E E^T)^alpha = (E L)(E L)^T``.
    trace_s_ : float
        ``tr(S) = sum_i sigma_i^(2 alpha)`` over both anchors.
    """

    def __init__(
        self,
        E: np.ndarray,
        E_tilde: np.ndarray,
        *,
        alpha: float = 3.0,
        backend: str = "numpy",
        block_rows: int = BLOCK_ROWS,
    ) -> None:
        self.E = E
        self.E_tilde = E_tilde
        self.alpha = alpha
        self.backend = backend
        self.block_rows = block_rows

    @property
    def n_words(self) -> int:
        return int(self.E.shape[0])

    def fit(self) -> Anchors:
        """Eigendecompose both anchor Gram matrices (the only O(n k^2) work; done once)."""
        if self.E.ndim != 2 or self.E_tilde.ndim != 2 or self.E.shape[0] != self.E_tilde.shape[0]:
            raise DawnError(
                f"anchors must be two matrices over the same words, got {self.E.shape} and "
                f"{self.E_tilde.shape}",
                "restrict both anchors to the shared vocabulary",
            )
        if self.alpha <= 0:
            raise DawnError(f"alpha must be positive, got {self.alpha}", "use alpha > 0 (the paper uses 3)")
        grams, _ = cross_products(
            [self.E, self.E_tilde], [(0, 0), (1, 1)], backend=self.backend, block_rows=self.block_rows
        )
        self.factors_ = []
        trace = 0.0
        for g in grams:
            lam, vec = psd_eig(g)
            pos = lam > 0
            self.factors_.append(vec[:, pos] * lam[pos] ** ((self.alpha - 1) / 2))
            trace += float(np.sum(lam[pos] ** self.alpha))
        self.trace_s_ = trace
        return self

    def check_fitted(self) -> None:
        if not hasattr(self, "factors_"):
            self.fit()
