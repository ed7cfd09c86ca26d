"""The bench's GPU code paths run on the CPU: plan-driven copies checked against autograd, and the GPU
check's refusal without CUDA."""

import pytest
import torch

from dawn.roc import memory as M
from dawn.roc.bench import execute_check
from dawn.roc.sparse import from_data

from ._roc_graphs import planted_graph


def test_execute_check_copies_exactly_the_simulated_bytes_and_matches_autograd():
    data = planted_graph(n=200, seed=4)
    g = from_data(data, "gcn")
    dims = [data.num_features, 8, 3]
    seq = M.gcn_sequence(data.num_nodes, M.tile_nnz(g.indptr, data.num_nodes, 4), dims, tiles=4)
    cap = max(seq.working_set // 2, seq.min_capacity)
    for policy in ("belady", "lru"):
        r = execute_check(data, g, seq, cap, M.plan_for(seq, cap, policy), dims, 4, "cpu")
        assert r["bytes"] == r["bytes_simulated"] > 0
        assert r["peak"] <= r["capacity"] == cap
        assert r["max_grad_err"] < 1e-5


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_gpu_check_refuses_cleanly_without_cuda(capsys):
    from dawn.roc.gpu_check import main

    assert main(["--out", "/nonexistent/never-written"]) == 2
    assert "no CUDA device" in capsys.readouterr().err
