"""The flat headline keys of ``roc.json`` and their markdown table (metric, ours, peer, target, met?)."""

from __future__ import annotations

from typing import Any

__all__ = ["summarize", "markdown_table"]


def summarize(res: dict[str, Any]) -> dict[str, Any]:
    """The flat headline keys the issue asks for in ``roc.json``."""
    s: dict[str, Any] = {}
    for name, r in res["speed"].items():
        s[f"epoch_s_ratio_vs_pyg_csr.{name}"] = r["epoch_s_ratio_vs_pyg_csr"]
        s[f"epoch_s_ratio_vs_pyg_edge_index.{name}"] = r["epoch_s_ratio_vs_pyg_edge_index"]
        s[f"epoch_s_ratio_vs_pyg_csr_dense_inputs.{name}"] = r["epoch_s_ratio_vs_pyg_csr_dense_inputs"]
        pk = res.get("peak", {}).get(name)
        if pk and pk.get("roc") and pk.get("pyg_sparse"):
            s[f"peak_rss_ratio_vs_pyg_csr.{name}"] = pk["roc"] / max(1, pk["pyg_sparse"])
    for name, r in res["accuracy"].items():
        s[f"test_acc.{name}"] = r["test_acc"]
        s[f"test_acc_pyg.{name}"] = r["test_acc_pyg"]
        s[f"deep_vs_2layer_acc_gain.{name}"] = r["deep_vs_2layer_acc_gain"]
    gains = [
        r["deep_vs_2layer_acc_gain"]
        for r in res["accuracy"].values()
        if r["deep_vs_2layer_acc_gain"] is not None
    ]
    s["deep_vs_2layer_acc_gain"] = max(gains) if gains else None
    for k, row in res["partition"]["ks"].items():
        for p in ("nodes", "edges", "metis", "learned"):
            s[f"balance.{p}.k{k}"] = row[p]["balance"]
            s[f"boundary_rows.{p}.k{k}"] = row[p]["boundary_rows"]
        s[f"cost_model_r2.k{k}"] = row["learned"]["heldout_r2"]
    m = res["memory"]
    s["transfer_bytes_ratio_vs_naive"] = m["transfer_bytes_ratio_vs_naive"]
    s["transfer_bytes_ratio_vs_lru"] = m["transfer_bytes_ratio_vs_lru"]
    s["dp_matches_optimum"] = m["dp_matches_optimum"]
    s["never_over_capacity"] = m["never_over_capacity"]
    return s


def markdown_table(res: dict[str, Any]) -> str:
    """The headline rows of a ``roc.json`` result as a markdown table (metric, ours, peer, target, met?)."""
    s = res["summary"]
    rows: list[tuple[str, str, str, str, str]] = []

    def yes(ok: bool | None) -> str:
        return "n/a" if ok is None else ("yes" if ok else "**no**")

    for name in res["speed"]:
        e = s[f"epoch_s_ratio_vs_pyg_edge_index.{name}"]
        c = s[f"epoch_s_ratio_vs_pyg_csr.{name}"]
        cd = s[f"epoch_s_ratio_vs_pyg_csr_dense_inputs.{name}"]
        rows.append(
            (f"epoch speed-up vs PyG edge_index, {name}", f"{e:.2f}x", "1.0x", ">= 1.7x", yes(e >= 1.7))
        )
        rows.append(
            (
                f"epoch speed-up vs PyG sparse adj, {name}",
                f"{c:.2f}x",
                "1.0x",
                ">= 1.0x (aim 1.25x)",
                yes(c >= 1.0),
            )
        )
        rows.append(
            (f"  same, dense inputs (kernels only), {name}", f"{cd:.2f}x", "1.0x", "(info)", yes(cd >= 1.0))
        )
        pk = f"peak_rss_ratio_vs_pyg_csr.{name}"
        if pk in s:
            rows.append(
                (f"peak RSS growth / PyG sparse, {name}", f"{s[pk]:.2f}", "1.0", "<= 1.0", yes(s[pk] <= 1.0))
            )
    for name, a in res["accuracy"].items():
        ok = abs(a["test_acc"] - a["test_acc_pyg"]) <= 0.005
        rows.append(
            (
                f"2-layer GCN test acc, {name} ({a.get('seeds', '?')} seeds)",
                f"{a['test_acc']:.4f}",
                f"PyG {a['test_acc_pyg']:.4f}",
                "within 0.005 of PyG",
                yes(ok),
            )
        )
        if a["test_acc_deep"] is not None:
            rows.append(
                (
                    f"ResGCN-{a['deep_layers']} test acc, {name} ({a.get('deep_seeds', '?')} seeds)",
                    f"{a['test_acc_deep']:.4f}",
                    f"GCN {a.get('test_acc_2layer_on_deep_seeds') or a['test_acc']:.4f} (same seeds)",
                    "> 2-layer on >= 1 dataset",
                    yes(a["deep_vs_2layer_acc_gain"] > 0),
                )
            )
    ds = res["partition"]["dataset"]
    for k, row in res["partition"]["ks"].items():
        lb, mb, eb = row["learned"]["balance"], row["metis"]["balance"], row["edges"]["balance"]
        rows.append(
            (
                f"balance max/mean, learned, k={k}, {ds}",
                f"{lb:.3f}",
                f"METIS {mb:.3f}, edges {eb:.3f}, nodes {row['nodes']['balance']:.3f}",
                "<= 1.10, < edges, <= METIS",
                yes(lb <= 1.10 and lb < eb and lb <= mb),
            )
        )
        br = row["learned"]["boundary_rows"] / max(1, row["metis"]["boundary_rows"])
        rows.append(
            (
                f"boundary rows learned / METIS, k={k}",
                f"{br:.2f}",
                f"METIS {row['metis']['boundary_rows']}",
                "<= 1.2",
                yes(br <= 1.2),
            )
        )
        r2 = row["learned"]["heldout_r2"]
        rows.append((f"cost model held-out R^2, k={k}", f"{r2:.3f}", "-", ">= 0.9", yes(r2 >= 0.9)))
    m = res["memory"]
    rows.append(
        (
            "transfer bytes / naive at half capacity",
            f"{m['transfer_bytes_ratio_vs_naive']:.3f}",
            "naive (public Roc)",
            "<= 0.5",
            yes(m["transfer_bytes_ratio_vs_naive"] <= 0.5),
        )
    )
    rows.append(
        (
            "transfer bytes / LRU at half capacity",
            f"{m['transfer_bytes_ratio_vs_lru']:.3f}",
            "LRU",
            "(info)",
            yes(m["transfer_bytes_ratio_vs_lru"] <= 1.0),
        )
    )
    rows.append(
        (
            "exact DP == brute-force optimum",
            str(m["dp_matches_optimum"]),
            "-",
            "equal",
            yes(m["dp_matches_optimum"]),
        )
    )
    rows.append(
        (
            "plans never over capacity",
            str(m["never_over_capacity"]),
            "-",
            "never",
            yes(m["never_over_capacity"]),
        )
    )
    lines = ["| metric | ours | paper / peer | target | met? |", "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(r)} |" for r in rows]
    return "\n".join(lines) + "\n"
