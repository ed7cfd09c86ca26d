"""Published per-pair results shipped with dawn, for the analysis tools to reproduce papers' tables.

``stability-paper-results``: the per-pair CSVs behind the tables of Leszczynski et al., *Understanding the
Downstream Instability of Word Embeddings* (MLSys 2020), MIT licence (``LICENSE`` beside them). One CSV per
embedding algorithm (``mc``, ``w2v_cbow``, ``glove``, ``ft_sg``), 10,000-word vocabularies.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from dawn.core.errors import DawnError
from dawn.data.registry import Dataset, register

STABILITY_FILES = (
    "mc_optimal_no_emb_norm_top_10000.csv",
    "w2v_cbow_optimal_no_emb_norm_top_10000.csv",
    "glove_optimal_no_emb_norm_top_10000.csv",
    "ft_sg_optimal_no_emb_norm_top_10000.csv",
)


def stability_results_dir() -> Path:
    """The directory holding the bundled CSVs (inside the installed package)."""
    root = Path(str(resources.files("dawn.data") / "snapshots" / "stability_results"))
    missing = [f for f in STABILITY_FILES if not (root / f).is_file()]
    if missing:
        raise DawnError(f"bundled stability results missing: {', '.join(missing)}", "reinstall dawn")
    return root


def _describe(root: Path) -> dict[str, Any]:
    import pandas as pd

    return {f: len(pd.read_csv(root / f)) for f in STABILITY_FILES} | {"path": str(root)}


register(
    Dataset(
        "stability-paper-results",
        "per-pair results behind the embedding-instability paper's tables (4 algorithms, CSV)",
        loader=lambda paths: stability_results_dir(),
        returns="pathlib.Path",
        describe=_describe,
        source="bundled with dawn (dawn/data/snapshots/stability_results), from the paper's authors",
        license="MIT",
        tags=("stability",),
    )
)
