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
    range_boundary,
    range_features,
    split_prefix,
    time_interleaved,
    vertex_features,
)
from dawn.roc.partition.profile import PartitionProfiler
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
    """A deterministic 'measurement': a known linear cost in vertices, edges and halo rows plus a fixed
    overhead. ``on`` moves it to a renumbered graph, as the real profiler does."""

    width = 1.0

    def __init__(self, indptr, indices=None, w_vertex=2.0, w_edge=1.0, overhead=5.0, w_halo=0.0):
        self.indptr, self.indices = indptr, indices
        self.w = (w_vertex, w_edge, overhead, w_halo)

    def time_range(self, lo, hi):
        halo = range_boundary(self.indptr, self.indices, lo, hi) if self.w[3] else 0
        return (
            self.w[0] * (hi - lo)
            + self.w[1] * (self.indptr[hi] - self.indptr[lo])
            + self.w[2]
            + self.w[3] * halo
        )

    def time_partition(self, bounds):
        return np.array([self.time_range(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)])


class ReorderingProfiler(LinearProfiler):
    def on(self, indptr, indices):
        return ReorderingProfiler(indptr, indices, *self.w)


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


def test_vertex_features_count_runs_and_range_features_count_the_exact_boundary():
    indptr = np.array([0, 3, 4, 4])
    indices = np.array([0, 1, 2, 0])  # vertex 0 reads 0,1,2 (one run); vertex 1 reads 0
    f = vertex_features(indptr, indices)
    assert f[:, 0].tolist() == [1, 1, 1] and f[:, 1].tolist() == [3, 1, 0] and f[:, 2].tolist() == [1, 1, 0]
    assert np.allclose(vertex_features(indptr, indices, width=4.0), 4 * f)
    ip, ix = _skewed_csr(n=80)
    prefix = np.vstack([np.zeros((1, 3)), np.cumsum(vertex_features(ip, ix, width=2.0), axis=0)])
    b = np.array([0, 17, 50, 80])
    X = range_features(ip, ix, prefix, b, 2.0)
    assert X[:, 3].tolist() == [2.0 * h for h in boundary_rows(ip, ix, b)]
    assert X[:, 1].tolist() == [2.0 * (ip[hi] - ip[lo]) for lo, hi in [(0, 17), (17, 50), (50, 80)]]


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
        ranges = [(0, 37), (50, 390), (200, 260)]
        pred = np.concatenate([lp.predict_times(indptr, indices, np.array(r), 1.0) for r in ranges])
        t = np.array([prof.time_range(a, b) for a, b in ranges])
        assert np.allclose(pred, t, rtol=0.1)
        assert 1 - ((pred - t) ** 2).sum() / ((t - t.mean()) ** 2).sum() > 0.99
        ip2, ix2 = _skewed_csr(n=300, seed=1)
        p2 = lp.split(ip2, ix2, 1.0)
        assert balance(LinearProfiler(ip2).time_partition(p2.bounds)) <= 1.05


def test_reordered_learned_partition_balances_time_with_a_metis_sized_boundary():
    # a graph with community structure, numbered at random, whose "time" includes a halo term
    data = planted_graph(n=600, classes=4, p_in=0.05, p_out=0.002, seed=1)
    indptr, indices = csr_of(data)
    prof = ReorderingProfiler(indptr, indices, w_vertex=2.0, w_edge=1.0, overhead=5.0, w_halo=3.0)
    for k in (2, 4):
        lp = LearnedPartitioner(k, max_rounds=3).fit(indptr, indices, prof)
        part = lp.partition_
        assert sorted(part.perm.tolist()) == list(range(600)) and part.bounds[-1] == 600
        ip, ix = permute_csr(indptr, indices, part.perm)
        measured = balance(prof.on(ip, ix).time_partition(part.bounds))
        halo = sum(boundary_rows(ip, ix, part.bounds))
        m = metis(indptr, indices, k)
        mp, mx = permute_csr(indptr, indices, m.perm)
        assert measured <= 1.05
        assert halo <= 1.2 * sum(boundary_rows(mp, mx, m.bounds))
        assert halo < 0.5 * sum(boundary_rows(indptr, indices, equal_vertices(indptr, k).bounds))
        # the halo term is learned: the model's boundary coefficient is near the true 3 per row
        assert lp.model_.coef_[3] == pytest.approx(3.0, rel=0.2)


def test_interleaved_profiler_times_every_range_of_every_job():
    import torch

    data = planted_graph(n=1500, feats=64, seed=2)
    indptr, indices = csr_of(data)
    prof = PartitionProfiler(indptr, indices, 64, 16, 3, repeats=3)
    perm = np.random.default_rng(0).permutation(1500)
    other = prof.on(*permute_csr(indptr, indices, perm))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the CPU clock counts every thread's time, idle spinning included
    try:
        t1, t2 = time_interleaved([(prof, [(0, 100), (100, 1500)]), (other, [(0, 1500)])], 3, clock="cpu")
    finally:
        torch.set_num_threads(threads)
    assert t1.shape == (2,) and t2.shape == (1,) and np.all(t1 > 0) and np.all(t2 > 0)
    assert t1[1] > t1[0]  # 14 times the rows cost more
    assert prof.time_partition(np.array([0, 100, 1500])).shape == (2,)
    with pytest.raises(KeyError):
        time_interleaved([(prof, [(0, 10)])], 1, clock="sundial")


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
