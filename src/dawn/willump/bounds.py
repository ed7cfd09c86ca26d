"""Distribution-free bounds used to calibrate cascades and top-K with a stated confidence.

The original Willump accepted a cascade threshold when the validation score stayed within 0.001 of the
full model's, a point estimate on one split. Here thresholds are calibrated with Learn-then-Test
fixed-sequence testing (Angelopoulos et al., 2021, https://arxiv.org/abs/2110.01052): thresholds are
tested from the most conservative down, each with a Clopper-Pearson binomial bound at level
``delta = 1 - confidence``, stopping at the first failure. Because the tests are ordered in advance,
no multiplicity correction is needed and the chosen threshold's risk is at most ``max_loss`` with
probability at least ``confidence`` over the draw of the calibration set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def clopper_pearson_upper(k: int, n: int, delta: float) -> float:
    """One-sided ``1 - delta`` upper confidence bound on a binomial rate with ``k`` events in ``n``."""
    from scipy.stats import beta

    if n <= 0:
        return 1.0
    if k >= n:
        return 1.0
    return float(beta.ppf(1.0 - delta, k + 1, n - k))


def clopper_pearson_lower(k: int, n: int, delta: float) -> float:
    """One-sided ``1 - delta`` lower confidence bound on a binomial rate with ``k`` events in ``n``."""
    from scipy.stats import beta

    if n <= 0 or k <= 0:
        return 0.0
    return float(beta.ppf(delta, k, n - k + 1))


@dataclass(frozen=True)
class ThresholdCalibration:
    """The chosen confidence threshold and what it was certified with."""

    threshold: float  # rows with small-model confidence >= threshold are answered early; inf = none
    accept_rate: float  # fraction of calibration rows answered early
    risk: float  # point estimate of the risk on the calibration rows
    bound: float  # Clopper-Pearson upper bound on the risk at the chosen threshold
    n: int


def calibrate_threshold(
    confidence_scores: np.ndarray,
    errors: np.ndarray,
    *,
    max_loss: float,
    delta: float,
    n_grid: int = 200,
) -> ThresholdCalibration:
    """Lowest threshold whose risk is certified ``<= max_loss`` by fixed-sequence testing.

    Parameters
    ----------
    confidence_scores : array of shape (n,)
        The small model's confidence per calibration row (e.g. its largest class probability).
    errors : bool array of shape (n,)
        Whether answering that row early would be wrong (e.g. disagree with the full model).
    max_loss : float
        The largest acceptable risk: the fraction of *all* rows answered early and wrongly.
    delta : float
        The failure probability, ``1 - confidence``.
    """
    s = np.asarray(confidence_scores, dtype=float)
    e = np.asarray(errors, dtype=bool)
    n = len(s)
    none = ThresholdCalibration(float("inf"), 0.0, 0.0, 0.0, n)
    if n == 0:
        return none
    # Candidate thresholds: quantiles of the scores, tested from the highest (fewest rows accepted).
    grid = np.unique(np.quantile(s, np.linspace(0.0, 1.0, n_grid + 1)))[::-1]
    order = np.argsort(-s, kind="stable")
    s_sorted, e_cum = s[order], np.cumsum(e[order])
    best = none
    for t in grid:
        m = int(np.searchsorted(-s_sorted, -t, side="right"))  # rows with score >= t
        k = int(e_cum[m - 1]) if m else 0
        ub = clopper_pearson_upper(k, n, delta)
        if ub > max_loss:
            break  # fixed sequence: the first failure ends the search
        best = ThresholdCalibration(float(t), m / n, k / n, ub, n)
    return best
