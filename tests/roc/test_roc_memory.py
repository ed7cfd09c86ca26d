"""Memory manager: exact DP against brute force, capacity never exceeded, exact bytes, real execution."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from dawn.core.errors import DawnError
from dawn.roc import from_data, spmm
from dawn.roc.memory import (
    GCNTensors,
    Plan,
    Step,
    belady_plan,
    brute_force_cost,
    dp_plan,
    execute,
    gcn_sequence,
    lru_plan,
    naive_plan,
    plan_for,
    simulate,
    tile_nnz,
)

from ._roc_graphs import planted_graph


def test_sequence_sizes_are_exact_bytes():
    seq = gcn_sequence(10, 40, [6, 4, 3])
    assert seq.tensors["X.0"].nbytes == 10 * 6 * 4
    assert seq.tensors["A.0"].nbytes == 11 * 8 + 40 * (8 + 4)
    assert seq.tensors["GW0"].result and seq.tensors["W1"].on_host
    assert [op.kind for op in seq.ops][:5] == ["matmul", "spmm", "relu", "matmul", "spmm"]


@pytest.mark.parametrize("seed", range(3))
def test_dp_equals_brute_force_optimum_and_beats_heuristics(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(10, 80))
    seq = gcn_sequence(
        n, int(rng.integers(n, 5 * n)), [int(rng.integers(2, 20)), int(rng.integers(2, 10)), 3]
    )
    for frac in (0.45, 0.75):
        cap = max(int(frac * seq.working_set), seq.min_capacity)
        plan = dp_plan(seq, cap)
        sim = simulate(seq, plan, cap)
        assert sim.total == plan.cost == brute_force_cost(seq, cap)
        assert sim.peak <= cap
        for other in (belady_plan(seq, cap), lru_plan(seq, cap)):
            assert simulate(seq, other, cap).total >= sim.total
        assert simulate(seq, naive_plan(seq), seq.working_set).total >= sim.total


def test_plans_never_exceed_capacity_and_beat_naive_at_half_the_working_set():
    seq = gcn_sequence(5000, 40000, [200, 32, 32, 5], tiles=8)
    cap = seq.working_set // 2
    naive = simulate(seq, naive_plan(seq), seq.working_set).total
    for pol in ("lru", "belady", "auto"):
        sim = simulate(seq, plan_for(seq, cap, pol), cap)
        assert sim.peak <= cap
        assert sim.total <= 0.5 * naive


def test_simulate_rejects_plans_that_break_capacity_or_dependencies():
    seq = gcn_sequence(20, 60, [4, 3, 2])
    bad = naive_plan(seq)
    with pytest.raises(DawnError, match="capacity"):
        simulate(seq, bad, seq.min_capacity - 1)
    empty = Plan([Step() for _ in seq.ops], [], "empty")
    with pytest.raises(DawnError, match="runs without"):
        simulate(seq, empty, seq.working_set)
    with pytest.raises(DawnError, match="below the largest operator"):
        belady_plan(seq, seq.min_capacity - 1)


def test_executor_moves_exactly_the_simulated_bytes_and_matches_autograd():
    data = planted_graph(n=150, seed=2)
    g = from_data(data, "gcn")
    dims = [data.num_features, 8, 3]
    tiles = 3
    seq = gcn_sequence(150, tile_nnz(g.indptr, 150, tiles), dims, tiles=tiles)
    gen = torch.Generator().manual_seed(0)
    W = [torch.randn(a, b, generator=gen) for a, b in zip(dims[:-1], dims[1:], strict=True)]
    tens = GCNTensors(g, data.x, data.y, data.train_mask, W, tiles)
    for name, v in tens.host.items():
        nb = v.numel() * v.element_size() if isinstance(v, torch.Tensor) else v.nbytes()
        assert nb == seq.tensors[name].nbytes
    Wr = [w.clone().requires_grad_() for w in W]
    out = spmm(g, torch.relu(spmm(g, data.x @ Wr[0])) @ Wr[1])
    F.cross_entropy(out[data.train_mask], data.y[data.train_mask]).backward()
    cap = int(0.5 * seq.working_set)
    for pol in ("naive", "lru", "belady"):
        c = cap if pol != "naive" else seq.working_set
        plan = plan_for(seq, c, pol)
        grads, stats = execute(seq, plan, tens, c)
        sim = simulate(seq, plan, c)
        assert (stats["h2d"], stats["d2h"]) == (sim.h2d, sim.d2h)
        assert stats["peak"] <= c
        for l, w in enumerate(Wr):
            assert torch.allclose(grads[f"GW{l}"], w.grad, atol=1e-5)
