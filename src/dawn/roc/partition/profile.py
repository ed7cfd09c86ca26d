"""Measuring per-partition run times: the signal Roc's cost model is fitted to.

Each partition's work is what one worker does in an epoch of a 2-layer GCN: a dense transform of its
own rows, the halo rows appended, and a CSR aggregation over local plus halo columns, forward and
backward. Timings are medians of several runs (timing noise on shared machines is +-20-30%); partitions
are timed one after another in one process so that they do not compete for the cores.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from dawn.roc.sparse import CSRGraph, spmm

__all__ = ["local_graph", "PartitionProfiler", "time_interleaved"]

_CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def local_graph(
    indptr: np.ndarray, indices: np.ndarray, values: np.ndarray | None, lo: int, hi: int
) -> tuple[CSRGraph, np.ndarray]:
    """Rows ``lo:hi`` as a CSR over local columns: own vertices first (``0..hi-lo-1``), then halo.

    Returns the local graph and the global IDs of its halo columns (sorted).
    """
    a, b = int(indptr[lo]), int(indptr[hi])
    cols = np.asarray(indices[a:b], dtype=np.int64)
    ext = (cols < lo) | (cols >= hi)
    halo = np.unique(cols[ext])
    local = np.where(ext, 0, cols - lo)
    local[ext] = (hi - lo) + np.searchsorted(halo, cols[ext])
    vals = np.ones(b - a, dtype=np.float32) if values is None else np.asarray(values[a:b], dtype=np.float32)
    m = hi - lo
    ptr = torch.as_tensor(np.asarray(indptr[lo : hi + 1], dtype=np.int64) - a)
    # local columns are not sorted within a row any more; torch's CSR product does not need them sorted
    g = CSRGraph(ptr, torch.as_tensor(local), torch.as_tensor(vals), (m, m + len(halo)))
    return g, halo


class PartitionProfiler:
    """Times one worker's epoch of a 2-layer GCN on a vertex range.

    Parameters
    ----------
    indptr, indices : ndarray
        Global CSR (rows = targets).
    in_dim, hidden, out_dim : int
        Model widths (``in_dim`` is the input feature width).
    repeats : int, default=5
        Median of this many timed runs after one warm-up.
    seed : int, default=0
    """

    def __init__(
        self,
        indptr,
        indices,
        in_dim: int,
        hidden: int = 16,
        out_dim: int = 8,
        *,
        repeats: int = 5,
        seed: int = 0,
    ):
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.indices = np.asarray(indices, dtype=np.int64)
        self.in_dim, self.hidden, self.out_dim = in_dim, hidden, out_dim
        self.repeats = repeats
        gen = torch.Generator().manual_seed(seed)
        self.w1 = torch.randn(in_dim, hidden, generator=gen, requires_grad=True)
        self.w2 = torch.randn(hidden, out_dim, generator=gen, requires_grad=True)
        self._gen = gen

    def on(self, indptr: np.ndarray, indices: np.ndarray) -> PartitionProfiler:
        """The same profiler (widths, weights, repeats) on another CSR, e.g. the graph renumbered."""
        out = PartitionProfiler.__new__(PartitionProfiler)
        out.__dict__.update(self.__dict__)
        out.indptr = np.asarray(indptr, dtype=np.int64)
        out.indices = np.asarray(indices, dtype=np.int64)
        return out

    @property
    def width(self) -> float:
        """Total feature width moved per row in a pass (the cost model's feature scale)."""
        return float(self.in_dim + self.hidden + self.out_dim)

    def step_for(self, lo: int, hi: int) -> Any:
        """A callable running one forward+backward pass of the range ``lo:hi`` (inputs built once)."""
        g, halo = local_graph(self.indptr, self.indices, None, lo, hi)
        x = torch.randn(hi - lo, self.in_dim, generator=self._gen)
        h1 = torch.randn(len(halo), self.hidden, generator=self._gen)
        h2 = torch.randn(len(halo), self.out_dim, generator=self._gen)

        def step() -> None:
            z = torch.cat([x @ self.w1, h1])
            a = torch.relu(spmm(g, z))
            out = spmm(g, torch.cat([a @ self.w2, h2]))
            out.sum().backward()
            self.w1.grad = self.w2.grad = None

        return step

    def time_range(self, lo: int, hi: int) -> float:
        """Median seconds of one forward+backward pass of the range ``lo:hi``."""
        return float(self.time_ranges([(lo, hi)])[0])

    def time_ranges(self, ranges: list[tuple[int, int]]) -> np.ndarray:
        """Median seconds of each range, the ranges timed round-robin (see :func:`time_interleaved`)."""
        return time_interleaved([(self, ranges)], self.repeats)[0]

    def time_partition(self, bounds: np.ndarray) -> np.ndarray:
        """Median time of each range of ``bounds``, timed round-robin."""
        b = [int(v) for v in bounds]
        return self.time_ranges(list(zip(b[:-1], b[1:], strict=True)))


def time_interleaved(
    jobs: list[tuple[PartitionProfiler, list[tuple[int, int]]]], repeats: int, clock: str = "auto"
) -> list[np.ndarray]:
    """Median seconds of every range of every ``(profiler, ranges)`` job, timed round-robin.

    Each repeat times every range once, one after another, so a slow spell of a shared machine (other
    processes, frequency changes) lands on all ranges alike instead of on whichever range was being
    timed at that moment; timing range by range made the measured max/mean swing by +-8% here.

    ``clock="cpu"`` measures the CPU time of this process (``time.process_time``), not the wall clock:
    on a shared machine with more runnable processes than cores, wall time includes the spells in which
    another process held the core, which belong to no partition (a dedicated worker, Roc's setting,
    has its device to itself). It suits one torch thread only: with more, idle worker threads spinning
    count too. ``clock="wall"`` uses ``time.perf_counter``; ``"auto"`` (default) picks ``"cpu"`` at
    one torch thread and ``"wall"`` otherwise.
    """
    if clock == "auto":
        clock = "cpu" if torch.get_num_threads() == 1 else "wall"
    now = _CLOCKS[clock]
    steps = [[prof.step_for(lo, hi) for lo, hi in ranges] for prof, ranges in jobs]
    for row in steps:  # warm-up: the transposed CSR and the allocator's first touch
        for f in row:
            f()
    samples = [np.zeros((repeats, len(row))) for row in steps]
    for r in range(repeats):
        for j, row in enumerate(steps):
            for i, f in enumerate(row):
                t0 = now()
                f()
                samples[j][r, i] = now() - t0
    return [np.median(s, axis=0) for s in samples]
