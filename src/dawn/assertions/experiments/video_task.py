"""A temporal active-learning task on real video: a person classifier over tracked box proposals.

The paper's active-learning gain comes from video, where a detector's missed objects are invisible to
uncertainty sampling but not to flicker/appear assertions over its tracked outputs (Kang et al., 2020,
Sec. 5.2). This task rebuilds that setting on ``vtest.avi`` at a scale a CPU can retrain every round:

- *Proposals* (the pool items) per frame: every box of the reference HOG scan (a person, label 1), every
  box of the fast scan that no reference box confirms (a hard negative, label 0), and a fixed set of
  background windows that no reference person overlaps (label 0). Proposals are linked across frames by
  the IoU tracker once, independently of any model, the way region proposals of a two-stage detector
  persist over time.
- *Model*: a cheap classifier, logistic regression on each proposal's crop as a 4x8 grey thumbnail
  (or on the PCA-reduced HOG descriptor, ``features="hog"``); its positive proposals are the
  detector's output. Metric: F1 for the person class on held-out frames
  (alternating blocks of 40 frames are pool and test).
- *Assertions* over the model's outputs, tracked: :class:`~dawn.assertions.builtin.Flicker` (a person
  track the model drops for one or two frames: the proposals it dropped are flagged) and
  :class:`~dawn.assertions.builtin.Appear` (a track the model calls a person for at most two frames).

The labels come from the reference detector, as the paper's labels came from a stronger model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dawn.assertions.active import PoolScores
from dawn.assertions.detection import BOX, iou
from dawn.assertions.experiments.tasks import Task, _fit_or_constant, noise_severity
from dawn.core.logging import get_logger

log = get_logger(__name__)

__all__ = ["VideoTask", "proposals"]

BLOCK = 40  # frames per pool/test block: blocks alternate, so test frames sit between pool frames
N_BACKGROUND = 6  # fixed background windows per frame
PCA_DIM = 32
JITTER = 0.55  # sideways shift of a person box, in box widths, for a hard negative


def _background_windows(width: int, height: int, seed: int = 7) -> np.ndarray:
    """Fixed person-shaped windows (1:2) at random places and scales; the same in every frame."""
    rng = np.random.default_rng(seed)
    h = rng.uniform(130, 300, N_BACKGROUND)
    w = h / 2
    x = rng.uniform(0, width - w)
    y = rng.uniform(0, height - h)
    return np.column_stack([x, y, x + w, y + h])


def proposals(fast: pd.DataFrame, ref: pd.DataFrame, width: int = 768, height: int = 576) -> pd.DataFrame:
    """Proposal table (frame, x1, y1, x2, y2, label, source) from the two cached HOG scans."""
    frames = sorted(set(ref["frame"]) | set(fast["frame"]))
    bg = _background_windows(width, height)
    rf = {int(f): g[BOX].to_numpy() for f, g in ref.groupby("frame")}
    ff = {int(f): g[BOX].to_numpy() for f, g in fast.groupby("frame")}
    rows: list[tuple[Any, ...]] = []
    for f in frames:
        r = rf.get(int(f), np.zeros((0, 4)))
        rows.extend((f, *b, 1, "reference") for b in r)
        fb = ff.get(int(f), np.zeros((0, 4)))
        if len(fb):  # a fast box the reference does not confirm is a hard negative
            lone = iou(fb, r).max(axis=1) < 0.3 if len(r) else np.ones(len(fb), bool)
            rows.extend((f, *b, 0, "fast") for b in fb[lone])
        free = iou(bg, r).max(axis=1) < 0.1 if len(r) else np.ones(len(bg), bool)
        rows.extend((f, *b, 0, "background") for b in bg[free])
        if len(r):  # a person's box shifted sideways holds half a person: the hard case for HOG
            w = (r[:, 2] - r[:, 0])[:, None]
            for dx in (-JITTER, JITTER):
                sh = r + np.c_[w, np.zeros_like(w), w, np.zeros_like(w)] * dx
                ok = (iou(sh, r).max(axis=1) < 0.3) & (sh[:, 0] >= 0) & (sh[:, 2] <= width)
                rows.extend((f, *b, 0, "shifted") for b in sh[ok])
    df = pd.DataFrame(rows, columns=["frame", *BOX, "label", "source"])
    df["frame"] = df["frame"].astype(np.int64)
    df["label"] = df["label"].astype(np.int64)
    return df


def _hog_features(props: pd.DataFrame) -> np.ndarray:
    """HOG descriptor (3,780 values) of each proposal's crop resized to the 64x128 detection window."""
    import cv2

    from dawn import data

    video = data.load("vtest")
    hog = data.load("hog-people")
    by_frame = {int(f): g.index.to_numpy() for f, g in props.groupby("frame")}
    feats = np.zeros((len(props), 3780 + 128), dtype=np.float32)
    boxes = props[BOX].to_numpy()
    for f, frame in enumerate(video.frames()):
        idx = by_frame.get(f)
        if idx is None:
            continue
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        H, W = gray.shape
        for i in idx:
            x1, y1, x2, y2 = boxes[i]
            x1, y1 = int(max(0, np.floor(x1))), int(max(0, np.floor(y1)))
            x2, y2 = int(min(W, np.ceil(x2))), int(min(H, np.ceil(y2)))
            crop = gray[y1 : max(y2, y1 + 2), x1 : max(x2, x1 + 2)]
            crop = cv2.resize(crop, (64, 128), interpolation=cv2.INTER_AREA)
            feats[i, :3780] = hog.compute(crop).reshape(-1)
            thumb = cv2.resize(crop, (8, 16), interpolation=cv2.INTER_AREA).astype(np.float32).reshape(-1)
            feats[i, 3780:] = (thumb - thumb.mean()) / (thumb.std() + 1.0)
    return feats


