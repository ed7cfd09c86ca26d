"""Serve-time statistics of a cascade and what to do when the inputs drift from calibration.

The certified bound (Learn-then-Test, :mod:`dawn.willump.bounds`) holds for rows drawn like the
calibration rows; the original Willump had no drift handling at all. When the inputs shift, the first
visible sign is usually that the small model's confidence moves, and with it the share of rows
answered early. :class:`ServingStats` counts rows and early answers as the pipeline serves them
(batch ``predict``/``predict_proba`` and ``predict_one`` apart) and tests each window of at least
``window`` rows, and the totals, against the calibration rows' early answers.

The calibration share is itself an estimate (``k`` of ``n`` calibration rows), so the test compares
the served count with its predictive distribution under no shift, a beta-binomial
(``n_served``, ``k + 1``, ``n - k + 1``), two-sided: a binomial test at the estimated share would flag
unshifted traffic again and again once enough rows were served.

A flagged window means the stated bound may no longer hold. The policy (``on_shift``) is ``"warn"``
(log a warning and keep the cascade), ``"full"`` (serve that use with the full pipeline from then on,
so the answers are the full model's again, until :meth:`ServingStats.clear_shift` or recalibration;
the switch is saved with the pipeline) or ``"ignore"``.

``alpha`` is spent over the stream: the ``j``-th window of a use is tested at
``alpha * 6 / (pi^2 j^2)``, and these levels sum to ``alpha``, so the chance that traffic drawn like the
calibration rows flags any window of that use (the alarm that warns or stops early answers), however
long it is served, is at most ``alpha`` (a union bound, valid whatever the windows' dependence: they
share the calibration estimate). The price is sensitivity late in a long stream (window 100 is tested
at ``6e-5 alpha``), so a shift that comes late must be larger to be called. ``alpha_spending=False``
tests every window at ``alpha`` instead: then over many windows a false alarm becomes likely (about
``alpha`` per window). The totals test of :meth:`ServingStats.report` is a separate reading at
``alpha`` each time it is made, not covered by that bound. An unflagged window proves nothing: errors
can grow while the early share stays put.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from dawn.core.errors import DawnError
from dawn.core.logging import get_logger

log = get_logger(__name__)

#: the uses counted apart: batch calls and single-row calls run different plans
USES = ("batch", "single")
POLICIES = ("warn", "full", "ignore")
#: (early answers, rows) on the calibration rows; or a bare share when the count is unknown
Calibration = tuple[int, int] | float
#: the most early counts (summed over window sizes) whose tail probabilities are cached
_CACHE_ROWS = 200_000


def _no_shift(served: int, calibration: Calibration) -> Any:
    """The distribution of the served early count when nothing has shifted."""
    from scipy.stats import betabinom, binom

    if isinstance(calibration, tuple):
        k, n = calibration
        return betabinom(served, k + 1, n - k + 1)
    return binom(served, min(max(float(calibration), 0.0), 1.0))  # the share taken as exact


def pvalue(early: int, served: int, calibration: Calibration) -> float:
    """Two-sided p-value of ``early`` of ``served`` rows answered early, under no shift."""
    dist = _no_shift(served, calibration)
    if isinstance(calibration, tuple):
        # P(X >= early) as the lower tail of the mirrored count: scipy's beta-binomial computes sf
        # as 1 - cdf, which loses everything below ~1e-12, where spent levels reach on long streams
        from scipy.stats import betabinom

        k, n = calibration
        upper = betabinom(served, n - k + 1, k + 1).cdf(served - early)
    else:
        upper = dist.sf(early - 1)
    return float(min(1.0, 2.0 * min(dist.cdf(early), upper)))


def _tails(served: int, calibration: Calibration) -> tuple[np.ndarray, np.ndarray]:
    """``P(X <= k)`` and ``P(X >= k)`` for every early count ``k`` of ``served`` rows, under no shift."""
    pmf = _no_shift(served, calibration).pmf(np.arange(served + 1))
    return np.cumsum(pmf), np.cumsum(pmf[::-1])[::-1]


def window_level(alpha: float, j: int) -> float:
    """The level of a use's ``j``-th window (from 1) when ``alpha`` is spent over an unbounded stream:
    ``alpha * 6 / (pi^2 j^2)``, which sums to ``alpha`` over all ``j``."""
    return alpha * 6.0 / (math.pi**2 * j * j)


class ServingStats:
    """Thread-safe counts of served rows and early answers per use, with a windowed drift test.

    Parameters
    ----------
    window : int, default=2000
        A window closes at the first call that brings it to ``window`` rows or more (a large batch
        is one window) and is tested on its own.
    alpha : float, default=1e-3
        With ``alpha_spending``, the chance of any false alarm per use over the whole stream; else the
        level of each window. The totals in :meth:`report` are tested at ``alpha``.
    on_shift : {"warn", "full", "ignore"}, default="warn"
        What a flagged window does (see the module docstring).
    alpha_spending : bool, default=True
        Test the ``j``-th window of a use at :func:`window_level` ``(alpha, j)`` (see the module
        docstring); False tests every window at ``alpha``.
    """

    def __init__(
        self, window: int = 2000, alpha: float = 1e-3, on_shift: str = "warn", *, alpha_spending: bool = True
    ) -> None:
        if on_shift not in POLICIES:
            raise DawnError(f"unknown on_shift policy {on_shift!r}", "use 'warn', 'full' or 'ignore'")
        if window < 1 or not 0 < alpha < 1:
            raise DawnError(f"window={window}, alpha={alpha}", "pass window >= 1 and 0 < alpha < 1")
        self.window, self.alpha, self.on_shift = window, alpha, on_shift
        self.alpha_spending = alpha_spending
        self._lock = threading.Lock()
        # tail arrays per (window rows, calibration); not saved with the pipeline, and bounded in size
        self._tails: dict[tuple[int, Calibration], tuple[np.ndarray, np.ndarray]] = {}
        self.reset()

    def reset(self) -> None:
        """Forget every count and flag (e.g. after recalibrating)."""
        with self._lock:
            self.rows = dict.fromkeys(USES, 0)
            self.early = dict.fromkeys(USES, 0)
            self._win_rows = dict.fromkeys(USES, 0)
            self._win_early = dict.fromkeys(USES, 0)
            self.flagged_windows = dict.fromkeys(USES, 0)
            self.tested_windows = dict.fromkeys(USES, 0)
            self.shifted = dict.fromkeys(USES, False)
            self.rows_after_stop = dict.fromkeys(USES, 0)

    def clear_shift(self) -> None:
        """Let a use answer early again after a ``"full"`` policy stopped it (counts are kept)."""
        with self._lock:
            self.shifted = dict.fromkeys(USES, False)

    def answers_early(self, use: str) -> bool:
        """False once a flagged window has switched ``use`` to the full pipeline (policy ``"full"``)."""
        return not (self.on_shift == "full" and self.shifted[use])

    def record_stopped(self, use: str, rows: int) -> None:
        """Count ``rows`` that the full pipeline served because a ``"full"`` policy stopped ``use``'s
        early answers (kept apart: they say nothing about the cascade's early share)."""
        with self._lock:
            self.rows_after_stop[use] += rows

    def record(self, use: str, rows: int, early: int, calibration: Calibration) -> None:
        """Count ``rows`` served by ``use``'s cascade, ``early`` of them answered early; tests the
        window when it fills. ``calibration``: (early answers, rows) on the calibration rows."""
        with self._lock:
            self.rows[use] += rows
            self.early[use] += early
            self._win_rows[use] += rows
            self._win_early[use] += early
            if self._win_rows[use] < self.window:
                return
            n, k = self._win_rows[use], self._win_early[use]
            self._win_rows[use] = self._win_early[use] = 0
            if self.on_shift == "ignore":
                return
            self.tested_windows[use] += 1
            j = self.tested_windows[use]
        level = window_level(self.alpha, j) if self.alpha_spending else self.alpha
        key = (n, calibration)
        tails = self._tails.get(key)
        if tails is None:  # computed once per window size (batch sizes repeat), outside the lock
            tails = _tails(n, calibration)
            if n <= _CACHE_ROWS:  # a huge batch is rare and cheap next to serving it: not kept
                with self._lock:  # another thread may be filling or clearing the cache
                    if sum(len(a) for a, _ in self._tails.values()) + n > _CACHE_ROWS:
                        self._tails.clear()
                    self._tails[key] = tails
        # flagged when the two-sided p-value 2 min(P(X <= k), P(X >= k)) is below the level
        if min(tails[0][k], tails[1][k]) >= level / 2:
            return
        with self._lock:
            self.flagged_windows[use] += 1
            self.shifted[use] = True
        action = "serving the full pipeline from now on" if self.on_shift == "full" else "kept serving"
        log.warning(
            "willump %s cascade: %d of %d rows answered early (%.1f%%) against %.1f%% on calibration "
            "(p=%.2g, window %d tested at %.2g): the inputs may have shifted and the certified bound "
            "may not hold; %s. Recalibrate with optimize() on recent labelled rows.",
            use, k, n, 100 * k / n, 100 * _share(calibration), pvalue(k, n, calibration), j, level, action,
        )  # fmt: skip

    def report(
        self, expected: dict[str, Calibration | None], *, min_rows: int = 200
    ) -> dict[str, dict[str, Any]]:
        """Per use: rows served, the share answered early, the calibration share, the totals'
        p-value, ``shift_suspected`` (a flagged window, or totals with p < ``alpha`` after at least
        ``min_rows`` rows), ``flagged_windows``, whether early answers are ``stopped`` and
        ``rows_after_stop`` (served by the full pipeline since; not in ``rows``, which counts the rows
        the cascade saw).

        ``expected`` maps a use to its plan's calibration (early answers, rows), or None where the
        use has no cascade.
        """
        with self._lock:
            rows, early = dict(self.rows), dict(self.early)
            flagged, shifted = dict(self.flagged_windows), dict(self.shifted)
            after_stop = dict(self.rows_after_stop)
        out: dict[str, dict[str, Any]] = {}
        for use in USES:
            cal = expected.get(use)
            n, k = rows[use], early[use]
            p = pvalue(k, n, cal) if cal is not None and n > 0 else None
            out[use] = {
                "rows": n,
                "early": k,
                "early_share": k / n if n else float("nan"),
                "calibration_share": None if cal is None else _share(cal),
                "p_value": p,
                "shift_suspected": bool(shifted[use] or (p is not None and n >= min_rows and p < self.alpha)),
                "flagged_windows": flagged[use],
                "stopped": not self.answers_early(use),
                "rows_after_stop": after_stop[use],
            }
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]  # locks do not pickle
        state["_tails"] = {}  # a cache: recomputed on demand, not saved with the pipeline
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # statistics saved before alpha spending tested every window at alpha
        state.setdefault("alpha_spending", False)
        state.setdefault("tested_windows", dict.fromkeys(USES, 0))
        state.pop("_bands", None)
        state.setdefault("_tails", {})
        state.setdefault("rows_after_stop", dict.fromkeys(USES, 0))
        self.__dict__.update(state)
        self._lock = threading.Lock()


def _share(calibration: Calibration) -> float:
    if isinstance(calibration, tuple):
        return calibration[0] / calibration[1] if calibration[1] else float("nan")
    return float(calibration)
