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


def detect_frame(hog: object, frame: np.ndarray, cfg: HogConfig) -> tuple[np.ndarray, np.ndarray]:
    """Boxes ``(n, 4)`` as x1, y1, x2, y2 in original pixels, and SVM scores ``(n,)``."""
    import cv2

    img = frame
    if cfg.upscale != 1.0:
        img = cv2.resize(frame, None, fx=cfg.upscale, fy=cfg.upscale, interpolation=cv2.INTER_LINEAR)
    rects, weights = hog.detectMultiScale(  # type: ignore[attr-defined]
        img, winStride=(cfg.win_stride, cfg.win_stride), padding=(cfg.padding, cfg.padding),
        scale=cfg.scale, groupThreshold=cfg.group_threshold,
    )  # fmt: skip
    rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4) / cfg.upscale
    boxes = np.column_stack([rects[:, 0], rects[:, 1], rects[:, 0] + rects[:, 2], rects[:, 1] + rects[:, 3]])
    return boxes, np.asarray(weights, dtype=np.float64).reshape(-1)


def _cache_path(cfg: HogConfig):  # type: ignore[no-untyped-def]
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


def _compute_all(cfg: HogConfig, path) -> None:  # type: ignore[no-untyped-def]
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
