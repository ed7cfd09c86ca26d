"""The offline study's pieces: deterministic CBOW, downstream instability, and the tiny grid end to end."""

from __future__ import annotations

import numpy as np
import pytest

from dawn.stability.downstream import Task, downstream_instability
from dawn.stability.study import TINY, run_study, train_cbow


def _sentences(seed=0, n=300):
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(60)]
    return [[vocab[j] for j in rng.integers(0, 60, size=12)] for _ in range(n)]


def test_train_cbow_is_deterministic():
    s = _sentences()
    a = train_cbow(s, 8, seed=3, epochs=1, min_count=1)
    b = train_cbow(s, 8, seed=3, epochs=1, min_count=1)
    c = train_cbow(s, 8, seed=4, epochs=1, min_count=1)
    assert a.words == b.words
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert not np.allclose(a.vectors, c.vectors)


def _task(n=400, seed=0):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(50)]
    tokens = [[words[j] for j in rng.integers(0, 50, size=6)] for _ in range(n)]
    labels = np.array([int(sum(int(t[1:]) for t in s) > 150) for s in tokens])
    perm = rng.permutation(n)
    return Task("toy", tokens, labels, np.sort(perm[100:]), np.sort(perm[:100])), words


@pytest.mark.parametrize("model", ["ridge", "logistic"])
def test_downstream_instability(model):
    task, words = _task()
    rng = np.random.default_rng(1)
    X = np.c_[np.arange(50.0), rng.normal(size=(50, 3))]
    avg = task.averaging_matrix(words)
    same = downstream_instability(X, X, avg, task, model=model)
    assert same["di"] == 0 and same["acc_1"] == same["acc_2"] > 80
    noisy = downstream_instability(X, rng.normal(size=X.shape), avg, task, model=model)
    assert noisy["di"] > 5 and noisy["acc_2"] < same["acc_1"]


@pytest.mark.slow
@pytest.mark.data
def test_tiny_study_on_kernel_docs():
    df, info = run_study(TINY)
    assert len(df) == len(TINY.dims) * len(TINY.bits)
    assert {"eis", "knn", "sem_disp", "pip", "eo", "di_mr", "di_kernel_topic"} <= set(df.columns)
    assert df[["di_mr", "di_kernel_topic"]].to_numpy().min() >= 0
    assert (df["eis"] > 0).all() and df.notna().all().all()
    assert info["n_words"][0] > 1000
