"""Typed detection outputs: boxes, scores, classes and frames; IoU helpers; a greedy IoU tracker.

A detection table is a pandas DataFrame with one row per box and the columns of :data:`COLUMNS`
(``frame``, ``x1``, ``y1``, ``x2``, ``y2``, ``score``, ``cls``; optional ``track``). Assertions over video
(Kang et al., 2020, Sec. 5.1: flicker, multibox, appear) work on these tables; the tracker gives each box
an identity so the consistency API can treat a tracked object like any other entity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dawn.core.errors import DawnError

__all__ = ["COLUMNS", "IoUTracker", "as_detections", "iou", "iou_pairs", "track"]

COLUMNS = ("frame", "x1", "y1", "x2", "y2", "score", "cls")
BOX = ["x1", "y1", "x2", "y2"]


def as_detections(df: pd.DataFrame, *, require_score: bool = True) -> pd.DataFrame:
    """Validate a detection table and return it with a clean 0..n-1 index and canonical dtypes.

    Raises :class:`DawnError` for missing columns, non-numeric values, NaN boxes or scores, and boxes of
    negative size. Zero-size boxes are allowed (they match nothing). Rows may be in any order; the
    original index labels are kept in the ``row`` column so results can be mapped back.
    """
    if not isinstance(df, pd.DataFrame):
        raise DawnError(
            f"detections must be a pandas DataFrame, got {type(df).__name__}",
            f"build one with columns {', '.join(COLUMNS)}",
        )
    need = ["frame", *BOX] + (["score"] if require_score else [])
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise DawnError(f"detections lack column(s) {missing}", f"provide columns {', '.join(COLUMNS)}")
    out = pd.DataFrame({"row": df.index.to_numpy()})
    for c in need:
        v = df[c]
        if len(v) == 0:  # a header-only table reads as object columns: nothing to type-check
            v = v.astype(np.float64)
        if not pd.api.types.is_numeric_dtype(v):
            raise DawnError(
                f"detection column {c!r} is {v.dtype}, not numeric", "convert it with astype(float)"
            )
        arr = v.to_numpy(dtype=np.float64)
        if not np.isfinite(arr).all():
            raise DawnError(
                f"detection column {c!r} has {int((~np.isfinite(arr)).sum())} NaN or infinite value(s)",
                "drop or fill those rows before checking",
            )
        out[c] = arr
    if "score" not in out:
        out["score"] = 1.0
    frames = out["frame"].to_numpy()
    if (frames != np.round(frames)).any():
        raise DawnError(
            f"{int((frames != np.round(frames)).sum())} frame number(s) are not whole numbers",
            "pass frame indices (0, 1, 2, ...), not timestamps in seconds",
        )
    out["frame"] = out["frame"].astype(np.int64)
    if "cls" in df.columns and df["cls"].isna().any():
        raise DawnError(
            f"detection column 'cls' has {int(df['cls'].isna().sum())} missing value(s)",
            "fill them (e.g. with the detector's class) before checking",
        )
    out["cls"] = df["cls"].to_numpy() if "cls" in df.columns else 0
    if "track" in df.columns:
        out["track"] = df["track"].to_numpy()
    check_box_sizes(out[BOX].to_numpy())
    return out


def check_box_sizes(boxes: np.ndarray, where: str = "") -> None:
    """A :class:`DawnError` if any box (rows of x1, y1, x2, y2) has negative size; ``where`` prefixes
    the message (e.g. ``"frame 7: "``)."""
    bad = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if bad.any():
        raise DawnError(
            f"{where}{int(bad.sum())} box(es) have negative size (x2 < x1 or y2 < y1)",
            "boxes are x1, y1, x2, y2 corners; convert from x, y, w, h first",
        )


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection-over-union of boxes ``a`` (n, 4) and ``b`` (m, 4): an (n, m) matrix."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def iou_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of equally long box arrays ``a`` and ``b``: shape (n,)."""
    ix = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = ix * iy
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def greedy_match(m: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Greedy one-to-one matching on a score matrix: best pair first, pairs below ``threshold`` dropped."""
    if m.size == 0:
        return []
    order = np.argsort(-m, axis=None, kind="stable")
    flat = m.ravel()
    ranked = ((float(flat[i]), *divmod(int(i), m.shape[1])) for i in order)  # lazily: most stop early
    return _take_greedily(ranked, threshold)


def _take_greedily(ranked: Any, threshold: float) -> list[tuple[int, int]]:
    """From ``(score, row, col)`` in decreasing score, the pairs whose row and column are still free."""
    pairs: list[tuple[int, int]] = []
    used_r: set[int] = set()
    used_c: set[int] = set()
    for score, r, c in ranked:
        if score < threshold:
            break
        if r in used_r or c in used_c:
            continue
        used_r.add(r)
        used_c.add(c)
        pairs.append((r, c))
    return pairs


#: Frames with at most this many (box, track) pairs are matched in plain Python (see ``_match_small``).
SMALL_MATCH = 64


@dataclass
class IoUTracker:
    """Greedy IoU tracker (Bochinski et al., 2017, simplified): streaming, one frame at a time.

    Each box is matched to the active track whose last box overlaps it most (IoU >= ``iou_threshold``,
    same class); unmatched boxes start new tracks. A track survives ``max_age`` frames without a match,
    so a box that flickers out for a frame keeps its identity, which the flicker assertion needs.

    Parameters
    ----------
    iou_threshold : float, default=0.3
    max_age : int, default=3
        Frames a track may go unmatched before it ends.
    """

    iou_threshold: float = 0.3
    max_age: int = 3
    _next_id: int = field(default=0, init=False, repr=False)
    # track id -> (last frame, last box, class)
    _active: dict[int, tuple[int, tuple[float, ...], Any]] = field(
        default_factory=dict, init=False, repr=False
    )

    def update(self, frame: int, boxes: np.ndarray, classes: np.ndarray | None = None) -> np.ndarray:
        """Assign track ids to the boxes of one frame (frames must come in increasing order)."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        cls = [0] * len(boxes) if classes is None else np.asarray(classes).tolist()
        active = self._active
        for k in [k for k, v in active.items() if frame - v[0] > self.max_age]:
            del active[k]
        keys = list(active)
        rows = boxes.tolist()
        ids = [-1] * len(rows)
        if keys and rows:
            if len(rows) * len(keys) <= SMALL_MATCH:
                pairs = self._match_small(rows, cls, [active[k] for k in keys])
            else:
                prev = np.array([active[k][1] for k in keys], dtype=np.float64)
                m = iou(boxes, prev)
                track_cls = np.array([active[k][2] for k in keys], dtype=object)
                same = np.array(cls, dtype=object)[:, None] == track_cls[None, :]
                pairs = greedy_match(np.where(same, m, 0.0), self.iou_threshold)
            for r, c in pairs:
                ids[r] = keys[c]
        for r, k in enumerate(ids):
            if k < 0:
                k = ids[r] = self._next_id
                self._next_id += 1
            active[k] = (frame, tuple(rows[r]), cls[r])
        return np.array(ids, dtype=np.int64)

    def _match_small(
        self, boxes: list[list[float]], cls: list[Any], tracks: list[tuple[int, tuple[float, ...], Any]]
    ) -> list[tuple[int, int]]:
        """:func:`greedy_match` on the IoU matrix, in plain Python: a frame has a handful of boxes, and
        a dozen pairs cost less as floats than as numpy calls (the arithmetic is the same, so are the
        pairs)."""
        scored = []
        for r, (ax1, ay1, ax2, ay2) in enumerate(boxes):
            area_a = (ax2 - ax1) * (ay2 - ay1)
            for c, (_, (bx1, by1, bx2, by2), tc) in enumerate(tracks):
                v = 0.0
                if cls[r] == tc:
                    ix = max(min(ax2, bx2) - max(ax1, bx1), 0.0)
                    iy = max(min(ay2, by2) - max(ay1, by1), 0.0)
                    inter = ix * iy
                    union = area_a + (bx2 - bx1) * (by2 - by1) - inter
                    v = inter / union if union > 0 else 0.0
                scored.append((-v, r, c))
        scored.sort()  # highest IoU first, ties by position, as greedy_match's stable argsort
        return _take_greedily(((-neg, r, c) for neg, r, c in scored), self.iou_threshold)


def track(det: pd.DataFrame, *, iou_threshold: float = 0.3, max_age: int = 3) -> pd.DataFrame:
    """Add a ``track`` column to a (validated) detection table; any row order, same row order back."""
    # as_detections refuses what is not a DataFrame with a DawnError naming the columns
    det = det if isinstance(det, pd.DataFrame) and "row" in det.columns else as_detections(det)
    tracker = IoUTracker(iou_threshold=iou_threshold, max_age=max_age)
    out = det.copy()
    tracks = np.empty(len(det), dtype=np.int64)
    if len(det) == 0:  # nothing to track (the loop below assumes at least one frame)
        out["track"] = tracks
        return out
    frames = det["frame"].to_numpy()
    boxes = det[BOX].to_numpy()
    cls = det["cls"].to_numpy()
    order = np.argsort(frames, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(frames[order]) != 0])
    for s, e in zip(starts, np.r_[starts[1:], len(order)], strict=True):
        idx = order[s:e]
        tracks[idx] = tracker.update(int(frames[idx[0]]), boxes[idx], cls[idx])
    out["track"] = tracks
    return out
