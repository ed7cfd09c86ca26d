"""Built-in assertions from the paper (Kang et al., 2020, Sec. 5) and simple tabular checks.

Video (per-frame severity, corrections as boxes to add or remove):

- :class:`Flicker`: a tracked object vanishes for at most ``max_gap`` frames and returns.
- :class:`Appear`: an object appears for at most ``max_len`` frames and vanishes (likely false positive).
- :class:`MultiBox`: three or more boxes overlap heavily in one frame.
- :class:`ClassFlip`: a tracked identity's class goes A -> B -> A, the B run lasting at most ``max_run``
  frames (ECG AF, too).
- :class:`Agreement`: two models or sensors disagree: boxes without an IoU partner in the other output,
  or, for classifiers, different labels.

Tabular (per-row severity): :class:`Range` and :class:`Invariant`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from dawn.assertions.base import Assertion, AssertionResult, covered_span, expand_counts, require_frame
from dawn.assertions.detection import BOX, as_detections, iou
from dawn.assertions.detection import track as run_tracker
from dawn.core.errors import DawnError

__all__ = ["Agreement", "Appear", "ClassFlip", "Flicker", "Invariant", "MultiBox", "Range"]


def _tracked(outputs: pd.DataFrame, iou_threshold: float, max_age: int) -> pd.DataFrame:
    det = as_detections(outputs)
    if "track" not in det.columns:
        det = run_tracker(det, iou_threshold=iou_threshold, max_age=max_age)
    return det


def _per_frame(
    frames_all: np.ndarray, fired_frames: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    ids = np.unique(np.r_[frames_all, fired_frames]).astype(np.int64)
    sev = np.zeros(len(ids))
    if len(fired_frames):
        np.add.at(sev, np.searchsorted(ids, fired_frames), 1.0 if weights is None else weights)
    return ids, sev


@dataclass
class Flicker(Assertion):
    """A tracked box disappears for 1..``max_gap`` frames and comes back; severity = boxes missing in the
    frame; correction = the box interpolated between its neighbours (``action="add"``).

    Each correction carries ``support``, the lower score of the two sightings around the gap. With
    ``min_score`` set, only gaps whose two sightings both score at least that much fire: a gap next to
    a weak sighting is about as likely a track that strays onto clutter (or a box of the wrong size) as
    a missed object, so the floor trades recall for precision
    (:func:`dawn.assertions.floor_for_precision` picks it from reviewed firings).
    """

    ids_kind: ClassVar[str | None] = "times"

    name: str = "flicker"
    max_gap: int = 2
    iou_threshold: float = 0.3
    min_score: float | None = None

    def __post_init__(self) -> None:
        self.window = self.lookahead = self.max_gap + 2

    def check(self, outputs: pd.DataFrame, inputs: object = None) -> AssertionResult:
        det = _tracked(outputs, self.iou_threshold, self.max_gap + 1)
        f = det["frame"].to_numpy()
        track_ids = det["track"].to_numpy()
        codes, _ = pd.factorize(track_ids)
        order = np.lexsort((f, codes))
        c, t = codes[order], f[order]
        # every pair of consecutive sightings of one track with 1..max_gap frames missing between them
        # (as the streaming version reads them: two close flickers are two flickers)
        missing = t[1:] - t[:-1] - 1
        hit = np.flatnonzero((c[1:] == c[:-1]) & (missing >= 1) & (missing <= self.max_gap))
        prev, nxt, n_missing = order[hit], order[hit + 1], missing[hit]
        scores = det["score"].to_numpy()
        support = np.minimum(scores[prev], scores[nxt])
        if self.min_score is not None:
            keep = support >= self.min_score
            prev, nxt, n_missing, support = prev[keep], nxt[keep], n_missing[keep], support[keep]
        step, k = expand_counts(n_missing)  # one row per missing frame
        k = k + 1
        w = (k / (n_missing[step] + 1))[:, None]
        cols = [*BOX, "score"]
        a, b = det[cols].to_numpy()[prev[step]], det[cols].to_numpy()[nxt[step]]
        frames = (f[prev[step]] + k).astype(np.int64)
        add = pd.DataFrame(a + w * (b - a), columns=cols)
        add.insert(0, "frame", frames.astype(np.float64))
        add.insert(0, "track", track_ids[prev[step]])
        add.insert(0, "action", "add")
        add.insert(0, "id", frames)
        add["cls"] = det["cls"].to_numpy()[prev[step]]
        add["support"] = support[step]
        ids, sev = _per_frame(f, frames)
        return AssertionResult(ids, sev, add)


@dataclass
class Appear(Assertion):
    """An object shows up for at most ``max_len`` frames and is gone before and after (for more than
    ``max_gap`` frames); severity = such boxes in the frame; correction = remove them. With given track
    ids, sightings of one id more than ``max_gap`` frames apart are separate appearances."""

    ids_kind: ClassVar[str | None] = "times"

    name: str = "appear"
    max_len: int = 2
    max_gap: int = 2
    iou_threshold: float = 0.3

    takes_span: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self.window = self.lookahead = self.max_len + self.max_gap + 2

    def check(
        self, outputs: pd.DataFrame, inputs: object = None, *, span: tuple[float, float] | None = None
    ) -> AssertionResult:
        """``span``: the first and last frames the detections were taken from, default the first and
        last frames with a box (a video whose last frames have no box ends later than that)."""
        det = _tracked(outputs, self.iou_threshold, self.max_gap + 1)
        f = det["frame"].to_numpy()
        codes, _ = pd.factorize(det["track"])
        order = np.lexsort((f, codes))
        c, t = codes[order], f[order]
        # a sighting starts a new appearance on a new track or after more than max_gap missing frames:
        # a tracker that keeps an id through a long absence (as given ids may) sees two appearances
        start = np.r_[True, (c[1:] != c[:-1]) | (t[1:] - t[:-1] - 1 > self.max_gap)][: len(c)]
        tid = np.cumsum(start) - 1
        starts = np.flatnonzero(start)
        first, last = t[starts], t[(np.r_[starts[1:], len(t)] - 1)[: len(starts)]]
        length = last - first + 1
        lo, hi = covered_span(f, span)
        # a track cut by the start or end of the input may be longer than we can see: never flag it
        short = (length <= self.max_len) & (first - lo > self.max_gap) & (hi - last > self.max_gap)
        rm_sorted = short[tid]
        pos = order[rm_sorted]
        ids, sev = _per_frame(f, f[pos])
        corr = det.iloc[pos][["row", "frame", *BOX, "score", "cls", "track"]].copy()
        corr.insert(0, "id", f[pos])
        corr.insert(1, "action", "remove")
        return AssertionResult(ids, sev, corr.reset_index(drop=True))


def _largest_clique(
    i: np.ndarray, j: np.ndarray, strong: np.ndarray, boxes: np.ndarray, min_size: int
) -> np.ndarray:
    """The largest set (at least ``min_size``) of ``boxes`` that all overlap each other, else empty.

    Exhaustive search from the largest size down (ties: the first found): a frame holds a handful of
    boxes; only boxes with ``min_size - 1`` strong neighbours can belong, and of those the 12 with the
    most neighbours are searched.
    """
    inside = np.isin(i, boxes) & strong
    adj: dict[int, set[int]] = {int(b): set() for b in boxes}
    for a, b in zip(i[inside].tolist(), j[inside].tolist(), strict=True):
        adj[a].add(b)
    nodes = sorted((b for b in adj if len(adj[b]) + 1 >= min_size), key=lambda b: (-len(adj[b]), b))[:12]
    for size in range(len(nodes), min_size - 1, -1):
        for combo in itertools.combinations(nodes, size):
            if all(b in adj[a] for a, b in itertools.combinations(combo, 2)):
                return np.array(sorted(combo), dtype=np.int64)
    return np.zeros(0, dtype=np.int64)


@dataclass
class MultiBox(Assertion):
    """Three or more boxes in one frame overlap pairwise by more than ``threshold``.

    ``overlap="ios"`` measures intersection over the smaller box (nested boxes of one person at two
    scales overlap fully but have a low IoU); ``"iou"`` the usual IoU. Severity = boxes in the largest
    overlapping group beyond two; correction = keep the group's highest-scoring box, remove the rest.
    """

    ids_kind: ClassVar[str | None] = "times"

    name: str = "multibox"
    threshold: float = 0.5
    min_boxes: int = 3
    overlap: str = "ios"

    def __post_init__(self) -> None:
        if self.overlap not in ("ios", "iou"):
            raise DawnError(f"unknown overlap {self.overlap!r}", "use ios or iou")

    def check(self, outputs: pd.DataFrame, inputs: object = None) -> AssertionResult:
        det = as_detections(outputs)
        f = det["frame"].to_numpy()
        # self-join on frame, vectorised: every ordered pair of distinct boxes in the same frame
        order = np.argsort(f, kind="stable")
        fs = f[order]
        starts = np.searchsorted(fs, fs, side="left")
        ends = np.searchsorted(fs, fs, side="right")
        cnt = ends - starts
        i_rep, offset = expand_counts(cnt)
        j = starts[i_rep] + offset
        keep = i_rep != j
        i_rep, j = i_rep[keep], j[keep]
        b = det[BOX].to_numpy()[order]
        ov = self._overlap(b[i_rep], b[j])
        strong = ov > self.threshold
        deg = np.bincount(i_rep[strong], minlength=len(fs))  # strongly overlapping neighbours per box
        hub = deg + 1 >= self.min_boxes  # a box that could be in a group of min_boxes
        ids = np.unique(f).astype(np.int64)
        sev = np.zeros(len(ids))
        corr_rows = []
        for fr in np.unique(fs[hub]):
            group = _largest_clique(i_rep, j, strong, np.flatnonzero(fs == fr), self.min_boxes)
            if len(group) == 0:  # neighbours of one box that do not overlap each other
                continue
            sev[np.searchsorted(ids, fr)] = len(group) - self.min_boxes + 1
            scores = det["score"].to_numpy()[order][group]
            for g in np.delete(group, np.argmax(scores)):
                corr_rows.append(order[g])
        corr = det.iloc[corr_rows][["row", "frame", *BOX, "score", "cls"]].copy()
        corr.insert(0, "id", corr["frame"].to_numpy())
        corr.insert(1, "action", "remove")
        return AssertionResult(ids, sev, corr.reset_index(drop=True))

    def _overlap(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ix = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
        iy = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
        inter = ix * iy
        area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
        area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        den = np.minimum(area_a, area_b) if self.overlap == "ios" else area_a + area_b - inter
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, inter / den, 0.0)


@dataclass
class ClassFlip(Assertion):
    """An identity's ``attr`` goes A -> B -> A, the B run lasting at most ``max_run`` time units.

    A run's length is its last time minus its first plus one (with one row per frame: its frames), so
    with ``max_run=2`` the classes 0, 1, 1, 0 in frames 0..3 fire and 0, 1, 1, 1, 0 do not. Works on any
    table with ``id_col``, ``time_col`` and ``attr`` (a tracked detection table by default, or ECG rhythm
    labels per patient). Severity 1 per row of the B run; correction: set it to A.
    """

    ids_kind: ClassVar[str | None] = "rows"

    name: str = "class_flip"
    id_col: str = "track"
    time_col: str = "frame"
    attr: str = "cls"
    max_run: int = 3

    def __post_init__(self) -> None:
        self.window = self.lookahead = self.max_run + 1

    def check(self, outputs: pd.DataFrame, inputs: object = None) -> AssertionResult:
        require_frame(outputs, "class_flip", [self.id_col, self.time_col, self.attr])
        for c in (self.id_col, self.time_col, self.attr):
            if c not in outputs.columns:
                raise DawnError(
                    f"column {c!r} not found",
                    f"class_flip needs {self.id_col}, {self.time_col}, "
                    f"{self.attr}; track detections first with dawn.assertions.track",
                )
        if outputs.empty:  # nothing to judge (a stream may start with an empty frame)
            empty = pd.DataFrame({"id": [], "action": [], "column": [], "value": []})
            return AssertionResult(outputs.index.to_numpy(), np.zeros(0), empty)
        codes, _ = pd.factorize(outputs[self.id_col])
        vals, uniq = pd.factorize(outputs[self.attr])
        t = outputs[self.time_col].to_numpy(dtype=np.float64)
        order = np.lexsort((t, codes))
        c, v, ts = codes[order], vals[order], t[order]
        run_start = np.r_[True, (c[1:] != c[:-1]) | (v[1:] != v[:-1])]
        run = np.cumsum(run_start) - 1
        rs = np.flatnonzero(run_start)
        re = np.r_[rs[1:], len(c)] - 1
        rc, rv = c[rs], v[rs]
        dur = ts[re] - ts[rs] + 1
        mid = np.zeros(len(rs), dtype=bool)
        if len(rs) >= 3:
            k = np.arange(1, len(rs) - 1)
            mid[k] = (
                (rc[k - 1] == rc[k])
                & (rc[k + 1] == rc[k])
                & (rv[k - 1] == rv[k + 1])
                & (dur[k] <= self.max_run)
            )
        sev_sorted = mid[run].astype(np.float64)
        sev = np.empty(len(c))
        sev[order] = sev_sorted
        fired = order[sev_sorted > 0]
        prev_val = np.asarray(uniq)[rv[np.maximum(run - 1, 0)]]
        idx = outputs.index.to_numpy()
        corr = pd.DataFrame(
            {"id": idx[fired], "action": "set", "column": self.attr, "value": prev_val[sev_sorted > 0]}
        )
        return AssertionResult(idx, sev, corr)


@dataclass
class Agreement(Assertion):
    """Two models or sensors must agree (Kang et al., 2020: LIDAR vs camera).

    ``check((a, b))`` with two detection tables (``a`` the monitored model, ``b`` the other model or
    sensor): severity per frame = boxes with no partner of IoU >= ``iou_threshold`` in the other output,
    counted as ``count`` says: ``"both"`` (either side), ``"missed"`` (boxes of ``b`` that ``a`` lacks:
    objects the monitored model probably missed; correction ``action="add"``) or ``"extra"`` (boxes of
    ``a`` that ``b`` lacks; correction ``action="remove"``). ``check((p, q))`` with two arrays of class
    probabilities (n, k) or labels (n,): severity per row = 0 where the top classes agree, else the
    total-variation distance between the distributions (1 where hard labels differ).
    """

    name: str = "agreement"
    iou_threshold: float = 0.5
    count: str = "both"

    def __post_init__(self) -> None:
        if self.count not in ("both", "missed", "extra"):
            raise DawnError(f"unknown count {self.count!r}", "use both, missed or extra")

    def check(self, outputs: object, inputs: object = None) -> AssertionResult:
        if not (isinstance(outputs, tuple | list) and len(outputs) == 2):
            raise DawnError("agreement needs a pair (model_a_output, model_b_output)", "pass check((a, b))")
        a, b = outputs
        if isinstance(a, pd.DataFrame) and set(BOX) <= set(a.columns):
            return self._boxes(as_detections(a), as_detections(b))
        pa, pb = np.asarray(a), np.asarray(b)
        if pa.shape != pb.shape:
            raise DawnError(
                f"agreement inputs differ in shape: {pa.shape} vs {pb.shape}", "align the two outputs"
            )
        if pa.ndim == 1:
            sev = (pa != pb).astype(np.float64)
        else:  # abstain where the top classes agree; otherwise how far apart the distributions are
            sev = np.where(pa.argmax(axis=1) != pb.argmax(axis=1), 0.5 * np.abs(pa - pb).sum(axis=1), 0.0)
        ids = a.index.to_numpy() if isinstance(a, pd.Series | pd.DataFrame) else np.arange(len(pa))
        return AssertionResult(ids, sev)

    def _boxes(self, a: pd.DataFrame, b: pd.DataFrame) -> AssertionResult:
        fa, fb = a["frame"].to_numpy(), b["frame"].to_numpy()
        ids = np.unique(np.r_[fa, fb]).astype(np.int64)
        sev = np.zeros(len(ids))
        ba, bb = a[BOX].to_numpy(), b[BOX].to_numpy()
        oa, ob = np.argsort(fa, kind="stable"), np.argsort(fb, kind="stable")
        sa, sb = fa[oa], fb[ob]
        lone_a: list[np.ndarray] = []
        lone_b: list[np.ndarray] = []
        for k, fr in enumerate(ids):
            ia = oa[np.searchsorted(sa, fr, "left") : np.searchsorted(sa, fr, "right")]
            ib = ob[np.searchsorted(sb, fr, "left") : np.searchsorted(sb, fr, "right")]
            m = iou(ba[ia], bb[ib]) >= self.iou_threshold
            ua, ub = ia[~m.any(axis=1)], ib[~m.any(axis=0)]
            if self.count != "missed":
                lone_a.append(ua)
            if self.count != "extra":
                lone_b.append(ub)
            sev[k] = (len(ua) if self.count != "missed" else 0) + (len(ub) if self.count != "extra" else 0)
        cols = ["row", "frame", *BOX, "score", "cls"]
        parts = [
            side.iloc[np.concatenate(lone)][cols].assign(action=action)
            for side, lone, action in ((a, lone_a, "remove"), (b, lone_b, "add"))
            if lone and sum(map(len, lone))
        ]
        corr = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*cols, "action"])
        corr.insert(0, "id", corr["frame"].to_numpy())
        return AssertionResult(ids, sev, corr)


@dataclass
class Range(Assertion):
    """``column`` must lie in [``low``, ``high``]; severity = distance outside (NaN counts as 1)."""

    ids_kind: ClassVar[str | None] = "rows"

    name: str = "range"
    column: str = "score"
    low: float = -np.inf
    high: float = np.inf

    def check(self, outputs: pd.DataFrame, inputs: object = None) -> AssertionResult:
        require_frame(outputs, "range", [self.column])
        if self.column not in outputs.columns:
            hint = (  # Range("p") names the assertion "p": the column is a keyword
                f"Range({self.name!r}) sets the assertion's name; pass column={self.name!r}"
                if self.name in outputs.columns
                else "name an existing column: Range(column=..., low=..., high=...)"
            )
            raise DawnError(f"column {self.column!r} not found", hint)
        try:
            v = outputs[self.column].to_numpy(dtype=np.float64)
        except (TypeError, ValueError):  # text, or objects that are not numbers
            raise DawnError(
                f"range column {self.column!r} is {outputs[self.column].dtype}, not numeric",
                "convert it with astype(float), or check a numeric column",
            ) from None
        sev = np.maximum(self.low - v, 0) + np.maximum(v - self.high, 0)
        sev = np.where(np.isnan(v), 1.0, sev)
        return AssertionResult(outputs.index.to_numpy(), sev)


@dataclass
class Invariant(Assertion):
    """A boolean pandas expression that must hold per row, e.g. ``"p_fraud + p_ok <= 1.0001"``;
    severity 1 where it is false (evaluated vectorised with ``DataFrame.eval``)."""

    ids_kind: ClassVar[str | None] = "rows"

    name: str = "invariant"
    expr: str = "True"

    def check(self, outputs: pd.DataFrame, inputs: object = None) -> AssertionResult:
        require_frame(outputs, "invariant", ["the columns its expression names"])
        try:
            ok = outputs.eval(self.expr)
        except Exception as exc:  # pandas raises many types for a bad expression
            raise DawnError(
                f"invariant {self.expr!r} cannot be evaluated: {exc}", "fix the expression"
            ) from exc
        ok_arr = np.broadcast_to(np.asarray(ok, dtype=bool), (len(outputs),))
        return AssertionResult(outputs.index.to_numpy(), (~ok_arr).astype(np.float64))
