"""CSR kernels and models: exact against dense products and PyG layers, training on a planted graph."""

import math

import pytest
import torch

from dawn.core.errors import DawnError
from dawn.roc import GCN, GIN, SAGE, ResGCN, build_model, evaluate, fit, from_data, spmm, train_epoch
from dawn.roc.sparse import CSRGraph, validate_graph

from ._roc_graphs import planted_graph


def _dense(g: CSRGraph) -> torch.Tensor:
    return g.matrix().to_dense()


@pytest.mark.parametrize("kind", ["gcn", "mean", "sum"])
def test_spmm_forward_and_backward_match_dense(kind):
    data = planted_graph(n=80, seed=1)
    g = from_data(data, kind)
    A = _dense(g)
    x = torch.randn(80, 5, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    out = spmm(g, x)
    w = torch.randn(80, 5)
    (out * w).sum().backward()
    (A @ x2 * w).sum().backward()
    assert torch.allclose(out, A @ x2, atol=1e-5)
    assert torch.allclose(x.grad, x2.grad, atol=1e-5)  # the backward uses A^T, not A, for ``mean``


def test_gcn_norm_rows_are_pyg_gcn_norm():
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    data = planted_graph(n=60, seed=2)
    ei, w = gcn_norm(data.edge_index, num_nodes=60, add_self_loops=True)
    ref = torch.zeros(60, 60)
    ref[ei[1], ei[0]] = w
    assert torch.allclose(_dense(from_data(data, "gcn")), ref, atol=1e-6)


def test_gcn_layer_equals_pyg_gcnconv():
    from torch_geometric.nn import GCNConv

    data = planted_graph(n=70, seed=4)
    torch.manual_seed(0)
    ours = GCN(data.num_features, 8, 3, layers=1, dropout=0.0)
    conv = GCNConv(data.num_features, 3)
    with torch.no_grad():
        conv.lin.weight.copy_(ours.lins[0].weight.t())
        conv.bias.copy_(torch.randn(3))
        ours.lins[0].bias.copy_(conv.bias)
    assert torch.allclose(ours(data), conv(data.x, data.edge_index), atol=1e-5)


def test_sage_layer_equals_pyg_sageconv():
    from torch_geometric.nn import SAGEConv

    data = planted_graph(n=70, seed=5)
    torch.manual_seed(0)
    ours = SAGE(data.num_features, 8, 3, layers=1, dropout=0.0)
    conv = SAGEConv(data.num_features, 3, aggr="mean")
    with torch.no_grad():
        conv.lin_l.weight.copy_(ours.lin_l[0].weight.t())
        conv.lin_l.bias.copy_(ours.lin_l[0].bias + 0.3)
        ours.lin_l[0].bias.add_(0.3)
        conv.lin_r.weight.copy_(ours.lin_r[0].weight.t())
    assert torch.allclose(ours(data), conv(data.x, data.edge_index), atol=1e-5)


@pytest.mark.parametrize("name", ["gcn", "sage", "gin", "resgcn"])
def test_every_model_learns_the_planted_classes(name):
    torch.manual_seed(0)
    data = planted_graph(n=300, seed=0)
    model = build_model(name, data.num_features, 16, 3)
    res = fit(model, data, epochs=60, lr=0.01)
    assert res.losses[-1] < res.losses[0]
    assert res.test_acc > 0.8  # features alone give ~0.6; the graph has to help


def test_train_epoch_and_evaluate_public_api():
    data = planted_graph(n=120, seed=6)
    torch.manual_seed(0)
    model = GCN(data.num_features, 16, 3)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = [train_epoch(model, data, opt) for _ in range(10)]
    assert losses[-1] < losses[0]
    m = evaluate(model, data)
    assert set(m) == {"train_acc", "val_acc", "test_acc"} and all(0 <= v <= 1 for v in m.values())


def test_models_accept_csr_and_data_alike():
    data = planted_graph(n=50, seed=7)
    for cls in (GCN, SAGE, GIN, ResGCN):
        torch.manual_seed(0)
        m = cls(data.num_features, 8, 3, dropout=0.0)
        assert torch.allclose(m(data), m(data.x, m.adjacency(data)))


def test_bad_graphs_raise_dawn_errors():
    with pytest.raises(DawnError, match="outside the range"):
        validate_graph(torch.tensor([[0, 5], [1, 2]]), 4)
    with pytest.raises(DawnError, match="feature matrix has 3 rows"):
        validate_graph(torch.tensor([[0, 1], [1, 0]]), 4, torch.zeros(3, 2))
    data = planted_graph(n=30, seed=0)
    data.num_nodes = 30
    data.x = data.x[:20]
    with pytest.raises(DawnError, match="feature matrix has 20 rows but the graph has 30"):
        GCN(24, 8, 3)(data)
    with pytest.raises(DawnError, match="unknown model"):
        build_model("gat", 4, 4, 2)


def test_checkpoint_resume_continues_exactly(tmp_path):
    data = planted_graph(n=120, seed=8)
    ck = tmp_path / "ck.pt"

    def run(epochs, path):
        torch.manual_seed(0)
        m = GCN(data.num_features, 16, 3, dropout=0.0)
        return m, fit(m, data, epochs=epochs, checkpoint=path, checkpoint_every=5)

    full_model, full = run(20, None)
    run(10, ck)  # "killed" after 10 epochs, checkpoint written at 10
    resumed_model, resumed = run(20, ck)
    assert resumed.losses == pytest.approx(full.losses, abs=1e-6)
    for a, b in zip(full_model.parameters(), resumed_model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    ck.write_bytes(b"garbage")
    with pytest.raises(DawnError, match="cannot resume"):
        run(20, ck)


def test_resgcn_is_gcnii_shaped_and_fit_uses_its_block_weight_decay():
    data = planted_graph(n=80, seed=9)
    torch.manual_seed(0)
    m = ResGCN(data.num_features, 8, 3, layers=3, dropout=0.0, alpha=1.0, block_weight_decay=0.25)
    # alpha = 1 keeps only the initial residual: every block sees h0, never the graph
    h0 = torch.relu(data.x @ m.inp.weight + m.inp.bias)
    h = h0
    for depth, blk in enumerate(m.blocks, start=1):
        beta = math.log(0.5 / depth + 1.0)
        h = torch.relu((1 - beta) * h0 + beta * (h0 @ blk.weight))
    assert torch.allclose(m(data), m.out(h), atol=1e-5)
    groups = m.param_groups(5e-4)
    assert [g["weight_decay"] for g in groups] == [0.25, 5e-4]
    assert sum(len(g["params"]) for g in groups) == len(list(m.parameters()))
    # fit hands the groups to Adam: a huge block decay shrinks the block weights below those of the same
    # run without it
    norms = {}
    for wd in (None, 50.0):
        torch.manual_seed(0)
        mm = ResGCN(data.num_features, 8, 3, layers=2, block_weight_decay=wd)
        fit(mm, data, epochs=5, lr=0.01)
        norms[wd] = [b.weight.detach().norm().item() for b in mm.blocks]
    assert all(a < b for a, b in zip(norms[50.0], norms[None], strict=True))