def load_proposals(features: str = "thumb") -> tuple[pd.DataFrame, np.ndarray]:
    """Proposals with track ids and features, cached under ``data_dir()/assertions``.

    ``features``: ``"thumb"`` (the crop as an 8x16 grey thumbnail, standardised: a cheap model's view)
    or ``"hog"`` (the PCA-reduced HOG descriptor: nearly the detector's own view).
    """
    key = {"thumb": "thumb", "hog": "X"}[features]
    from dawn.assertions.detection import track
    from dawn.assertions.experiments import video
    from dawn.data import data_dir

    fast = video.detections(video.FAST, compute=False)
    ref = video.detections(video.REFERENCE, compute=False)
    path = data_dir() / "assertions" / f"vtest-proposals-{video.FAST.key()}-{video.REFERENCE.key()}-v3.npz"
    props = proposals(fast, ref)
    if path.is_file():
        z = np.load(path)
        if len(z["X"]) == len(props):
            props["track"] = z["track"]
            return props, z[key]
    from sklearn.decomposition import PCA

    from dawn.core.io import atomic_write

    props["score"] = 1.0
    props["cls"] = 0
    tracked = track(props, iou_threshold=0.3, max_age=3)
    feats = _hog_features(props)
    # unsupervised, all frames
    X = PCA(PCA_DIM, random_state=0).fit_transform(feats[:, :3780]).astype(np.float32)
    with atomic_write(path, "wb") as fh:
        np.savez(fh, X=X, thumb=feats[:, 3780:], track=tracked["track"].to_numpy())
    props["track"] = tracked["track"].to_numpy()
    return props.drop(columns=["score", "cls"]), X if features == "hog" else feats[:, 3780:]


@dataclass
class _Model:
    main: Any


