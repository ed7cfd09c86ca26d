"""Video: OpenCV's ``vtest.avi`` street scene and OpenCV's HOG people detector (Dalal & Triggs, 2005)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dawn.core.errors import DawnError
from dawn.data._artifacts import OPENCV_DOC
from dawn.data.registry import Dataset, register
from dawn.data.sources import extract

_VTEST = "usr/share/doc/opencv-doc/examples/data/vtest.avi"


@dataclass
class Video:
    """A video file with its frame count, rate and size; frames are decoded on demand."""

    path: Path
    n_frames: int
    fps: float
    width: int
    height: int

    def frames(self, *, start: int = 0, stop: int | None = None, step: int = 1) -> Iterator[np.ndarray]:
        """BGR frames ``start:stop:step`` as ``uint8`` arrays of shape (height, width, 3)."""
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        try:
            idx = 0
            stop = self.n_frames if stop is None else stop
            while idx < stop:
                ok, frame = cap.read()
                if not ok:
                    break
                if idx >= start and (idx - start) % step == 0:
                    yield frame
                idx += 1
        finally:
            cap.release()


def open_video(path: Path) -> Video:
    """Open a video file with OpenCV; a :class:`DawnError` if it cannot be decoded."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise DawnError(f"OpenCV cannot open the video {path}", "check that the file is a readable video")
    try:
        return Video(
            path,
            int(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
            float(cap.get(cv2.CAP_PROP_FPS)),
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
    finally:
        cap.release()


def _load_vtest(paths: list[Path]) -> Video:
    (deb,) = paths
    return open_video(extract(deb, _VTEST, "opencv-doc-vtest") / _VTEST)


def hog_people_detector() -> Any:
    """OpenCV's HOG descriptor with its default people SVM (from the installed opencv package)."""
    import cv2

    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())  # type: ignore[attr-defined]
    return hog


def _describe_video(v: Video) -> dict[str, Any]:
    return {"frames": v.n_frames, "fps": v.fps, "width": v.width, "height": v.height, "path": str(v.path)}


register(
    Dataset(
        "vtest",
        "OpenCV's vtest.avi street scene with pedestrians: 795 frames, 768x576, 10 fps",
        loader=_load_vtest,
        artifacts=(OPENCV_DOC,),
        returns="dawn.data.video.Video",
        describe=_describe_video,
        source=f"Debian package opencv-doc {OPENCV_DOC.version}, examples/data/vtest.avi",
        license="BSD-3-Clause (OpenCV)",
        requires=(("cv2", "assertions"),),
        tags=("assertions",),
    )
)
register(
    Dataset(
        "hog-people",
        "OpenCV's HOG + linear SVM people detector (Dalal & Triggs, 2005)",
        loader=lambda paths: hog_people_detector(),
        returns="cv2.HOGDescriptor",
        describe=lambda h: {"window": list(h.winSize), "svm_weights": int(len(h.svmDetector))},
        source="installed opencv-python-headless package (cv2.HOGDescriptor_getDefaultPeopleDetector)",
        license="Apache-2.0 (OpenCV)",
        requires=(("cv2", "assertions"),),
        tags=("assertions",),
    )
)
