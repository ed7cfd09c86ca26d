"""Speed and peak memory of a full-graph 2-layer GCN training step: ours vs PyG, side by side.

Every speed figure is a ratio of medians measured in one process at one thread count
(:func:`dawn.core.timing.compare`): our CSR GCN against PyG's ``GCNConv`` with ``edge_index`` and with a
sparse adjacency. Peak memory is measured in a fresh process per variant.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["speed", "peak_memory_cpu", "gcn_step"]


def gcn_step(
    model: torch.nn.Module, x: torch.Tensor, adj: Any, data: Any, opt: torch.optim.Optimizer
) -> None:
    from torch.nn import functional as F

    model.train()
    opt.zero_grad(set_to_none=True)
    out = model(x, adj)
    F.cross_entropy(out[data.train_mask], data.y[data.train_mask]).backward()
    opt.step()


def speed(
    data: Any, *, repeats: int = 5, hidden: int = 16, device: str = "cpu", seed: int = 0
) -> dict[str, Any]:
    """Full-graph 2-layer GCN training epoch: ours vs PyG ``edge_index`` vs PyG sparse adjacency."""
    from dawn.core.timing import compare
    from dawn.roc.models import GCN
    from dawn.roc.pyg_reference import PygGCN, pyg_adjacency
    from dawn.roc.sparse import from_data

    C = int(data.y.max()) + 1
    torch.manual_seed(seed)
    # PyG's Data.to/.cpu move in place: build the CPU-side structures from the caller's object, then
    # move a clone, so neither the caller's graph nor ours changes device behind anyone's back
    host = data
    ours_adj = from_data(host, "gcn").to(device)
    sp = pyg_adjacency(host, "sparse").to(device)
    data = host.clone().to(device)
    ours = GCN(data.num_features, hidden, C).to(device)
    p_ei, p_sp = (
        PygGCN(data.num_features, hidden, C).to(device),
        PygGCN(data.num_features, hidden, C).to(device),
    )
    ei = data.edge_index
    opts = {k: torch.optim.Adam(m.parameters(), lr=0.01) for k, m in (("o", ours), ("e", p_ei), ("s", p_sp))}
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def run(model: Any, adj: Any, opt: Any) -> Any:
        def f() -> None:
            gcn_step(model, data.x, adj, data, opt)
            sync()

        return f

    ours_x = ours.features(data)  # sparse inputs stay sparse (bag-of-words features are 1-10% non-zero)

    def run_ours(x: Any) -> Any:
        def f() -> None:
            gcn_step(ours, x, ours_adj, data, opts["o"])
            sync()

        return f

    cmp = compare(
        {
            "pyg_edge_index": run(p_ei, ei, opts["e"]),
            "pyg_sparse": run(p_sp, sp, opts["s"]),
            "roc": run_ours(ours_x),
            "roc_dense_inputs": run_ours(data.x),
        },
        warmup=1,
        repeats=repeats,
    )
    res = {
        "epoch_s_ratio_vs_pyg_edge_index": cmp.speedup("roc"),
        "epoch_s_ratio_vs_pyg_csr": cmp.timings["pyg_sparse"].median / cmp.timings["roc"].median,
        # the CSR aggregation alone, inputs dense like PyG's: what the kernels buy without sparse features
        "epoch_s_ratio_vs_pyg_csr_dense_inputs": cmp.timings["pyg_sparse"].median
        / cmp.timings["roc_dense_inputs"].median,
        "input_density": float(ours_x.density) if hasattr(ours_x, "density") else 1.0,
        "timings": cmp.as_dict(),
    }
    if device.startswith("cuda"):
        res["peak_bytes"] = _cuda_peaks(data, ours, ours_adj, p_ei, ei, p_sp, sp, opts)
    return res


def _cuda_peaks(
    data: Any, ours: Any, oa: Any, pe: Any, ei: Any, ps: Any, sp: Any, opts: dict
) -> dict[str, int]:
    out = {}
    for name, m, a, o in (
        ("roc", ours, oa, opts["o"]),
        ("pyg_edge_index", pe, ei, opts["e"]),
        ("pyg_sparse", ps, sp, opts["s"]),
    ):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        gcn_step(m, m.features(data) if name == "roc" else data.x, a, data, o)
        torch.cuda.synchronize()
        out[name] = int(torch.cuda.max_memory_allocated() - base)
    return out


def peak_memory_cpu(data: Any, variant: str, hidden: int = 16) -> int | None:
    """Peak resident-set growth (bytes) over 3 training steps of ``variant``, in a fresh process
    (``None`` when no growth was seen, i.e. the measurement failed).

    The graph is handed over as a saved tensor file, so the child's high-water mark before training is
    just the interpreter, torch and the graph itself; the growth is what training allocates.
    """
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/graph.pt"
        torch.save({k: data[k] for k in ("x", "edge_index", "y", "train_mask")}, path)
        code = (
            "import torch,warnings;warnings.filterwarnings('ignore');torch.set_num_threads(1)\n"
            f"from dawn.roc.bench.speed import _mem_child;_mem_child({path!r},{variant!r},{hidden:d})"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True
        )
    grown = int(out.stdout.strip().splitlines()[-1])
    # three training steps always allocate (activations, gradients, Adam state): no growth means the
    # high-water mark was set before training began, and the figure says nothing
    return grown if grown > 0 else None


def _mem_child(path: str, variant: str, hidden: int) -> None:
    import resource

    from torch_geometric.data import Data

    from dawn.roc.models import GCN
    from dawn.roc.pyg_reference import PygGCN, pyg_adjacency
    from dawn.roc.sparse import from_data

    data = Data(**torch.load(path))
    C = int(data.y.max()) + 1
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # preprocessing (normalised CSR, sparse features, PyG's adj_t) counts: each path needs its own
    if variant == "roc":
        m: Any = GCN(data.num_features, hidden, C)
        adj: Any = from_data(data, "gcn")
        x = m.features(data)
    else:
        m = PygGCN(data.num_features, hidden, C)
        adj = pyg_adjacency(data, "sparse" if variant == "pyg_sparse" else "edge_index")
        x = data.x
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    for _ in range(3):
        gcn_step(m, x, adj, data, opt)
    print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024)
