"""The paper's analysis: correlations, selection errors and the instability-memory trend.

Reproduces the tables of Leszczynski et al. (MLSys 2020, sections 3 and 5) from per-pair results:
the Spearman correlation of each measure with each task's downstream instability (DI), the pairwise
selection error, the gap to the oracle under a memory budget, and the slope of DI against
``log2(memory)``. Works on the paper's own CSVs (``stability-results/``) and on ``dawn stability study``
output alike, after :func:`normalise` maps both to one set of column names.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dawn.core.errors import DawnError
from dawn.stability.selection import oracle_gap, selection_error

__all__ = ["PAPER", "load_results", "normalise", "spearman_table", "memory_slope", "analyze"]

#: Paper CSV column -> (our name, transform). The k-NN column holds the overlap score, not 1 - score,
#: and the eigenspace-overlap column the overlap itself: both are flipped so larger = less stable.
_PAPER_COLUMNS: dict[str, tuple[str, bool]] = {
    "anchor_eigen_overlap_3.0_top_10000": ("eis", False),
    "knn_top_10000_nquery_1000_nn_5": ("knn", True),
    "sem_disp_top_10000": ("sem_disp", False),
    "pip": ("pip", False),
    "pip_top_10000": ("pip", False),
    "eigen_overlap_top_10000": ("eo", True),
    "la_sst_no_emb_norm": ("di_sst", False),
    "la_mr_no_emb_norm": ("di_mr", False),
    "la_subj_no_emb_norm": ("di_subj", False),
    "la_mpqa_no_emb_norm": ("di_mpqa", False),
    "rnn_no_crf_ner": ("di_ner", False),
}

#: The reference sheet's values (recomputed by its authors from the CSVs, two decimals).
PAPER: dict[str, Any] = {
    "spearman": {
        "w2v_cbow": {
            "eis": [0.68, 0.86, 0.72, 0.75, 0.80],
            "knn": [0.74, 0.85, 0.73, 0.77, 0.76],
            "pip": [-0.40, -0.11, -0.14, -0.38, 0.01],
        },
        "mc": {
            "eis": [0.84, 0.72, 0.78, 0.85, 0.83],
            "knn": [0.89, 0.74, 0.76, 0.94, 0.92],
            "pip": [0.39, 0.66, 0.56, 0.43, 0.45],
        },
    },
    "tasks": ["di_sst", "di_mr", "di_subj", "di_mpqa", "di_ner"],
    "slope": {"memory": -1.37, "dim": -1.22, "precision": -1.52},
    # pairwise selection error ranges over the five tasks (CBOW; kNN, sem_disp and eo with MC too)
    "selection_error_range": {
        "eis": (0.14, 0.24),
        "knn": (0.11, 0.24),
        "sem_disp": (0.24, 0.43),
        "eo": (0.24, 0.43),
        "pip": (0.50, 0.64),
    },
    # gap to the oracle at a fixed memory budget, DI points (EIS/kNN "about 0.3-1.4")
    "oracle_gap_range": {
        "eis": (0.3, 1.4),
        "knn": (0.3, 1.4),
        "highest-precision": (0.4, 3.9),
        "lowest-precision": (None, 4.1),
    },
}

REQUIRED = ("seed", "dim", "bits")


def normalise(df: pd.DataFrame, name: str = "results") -> pd.DataFrame:
    """Map a results table to dawn's columns: seed, dim, bits, memory, measures, ``di_<task>``."""
    out = df.copy()
    if "bits" not in out.columns and "bitrate" in out.columns:
        out = out.rename(columns={"bitrate": "bits"})
    for col, (ours, flip) in _PAPER_COLUMNS.items():
        if col in out.columns and ours not in out.columns:
            out[ours] = 1.0 - out[col] if flip else out[col]
    missing = [c for c in REQUIRED if c not in out.columns]
    if missing:
        raise DawnError(
            f"{name} lacks column(s) {', '.join(missing)}",
            "give a CSV with seed, dim and bits (or bitrate) columns per configuration",
        )
    if not [c for c in out.columns if c.startswith("di_")]:
        raise DawnError(
            f"{name} has no downstream-instability column", "add di_<task> (or the paper's la_* columns)"
        )
    if "memory" not in out.columns:
        out["memory"] = out["dim"] * out["bits"]
    return out


