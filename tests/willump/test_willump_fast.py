"""One-row scorers for the optimizer's small models reproduce the estimators' probabilities."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from dawn.willump.fast import EstimatorScorer, LightGBMTrees, LinearScorer, single_row_scorer

lgb = pytest.importorskip("lightgbm")


def _data(n=600, d=6, classes=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[rng.random(n) < 0.1, 1] = np.nan  # missing values on one feature
    X[rng.random(n) < 0.2, 2] = 0.0  # many exact zeros on another
    y = (np.nan_to_num(X[:, 0]) + 0.5 * X[:, 3] > 0).astype(int)
    if classes > 2:
        y = np.digitize(np.nan_to_num(X[:, 0]), np.quantile(X[:, 0], np.linspace(0, 1, classes + 1)[1:-1]))
    return X, y


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_lightgbm_trees_match_predict_proba_with_missing_values(classes, zero_as_missing):
    X, y = _data(classes=classes)
    model = lgb.LGBMClassifier(
        n_estimators=40, num_leaves=15, verbose=-1, n_jobs=1, zero_as_missing=zero_as_missing
    ).fit(X[:400], y[:400])
    trees = LightGBMTrees(model)
    want = model.predict_proba(X[400:])
    got = np.array([trees(X[i : i + 1]) for i in range(400, len(X))])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert single_row_scorer(model, X[400:]) is not None
    assert isinstance(single_row_scorer(model, X[400:]), LightGBMTrees)


def test_linear_scorer_matches_logistic_regression_on_sparse_rows():
    from sklearn.linear_model import LogisticRegression

    X, y = _data()
    Xs = sp.csr_matrix(np.nan_to_num(X))
    for target in (y, np.digitize(np.nan_to_num(X[:, 0]), [-0.5, 0.5])):
        model = LogisticRegression(max_iter=500).fit(Xs[:400], target[:400])
        scorer = single_row_scorer(model, Xs[400:])
        assert isinstance(scorer, LinearScorer)
        want = model.predict_proba(Xs[400:])
        got = np.array([scorer(Xs[i]) for i in range(400, Xs.shape[0])])
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_unsupported_or_mismatching_models_keep_their_own_predict_proba():
    from sklearn.ensemble import RandomForestClassifier

    X, y = _data()
    X = np.nan_to_num(X)
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    assert isinstance(single_row_scorer(forest, X), EstimatorScorer)
    np.testing.assert_allclose(single_row_scorer(forest, X)(X[:1]), forest.predict_proba(X[:1])[0])

    model = lgb.LGBMClassifier(n_estimators=10, verbose=-1).fit(X, y)
    model.predict_proba = lambda Z: np.full((len(Z), 2), 0.5)  # a model whose trees say otherwise
    assert isinstance(single_row_scorer(model, X), EstimatorScorer)
