"""Distribution-free bounds used to calibrate cascades and top-K with a stated confidence.

The original Willump accepted a cascade threshold when the validation score stayed within 0.001 of the
full model's, a point estimate on one split. Here thresholds are calibrated with Learn-then-Test
fixed-sequence testing (Angelopoulos et al., 2021, https://arxiv.org/abs/2110.01052): thresholds are
tested from the most conservative down, each with a Clopper-Pearson binomial bound at level
``delta = 1 - confidence``, stopping at the first failure. Because the tests are ordered in advance,
no multiplicity correction is needed and the chosen threshold's risk is at most ``max_loss`` with
probability at least ``confidence`` over the draw of the calibration set.

Two kinds of risk are supported. A *rate* (the fraction of rows answered early and wrongly, a
count of events) is tested with the exact Clopper-Pearson binomial bound. A *mean loss* in
``[-1, 1]`` (the net accuracy loss: +1 where the early answer breaks a row the full model gets
right, -1 where it fixes one the full model gets wrong) is tested with the hedged betting
capital process of Waudby-Smith and Ramdas (2023, "Estimating means of bounded random variables by
betting", JRSS-B, https://arxiv.org/abs/2010.09686), which adapts to the loss's small variance and
is far tighter than Hoeffding's inequality; by Ville's inequality ``1 / max capital`` is a valid
p-value at any sample size.
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


def betting_pvalue(
    x: np.ndarray, bound: float, *, lo: float = -1.0, hi: float = 1.0, c: float = 0.75, delta: float = 0.05
) -> float:
    """Valid p-value for ``H0: E[x] > bound`` from i.i.d. ``x`` in ``[lo, hi]`` (betting, one-sided).

    The capital ``K_t = prod_i (1 + lambda_i (m - z_i))`` with ``z`` rescaled to ``[0, 1]`` and ``m``
    the rescaled bound is a non-negative supermartingale under ``H0`` when each bet ``lambda_i`` is
    chosen before seeing ``z_i`` (predictable plug-in bets of Waudby-Smith and Ramdas, truncated at
    ``c / (1 - m)``), so ``P(max_t K_t >= 1/delta) <= delta`` (Ville) and ``1 / max_t K_t`` is valid.
    The rows must be in an order fixed independently of their values (the caller's shuffle);
    ``delta`` only tunes the bets' size (for a test at that level), not the validity.
    """
    z = (np.asarray(x, dtype=float) - lo) / (hi - lo)
    m = (bound - lo) / (hi - lo)
    n = len(z)
    if n == 0 or m >= 1.0:
        return 1.0 if n == 0 else 0.0
    if m <= 0.0:
        return 1.0
    t = np.arange(1, n + 1)
    mu = (0.5 + np.cumsum(z)) / (t + 1)  # running mean with a prior of 1/2 (one pseudo-row)
    var = (0.25 + np.cumsum((z - mu) ** 2)) / (t + 1)
    var_prev = np.concatenate(([0.25], var[:-1]))  # predictable: uses rows before i only
    lam = np.sqrt(2.0 * np.log(1.0 / delta) / (n * var_prev))
    lam = np.minimum(lam, c / (1.0 - m))
    log_k = np.cumsum(np.log1p(lam * (m - z)))
    return float(min(1.0, np.exp(-log_k.max())))


def _grid(s: np.ndarray, grid: np.ndarray | None, n_grid: int) -> np.ndarray:
    """Candidate thresholds, most conservative first (fixed before looking at the losses)."""
    if grid is None:
        grid = np.quantile(s, np.linspace(0.0, 1.0, n_grid + 1))
    return np.unique(np.asarray(grid, dtype=float))[::-1]


def calibrate_threshold_mean(
    confidence_scores: np.ndarray,
    losses: np.ndarray,
    *,
    max_loss: float,
    delta: float,
    grid: np.ndarray | None = None,
    n_grid: int = 200,
    seed: int = 0,
) -> ThresholdCalibration:
    """Lowest threshold whose mean loss in ``[-1, 1]`` is certified ``<= max_loss`` (fixed sequence).

    ``losses[i]`` is what answering row ``i`` early costs (e.g. the net accuracy loss, -1, 0 or +1);
    rows above the threshold contribute their loss, the others 0, and the mean is over all rows. Each
    threshold is tested with :func:`betting_pvalue` at level ``delta``, from the highest down, stopping
    at the first that is not certified. ``bound`` is the smallest ``max_loss`` that the chosen
    threshold would also have passed (found by bisection), reported as the certified upper bound.
    """
    s = np.asarray(confidence_scores, dtype=float)
    loss = np.asarray(losses, dtype=float)
    n = len(s)
    none = ThresholdCalibration(float("inf"), 0.0, 0.0, 0.0, n)
    if n == 0:
        return none
    order = np.random.default_rng(seed).permutation(n)  # a value-independent order for the bets
    s, loss = s[order], loss[order]
    best = none
    for t in _grid(s, grid, n_grid):
        x = np.where(s >= t, loss, 0.0)
        if betting_pvalue(x, max_loss, delta=delta) > delta:
            break
        best = ThresholdCalibration(float(t), float(np.mean(s >= t)), float(x.mean()), max_loss, n)
    if np.isfinite(best.threshold):  # tighten the reported bound: the smallest level still passed
        x = np.where(s >= best.threshold, loss, 0.0)
        lo, hi = -1.0, max_loss
        for _ in range(30):
            mid = 0.5 * (lo + hi)
            lo, hi = (lo, mid) if betting_pvalue(x, mid, delta=delta) <= delta else (mid, hi)
        best = ThresholdCalibration(best.threshold, best.accept_rate, best.risk, hi, n)
    return best


def calibrate_threshold(
    confidence_scores: np.ndarray,
    errors: np.ndarray,
    *,
    max_loss: float,
    delta: float,
    grid: np.ndarray | None = None,
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
    order = np.argsort(-s, kind="stable")
    s_sorted, e_cum = s[order], np.cumsum(e[order])
    best = none
    # Candidate thresholds (by default quantiles of the scores), tested from the highest down.
    for t in _grid(s, grid, n_grid):
        m = int(np.searchsorted(-s_sorted, -t, side="right"))  # rows with score >= t
        k = int(e_cum[m - 1]) if m else 0
        ub = clopper_pearson_upper(k, n, delta)
        if ub > max_loss:
            break  # fixed sequence: the first failure ends the search
        best = ThresholdCalibration(float(t), m / n, k / n, ub, n)
    return best


def predicted_accept_rate(
    confidence_scores: np.ndarray,
    losses: np.ndarray,
    *,
    max_loss: float,
    delta: float,
    n_cal: int,
    grid: np.ndarray | None = None,
    n_grid: int = 200,
) -> float:
    """The accept rate a certification on ``n_cal`` rows is expected to reach, estimated on other rows.

    Used to choose among cascade candidates on selection rows, so that only the chosen candidate is
    certified (no Bonferroni correction over candidates). Walks the grid like the certification does
    (highest threshold first, stopping at the first failure) and predicts a pass where the
    estimated mean loss plus the bound's asymptotic width, ``sqrt(2 var log(1/delta) / n_cal)``
    (the width of the betting and the Clopper-Pearson bounds for large ``n_cal``), stays within
    ``max_loss``. A prediction only: the chosen candidate is then certified on its own rows.
    """
    s = np.asarray(confidence_scores, dtype=float)
    loss = np.asarray(losses, dtype=float)
    if len(s) < 2 or n_cal < 1:
        return 0.0
    log_term = 2.0 * np.log(1.0 / delta) / n_cal
    accept = 0.0
    for t in _grid(s, grid, n_grid):
        x = np.where(s >= t, loss, 0.0)
        if x.mean() + np.sqrt(x.var(ddof=1) * log_term) > max_loss:
            break
        accept = float(np.mean(s >= t))
    return accept
