"""Side-by-side timing: warm-up, interleaved repeats, medians and spread, ratios to a baseline.

Shared machines are noisy, so absolute seconds from two separate runs are never compared. Every
speed figure in dawn is a ratio of medians measured in one process, with the candidates interleaved
so that a burst of background load hits all of them alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Timing:
    """Seconds per call over several repeats."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return float(np.median(self.samples))

    @property
    def p25(self) -> float:
        return float(np.percentile(self.samples, 25))

    @property
    def p75(self) -> float:
        return float(np.percentile(self.samples, 75))

    @property
    def spread(self) -> float:
        """Inter-quartile range relative to the median (0.05 = 5%)."""
        return (self.p75 - self.p25) / self.median if self.median > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "median_s": self.median,
            "p25_s": self.p25,
            "p75_s": self.p75,
            "repeats": len(self.samples),
        }


def time_call(fn: Callable[[], Any], *, warmup: int = 1, repeats: int = 5) -> Timing:
    """Time ``fn()`` ``repeats`` times after ``warmup`` untimed calls."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return Timing(tuple(samples))


@dataclass(frozen=True)
class Comparison:
    """Timings of several candidates measured side by side, and their ratios to the baseline."""

    baseline: str
    timings: dict[str, Timing] = field(default_factory=dict)

    def speedup(self, name: str) -> float:
        """``median(baseline) / median(name)``: above 1 means ``name`` is faster."""
        return self.timings[self.baseline].median / self.timings[name].median

    def as_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "timings": {k: v.as_dict() for k, v in self.timings.items()},
            "speedup": {k: self.speedup(k) for k in self.timings},
        }


def compare(
    candidates: Mapping[str, Callable[[], Any]],
    *,
    baseline: str | None = None,
    warmup: int = 1,
    repeats: int = 5,
) -> Comparison:
    """Time every candidate with interleaved repeats and return their ratios to ``baseline``.

    Parameters
    ----------
    candidates : mapping of name to zero-argument callable
        The first entry is the baseline unless ``baseline`` names another.
    warmup, repeats : int
        Untimed calls per candidate first, then timed rounds; each round calls every candidate once.
    """
    if not candidates:
        raise ValueError("compare() needs at least one candidate")
    names = list(candidates)
    base = baseline or names[0]
    if base not in candidates:
        raise ValueError(f"baseline {base!r} is not among the candidates {names}")
    for _ in range(warmup):
        for fn in candidates.values():
            fn()
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        # Alternate the order each round so neither candidate always runs first (cache, turbo).
        order = names if r % 2 == 0 else names[::-1]
        for n in order:
            t0 = time.perf_counter()
            candidates[n]()
            samples[n].append(time.perf_counter() - t0)
    return Comparison(base, {n: Timing(tuple(s)) for n, s in samples.items()})
