"""Serve-time statistics of a cascade and what to do when the inputs drift from calibration.

The certified bound (Learn-then-Test, :mod:`dawn.willump.bounds`) holds for rows drawn like the
calibration rows; the original Willump had no drift handling at all. When the inputs shift, the first
visible sign is usually that the small model's confidence moves, and with it the share of rows
answered early. :class:`ServingStats` counts rows and early answers as the pipeline serves them
(batch ``predict``/``predict_proba`` and ``predict_one`` apart) and tests each window of at least
``window`` rows, and the totals, against the calibration rows' early answers.

The calibration share is itself an estimate (``k`` of ``n`` calibration rows), so the test compares
the served count with its predictive distribution under no shift, a beta-binomial
(``n_served``, ``k + 1``, ``n - k + 1``), two-sided at level ``alpha``: a binomial test at the
estimated share would flag unshifted traffic again and again once enough rows were served.

A flagged window means the stated bound may no longer hold. The policy (``on_shift``) is ``"warn"``
(log a warning and keep the cascade), ``"full"`` (serve that use with the full pipeline from then on,
so the answers are the full model's again, until :meth:`ServingStats.clear_shift` or recalibration;
the switch is saved with the pipeline) or ``"ignore"``. Each window is tested on its own at level
``alpha``, so over many windows a false alarm becomes likely (about ``alpha`` per window): with
``"full"``, pick ``alpha`` for the traffic expected between recalibrations. An unflagged window proves
nothing: errors can grow while the early share stays put.
"""

from __future__ import annotations

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
    return float(min(1.0, 2.0 * min(dist.cdf(early), dist.sf(early - 1))))


def _band(served: int, calibration: Calibration, alpha: float) -> tuple[int, int]:
    """The early counts a window of ``served`` rows may show without being flagged (inclusive)."""
    pmf = _no_shift(served, calibration).pmf(np.arange(served + 1))
    at_most = np.cumsum(pmf)  # P(X <= k)
    at_least = np.cumsum(pmf[::-1])[::-1]  # P(X >= k)
    ok = np.minimum(at_most, at_least) >= alpha / 2
    inside = np.flatnonzero(ok)
    return (int(inside[0]), int(inside[-1])) if len(inside) else (served + 1, -1)


class ServingStats:
    """Thread-safe counts of served rows and early answers per use, with a windowed drift test.

    Parameters
    ----------
    window : int, default=2000
        A window closes at the first call that brings it to ``window`` rows or more (a large batch
        is one window) and is tested on its own.
    alpha : float, default=1e-3
        A window (or the totals) whose p-value is below ``alpha`` is flagged.
    on_shift : {"warn", "full", "ignore"}, default="warn"
        What a flagged window does (see the module docstring).
    """

    def __init__(self, window: int = 2000, alpha: float = 1e-3, on_shift: str = "warn") -> None:
        if on_shift not in POLICIES:
            raise DawnError(f"unknown on_shift policy {on_shift!r}", "use 'warn', 'full' or 'ignore'")
        if window < 1 or not 0 < alpha < 1:
            raise DawnError(f"window={window}, alpha={alpha}", "pass window >= 1 and 0 < alpha < 1")
        self.window, self.alpha, self.on_shift = window, alpha, on_shift
        self._lock = threading.Lock()
        self._bands: dict[tuple[int, Calibration], tuple[int, int]] = {}
        self.reset()

    def reset(self) -> None:
        """Forget every count and flag (e.g. after recalibrating)."""
        with self._lock:
            self.rows = dict.fromkeys(USES, 0)
            self.early = dict.fromkeys(USES, 0)
            self._win_rows = dict.fromkeys(USES, 0)
            self._win_early = dict.fromkeys(USES, 0)
            self.flagged_windows = dict.fromkeys(USES, 0)
            self.shifted = dict.fromkeys(USES, False)

    def clear_shift(self) -> None:
        """Let a use answer early again after a ``"full"`` policy stopped it (counts are kept)."""
        with self._lock:
            self.shifted = dict.fromkeys(USES, False)

    def answers_early(self, use: str) -> bool:
        """False once a flagged window has switched ``use`` to the full pipeline (policy ``"full"``)."""
        return not (self.on_shift == "full" and self.shifted[use])

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
        key = (n, calibration)
        band = self._bands.get(key)
        if band is None:  # computed once per window size (batch sizes repeat), outside the lock
            band = _band(n, calibration, self.alpha)
            if len(self._bands) > 64:
                self._bands.clear()
            self._bands[key] = band
        if band[0] <= k <= band[1]:
            return
        with self._lock:
            self.flagged_windows[use] += 1
            self.shifted[use] = True
        action = "serving the full pipeline from now on" if self.on_shift == "full" else "kept serving"
        log.warning(
            "willump %s cascade: %d of %d rows answered early (%.1f%%) against %.1f%% on calibration "
            "(p=%.2g): the inputs may have shifted and the certified bound may not hold; %s. "
            "Recalibrate with optimize() on recent labelled rows.",
            use, k, n, 100 * k / n, 100 * _share(calibration), pvalue(k, n, calibration), action,
        )  # fmt: skip

    def report(
        self, expected: dict[str, Calibration | None], *, min_rows: int = 200
    ) -> dict[str, dict[str, Any]]:
        """Per use: rows served, the share answered early, the calibration share, the totals'
        p-value, ``shift_suspected`` (a flagged window, or totals with p < ``alpha`` after at least
        ``min_rows`` rows), ``flagged_windows`` and whether early answers are ``stopped``.

        ``expected`` maps a use to its plan's calibration (early answers, rows), or None where the
        use has no cascade.
        """
        with self._lock:
            rows, early = dict(self.rows), dict(self.early)
            flagged, shifted = dict(self.flagged_windows), dict(self.shifted)
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
            }
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]  # locks do not pickle
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


def _share(calibration: Calibration) -> float:
    if isinstance(calibration, tuple):
        return calibration[0] / calibration[1] if calibration[1] else float("nan")
    return float(calibration)
