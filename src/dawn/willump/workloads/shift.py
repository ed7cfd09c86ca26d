"""Serving under a domain shift: a cascade calibrated on movie reviews, served on other corpora.

The certified bound holds for inputs drawn like the calibration rows. This experiment serves a
word/character TF-IDF sentiment cascade, optimised on movie-review sentences (``vader-mr``), first on
held-out reviews, then on tweets, Amazon reviews and New York Times sentences (VADER's other
corpora), and reports for each what :mod:`dawn.willump.serving` sees (the share answered early
against calibration, whether a shift is flagged) beside what it cannot see without labels (the
cascade's accuracy loss against the full model on that corpus).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dawn.willump.optimize import optimize
from dawn.willump.optimized import OptimizedPipeline
from dawn.willump.pipeline import Pipeline

#: the corpora served after calibration on movie reviews
SHIFTED = ("vader-tweets", "vader-amazon", "vader-nyt")
#: the small models' regularisation, one plan each: the variants the optimiser itself chooses among
#: (``dawn.willump.small``), so no one plan is picked for the result
SMALL_CS = (1.0, 4.0, 16.0)


def movie_review_cascade(
    seed: int = 0, max_loss: float = 0.02, small_c: float = 4.0
) -> tuple[OptimizedPipeline, list[str], np.ndarray]:
    """A cascade optimised on movie reviews (4,000 train, 4,000 validation rows); returns it with the
    held-out reviews and their labels. The small model is fixed (a logistic regression with
    ``C=small_c``), so that timing noise cannot pick another one from run to run."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from dawn import data

    mr = data.load("vader-mr")
    texts, y = [str(t) for t in mr["text"]], mr["label"].to_numpy()
    perm = np.random.default_rng(seed).permutation(len(texts))
    tr, va, te = perm[:4000], perm[4000:8000], perm[8000:]
    train = [texts[i] for i in tr]
    word = TfidfVectorizer(min_df=2, sublinear_tf=True).fit(train)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, max_features=30_000).fit(train)
    pipe = Pipeline({"word": word, "char": char}, LogisticRegression(C=4.0, max_iter=500))
    pipe.model.fit(pipe.transform(train), y[tr])
    opt = optimize(pipe, [texts[i] for i in va], y[va], max_loss=max_loss, X_train=train, y_train=y[tr],
                   risk="net_loss", measure=False, seed=seed,
                   small_model=LogisticRegression(C=small_c, max_iter=300))  # fmt: skip
    return opt, [texts[i] for i in te], y[te]


def run(seed: int = 0, small_cs: tuple[float, ...] = SMALL_CS) -> dict[str, Any]:
    """Serve the movie-review cascade, once per small model in ``small_cs``, on each corpus; per
    plan and corpus the serving report and the accuracy loss."""
    from dawn import data

    out: dict[str, Any] = {"calibrated_on": "vader-mr", "plans": []}
    shifted = {}
    for name in SHIFTED:
        d = data.load(name)
        shifted[name] = ([str(t) for t in d["text"]], d["label"].to_numpy())
    for c in small_cs:
        opt, reviews, y_reviews = movie_review_cascade(seed, small_c=c)
        plan: dict[str, Any] = {
            "small_c": c,
            "cheap_groups": None if opt.cascade_ is None else opt.cascade_.cheap,
            "calibration_early_share": None if opt.cascade_ is None else opt.cascade_.accept_rate,
            "n_calibration": opt.info_["n_cal"],
            "max_loss": opt.info_["max_loss"],
            "corpora": {},
        }
        for name, (X, y) in {"vader-mr (held out)": (reviews, y_reviews), **shifted}.items():
            opt.stats_.reset()
            full, fast = opt.pipeline.predict(X), opt.predict(X)
            r = opt.serving_report()["batch"]
            plan["corpora"][name] = {
                "rows": r["rows"],
                "early_share": r["early_share"],
                "p_value": r["p_value"],
                "shift_suspected": r["shift_suspected"],
                "accuracy_full": float(np.mean(full == y)),
                "accuracy_cascade": float(np.mean(fast == y)),
                "accuracy_loss": float(np.mean(full == y) - np.mean(fast == y)),
                "disagreement": float(np.mean(full != fast)),
            }
        out["plans"].append(plan)
    return out
