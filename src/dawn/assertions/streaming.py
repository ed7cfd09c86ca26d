"""Flicker and appear on a live detection stream, in constant time per detection.

The batch assertions in :mod:`dawn.assertions.builtin` re-read their whole input. On a live stream
the same verdicts need only each track's last sighting and age: when a track reappears after a gap of at
most ``max_gap`` frames, the missing frames are a flicker (Kang et al., 2020, Sec. 5.1); when a track
ends having lived at most ``max_len`` frames, it was a brief appearance. State is bounded by the number
of live tracks, and tracks dead for more than ``max_gap`` frames are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dawn.assertions.detection import IoUTracker, check_box_sizes
from dawn.core.errors import DawnError

__all__ = ["StreamEvent", "StreamingVideoAssertions"]


@dataclass(frozen=True)
class StreamEvent:
    """One firing: ``assertion`` (``flicker`` or ``appear``), the ``frame`` it concerns, the ``track``,
    and the proposed box (the interpolated one for flicker, the spurious one for appear). A flicker's
    ``support`` is the lower score of the two sightings around its gap, as in
    :class:`dawn.assertions.Flicker`'s corrections; None for appear."""

    assertion: str
    frame: int
    track: int
    box: tuple[float, float, float, float]
    score: float
    support: float | None = None


@dataclass
class StreamingVideoAssertions:
    """Streaming flicker + appear, with an optional built-in IoU tracker.

    Feed frames in increasing order with :meth:`update`; each call returns the events that became
    certain. Frames with no detections must still be fed (with empty arrays) or the stream cannot
    tell a gap from a pause; :meth:`close` ends every live track at the end of the stream.
    """

    max_gap: int = 2
    max_len: int = 2
    iou_threshold: float = 0.3
    tracker: IoUTracker | None = None
    #: as :class:`dawn.assertions.Flicker`'s: both sightings around a gap must score at least this
    min_score: float | None = None
    _tracks: dict[int, list] = field(
        default_factory=dict, init=False, repr=False
    )  # id -> [first, last, box, score, n, sightings while the track may still be brief]
    _frame: int = field(default=-1, init=False, repr=False)
    _first_frame: int | None = field(default=None, init=False, repr=False)

    def update(
        self,
        frame: int,
        boxes: np.ndarray,
        scores: np.ndarray,
        track_ids: np.ndarray | None = None,
        classes: np.ndarray | None = None,
    ) -> list[StreamEvent]:
        """One frame's detections; the events that became certain. Without ``track_ids`` the built-in
        tracker assigns them, matching a box only to a track of the same class when ``classes`` (one
        per box) are given, as :func:`dawn.assertions.track` does with a ``cls`` column."""
        boxes, scores, track_ids = _checked(frame, boxes, scores, track_ids)
        if classes is not None and len(np.asarray(classes).reshape(-1)) != len(boxes):
            raise DawnError(
                f"frame {frame}: {len(np.asarray(classes).reshape(-1))} classes for {len(boxes)} boxes",
                "pass one class per box",
            )
        if frame <= self._frame:
            raise DawnError(
                f"frame {frame} arrived after frame {self._frame}", "feed frames in increasing order"
            )
        if self._first_frame is None:
            self._first_frame = frame
        if track_ids is None:
            if self.tracker is None:
                self.tracker = IoUTracker(self.iou_threshold, self.max_gap + 1)
            track_ids = self.tracker.update(
                frame, boxes, None if classes is None else np.asarray(classes).reshape(-1)
            )
        events: list[StreamEvent] = []
        tracks = self._tracks
        for k, b, s in zip(track_ids.tolist(), boxes.tolist(), scores.tolist(), strict=True):
            t = tracks.get(k)
            if t is None:
                # first, last, last box, last score, count, sightings (kept while the track may
                # still be brief, so an appear firing reports each sighting's own box)
                tracks[k] = [frame, frame, b, s, 1, [(frame, b, s)]]
                continue
            gap = frame - t[1] - 1
            # both comparisons, not min(): a NaN score on either side fails the floor
            floor_ok = self.min_score is None or (s >= self.min_score and t[3] >= self.min_score)
            if 0 < gap <= self.max_gap and floor_ok:
                b0 = t[2]
                for g in range(1, gap + 1):
                    w = g / (gap + 1)
                    box = tuple(b0[i] + w * (b[i] - b0[i]) for i in range(4))
                    events.append(
                        StreamEvent("flicker", t[1] + g, k, box, t[3] + w * (s - t[3]), support=min(s, t[3]))
                    )
            t[1], t[2], t[3], t[4] = frame, b, s, t[4] + 1
            if t[5] is not None:
                t[5] = t[5] + [(frame, b, s)] if frame - t[0] + 1 <= self.max_len else None
        self._frame = frame
        events.extend(self._expire(frame - self.max_gap))  # gone for more than max_gap frames: ended
        return events

    def _expire(self, before: int) -> list[StreamEvent]:
        """End tracks last seen before ``before``; short ones that did not start the stream fire."""
        events = []
        for k in [k for k, t in self._tracks.items() if t[1] < before]:
            first, last, _, _, _, sightings = self._tracks.pop(k)
            if last - first + 1 <= self.max_len and first - (self._first_frame or 0) > self.max_gap:
                for f, box, score in sightings:  # the frames it was seen in, each with its own box
                    events.append(StreamEvent("appear", f, k, tuple(box), score))
        return events

    def close(self) -> list[StreamEvent]:
        """End of stream: tracks still alive are cut by the end, so they never count as brief."""
        self._tracks.clear()
        return []


def _checked(
    frame: object, boxes: object, scores: object, track_ids: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One frame's detections as arrays, or a :class:`DawnError` naming what is wrong (as the batch
    assertions' :func:`~dawn.assertions.detection.as_detections` would)."""
    if not isinstance(frame, int | np.integer):
        raise DawnError(f"frame {frame!r} is not a whole number", "pass the frame index as an int")
    try:
        b = np.asarray(boxes, dtype=np.float64)
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise DawnError(
            f"frame {frame}: boxes or scores are not numbers ({exc})", "pass float arrays"
        ) from exc
    if b.size == 0:
        b = b.reshape(0, 4)
    if b.ndim != 2 or b.shape[1] != 4:
        raise DawnError(
            f"frame {frame}: boxes have shape {b.shape}", "pass an (n, 4) array of x1, y1, x2, y2"
        )
    if len(s) != len(b):
        raise DawnError(f"frame {frame}: {len(s)} scores for {len(b)} boxes", "pass one score per box")
    if not (np.isfinite(b).all() and np.isfinite(s).all()):
        raise DawnError(f"frame {frame}: NaN or infinite box or score", "drop or fill those detections")
    check_box_sizes(b, f"frame {frame}: ")
    t = None
    if track_ids is not None:
        t = np.asarray(track_ids).reshape(-1)
        if len(t) != len(b):
            raise DawnError(f"frame {frame}: {len(t)} track ids for {len(b)} boxes", "pass one id per box")
    return b, s, t
