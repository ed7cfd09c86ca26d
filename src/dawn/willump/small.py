"""The small models the optimizer trains on cheap feature groups (the user's model is never replaced)."""

from __future__ import annotations

from typing import Any


def small_model_variants(
    task: str, *, sparse: bool, seed: int = 0, template: Any = None, wide: bool = False
) -> list[Any]:
    """Unfitted small models to try, cheapest first: the user's ``template`` if given; else for dense
    input a 25-tree and a 60-tree LightGBM (the cheaper one often wins when the full model's cost is
    mostly the model itself), for sparse input a linear model. ``wide`` (used when candidates are
    chosen on held-out selection rows, where more candidates cost the guarantee little) adds
    logistic regressions with weaker and stronger regularisation, whose confidence ranks rows
    differently."""
    from sklearn.base import clone

    if template is not None:
        return [clone(template)]
    if sparse:
        if wide and task == "classification":
            from sklearn.linear_model import LogisticRegression

            return [LogisticRegression(C=c, max_iter=300) for c in (1.0, 4.0, 16.0)]
        return [make_small_model(task, sparse=True, seed=seed)]
    return [
        make_small_model(task, sparse=False, seed=seed, n_trees=25),
        make_small_model(task, sparse=False, seed=seed),
    ]


def make_small_model(task: str, *, sparse: bool, seed: int = 0, n_trees: int = 60) -> Any:
    """A fast, unfitted estimator for the cheap features: linear for sparse input, small GBDT for dense.

    Linear models are the natural fit for TF-IDF-like sparse blocks and cost microseconds per row; on
    dense tabular blocks a 60-tree LightGBM (one thread) captures the interactions a linear model misses.
    """
    from sklearn.linear_model import LogisticRegression, Ridge

    if sparse:
        if task == "classification":
            return LogisticRegression(C=4.0, max_iter=300)
        return Ridge(alpha=1.0)
    try:
        import lightgbm as lgb

        params: dict[str, Any] = dict(
            n_estimators=n_trees, num_leaves=15, learning_rate=0.1, n_jobs=1, random_state=seed, verbose=-1
        )
        return lgb.LGBMClassifier(**params) if task == "classification" else lgb.LGBMRegressor(**params)
    except ImportError:  # lightgbm is in the willump extra; sklearn's GBDT is the fallback
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
        return cls(max_iter=n_trees, random_state=seed)


def fit_small_model(task: str, feats: Any, target: Any, *, seed: int = 0, template: Any = None) -> Any:
    """Fit a small model (a clone of ``template``, or the default) on ``feats`` to predict ``target``
    (the full model's own outputs, or the labels)."""
    import numpy as np
    import scipy.sparse as sp
    from sklearn.base import clone
    from sklearn.dummy import DummyClassifier

    if task == "classification" and len(np.unique(target)) < 2:
        return DummyClassifier(strategy="most_frequent").fit(feats, target)
    model = (
        clone(template)
        if template is not None
        else make_small_model(task, sparse=sp.issparse(feats), seed=seed)
    )
    return model.fit(feats, target)
