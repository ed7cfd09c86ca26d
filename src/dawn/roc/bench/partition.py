"""Partition balance (measured max/mean per-partition time), boundary rows, and the cost model's R^2."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

__all__ = ["partitioning"]


def partitioning(
    data: Any, ks: tuple[int, ...] = (2, 4), *, repeats: int = 5, heldout: int = 12, seed: int = 0
) -> dict[str, Any]:
    """Measured balance and boundary rows of every partitioner, and the cost model's held-out R^2."""
    from dawn.roc import partition as P
    from dawn.roc.runner import csr_of

    indptr, indices = csr_of(data)
    n = len(indptr) - 1
    C = int(data.y.max()) + 1
    out: dict[str, Any] = {}
    base_prof = P.PartitionProfiler(indptr, indices, data.num_features, 16, C, repeats=repeats, seed=seed)
    for k in ks:
        row: dict[str, Any] = {}
        t0 = time.perf_counter()
        lp = P.LearnedPartitioner(k, seed=seed).fit(indptr, indices, base_prof)
        fit_s = time.perf_counter() - t0
        lperm = lp.partition_.perm if lp.partition_.perm is not None else np.arange(n)
        ip, ix = P.permute_csr(indptr, indices, lperm)
        prof = base_prof.on(ip, ix)
        m = P.metis(indptr, indices, k, seed=seed)
        mp, mx = P.permute_csr(indptr, indices, m.perm if m.perm is not None else np.arange(n))
        cands = {
            "nodes": (P.equal_vertices(indptr, k).bounds, base_prof, indptr, indices),
            "edges": (P.equal_edges(indptr, k).bounds, base_prof, indptr, indices),
            "metis": (m.bounds, base_prof.on(mp, mx), mp, mx),
            "learned": (lp.partition_.bounds, prof, ip, ix),
        }
        # all four partitionings timed round-robin in one loop, so load changes hit them alike
        jobs = [
            (pr, list(zip(b[:-1].tolist(), b[1:].tolist(), strict=True))) for b, pr, _, _ in cands.values()
        ]
        times = P.time_interleaved(jobs, repeats)
        for (name, (b, _, a_ptr, a_idx)), t in zip(cands.items(), times, strict=True):
            row[name] = {
                "balance": P.balance(t),
                "boundary_rows": int(sum(P.boundary_rows(a_ptr, a_idx, b))),
                "times_s": t.tolist(),
                "sizes": np.diff(b).tolist(),
            }
        row["learned"]["predicted_balance"] = P.balance(
            lp.predict_times(ip, ix, lp.partition_.bounds, prof.width)
        )
        row["learned"]["history"] = [{kk: v for kk, v in h.items() if kk != "bounds"} for h in lp.history_]
        row["learned"]["fit_s"] = fit_s
        # held-out ranges of random size and position in the learned order, never seen by the fit
        rng = np.random.default_rng(seed + k)
        ranges = []
        for _ in range(heldout):
            lo = int(rng.integers(0, n - n // (4 * k)))
            hi = min(n, lo + int(rng.integers(max(2, n // (8 * k)), max(3, n // k))))
            ranges.append((lo, hi))
        ts = prof.time_ranges(ranges)
        X = np.vstack(
            [
                P.range_features(ip, ix, lp._prefix(ip, ix, prof.width), np.array(r), prof.width)
                for r in ranges
            ]
        )
        row["learned"]["heldout_r2"] = lp.model_.score(X, ts)
        row["learned"]["heldout"] = {
            "ranges": ranges,
            "measured_s": ts.tolist(),
            "predicted_s": lp.model_.predict(X).tolist(),
        }
        row["learned"]["coef"] = lp.model_.coef_.tolist()
        row["learned"]["intercept"] = lp.model_.intercept_
        out[str(k)] = row
    return out