def load_results(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and :func:`normalise` a results CSV (the paper's or ours)."""
    p = Path(path)
    if not p.is_file():
        raise DawnError(f"results file {str(p)!r} does not exist", "check the path")
    try:
        df = pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DawnError(
            f"{p} is not a readable CSV ({' '.join(str(exc).split())})", "check the file"
        ) from None
    return normalise(df, p.name)


def measures_in(df: pd.DataFrame) -> list[str]:
    from dawn.stability.measures import MEASURES, PAPER_MEASURES

    return [m for m in dict.fromkeys([*PAPER_MEASURES, *MEASURES]) if m in df.columns]


def tasks_in(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith("di_")]


def spearman_table(df: pd.DataFrame, measures: Sequence[str], tasks: Sequence[str]) -> pd.DataFrame:
    """Spearman rank correlation of each measure (rows) with each task's DI (columns), over all rows."""
    from scipy.stats import spearmanr

    return pd.DataFrame(
        [[float(spearmanr(df[m], df[t]).statistic) for t in tasks] for m in measures],
        index=list(measures),
        columns=list(tasks),
    )


def memory_slope(
    dfs: Sequence[pd.DataFrame], tasks: Sequence[str], *, by: str = "memory", max_memory: float = 1000
) -> float:
    """One slope of DI against ``log2`` of memory (or dimension, or precision), with its own intercept
    per (table, task) group, and per dimension or precision for the one-factor fits; rows with
    ``memory < max_memory`` (the paper's trend fit). Least squares with per-group intercepts equals
    the slope fitted to the group-centred data.
    """
    xs, ys = [], []
    for df in dfs:
        sub = df[df["memory"] < max_memory]
        for t in tasks:
            if by == "memory":
                groups = [(np.log2(sub["memory"].to_numpy(float)), sub[t].to_numpy(float))]
            elif by in ("dim", "precision"):
                x_col, g_col = ("dim", "bits") if by == "dim" else ("bits", "dim")
                groups = [
                    (np.log2(g[x_col].to_numpy(float)), g[t].to_numpy(float))
                    for _, g in sub.groupby(g_col, sort=True)
                ]
            else:
                raise DawnError(f"unknown trend {by!r}", "use memory, dim or precision")
            for x, y in groups:
                if len(x):
                    xs.append(x - x.mean())
                    ys.append(y - y.mean())
    x, y = np.concatenate(xs), np.concatenate(ys)
    if not np.any(x):
        raise DawnError("memory does not vary within any group", "give configurations of several sizes")
    return float(x @ y / (x @ x))


def analyze(
    df: pd.DataFrame, *, measures: Sequence[str] | None = None, tasks: Sequence[str] | None = None
) -> dict[str, Any]:
    """Everything the paper reports about one algorithm's results table, as plain dicts."""
    ms = list(measures) if measures is not None else measures_in(df)
    ts = list(tasks) if tasks is not None else tasks_in(df)
    if not ms:
        raise DawnError("no measure columns found", "the table needs eis, knn, sem_disp, pip or eo columns")
    rho = spearman_table(df, ms, ts)
    sel = {m: {t: selection_error(df, m, t) for t in ts} for m in ms}
    has_ties = bool(df.groupby(["memory", "seed"]).size().max() > 1)  # equal-memory alternatives exist
    gap = (
        {c: {t: oracle_gap(df, c, t) for t in ts} for c in [*ms, "highest-precision", "lowest-precision"]}
        if has_ties
        else {}
    )
    return {
        "n_rows": len(df),
        "measures": ms,
        "tasks": ts,
        "spearman": {m: {t: float(rho.loc[m, t]) for t in ts} for m in ms},
        "selection_error": sel,
        "oracle_gap": gap,
        "slope": {by: memory_slope([df], ts, by=by) for by in ("memory", "dim", "precision")},
    }


def compare_to_paper(result: dict[str, Any], algo: str) -> list[dict[str, Any]]:
    """Rows of (measure, task, ours, paper, |diff|) for the algorithms the sheet lists."""
    ref = PAPER["spearman"].get(algo)
    if ref is None:
        return []
    rows = []
    for m, vals in ref.items():
        for t, p in zip(PAPER["tasks"], vals, strict=True):
            ours = result["spearman"].get(m, {}).get(t)
            if ours is not None:
                rows.append(
                    {
                        "measure": m,
                        "task": t,
                        "ours": round(ours, 4),
                        "paper": p,
                        "abs_diff": round(abs(ours - p), 4),
                    }
                )
    return rows


def algo_of(df: pd.DataFrame, path: str | os.PathLike[str] | None = None) -> str:
    if "algo" in df.columns and df["algo"].nunique() == 1:
        return str(df["algo"].iloc[0])
    return Path(path).stem if path is not None else "results"


def analyze_files(paths: Sequence[str | os.PathLike[str]]) -> dict[str, Any]:
    """:func:`analyze` each file, compare with the sheet, and fit the pooled trend across files.

    The pooled slope over all files given reproduces the paper's headline (MC and CBOW, five tasks).
    """
    tables: dict[str, Any] = {}
    dfs = []
    for p in paths:
        df = load_results(p)
        name = algo_of(df, p)
        res = analyze(df)
        res["vs_paper"] = compare_to_paper(res, name)
        tables[name] = res
        dfs.append(df)
    common = [t for t in tasks_in(dfs[0]) if all(t in d.columns for d in dfs)]
    pooled = {by: memory_slope(dfs, common, by=by) for by in ("memory", "dim", "precision")} if common else {}
    return {"tables": tables, "pooled_slope": pooled, "pooled_over": list(tables), "paper": PAPER}


def _fmt_row(label: str, vals: Sequence[float | None], width: int = 8) -> str:
    return f"  {label:<18}" + "".join(f"{'-' if v is None else f'{v:.2f}':>{width}}" for v in vals)


def analysis_text(result: dict[str, Any]) -> str:
    """A terminal rendering of :func:`analyze_files` output."""
    lines = []
    for name, res in result["tables"].items():
        ts = res["tasks"]
        w = max(8, *(len(t) - 1 for t in ts))
        head = "  " + " " * 18 + "".join(f"{t.removeprefix('di_'):>{w}}" for t in ts)
        lines += [f"{name} ({res['n_rows']} rows)", "Spearman correlation with downstream instability", head]
        lines += [_fmt_row(m, [res["spearman"][m][t] for t in ts], w) for m in res["measures"]]
        lines += ["Pairwise selection error", head]
        lines += [_fmt_row(m, [res["selection_error"][m][t] for t in ts], w) for m in res["measures"]]
        if res.get("oracle_gap"):
            lines += ["Mean gap to the oracle at equal memory (DI points)", head]
            lines += [_fmt_row(c, [v[t] for t in ts], w) for c, v in res["oracle_gap"].items()]
        sl = res["slope"]
        lines.append(
            f"DI slope per doubling: memory {sl['memory']:+.2f}, dim {sl['dim']:+.2f}, "
            f"precision {sl['precision']:+.2f} (points)"
        )
        vs = res.get("vs_paper") or []
        if vs:
            worst = max(vs, key=lambda r: r["abs_diff"])
            lines.append(
                f"vs the sheet's Spearman values: {len(vs)} compared, max |diff| {worst['abs_diff']:.3f} "
                f"({worst['measure']}/{worst['task']}: {worst['ours']:.3f} vs {worst['paper']:.2f})"
            )
        lines.append("")
    if result.get("pooled_slope"):
        ps = result["pooled_slope"]
        lines.append(
            f"Pooled slope over {', '.join(result['pooled_over'])}: memory {ps['memory']:+.2f}, "
            f"dim {ps['dim']:+.2f}, precision {ps['precision']:+.2f} "
            f"(paper, MC+CBOW: {PAPER['slope']['memory']}, {PAPER['slope']['dim']}, "
            f"{PAPER['slope']['precision']})"
        )
    return "\n".join(lines)
