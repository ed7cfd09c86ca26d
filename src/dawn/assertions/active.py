"""Choosing what to label: bandit-based active learning over assertions (BAL) and the usual baselines.

Kang et al. (2020), Sec. 4: each assertion is an arm. The first round spends the labelling budget
evenly across assertions, on each assertion's highest-severity inputs. After the model is retrained, an
assertion's reward is the relative drop in how often it fires; the next round splits the budget in
proportion to those rewards. When no assertion improves by more than ``min_gain`` the round falls back to
uncertainty sampling. A point flagged by several assertions is labelled and counted once. Beyond the
paper, a reward is scaled by how consistently the assertion flags the same items from round to round
(:func:`flag_persistence`), so an assertion that flags at random earns no budget by chance.

Baselines are implemented as their definitions say: least confidence (lowest top probability first),
margin (*smallest* gap between the two top probabilities first; the authors' script sorted it the wrong
way) and entropy (highest first), plus random. :class:`BanditUCB` is an upper-confidence-bound variant
that remembers rewards across rounds.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dawn.core.errors import DawnError

#: slack in "improves by more than min_gain": a drop of exactly 1% computes as 0.010000000000000009
_ROUNDING = 1e-12

__all__ = [
    "BAL",
    "ActiveLoop",
    "BanditUCB",
    "PoolScores",
    "RandomSampling",
    "Uncertainty",
    "flag_persistence",
    "make_strategy",
]


@dataclass
class PoolScores:
    """What a strategy sees about the pool under the current model.

    Attributes
    ----------
    ids : ndarray (n,)
    severity : ndarray (n, a)
        Severity of each assertion on each pool item (0 = abstain).
    proba : ndarray (n, k) or None
        The model's class probabilities.
    names : list of str
        Assertion names, one per severity column.
    predictions : ndarray (n,) or None
        The model's predictions (used to estimate assertion precision from the labels).
    """

    ids: np.ndarray
    severity: np.ndarray
    proba: np.ndarray | None = None
    names: list[str] = field(default_factory=list)
    predictions: np.ndarray | None = None

    def __post_init__(self) -> None:
        raw = self.ids
        if isinstance(raw, list | tuple) and any(isinstance(i, tuple) for i in raw):
            self.ids = np.empty(len(raw), dtype=object)  # tuple ids stay tuples, one per item
            self.ids[:] = list(raw)
        else:
            self.ids = np.asarray(raw)
            if self.ids.ndim > 1:
                raise DawnError(
                    f"pool ids have shape {self.ids.shape}", "pass one id per item (a 1-D array or list)"
                )
            self.ids = self.ids.reshape(-1)
        sev = np.asarray(self.severity, dtype=np.float64)
        if len(self.ids) == 0:
            raise DawnError("the pool is empty", "score at least one unlabelled item")
        if sev.shape[0] != len(self.ids) or sev.ndim > 2:
            raise DawnError(
                f"severity has shape {sev.shape} for {len(self.ids)} pool items",
                "pass one row per item and one column per assertion",
            )
        if not np.isfinite(sev).all():
            raise DawnError(
                f"severity has {int((~np.isfinite(sev)).sum())} NaN or infinite value(s)",
                "use 0 where an assertion abstains",
            )
        try:
            distinct = len(set(self.ids.tolist()))
        except TypeError as exc:  # an unhashable id (a list, a dict)
            raise DawnError(
                f"pool ids are not hashable ({exc})", "use numbers, strings or tuples as ids"
            ) from exc
        if distinct != len(self.ids):
            raise DawnError("pool ids repeat", "give every pool item its own id")
        self.severity = sev.reshape(len(self.ids), -1)
        if not self.names:
            self.names = [f"a{i}" for i in range(self.severity.shape[1])]
        if len(self.names) != self.severity.shape[1]:
            raise DawnError(
                f"{len(self.names)} names for {self.severity.shape[1]} severity columns",
                "name every assertion column once",
            )
        if self.proba is not None:
            self.proba = np.asarray(self.proba, dtype=np.float64)  # a list would break the strategies
            if self.proba.ndim != 2:
                raise DawnError(
                    f"proba has shape {self.proba.shape}, not (items, classes)",
                    "pass one row of class probabilities per pool item",
                )
            if len(self.proba) != len(self.ids):
                raise DawnError("proba and ids differ in length", "score every pool item")


def uncertainty_scores(proba: np.ndarray, kind: str) -> np.ndarray:
    """Higher = more uncertain, for ``least_confidence``, ``margin`` and ``entropy``."""
    p = np.asarray(proba, dtype=np.float64)
    if kind == "least_confidence":
        return 1.0 - p.max(axis=1)
    if kind == "margin":
        top2 = np.sort(p, axis=1)[:, -2:] if p.shape[1] > 1 else np.c_[np.zeros(len(p)), p]
        return -(top2[:, 1] - top2[:, 0])  # small margin = uncertain = high score
    if kind == "entropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.nansum(np.where(p > 0, p * np.log(p), 0.0), axis=1)
    raise DawnError(f"unknown uncertainty {kind!r}", "use least_confidence, margin or entropy")


class Strategy:
    """Base: ``observe`` the pool under the current model, then ``select`` a batch of ids."""

    name = "strategy"

    def observe(self, pool: PoolScores) -> None:
        """Called once per round with fresh scores, before :meth:`select`."""

    def select(
        self, pool: PoolScores, budget: int, available: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        raise NotImplementedError


class RandomSampling(Strategy):
    name = "random"

    def select(
        self, pool: PoolScores, budget: int, available: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        cand = np.flatnonzero(available)
        return rng.choice(cand, size=min(budget, len(cand)), replace=False)


class Uncertainty(Strategy):
    """Top-``budget`` most uncertain available items (random tie-break)."""

    def __init__(self, kind: str = "least_confidence") -> None:
        self.kind = kind
        self.name = kind

    def select(
        self, pool: PoolScores, budget: int, available: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        if pool.proba is None:
            raise DawnError("uncertainty sampling needs model probabilities", "pass proba in PoolScores")
        cand = np.flatnonzero(available)
        s = uncertainty_scores(pool.proba[cand], self.kind)
        order = np.lexsort((rng.random(len(cand)), -s))
        return cand[order[:budget]]


def _split(budget: int, weights: np.ndarray) -> np.ndarray:
    """Integer budget shares proportional to ``weights`` (largest remainder)."""
    w = np.maximum(weights, 0)
    if w.sum() <= 0:
        return np.zeros(len(w), dtype=int)
    exact = budget * w / w.sum()
    out = np.floor(exact).astype(int)
    rest = budget - out.sum()
    out[np.argsort(-(exact - out), kind="stable")[:rest]] += 1
    return out


def flag_persistence(before: np.ndarray, now: np.ndarray) -> np.ndarray:
    """Per assertion (column), how far the items flagged ``now`` are ones flagged ``before``:
    ``(P(before | now) - P(before)) / (1 - P(before))`` clipped to [0, 1].

    A real assertion that the model satisfies more often flags a subset of what it flagged before
    (1, however large the drop); one that fires at random flags items unrelated to its last round's
    (about 0). 1 where nothing is flagged now (every flag was fixed) or everything was flagged before.
    """
    n_now = now.sum(axis=0)
    p_before = before.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_given = (before & now).sum(axis=0) / n_now
        lift = (p_given - p_before) / (1.0 - p_before)
    return np.where((n_now > 0) & (p_before < 1.0), np.clip(lift, 0.0, 1.0), 1.0)


class BAL(Strategy):
    """Bandit-based active learning over assertions (Kang et al., 2020, Algorithm 1).

    Parameters
    ----------
    min_gain : float, default=0.01
        Below this relative drop in firings for every assertion, fall back.
    fallback : str, default="margin"
        ``random`` or an uncertainty kind, used when no assertion improves, for leftover budget and to
        break severity ties.
    rank : {"severity", "uncertainty"}, default="severity"
        How an assertion's flagged items are ordered: highest severity first (the paper), or most
        uncertain first (a variant: the assertion chooses *where*, uncertainty chooses *which*).
    persistence : bool, default=True
        Scale each reward by how far the items flagged now were flagged last round
        (:func:`flag_persistence`, in [0, 1]). An assertion that flags at random carries no signal
        about the model and so earns nothing, however its firing rate moves by chance; a real
        assertion that the model satisfies more often flags a subset of its last round's items and
        keeps its whole reward. False gives the paper's raw rule (the relative drop alone), under
        which a noisy assertion whose rate dips by chance takes budget (BENCHMARKS.md, "Noisy
        assertion").
    """

    name = "bal"

    def __init__(
        self,
        min_gain: float = 0.01,
        fallback: str = "margin",
        rank: str = "severity",
        persistence: bool = True,
    ) -> None:
        if rank not in ("severity", "uncertainty"):
            raise DawnError(f"unknown rank {rank!r}", "use severity (the paper) or uncertainty")
        self.min_gain = min_gain
        self.fallback = fallback
        self.rank = rank
        self.persistence = persistence
        self._prev_flags: np.ndarray | None = None
        self._prev_rate: np.ndarray | None = None
        self.rewards_: np.ndarray | None = None
        self.history_: list[dict[str, Any]] = []
        #: which assertions chose at least one item in the last :meth:`select`
        self.pulled_: np.ndarray | None = None

    def _fallback(self) -> Strategy:
        return RandomSampling() if self.fallback == "random" else Uncertainty(self.fallback)

    def observe(self, pool: PoolScores) -> None:
        flags = pool.severity > 0
        rate = flags.mean(axis=0)
        if self._prev_rate is not None:
            prev = self._prev_rate
            with np.errstate(divide="ignore", invalid="ignore"):
                self.rewards_ = np.where(prev > 0, (prev - rate) / prev, 0.0)
            # the same pool, scored again (ActiveLoop scores every item each round)
            if self._prev_flags is not None and self._prev_flags.shape == flags.shape:
                self.rewards_ = self.rewards_ * flag_persistence(self._prev_flags, flags)
        self._prev_rate = rate
        self._prev_flags = flags if self.persistence else None

    def weights(self, pool: PoolScores) -> np.ndarray | None:
        """Budget weights per assertion, or None to fall back."""
        if self.rewards_ is None:
            return np.ones(pool.severity.shape[1])
        improved = self.rewards_ > self.min_gain + _ROUNDING  # "more than": a drop of exactly 1% is not
        if not improved.any():
            return None
        return np.where(improved, self.rewards_, 0.0)

    def select(
        self, pool: PoolScores, budget: int, available: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        if pool.proba is None and self.fallback != "random":  # now, not in the first round that needs it
            raise DawnError(
                f"{self.name}'s fallback {self.fallback!r} needs model probabilities, and the pool has none",
                "pass proba in PoolScores, or use the strategy with fallback='random'",
            )
        w = self.weights(pool)
        self.pulled_ = np.zeros(pool.severity.shape[1], dtype=bool)
        self.history_.append(
            {
                "weights": None if w is None else w.tolist(),
                "rewards": None if self.rewards_ is None else self.rewards_.tolist(),
            }
        )
        if w is None:
            return self._fallback().select(pool, budget, available, rng)
        return self._by_assertion(pool, budget, available, rng, w)

    def _by_assertion(
        self, pool: PoolScores, budget: int, available: np.ndarray, rng: np.random.Generator, w: np.ndarray
    ) -> np.ndarray:
        avail = available.copy()
        tie = rng.random(len(avail))
        unc = (
            uncertainty_scores(pool.proba, self.fallback)
            if pool.proba is not None and self.fallback != "random"
            else tie
        )
        chosen: list[int] = []
        pulled = self.pulled_ if self.pulled_ is not None else np.zeros(len(w), dtype=bool)
        # Shares in proportion to the weights; an assertion with fewer flagged items than its share
        # passes the rest to the others (in proportion again), and only budget that no assertion can
        # use goes to the fallback.
        while len(chosen) < budget:
            flagged = (pool.severity > 0) & avail[:, None]
            live = np.where(flagged.any(axis=0), w, 0.0)
            shares = _split(budget - len(chosen), live)
            if not shares.any():
                break
            for a in np.argsort(-live, kind="stable"):
                if shares[a] == 0:
                    continue
                cand = np.flatnonzero((pool.severity[:, a] > 0) & avail)
                if self.rank == "severity":  # the paper: highest severity first, ties by uncertainty
                    key = np.lexsort((-tie[cand], -unc[cand], -pool.severity[cand, a]))
                else:  # among the items the assertion flags, the most uncertain first
                    key = np.lexsort((-tie[cand], -pool.severity[cand, a], -unc[cand]))
                top = cand[key[: shares[a]]]
                chosen.extend(top.tolist())
                avail[top] = False  # counted once even if other assertions flag it too
                pulled[a] |= len(top) > 0
        self.pulled_ = pulled
        left = budget - len(chosen)
        if left > 0 and avail.any():
            chosen.extend(self._fallback().select(pool, left, avail, rng).tolist())
        return np.asarray(chosen, dtype=np.int64)


class BanditUCB(BAL):
    """BAL with an upper-confidence-bound arm score: mean past reward + ``c * sqrt(log t / n_a)``.

    Unlike :class:`BAL`, which trusts only the last round's reward, this remembers every round's reward
    and keeps exploring arms that have been tried less.
    """

    name = "bal_ucb"

    def __init__(
        self,
        c: float = 0.1,
        min_gain: float = 0.01,
        fallback: str = "margin",
        rank: str = "severity",
        persistence: bool = True,
    ) -> None:
        super().__init__(min_gain=min_gain, fallback=fallback, rank=rank, persistence=persistence)
        self.c = c
        self._sum: np.ndarray | None = None
        self._n: np.ndarray | None = None
        self._t = 0

    def observe(self, pool: PoolScores) -> None:
        super().observe(pool)
        if self.rewards_ is not None:
            if self._sum is None or self._n is None:
                self._sum = np.zeros_like(self.rewards_)
                self._n = np.zeros_like(self.rewards_)
            # an arm is credited with the round's reward only if it chose items in that round, so
            # arms tried less keep a larger exploration bonus
            pulled = self.pulled_
            if pulled is None or len(pulled) != len(self._n):  # before the first select: every arm
                pulled = np.ones(len(self._n), dtype=bool)
            self._sum[pulled] += self.rewards_[pulled]
            self._n[pulled] += 1
            self._t += 1

    def weights(self, pool: PoolScores) -> np.ndarray | None:
        if self._sum is None or self._n is None:
            return np.ones(pool.severity.shape[1])
        mean = self._sum / np.maximum(self._n, 1)
        ucb = mean + self.c * np.sqrt(np.log(self._t + 1) / np.maximum(self._n, 1))
        improved = ucb > self.min_gain + _ROUNDING
        if not improved.any():
            return None
        return np.where(improved, ucb, 0.0)


def make_strategy(name: str) -> Strategy:
    """``random``, ``least_confidence``, ``margin``, ``entropy``, ``bal``, ``bal_ucb``, ``bal_unc``."""
    if name == "random":
        return RandomSampling()
    if name in ("least_confidence", "margin", "entropy"):
        return Uncertainty(name)
    if name == "bal":
        return BAL()
    if name == "bal_ucb":
        return BanditUCB()
    if name == "bal_unc":
        b = BAL(rank="uncertainty")
        b.name = "bal_unc"
        return b
    raise DawnError(
        f"unknown strategy {name!r}", "use random, least_confidence, margin, entropy, bal, bal_ucb or bal_unc"
    )


class ActiveLoop:
    """The labelling loop: ``select(budget) -> ids``, a human labels them, ``update(labels)``, retrain.

    Parameters
    ----------
    score : callable
        ``score() -> PoolScores`` for the *current* model over the whole pool; called once per
        :meth:`select` (retrain your model between :meth:`update` and the next :meth:`select`).
    strategy : Strategy or str
    seed : int

    Attributes
    ----------
    labels_ : dict
        Every label collected so far.
    """

    def __init__(
        self, score: Callable[[], PoolScores], strategy: Strategy | str = "bal", *, seed: int = 0
    ) -> None:
        if not callable(score):
            raise DawnError(
                f"score must be a function that returns PoolScores, got a {type(score).__name__}",
                "pass e.g. ActiveLoop(lambda: PoolScores(...)), scoring the pool with the current model",
            )
        self.score = score
        self.strategy = make_strategy(strategy) if isinstance(strategy, str) else strategy
        self.rng = np.random.default_rng(seed)
        self.labels_: dict[Hashable, Any] = {}
        self._last: PoolScores | None = None
        self._selected: dict[Hashable, tuple[Any, np.ndarray]] = {}  # id -> (prediction, flags at selection)

    def select(self, budget: int) -> list[Hashable]:
        if not isinstance(budget, int | np.integer) or budget < 1:
            raise DawnError(f"budget {budget!r} is not a whole number >= 1", "ask for at least one label")
        pool = self.score()
        if not isinstance(pool, PoolScores):
            raise DawnError(
                f"score() returned a {type(pool).__name__}, not PoolScores", "return PoolScores(...)"
            )
        self._last = pool
        unknown = set(self.labels_).difference(pool.ids.tolist())
        if unknown:  # labels given before the first select are checked here, against the first pool
            shown = sorted(map(repr, unknown))[:5]
            raise DawnError(
                f"labels were given for {len(unknown)} id(s) not in the pool, e.g. {', '.join(shown)}",
                "label the ids that select() returned, with the same type (e.g. int, not str), and "
                "keep labelled items in the pool that score() returns (labelled ones are not picked)",
            )
        self.strategy.observe(pool)
        available = np.array([i not in self.labels_ for i in pool.ids.tolist()], dtype=bool)
        pos = self.strategy.select(pool, budget, available, self.rng)
        out = pool.ids[pos].tolist()
        for p, i in zip(pos, out, strict=True):
            pred = None if pool.predictions is None else pool.predictions[p]
            self._selected[i] = (pred, pool.severity[p] > 0)
        return out

    def update(self, labels: Mapping[Hashable, Any] | Sequence[tuple[Hashable, Any]]) -> None:
        """Record labels (a later call may correct an earlier label; one call may not contradict itself)."""
        items = list(labels.items() if isinstance(labels, Mapping) else labels)
        given: dict[Hashable, Any] = {}
        for item in items:
            if not (isinstance(item, tuple) and len(item) == 2):
                raise DawnError(
                    f"labels must map id -> label, got the item {item!r}",
                    "pass a dict {id: label} (or a list of (id, label) tuples)",
                )
            i, y = item
            if i in given and given[i] != y:
                raise DawnError(
                    f"id {i!r} is labelled both {given[i]!r} and {y!r} in one update",
                    "give each id one label",
                )
            given[i] = y
        if self._last is not None:  # refused before anything is stored: a bad id must not jam the loop
            known = set(self._last.ids.tolist())
            unknown = [i for i in given if i not in known]
            if unknown:
                shown = sorted(map(repr, unknown))[:5]
                raise DawnError(
                    f"labels for {len(unknown)} id(s) not in the pool, e.g. {', '.join(shown)}; "
                    "none recorded",
                    "label the ids that select() returned, with the same type (e.g. int, not str)",
                )
        self.labels_.update(given)

    def precision(self) -> dict[str, dict[str, float]]:
        """Per assertion: of the labelled items it flagged, the share the model got wrong.

        Needs the model's predictions in :class:`PoolScores` (``predictions``): without them no
        item can be judged, and this raises rather than report NaN for every assertion.
        """
        if self._selected and all(pred is None for pred, _ in self._selected.values()):
            raise DawnError(
                "precision needs the model's predictions, and the pool scores had none",
                "pass predictions=model.predict(pool) in PoolScores",
            )
        names = self._last.names if self._last is not None else []
        hits = np.zeros(len(names))
        n = np.zeros(len(names))
        for i, (pred, flags) in self._selected.items():
            if i in self.labels_ and pred is not None:
                n += flags
                hits += flags * (pred != self.labels_[i])
        return {
            a: {
                "flagged_labelled": float(n[k]),
                "errors": float(hits[k]),
                "precision": float(hits[k] / n[k]) if n[k] else float("nan"),
            }
            for k, a in enumerate(names)
        }
