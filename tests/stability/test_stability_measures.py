"""Correctness of the measures against explicit n x n formulas, and their invariances."""

from __future__ import annotations

import numpy as np
import pytest

from dawn.core.errors import DawnError
from dawn.stability import MEASURES, Anchors, Pair, compute_measures, get_measure


def _pair(n=300, d=8, k=20, noise=0.3, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, k))
    E = base + 0.1 * rng.normal(size=(n, k))
    Et = base + 0.1 * rng.normal(size=(n, k))
    X = base[:, :d] @ rng.normal(size=(d, d)) + noise * rng.normal(size=(n, d))
    Y = base[:, :d] @ rng.normal(size=(d, d)) + noise * rng.normal(size=(n, d))
    return X, Y, E, Et


def _eis_explicit(X, Y, E, Et, alpha):
    U1 = np.linalg.svd(X, full_matrices=False)[0]
    U2 = np.linalg.svd(Y, full_matrices=False)[0]

    def power(M):
        lam, vec = np.linalg.eigh(M @ M.T)
        lam = np.clip(lam, 0, None)
        return (vec * lam**alpha) @ vec.T

    S = power(E) + power(Et)
    D = U1 @ U1.T - U2 @ U2.T
    return np.trace(D @ S @ D) / np.trace(S)


@pytest.mark.parametrize("alpha", [1.0, 3.0])
@pytest.mark.parametrize("dims", [(8, 8), (6, 10)])
def test_eis_matches_explicit_formula(alpha, dims):
    X, Y, E, Et = _pair(d=max(dims))
    X, Y = X[:, : dims[0]], Y[:, : dims[1]]
    ours = compute_measures(X, Y, ["eis"], anchors=Anchors(E, Et, alpha=alpha, block_rows=64))["eis"]
    ref = _eis_explicit(X, Y, E, Et, alpha)
    assert ours == pytest.approx(ref, rel=1e-8)
    assert 0 < ours < 1


def test_eis_self_is_zero_and_invariant_to_column_maps():
    X, Y, E, Et = _pair()
    anchors = Anchors(E, Et).fit()
    assert compute_measures(X, X, ["eis"], anchors=anchors)["eis"] == pytest.approx(0, abs=1e-12)
    A = np.random.default_rng(5).normal(size=(X.shape[1], X.shape[1]))
    base = compute_measures(X, Y, ["eis"], anchors=anchors)["eis"]
    moved = compute_measures(X @ A, Y @ A.T, ["eis"], anchors=anchors)["eis"]
    assert moved == pytest.approx(base, rel=1e-8)


def test_eis_float32_storage_close_to_float64():
    X, Y, E, Et = _pair()
    a64 = compute_measures(X, Y, ["eis"], anchors=Anchors(E, Et))["eis"]
    a32 = compute_measures(
        X.astype(np.float32),
        Y.astype(np.float32),
        ["eis"],
        anchors=Anchors(E.astype(np.float32), Et.astype(np.float32)),
    )["eis"]
    assert a32 == pytest.approx(a64, rel=1e-4)


def test_pip_and_eigenspace_overlap_match_explicit():
    X, Y, _, _ = _pair(d=7)
    got = compute_measures(X, Y[:, :5], ["pip", "eo"])
    assert got["pip"] == pytest.approx(np.linalg.norm(X @ X.T - Y[:, :5] @ Y[:, :5].T), rel=1e-9)
    U1 = np.linalg.svd(X, full_matrices=False)[0]
    U2 = np.linalg.svd(Y[:, :5], full_matrices=False)[0]
    assert got["eo"] == pytest.approx(1 - np.linalg.norm(U1.T @ U2) ** 2 / 7, rel=1e-9)


def test_semantic_displacement_matches_rowwise_loop_and_rotation_invariance():
    from scipy.linalg import orthogonal_procrustes

    X, Y, _, _ = _pair()
    R, _ = orthogonal_procrustes(X, Y)
    Xr = X @ R
    ref = np.mean([1 - Xr[i] @ Y[i] / np.linalg.norm(Xr[i]) / np.linalg.norm(Y[i]) for i in range(len(X))])
    pair = Pair(X, Y, block_rows=50)
    assert get_measure("sem_disp")(pair) == pytest.approx(ref, rel=1e-9)
    Q = np.linalg.qr(np.random.default_rng(1).normal(size=(X.shape[1],) * 2))[0]
    assert compute_measures(X @ Q, Y, ["sem_disp"])["sem_disp"] == pytest.approx(ref, rel=1e-8)


def test_knn_matches_brute_force_and_is_block_size_independent():
    X, Y, _, _ = _pair(n=200)
    k, nq = 5, 50
    q = np.sort(np.random.default_rng(7).choice(200, nq, replace=False))

    def nbrs(M):
        U = M / np.linalg.norm(M, axis=1, keepdims=True)
        sims = U[q] @ U.T
        sims[np.arange(nq), q] = -np.inf
        return [set(np.argsort(-s, kind="stable")[:k]) for s in sims]

    ref = 1 - np.mean([len(a & b) / k for a, b in zip(nbrs(X), nbrs(Y), strict=False)])
    for block in (16, 200):
        got = get_measure("knn")(Pair(X, Y, block_rows=block), k=k, n_queries=nq, seed=7)
        assert got == pytest.approx(ref)
    assert get_measure("knn")(Pair(X, X), k=k, n_queries=nq, seed=7) == 0


def test_all_measures_zero_on_identical_and_oriented():
    X, Y, E, Et = _pair()
    anchors = Anchors(E, Et)
    same = compute_measures(X, X, list(MEASURES), anchors=anchors)
    assert all(abs(v) < 1e-6 for v in same.values()), same
    near = compute_measures(X, X + 0.05 * Y, list(MEASURES), anchors=anchors)
    far = compute_measures(X, Y, list(MEASURES), anchors=anchors)
    for m in MEASURES:
        assert MEASURES[m].larger_is_less_stable
        assert far[m] > near[m], m


def test_cka_matches_explicit():
    X, Y, _, _ = _pair()
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    K, L = Xc @ Xc.T, Yc @ Yc.T
    ref = 1 - np.sum(K * L) / (np.linalg.norm(K) * np.linalg.norm(L))
    assert compute_measures(X, Y, ["cka"])["cka"] == pytest.approx(ref, rel=1e-9)


def test_torch_backend_matches_numpy():
    pytest.importorskip("torch")
    X, Y, E, Et = _pair()
    a = compute_measures(X, Y, ["eis", "pip"], anchors=Anchors(E, Et))
    b = compute_measures(X, Y, ["eis", "pip"], anchors=Anchors(E, Et, backend="torch"), backend="torch")
    assert b["eis"] == pytest.approx(a["eis"], rel=1e-9)
    assert b["pip"] == pytest.approx(a["pip"], rel=1e-9)


def test_bad_inputs_raise_one_clear_error():
    X, Y, E, Et = _pair()
    with pytest.raises(DawnError, match="words"):
        Pair(X, Y[:-1])
    with pytest.raises(DawnError, match="equal dimensions"):
        compute_measures(X, Y[:, :5], ["sem_disp"])
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(DawnError, match="NaN"):
        Pair(bad, Y)
    with pytest.raises(DawnError, match="anchor"):
        compute_measures(X, Y, ["eis"])
    with pytest.raises(DawnError, match="unknown measure"):
        compute_measures(X, Y, ["nope"])
    with pytest.raises(DawnError, match="anchors cover"):
        compute_measures(X, Y, ["eis"], anchors=Anchors(E[:-1], Et[:-1]))
