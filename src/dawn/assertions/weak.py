"""Weak supervision from assertion corrections (Kang et al., 2020, Sec. 4.2).

An assertion that fires can often say what the output should have been: the majority attribute of an
identity, an interpolated box, a removed spurious box, the class before a flip. Those corrections become
training labels without a human. This module exports them in two shapes: a long table of labels and a
Snorkel-style label matrix (items x assertions, ``-1`` = abstain) with a majority-vote combiner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from dawn.assertions.base import AssertionResult
from dawn.core.errors import DawnError

__all__ = ["ABSTAIN", "apply_detection_corrections", "label_matrix", "majority_vote", "weak_labels"]

ABSTAIN = -1


def weak_labels(results: Mapping[str, AssertionResult], column: str | None = None) -> pd.DataFrame:
    """All ``set`` corrections as a long table: ``id``, ``label``, ``source`` (the assertion)."""
    if not isinstance(results, Mapping):
        raise DawnError(
            f"weak_labels needs a mapping of assertion name -> AssertionResult, got {type(results).__name__}",
            "pass e.g. {a.name: a.check(df) for a in assertions}",
        )
    rows = []
    for name, r in results.items():
        if not isinstance(r, AssertionResult):
            raise DawnError(
                f"the result for {name!r} is a {type(r).__name__}, not an AssertionResult",
                "pass what each assertion's check() returns",
            )
        c = r.corrections
        if c is None or c.empty or "value" not in c.columns:
            continue
        c = c[c["action"] == "set"]
        if column is not None and "column" in c.columns:
            c = c[c["column"] == column]
        rows.append(pd.DataFrame({"id": c["id"].to_numpy(), "label": c["value"].to_numpy(), "source": name}))
    if not rows:
        return pd.DataFrame(columns=["id", "label", "source"])
    return pd.concat(rows, ignore_index=True)


def label_matrix(
    labels: pd.DataFrame, ids: Sequence[object], sources: Sequence[str] | None = None
) -> np.ndarray:
    """Snorkel-style label matrix ``L`` of shape (len(ids), n_sources): the label each source proposes
    for each item, ``ABSTAIN`` (-1) where it proposes none. Labels must be non-negative integers."""
    if not isinstance(labels, pd.DataFrame):
        raise DawnError(
            f"label_matrix needs the weak labels as a DataFrame, got {type(labels).__name__}",
            "pass the table that weak_labels() returns (columns id, label, source)",
        )
    if labels.empty:
        return np.full((len(ids), 0 if sources is None else len(sources)), ABSTAIN, dtype=np.int64)
    missing = [c for c in ("id", "label", "source") if c not in labels.columns]
    if missing:
        raise DawnError(f"weak labels lack column(s) {missing}", "pass the table that weak_labels() returns")
    sources = list(sources) if sources is not None else sorted(labels["source"].unique())
    L = np.full((len(ids), len(sources)), ABSTAIN, dtype=np.int64)
    pos = {v: i for i, v in enumerate(ids)}
    col = {s: j for j, s in enumerate(sources)}
    for i, y, s in labels[["id", "label", "source"]].itertuples(index=False):
        if i in pos and s in col:
            try:
                whole = float(y) == int(y)
            except (TypeError, ValueError):
                whole = False
            if not whole or int(y) < 0:
                what = "negative" if whole else "not a whole number"
                raise DawnError(f"label {y!r} for {i!r} is {what}", "encode classes as 0..k-1")
            L[pos[i], col[s]] = int(y)
    return L


def majority_vote(L: np.ndarray, n_classes: int) -> np.ndarray:
    """Combine a label matrix (array-like, items x sources) by majority vote; ``ABSTAIN`` where every
    source abstains (ties: lowest)."""
    L = np.asarray(L)
    if L.ndim != 2 or (L.size and L.dtype.kind not in "iu"):
        raise DawnError(
            f"the label matrix is a {L.ndim}-D {L.dtype} array, not items x sources of integer classes",
            "pass what label_matrix() returns",
        )
    L = L.astype(np.int64, copy=False)
    if L.max(initial=ABSTAIN) >= n_classes:
        raise DawnError(
            f"the label matrix holds class {int(L.max())}, but n_classes is {n_classes}",
            "pass n_classes larger than every class index",
        )
    counts = np.zeros((L.shape[0], n_classes), dtype=np.int64)
    r, c = np.nonzero(L >= 0)
    np.add.at(counts, (r, L[r, c]), 1)
    out = counts.argmax(axis=1)
    return np.where(counts.sum(axis=1) > 0, out, ABSTAIN)


def apply_detection_corrections(det: pd.DataFrame, corrections: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """A detection table with ``remove`` corrections dropped (matched on the row label and the frame)
    and ``add`` boxes appended; a ``weak`` column marks added boxes.

    Matching on the frame too keeps per-frame tables concatenated without ``ignore_index`` (label 0
    in every frame) correct; a label repeated within one frame is ambiguous and raises a DawnError.
    """
    if not isinstance(det, pd.DataFrame):
        raise DawnError(
            f"detections must be a pandas DataFrame, got {type(det).__name__}",
            "pass the detection table the corrections were computed on",
        )
    if isinstance(corrections, pd.DataFrame | str) or not hasattr(corrections, "__iter__"):
        raise DawnError(
            f"corrections must be a list of corrections tables, got a {type(corrections).__name__}",
            "pass a list, e.g. [result.corrections]",
        )
    out = det.copy()
    out["weak"] = False
    rm: set[tuple[object, int]] = set()
    adds = []
    for c in corrections:
        if c is None:
            continue
        if not isinstance(c, pd.DataFrame):
            raise DawnError(
                f"a correction is a {type(c).__name__}, not a DataFrame",
                "pass AssertionResult.corrections tables",
            )
        if c.empty:
            continue
        if "action" not in c.columns:
            raise DawnError("corrections lack an 'action' column", "pass AssertionResult.corrections tables")
        gone = c[c["action"] == "remove"]
        if len(gone):
            if not {"row", "frame"} <= set(gone.columns):
                raise DawnError(
                    "remove corrections lack 'row' and 'frame'", "pass AssertionResult.corrections tables"
                )
            rm.update(zip(gone["row"], gone["frame"].to_numpy(dtype=np.int64).tolist(), strict=True))
        a = c[c["action"] == "add"]
        if len(a):
            adds.append(a[[k for k in ("frame", "x1", "y1", "x2", "y2", "score", "cls") if k in a.columns]])
    if rm:
        labels = out["row"].to_numpy() if "row" in out.columns else out.index.to_numpy()
        key = pd.MultiIndex.from_arrays([labels, out["frame"].to_numpy(dtype=np.int64)])
        if key.has_duplicates:
            raise DawnError(
                "detections repeat an index label within a frame: corrections cannot tell those rows apart",
                "give the detections a unique index (reset_index(drop=True)) before checking them",
            )
        out = out[~key.isin(list(rm))]
    if adds:
        add = pd.concat(adds, ignore_index=True).assign(weak=True)
        add["frame"] = add["frame"].astype(np.int64)
        out = pd.concat([out, add], ignore_index=True)
    return out.reset_index(drop=True)