@dataclass
class VideoTask(Task):
    """Person classifier over tracked proposals on vtest; flicker and appear over its outputs."""

    name: str = "vtest-video"
    n_classes: int = 2
    features: str = "thumb4x8"
    background: bool = True

    def __post_init__(self) -> None:
        props, X = load_proposals("hog" if self.features == "hog" else "thumb")
        if not self.background:  # only people and half-people: the localisation part of detection
            keep = (props["source"] != "background").to_numpy()
            props, X = props[keep].reset_index(drop=True), X[keep]
        if self.features == "thumb4x8":  # 2x2-pooled thumbnail: a weaker, cheaper model
            X = X.reshape(-1, 8, 2, 4, 2).mean(axis=(2, 4)).reshape(len(X), 32)
        test = (props["frame"].to_numpy() // BLOCK) % 2 == 1
        self._pool_props = props[~test].reset_index(drop=True)
        self.X_pool, self.y_pool = X[~test], props["label"].to_numpy()[~test]
        self.X_test, self.y_test = X[test], props["label"].to_numpy()[test]

    def fit(self, idx: np.ndarray, y: np.ndarray | None = None) -> _Model:
        from sklearn.linear_model import LogisticRegression

        y = self.y_pool[idx] if y is None else y
        return _Model(_fit_or_constant(LogisticRegression(C=0.1, max_iter=200), self.X_pool[idx], y))

    def metric(self, model: Any) -> float:
        pred = self.proba(model, self.X_test).argmax(axis=1)
        tp = float(((pred == 1) & (self.y_test == 1)).sum())
        den = float((pred == 1).sum() + (self.y_test == 1).sum())
        return 2 * tp / den if den else 0.0

    def assertion_severity(self, model: Any) -> tuple[np.ndarray, list[str]]:
        from dawn.assertions.builtin import Appear, Flicker

        pred = self.proba(model, self.X_pool).argmax(axis=1)
        p = self._pool_props
        out = p[pred == 1].assign(score=1.0, cls=0)
        sev = np.zeros((len(p), 2))
        if len(out):
            key = pd.MultiIndex.from_arrays([p["track"], p["frame"]])
            fl = Flicker().check(out).corrections
            if fl is not None and len(fl):  # the proposals of the track in the frames the model dropped
                pos = key.get_indexer(pd.MultiIndex.from_arrays([fl["track"], fl["frame"]]))
                sev[pos[pos >= 0], 0] = 1.0
            ap = Appear().check(out).corrections
            if ap is not None and len(ap):  # ``row`` is the proposal's position in the pool
                sev[ap["row"].to_numpy(dtype=np.int64), 1] = 1.0
        return sev, ["flicker", "appear"]


@dataclass
class VideoFrameTask(VideoTask):
    """The paper's setting: a strategy picks *frames*; labelling a frame labels every proposal in it.

    Uncertainty baselines score a frame from the model's detections only (proposals it calls a person):
    the least confident detection, and 0 for a frame without detections, as in the authors' script, so
    a person the model misses in every proposal is invisible to them. With ``uncertainty="proposals"``
    they see every proposal's probability instead (a stronger baseline than the paper's).
    Flicker and appear severities are summed per frame. ``y_pool`` holds the people per frame; the
    proposal labels stay hidden until a frame is chosen.
    """

    name: str = "vtest-frames"
    uncertainty: str = "detections"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._Xp, self._yp = self.X_pool, self.y_pool
        frames = self._pool_props["frame"].to_numpy()
        self._frames, self._fpos = np.unique(frames, return_inverse=True)
        self.X_pool = self._frames
        self.y_pool = np.bincount(self._fpos, weights=self._yp, minlength=len(self._frames)).astype(np.int64)

    def fit(self, idx: np.ndarray, y: np.ndarray | None = None) -> _Model:
        rows = np.flatnonzero(np.isin(self._fpos, idx))
        return VideoTask.fit(self._as_props(), rows)

    def _as_props(self) -> VideoTask:
        view = VideoTask.__new__(VideoTask)
        view.__dict__.update(self.__dict__)
        view.X_pool, view.y_pool = self._Xp, self._yp
        return view

    def scores(self, model: Any) -> PoolScores:
        view = self._as_props()
        p = view.proba(model, self._Xp)[:, 1]
        sev_p, names = view.oracle_severity(model) if self.oracle else view.assertion_severity(model)
        n = len(self._frames)
        sev = np.stack(
            [np.bincount(self._fpos, weights=sev_p[:, k], minlength=n) for k in range(len(names))], 1
        )
        if self.noise:  # a useless assertion: a fresh random 10% of the frames each round
            sev = np.c_[sev, noise_severity(n, self.seed, self.round)]
            names = [*names, "noise"]
        self.round += 1
        if self.uncertainty == "detections":
            conf = np.ones(n)  # no detection: nothing to be unsure about
            det = p > 0.5
            np.minimum.at(conf, self._fpos[det], p[det])
        else:
            conf = np.ones(n)
            np.minimum.at(conf, self._fpos, np.maximum(p, 1 - p))
        return PoolScores(np.arange(n), sev, np.c_[1 - conf, conf], names)


def assertion_precision(
    task: VideoTask, n_labels: tuple[int, ...] = (20, 50, 100), seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
) -> dict[str, dict[str, float]]:
    """How often each assertion's flags are real errors of the proposal classifier, and how confident.

    For models trained on ``n_labels`` random proposals (each seed): precision = flagged proposals the
    model gets wrong / flagged proposals; a confident error is one whose predicted-class probability is in
    the top quartile of the pool's (the paper's "high-confidence errors").
    """
    acc: dict[str, np.ndarray] = {}
    for n in n_labels:
        for seed in seeds:
            idx = np.random.default_rng(seed).choice(len(task.y_pool), n, replace=False)
            s = task.scores(task.fit(idx))
            conf = s.proba.max(axis=1) if s.proba is not None else np.zeros(len(s.ids))
            wrong = s.predictions != task.y_pool
            top = conf >= np.quantile(conf, 0.75)
            for k, name in enumerate(s.names):
                f = s.severity[:, k] > 0
                acc.setdefault(name, np.zeros(3))
                acc[name] += [f.sum(), (f & wrong).sum(), (f & wrong & top).sum()]
    return {
        name: {
            "flagged": float(v[0]),
            "errors": float(v[1]),
            "precision": float(v[1] / v[0]) if v[0] else float("nan"),
            "confident_error_share": float(v[2] / v[1]) if v[1] else float("nan"),
        }
        for name, v in acc.items()
    }
