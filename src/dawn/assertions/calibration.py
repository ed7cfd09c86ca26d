"""Choosing an assertion's score floor from reviewed firings.

An assertion such as :class:`dawn.assertions.Flicker` attaches to each firing the evidence behind it
(``support``: the lower score of the two sightings around a gap). Once a team has reviewed some firings
(routed for review by the monitor, or checked against a stronger model as in the paper's video
experiments), a floor on that evidence trades recall for precision; :func:`floor_for_precision` picks
the lowest floor that reaches a precision target on the reviewed firings. Check it on firings it was not
chosen on.
"""

from __future__ import annotations

import numpy as np

from dawn.core.errors import DawnError

__all__ = ["floor_for_precision"]


def floor_for_precision(
    support: np.ndarray, correct: np.ndarray, target: float = 0.9, *, min_firings: int = 10
) -> float | None:
    """The lowest floor ``c`` such that the firings with ``support >= c`` are correct at a rate of at
    least ``target`` and number at least ``min_firings``; ``None`` when no floor does.

    ``support`` is each reviewed firing's evidence (higher is stronger) and ``correct`` whether the
    review confirmed it. The rate is the point estimate on these firings, so the floor is tuned to them:
    report precision on other firings.
    """
    support = np.asarray(support, dtype=np.float64).reshape(-1)
    verdicts = np.asarray(correct).reshape(-1)
    if verdicts.dtype != bool and not np.isin(verdicts, (0, 1)).all():  # NaN (unreviewed) is not 0/1
        raise DawnError(
            "correct holds values other than True/False (or 1/0), such as NaN for an unreviewed firing",
            "pass only reviewed firings, one boolean verdict each",
        )
    correct = verdicts.astype(bool)
    if len(support) != len(correct):
        raise DawnError(
            f"support has {len(support)} firings but correct has {len(correct)}",
            "pass one review verdict per firing",
        )
    if not 0.0 < target <= 1.0:
        raise DawnError(f"target precision {target} is outside (0, 1]", "pass a precision such as 0.9")
    if np.isnan(support).any():
        raise DawnError("support contains NaN", "drop firings without evidence before calibrating")
    order = np.argsort(-support, kind="stable")
    s, ok = support[order], correct[order]
    # firings at or above each distinct support value: the last position of each run of ties
    n_at_or_above = np.arange(1, len(s) + 1)
    precision = np.cumsum(ok) / n_at_or_above
    last_of_tie = np.r_[s[1:] != s[:-1], True] if len(s) else np.zeros(0, dtype=bool)
    good = last_of_tie & (precision >= target) & (n_at_or_above >= min_firings)
    if not good.any():
        return None
    return float(s[np.flatnonzero(good)[-1]])
