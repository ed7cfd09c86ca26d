"""Serve-time statistics of a cascade and what to do when the inputs drift from calibration.

The certified bound (Learn-then-Test, :mod:`dawn.willump.bounds`) holds for rows drawn like the
calibration rows; the original Willump had no drift handling at all. When the inputs shift, the first
visible sign is usually that the small model's confidence moves, and with it the share of rows
answered early. :class:`ServingStats` counts rows and early answers as the pipeline serves them
(batch ``predict``/``predict_proba`` and ``predict_one`` apart) and tests each window of ``window``
rows, and the totals, against the calibration accept rate with a two-sided exact binomial test.

A flagged window means the stated bound may no longer hold. The policy (``on_shift``) is ``"warn"``
(log a warning and keep the cascade), ``"full"`` (serve that use with the full pipeline from then on,
so the answers are the full model's again, until :meth:`ServingStats.clear_shift` or recalibration)
or ``"ignore"``. An unflagged window proves nothing: errors can grow while the early share stays put.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from dawn.core.errors import DawnError
from dawn.core.logging import get_logger

log = get_logger(__name__)

#: the uses counted apart: batch calls and single-row calls run different plans
USES = ("batch", "single")
POLICIES = ("warn", "full", "ignore")


def _pvalue(early: int, rows: int, rate: float) -> float:
    from scipy.stats import binomtest

    # a plan that answered every (or no) calibration row early: any other count is news
    return float(binomtest(early, rows, min(max(rate, 1e-12), 1 - 1e-12)).pvalue)


class ServingStats:
    """Thread-safe counts of served rows and early answers per use, with a windowed drift test.

    Parameters
    ----------
    window : int, default=2000
        Rows per test window (per use); each full window is tested on its own.
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
        from scipy.stats import norm

        # a window whose z-score is well inside this is not tested exactly (see record)
        self._z_screen = float(norm.ppf(1 - alpha / 2)) - 0.5
        self._lock = threading.Lock()
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

    def record(self, use: str, rows: int, early: int, rate: float) -> None:
        """Count ``rows`` served by ``use``'s cascade, ``early`` of them answered early; ``rate`` is
        the plan's calibration accept rate. Tests the window when it fills."""
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
        var = n * rate * (1 - rate)
        # The exact test costs about a millisecond, a tenth of a cascade call on a few thousand rows:
        # skip it when the normal approximation (good when var >= 9) puts the count clearly inside
        # the chance band; half a unit of z below the level's own leaves room for its error.
        if var >= 9 and abs(k - n * rate) < self._z_screen * math.sqrt(var):
            return
        p = _pvalue(k, n, rate)  # outside the lock: the serving threads go on
        if p < self.alpha:
            with self._lock:
                self.flagged_windows[use] += 1
                self.shifted[use] = True
            action = "serving the full pipeline from now on" if self.on_shift == "full" else "kept serving"
            log.warning(
                "willump %s cascade: %d of %d rows answered early (%.1f%%) against %.1f%% on calibration "
                "(p=%.2g): the inputs may have shifted and the certified bound may not hold; %s. "
                "Recalibrate with optimize() on recent labelled rows.",
                use, k, n, 100 * k / n, 100 * rate, p, action,
            )  # fmt: skip

    def report(self, expected: dict[str, float | None], *, min_rows: int = 200) -> dict[str, dict[str, Any]]:
        """Per use: rows served, the share answered early, the calibration share, the totals'
        p-value, ``shift_suspected`` (a flagged window, or totals with p < ``alpha`` after at least
        ``min_rows`` rows), ``flagged_windows`` and whether early answers are ``stopped``.

        ``expected`` maps a use to its plan's calibration accept rate (None: no cascade for it).
        """
        with self._lock:
            rows, early = dict(self.rows), dict(self.early)
            flagged, shifted = dict(self.flagged_windows), dict(self.shifted)
        out: dict[str, dict[str, Any]] = {}
        for use in USES:
            rate = expected.get(use)
            n, k = rows[use], early[use]
            p = _pvalue(k, n, rate) if rate is not None and n > 0 else None
            out[use] = {
                "rows": n,
                "early": k,
                "early_share": k / n if n else float("nan"),
                "calibration_share": rate,
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
