"""Real active-learning tasks with model assertions over their outputs.

Each task holds a labelled pool (labels are revealed only when a strategy asks), a test set, a model to
retrain, and assertions that see only the model's inputs and outputs:

- ``digits`` (UCI handwritten digits, 1,797 images): a logistic-regression classifier on pixels.
  Assertions: *shift invariance* (the label must not change when the image moves by one pixel; a
  consistency assertion over four shifted copies, whose majority vote is also a weak label) and
  *agreement* with a second model that sees another view of the input (2x2-pooled pixels), as the
  paper's LIDAR-vs-camera assertion does.
- ``vader-mr`` (10,605 movie-review sentences): logistic regression on word n-grams. Assertion:
  agreement with a second model on character n-grams (another "sensor" of the same sentence).

``mr-to-tweets``, ``mr-to-amazon`` and ``mr-to-nyt`` (a movie-review model deployed on another domain) are in
:mod:`dawn.assertions.experiments.shift_task`; the video tasks in :mod:`~.video_task`.

Every task can also carry a ``noise`` assertion that flags a fresh random 10% of the items each round,
to test that BAL ignores a useless assertion even when its firing rate drops by chance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dawn.assertions.active import PoolScores
from dawn.assertions.builtin import Agreement

__all__ = ["DigitsTask", "SentenceTask", "Task", "load_task", "noise_severity"]


def noise_severity(n: int, seed: int, round_: int, rate: float = 0.1) -> np.ndarray:
    """A useless assertion's severities over ``n`` items: a random ``rate`` of them, random severities.

    Redrawn every round (``round_``), so the share it flags moves by chance from round to round and
    BAL's reward for it (the relative drop in firings) is sometimes positive: the check is that BAL
    does not waste labels on it, not only that a constant arm earns nothing.
    """
    rng = np.random.default_rng([seed, 991, round_])
    return (rng.random(n) < rate) * rng.random(n)


@dataclass
class Task:
    """Base task. Subclasses set the data in :meth:`load` and implement :meth:`fit` and :meth:`scores`."""

    name: str = "task"
    seed: int = 0
    noise: bool = False
    #: how many times :meth:`scores` has run since the loop set ``seed`` (one per round)
    round: int = 0
    #: a control, not an assertion: replace the task's assertions by one that flags exactly the
    #: model's errors (severity: the model's confidence), to see what perfect error-finding gives
    oracle: bool = False
    X_pool: Any = None
    y_pool: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    X_test: Any = None
    y_test: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    n_classes: int = 2

    def fit(self, idx: np.ndarray, y: np.ndarray | None = None) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def assertion_severity(self, model: Any) -> tuple[np.ndarray, list[str]]:  # pragma: no cover
        raise NotImplementedError

    def scores(self, model: Any) -> PoolScores:
        sev, names = self.oracle_severity(model) if self.oracle else self.assertion_severity(model)
        if self.noise:  # a useless assertion: a fresh random 10% of the pool each round
            sev = np.c_[sev, noise_severity(len(self.y_pool), self.seed, self.round)]
            names = [*names, "noise"]
        self.round += 1
        proba = self.proba(model, self.X_pool)
        return PoolScores(np.arange(len(self.y_pool)), sev, proba, names, proba.argmax(axis=1))

    def oracle_severity(self, model: Any) -> tuple[np.ndarray, list[str]]:
        """The oracle control: severity = the model's confidence where it is wrong on the pool, else 0."""
        proba = self.proba(model, self.X_pool)
        wrong = proba.argmax(axis=1) != self.y_pool
        return (wrong * proba.max(axis=1))[:, None], ["oracle"]

    def proba(self, model: Any, X: Any) -> np.ndarray:
        p = np.zeros((X.shape[0], self.n_classes))
        p[:, model.main.classes_] = model.main.predict_proba(X)
        return p

    def metric(self, model: Any) -> float:
        return float((self.proba(model, self.X_test).argmax(axis=1) == self.y_test).mean())


@dataclass
class _Pair:
    main: Any
    second: Any


def _lr(C: float = 1.0) -> Any:
    from sklearn.linear_model import LogisticRegression

    # a loose tolerance: hundreds of refits per curve on a shared 2-core machine
    return LogisticRegression(C=C, max_iter=100, tol=1e-3)


def _fit_or_constant(model: Any, X: Any, y: np.ndarray) -> Any:
    if len(np.unique(y)) < 2:  # too few labels to fit: a dummy that predicts the one class seen
        from sklearn.dummy import DummyClassifier

        return DummyClassifier(strategy="most_frequent").fit(X, y)
    return model.fit(X, y)


