"""Partitioners: prefix-sum splits, the non-negative cost model, online refits, METIS, boundaries."""

import numpy as np
import pytest

from dawn.core.errors import DawnError
from dawn.roc.partition import (
    LearnedPartitioner,
    NonNegativeRidge,
    balance,
    boundary_rows,
    equal_edges,
    equal_vertices,
    local_graph,
    locality_order,
    metis,
    permute_csr,
    split_prefix,
    vertex_features,
)
from dawn.roc.runner import csr_of

from ._roc_graphs import planted_graph


def _skewed_csr(n=400, seed=0):
    """A graph whose in-degree grows with the vertex ID, so equal-vertex ranges are unbalanced."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for v in range(n):
        d = 1 + v // 10
        nb = rng.choice(n, size=min(d, n - 1), replace=False)
        rows += [v] * len(nb)
        cols += sorted(nb.tolist())
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
    return indptr.astype(np.int64), np.array(cols, dtype=np.int64)


class LinearProfiler:
    """A deterministic 'measurement': a known linear cost in vertices and edges plus a fixed overhead."""

    width = 1.0

    def __init__(self, indptr, w_vertex=2.0, w_edge=1.0, overhead=5.0):
        self.indptr, self.w = indptr, (w_vertex, w_edge, overhead)

    def time_range(self, lo, hi):
        return self.w[0] * (hi - lo) + self.w[1] * (self.indptr[hi] - self.indptr[lo]) + self.w[2]

    def time_partition(self, bounds):
        return np.array([self.time_range(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)])


def test_split_prefix_balances_and_keeps_every_range_non_empty():
    cost = np.r_[np.ones(90), np.full(10, 9.0)]
    b = split_prefix(cost, 4)
    sums = [cost[a:c].sum() for a, c in zip(b[:-1], b[1:], strict=True)]
    assert b[0] == 0 and b[-1] == 100 and np.all(np.diff(b) >= 1)
    assert max(sums) / np.mean(sums) < 1.1
    assert np.all(np.diff(split_prefix(np.r_[np.zeros(5), 100.0], 6)) == 1)


def test_more_partitions_than_vertices_is_a_clear_error():
    with pytest.raises(DawnError, match="7 partitions of a graph with 5 vertices"):
        split_prefix(np.ones(5), 7)


def test_equal_edges_balances_in_edges():
    indptr, _ = _skewed_csr()
    p = equal_edges(indptr, 4)
    e = [indptr[b] - indptr[a] for a, b in p.ranges()]
    assert max(e) / np.mean(e) < 1.05
    assert equal_vertices(indptr, 4).sizes().tolist() == [100, 100, 100, 100]


def test_non_negative_ridge_recovers_weights_and_never_goes_negative():
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 10, size=(40, 3))
    t = X @ np.array([2.0, 0.5, 0.0]) + 3.0
    m = NonNegativeRidge(alpha=1e-8).fit(X, t)
    assert np.allclose(m.coef_, [2.0, 0.5, 0.0], atol=1e-3) and m.intercept_ == pytest.approx(3.0, abs=1e-2)
    assert m.score(X, t) > 0.999
    m2 = NonNegativeRidge().fit(X, X @ np.array([1.0, -2.0, 1.0]) + 50)
    assert np.all(m2.coef_ >= 0)


def test_vertex_features_count_runs_and_remote_neighbours():
    indptr = np.array([0, 3, 4, 4])
    indices = np.array([0, 1, 2, 0])  # vertex 0 reads 0,1,2 (one run); vertex 1 reads 0
    f = vertex_features(indptr, indices, k=1)
    assert f[:, 0].tolist() == [1, 1, 1] and f[:, 1].tolist() == [3, 1, 0] and f[:, 2].tolist() == [1, 1, 0]
    assert np.allclose(vertex_features(indptr, indices, k=1, width=4.0), 4 * f)


def test_learned_partitioner_balances_a_skewed_graph_within_three_rounds():
    indptr, indices = _skewed_csr()
    prof = LinearProfiler(indptr)
    for k in (2, 4):
        lp = LearnedPartitioner(k, max_rounds=3).fit(indptr, indices, prof)
        measured = balance(prof.time_partition(lp.partition_.bounds))
        assert measured <= 1.05
        assert measured < balance(prof.time_partition(equal_vertices(indptr, k).bounds))
        assert len(lp.history_) == 2 + 3  # two candidate profiles, three refits
        # the model predicts unseen ranges of the same graph, and of another graph with no profiling
        X = np.array(
            [
                lp._prefix(indptr, indices, 1.0)[b] - lp._prefix(indptr, indices, 1.0)[a]
                for a, b in [(0, 37), (50, 390), (200, 260)]
            ]
        )
        t = [prof.time_range(a, b) for a, b in [(0, 37), (50, 390), (200, 260)]]
        assert lp.model_.score(X, t) > 0.99
        ip2, ix2 = _skewed_csr(n=300, seed=1)
        p2 = lp.split(ip2, ix2, 1.0)
        assert balance(LinearProfiler(ip2).time_partition(p2.bounds)) <= 1.05


def test_metis_is_contiguous_after_renumbering_and_cuts_fewer_rows():
    data = planted_graph(n=300, seed=0)
    indptr, indices = csr_of(data)
    m = metis(indptr, indices, 3)
    assert sorted(m.perm.tolist()) == list(range(300)) and m.bounds[-1] == 300
    mp, mx = permute_csr(indptr, indices, m.perm)
    assert np.array_equal(np.diff(mp), np.diff(indptr)[m.perm])
    nodes = sum(boundary_rows(indptr, indices, equal_vertices(indptr, 3).bounds))
    assert sum(boundary_rows(mp, mx, m.bounds)) < nodes
    order = locality_order(indptr, indices, k=3, parts=8)
    assert sorted(order.tolist()) == list(range(300))


def test_boundary_rows_and_local_graph_against_brute_force():
    indptr, indices = _skewed_csr(n=60)
    bounds = np.array([0, 25, 60])
    rows = boundary_rows(indptr, indices, bounds)
    for r, (lo, hi) in enumerate([(0, 25), (25, 60)]):
        ext = {int(c) for c in indices[indptr[lo] : indptr[hi]] if not lo <= c < hi}
        assert rows[r] == len(ext)
        g, halo = local_graph(indptr, indices, None, lo, hi)
        assert halo.tolist() == sorted(ext) and g.shape == (hi - lo, hi - lo + len(ext))
        cols = np.r_[np.arange(lo, hi), halo]
        dense = g.matrix().to_dense().numpy()
        for v in range(lo, hi):  # local row v-lo reads exactly v's global in-neighbours
            assert sorted(cols[np.nonzero(dense[v - lo])[0]].tolist()) == sorted(
                indices[indptr[v] : indptr[v + 1]].tolist()
            )


def test_cuts_snap_to_cheap_anchors_only_within_the_balance_tolerance():
    indptr, indices = _skewed_csr()
    prof = LinearProfiler(indptr)
    lp = LearnedPartitioner(2, max_rounds=1).fit(indptr, indices, prof)
    cut = int(lp.split(indptr, indices, 1.0).bounds[1])
    near = lp.split(indptr, indices, 1.0, anchors=np.array([cut + 2])).bounds
    far = lp.split(indptr, indices, 1.0, anchors=np.array([cut + 80])).bounds
    assert near[1] == cut + 2  # a couple of vertices cost almost nothing in balance: snap
    assert far[1] == cut  # 80 vertices would unbalance the split: stay
