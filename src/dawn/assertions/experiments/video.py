"""HOG people detections on ``vtest.avi``, computed once per detector configuration and cached.

The paper monitors a fast detector (SSD) and uses a slower, stronger one as reference labels. Here the
fast detector is OpenCV's HOG people detector with a coarse scan, and the reference is the same model
scanned densely on an upscaled frame (finer stride, finer scale pyramid), which finds small and partly
hidden pedestrians that the coarse scan drops from frame to frame.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dawn.core.errors import DawnError
from dawn.core.io import atomic_write
from dawn.core.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class HogConfig:
    """One HOG scan configuration (arguments of ``cv2.HOGDescriptor.detectMultiScale``)."""

    win_stride: int = 8
    padding: int = 8
    scale: float = 1.05
    upscale: float = 1.0  # the frame is resized by this factor first; boxes are mapped back
    group_threshold: int = 2

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


#: The monitored (fast) detector and the reference (strong, ~7x slower) detector.
FAST = HogConfig()
REFERENCE = HogConfig(win_stride=8, padding=16, scale=1.03, upscale=1.25, group_threshold=2)
#: A second cheap model for the agreement assertion: the fast scan on a frame upscaled by 1.15 (~1.3x
#: the fast scan's cost); it plays the paper's second sensor.
SECOND = HogConfig(win_stride=8, padding=8, scale=1.05, upscale=1.15, group_threshold=2)
#: Frames on which the assertions' defaults may be tuned; precision is also reported on the rest.
TUNE_FRAMES = range(0, 398)


def detect_frame(hog: object, frame: np.ndarray, cfg: HogConfig) -> tuple[np.ndarray, np.ndarray]:
    """Boxes ``(n, 4)`` as x1, y1, x2, y2 in original pixels, and SVM scores ``(n,)``."""
    import cv2

    img = frame
    if cfg.upscale != 1.0:
        img = cv2.resize(frame, None, fx=cfg.upscale, fy=cfg.upscale, interpolation=cv2.INTER_LINEAR)
    rects, weights = hog.detectMultiScale(  # type: ignore[attr-defined]
        img,
        winStride=(cfg.win_stride, cfg.win_stride),
        padding=(cfg.padding, cfg.padding),
        scale=cfg.scale,
        groupThreshold=cfg.group_threshold,
    )
    rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4) / cfg.upscale
    boxes = np.column_stack([rects[:, 0], rects[:, 1], rects[:, 0] + rects[:, 2], rects[:, 1] + rects[:, 3]])
    return boxes, np.asarray(weights, dtype=np.float64).reshape(-1)


def _cache_path(cfg: HogConfig) -> Path:
    from dawn.data import data_dir

    return data_dir() / "assertions" / f"hog-vtest-{cfg.key()}.parquet"


def detections(cfg: HogConfig = FAST, *, frames: range | None = None, compute: bool = True) -> pd.DataFrame:
    """Detections of ``cfg`` on vtest as a DataFrame (frame, x1, y1, x2, y2, score, cls).

    All 795 frames are computed once and cached under ``data_dir()/assertions`` keyed by the
    configuration; ``frames`` selects a subset of the cached result. With ``compute=False`` a missing
    cache is a :class:`DawnError` instead of a several-minute computation.
    """
    path = _cache_path(cfg)
    if not path.is_file():
        if not compute:
            raise DawnError(
                f"no cached HOG detections for {cfg}", "run `dawn assertions detect` once (a few minutes)"
            )
        _compute_all(cfg, path)
    df = pd.read_parquet(path)
    if frames is not None:
        df = df[df["frame"].isin(np.asarray(frames))].reset_index(drop=True)
    return df


def _compute_all(cfg: HogConfig, path: Path) -> None:
    from dawn import data
    from dawn.core.progress import track

    video = data.load("vtest")
    hog = data.load("hog-people")
    rows = []
    for i, frame in enumerate(track(video.frames(), description=f"HOG {cfg.key()}", total=video.n_frames)):
        boxes, scores = detect_frame(hog, frame, cfg)
        for b, s in zip(boxes, scores, strict=True):
            rows.append((i, *b, s))
    df = pd.DataFrame(rows, columns=["frame", "x1", "y1", "x2", "y2", "score"])
    df["frame"] = df["frame"].astype(np.int64)
    df["cls"] = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as fh:
        df.to_parquet(fh, index=False)
    log.info("cached %d detections on %d frames at %s", len(df), video.n_frames, path)


def _match_any(boxes: np.ndarray, frames: np.ndarray, ref: pd.DataFrame, thr: float) -> np.ndarray:
    """For each (box, frame): whether a reference box in that frame overlaps it with IoU >= ``thr``."""
    from dawn.assertions.detection import BOX, iou

    out = np.zeros(len(boxes), dtype=bool)
    by_frame = {int(f): g[BOX].to_numpy() for f, g in ref.groupby("frame")}
    for k, (b, f) in enumerate(zip(boxes, frames, strict=True)):
        rb = by_frame.get(int(f))
        if rb is not None and len(rb):
            out[k] = bool((iou(b[None, :], rb) >= thr).any())
    return out


def evaluate(
    fast: pd.DataFrame,
    ref: pd.DataFrame,
    *,
    second: pd.DataFrame | None = None,
    iou_threshold: float = 0.4,
    flicker_min_score: float | None = None,
) -> dict[str, object]:
    """Precision of flicker, multibox, appear (and agreement with ``second``) at finding real errors.

    With ``flicker_min_score``, flicker is also scored with that floor on its sightings' scores, as
    ``flicker_floor`` (a subset of flicker's firings, so the distinct errors are unchanged).

    - flicker: the interpolated box is a real miss if the reference has a person there (IoU >= thr).
    - appear: the brief box is a real error if the reference has no person there (false positive), or
      the reference sees that person in a neighbouring frame where the fast detector has no box (missed
      detections around a real person).
    - multibox: the frame is a real error if fewer reference people overlap the group than it has boxes.
    - agreement (``count="missed"``): a box of the second model with no IoU >= 0.5 partner among the fast
      boxes is a real miss if the reference has a person there.

    Confident errors, two ways. Box level (``confident_error_share``): the erroneous box's score is in the
    top quartile of all scores (for flicker, the score interpolated from the track's neighbouring boxes;
    for an agreement miss, the best fast box overlapping it at IoU >= 0.3 within two frames, 0 if none).
    Frame level (``frame_confident_error_share``): the frame's least confident box is in the top quartile
    of frames, or the frame has no box at all, so uncertainty monitoring would not pick the frame.
    """
    from dawn.assertions.builtin import Appear, Flicker, MultiBox
    from dawn.assertions.detection import BOX, as_detections, iou

    fast = as_detections(fast)
    q75 = float(np.quantile(fast["score"], 0.75))
    # frame-level view: an uncertainty monitor ranks a frame by its least confident box; a frame with no
    # box gives it nothing to rank, which is as good as confident
    fmin = fast.groupby("frame")["score"].min()
    q75_frame = float(np.quantile(fmin.to_numpy(), 0.75))

    def frame_conf(frames: np.ndarray) -> np.ndarray:
        return fmin.reindex(frames).fillna(np.inf).to_numpy() >= q75_frame

    out: dict[str, object] = {
        "score_q75": q75,
        "iou_threshold": iou_threshold,
        "frames": int(fast["frame"].nunique()),
    }
    per: dict[str, dict[str, float]] = {}
    # the real errors that are boxes (frame, box, confident, frame-confident), to count each once
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def record(
        name: str, frames: np.ndarray, boxes: np.ndarray, real: np.ndarray, conf: np.ndarray
    ) -> dict[str, float]:
        """An assertion's precision and confident errors; its real errors kept to count them once."""
        fconf = frame_conf(frames)
        found.append((frames[real], boxes[real], conf[real], fconf[real]))
        per[name] = _prec(real, conf, fconf)
        return per[name]

    fl = Flicker().check(fast).corrections
    if fl is not None and len(fl):
        real = _match_any(fl[BOX].to_numpy(), fl["frame"].to_numpy(), ref, iou_threshold)
        record("flicker", fl["frame"].to_numpy(), fl[BOX].to_numpy(), real, fl["score"].to_numpy() >= q75)
        if flicker_min_score is not None:
            keep = fl["support"].to_numpy() >= flicker_min_score
            conf = fl["score"].to_numpy() >= q75
            per["flicker_floor"] = {
                **_prec(real[keep], conf[keep], frame_conf(fl["frame"].to_numpy()[keep])),
                "min_score": flicker_min_score,
            }

    ap = Appear().check(fast).corrections
    if ap is not None and len(ap):
        b, f = ap[BOX].to_numpy(), ap["frame"].to_numpy()
        fp = ~_match_any(b, f, ref, iou_threshold)
        missed = np.zeros(len(ap), dtype=bool)
        for d in (-2, -1, 1, 2):  # the reference sees it nearby while the fast detector does not
            missed |= _match_any(b, f + d, ref, iou_threshold) & ~_match_any(b, f + d, fast, iou_threshold)
        real = fp | missed
        per["appear"] = {
            **record("appear", f, b, real, ap["score"].to_numpy() >= q75),
            "false_positive": int(fp.sum()),
            "missed_nearby": int((missed & ~fp).sum()),
        }

    mb = MultiBox()
    r = mb.check(fast)
    frames = r.ids[r.fired]
    if len(frames):
        real_l, conf_l = [], []
        corr = r.corrections if r.corrections is not None else pd.DataFrame(columns=["frame", *BOX, "score"])
        for fr in frames:
            boxes = fast[fast["frame"] == fr]
            removed = corr[corr["frame"] == fr]
            rb_, fb = removed[BOX].to_numpy(), boxes[BOX].to_numpy()
            # the group: the removed boxes and every box in the frame that overlaps one of them
            ov = np.array([mb._overlap(np.repeat(x[None, :], len(rb_), 0), rb_).max() for x in fb])
            gb = fb[ov > mb.threshold]
            rb = ref[ref["frame"] == fr][BOX].to_numpy()
            n_ref = int((iou(rb, gb) >= iou_threshold).any(axis=1).sum()) if len(rb) else 0
            real_l.append(n_ref < len(gb))  # more boxes than people there
            conf_l.append(bool((removed["score"].to_numpy() >= q75).any()))
        per["multibox"] = _prec(np.array(real_l), np.array(conf_l), frame_conf(np.asarray(frames)))
    if second is not None:
        from dawn.assertions.builtin import Agreement

        ag = Agreement(count="missed").check((fast, second)).corrections
        if ag is not None and len(ag):
            b, f = ag[BOX].to_numpy(dtype=np.float64), ag["frame"].to_numpy(dtype=np.int64)
            real = _match_any(b, f, ref, iou_threshold)
            near = np.zeros(len(ag))
            fs = {int(k): g for k, g in fast.groupby("frame")}
            for k in range(len(ag)):
                for d in (-2, -1, 1, 2):
                    g = fs.get(int(f[k]) + d)
                    if g is not None and len(g):
                        m = iou(b[k][None, :], g[BOX].to_numpy())[0] >= 0.3
                        near[k] = max(near[k], g["score"].to_numpy()[m].max(initial=0.0))
            record("agreement", f, b, real, near >= q75)
    out["per_assertion"] = per
    # each real error once: assertions often find the same missed person (flicker and agreement);
    # multibox's errors are groups, not boxes, and count as their own
    n_box, n_conf, n_fconf = _distinct_errors(found, iou_threshold)
    mbx = per.get("multibox", {})
    tot_real = n_box + int(mbx.get("real_errors", 0))
    out["distinct_real_errors"] = tot_real
    out["confident_error_share"] = (
        (n_conf + int(mbx.get("confident_errors", 0))) / tot_real if tot_real else float("nan")
    )
    out["frame_confident_error_share"] = (
        (n_fconf + int(mbx.get("frame_confident_errors", 0))) / tot_real if tot_real else float("nan")
    )
    out["score_q75_frame"] = q75_frame
    return out


def calibrate_flicker_floor(
    fast: pd.DataFrame, ref: pd.DataFrame, *, target: float = 0.9, iou_threshold: float = 0.4
) -> float | None:
    """The lowest floor on flicker's sightings' scores at which its firings on ``fast`` are real errors
    (by ``ref``) at a rate of at least ``target`` over at least 10 firings (one per interpolated
    frame), or None if no floor does; pass the tuning frames only."""
    from dawn.assertions.builtin import Flicker
    from dawn.assertions.calibration import floor_for_precision
    from dawn.assertions.detection import BOX, as_detections

    fl = Flicker().check(as_detections(fast)).corrections
    if fl is None or not len(fl):
        return None
    real = _match_any(fl[BOX].to_numpy(), fl["frame"].to_numpy(), ref, iou_threshold)
    return floor_for_precision(fl["support"].to_numpy(), real, target)


def _distinct_errors(
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], thr: float
) -> tuple[int, int, int]:
    """(errors, confident, frame-confident) counting once the boxes of one frame that overlap at IoU
    >= ``thr`` (an error is confident if any assertion that found it saw it so)."""
    from dawn.assertions.detection import iou

    kept: dict[int, list[list]] = {}  # frame -> [[box, confident, frame_confident], ...]
    for frames, boxes, conf, fconf in found:
        for fr, b, c, fc in zip(frames.tolist(), boxes, conf.tolist(), fconf.tolist(), strict=True):
            same = kept.setdefault(int(fr), [])
            hit = next((e for e in same if iou(b[None, :], e[0][None, :])[0, 0] >= thr), None)
            if hit is None:
                same.append([np.asarray(b, dtype=np.float64), bool(c), bool(fc)])
            else:
                hit[1], hit[2] = hit[1] or bool(c), hit[2] or bool(fc)
    errors = [e for es in kept.values() for e in es]
    return len(errors), sum(e[1] for e in errors), sum(e[2] for e in errors)


def _prec(real: np.ndarray, conf: np.ndarray, fconf: np.ndarray) -> dict[str, float]:
    n = len(real)
    return {
        "frame_confident_errors": int((real & fconf).sum()),
        "firings": n,
        "real_errors": int(real.sum()),
        "precision": float(real.mean()) if n else float("nan"),
        "confident_errors": int((real & conf).sum()),
        "confident_share": float((real & conf).sum() / real.sum()) if real.sum() else float("nan"),
    }