@dataclass
class DigitsTask(Task):
    name: str = "digits"
    n_classes: int = 10

    def __post_init__(self) -> None:
        from dawn import data

        d = data.load("digits")
        X = d.X.astype(np.float64) / 16.0
        rng = np.random.default_rng(12345)  # one fixed split for every seed: seeds vary the loop
        perm = rng.permutation(len(X))
        test, pool = perm[:597], perm[597:]
        self.X_pool, self.y_pool = X[pool], d.y[pool]
        self.X_test, self.y_test = X[test], d.y[test]
        self._shifts = [self._shift(self.X_pool, dx, dy) for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))]
        self._pool_view = self._pooled(self.X_pool)

    @staticmethod
    def _shift(X: np.ndarray, dx: int, dy: int) -> np.ndarray:
        img = X.reshape(-1, 8, 8)
        out = np.zeros_like(img)
        ys, yd = (slice(0, 8 - dy), slice(dy, 8)) if dy >= 0 else (slice(-dy, 8), slice(0, 8 + dy))
        xs, xd = (slice(0, 8 - dx), slice(dx, 8)) if dx >= 0 else (slice(-dx, 8), slice(0, 8 + dx))
        out[:, yd, xd] = img[:, ys, xs]
        return out.reshape(len(X), 64)

    @staticmethod
    def _pooled(X: np.ndarray) -> np.ndarray:
        return X.reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4)).reshape(len(X), 16)

    def fit(self, idx: np.ndarray, y: np.ndarray | None = None) -> _Pair:
        y = self.y_pool[idx] if y is None else y
        main = _fit_or_constant(_lr(1.0), self.X_pool[idx], y)
        second = _fit_or_constant(_lr(1.0), self._pool_view[idx], y)
        return _Pair(main, second)

    def shift_votes(self, model: _Pair) -> np.ndarray:
        """Predicted labels of the four shifted copies: (n, 4)."""
        return np.stack([model.main.predict(S) for S in self._shifts], axis=1)

    def assertion_severity(self, model: _Pair) -> tuple[np.ndarray, list[str]]:
        pred = model.main.predict(self.X_pool)
        shift = (self.shift_votes(model) != pred[:, None]).mean(axis=1)
        p2 = np.zeros((len(pred), self.n_classes))
        p2[:, model.second.classes_] = model.second.predict_proba(self._pool_view)
        agree = Agreement().check((self.proba(model, self.X_pool), p2)).severity
        return np.c_[shift, agree], ["shift_invariance", "agreement"]


@dataclass
class SentenceTask(Task):
    name: str = "vader-mr"
    n_classes: int = 2

    def __post_init__(self) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        from dawn import data

        df = data.load("vader-mr")
        rng = np.random.default_rng(12345)
        perm = rng.permutation(len(df))
        test, pool = perm[:2605], perm[2605:]
        text = df["text"].to_numpy()
        # vectorisers see all text without labels (unsupervised), as a deployed model's would
        words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(text)
        chars = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 4), min_df=3, sublinear_tf=True, max_features=30000
        ).fit(text)
        Xw, Xc = words.transform(text), chars.transform(text)
        y = df["label"].to_numpy().astype(np.int64)
        self.X_pool, self.y_pool, self.X_test, self.y_test = Xw[pool], y[pool], Xw[test], y[test]
        self._chars_pool = Xc[pool]

    def fit(self, idx: np.ndarray, y: np.ndarray | None = None) -> _Pair:
        y = self.y_pool[idx] if y is None else y
        return _Pair(
            _fit_or_constant(_lr(4.0), self.X_pool[idx], y),
            _fit_or_constant(_lr(4.0), self._chars_pool[idx], y),
        )

    def assertion_severity(self, model: _Pair) -> tuple[np.ndarray, list[str]]:
        p1 = self.proba(model, self.X_pool)
        p2 = np.zeros_like(p1)
        p2[:, model.second.classes_] = model.second.predict_proba(self._chars_pool)
        return np.c_[Agreement().check((p1, p2)).severity], ["agreement"]


def load_task(name: str, *, seed: int = 0, noise: bool = False) -> Task:
    if name == "digits":
        return DigitsTask(seed=seed, noise=noise)
    if name == "vader-mr":
        return SentenceTask(seed=seed, noise=noise)
    if name in ("vtest-video", "vtest-frames"):
        from dawn.assertions.experiments.video_task import VideoFrameTask, VideoTask

        cls = VideoTask if name == "vtest-video" else VideoFrameTask
        return cls(seed=seed, noise=noise)
    from dawn.assertions.experiments.shift_task import SHIFT_TASKS, DomainShiftTask

    if name in SHIFT_TASKS:
        return DomainShiftTask(name=name, seed=seed, noise=noise)
    from dawn.core.errors import DawnError

    raise DawnError(
        f"unknown active-learning task {name!r}",
        "use digits, vader-mr, vtest-video, vtest-frames, mr-to-tweets, mr-to-amazon or mr-to-nyt",
    )
