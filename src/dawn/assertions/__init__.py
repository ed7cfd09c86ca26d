"""Model assertions for monitoring, active learning and weak supervision (Kang et al., MLSys 2020).

An assertion is a vectorised function over a model's inputs and outputs (and a recent window of them)
that returns a per-item severity when the output is probably wrong, plus an optional correction.
"""

from dawn.assertions.active import (
    BAL,
    ActiveLoop,
    BanditUCB,
    PoolScores,
    RandomSampling,
    Uncertainty,
    make_strategy,
)
from dawn.assertions.base import (
    Assertion,
    AssertionResult,
    FunctionAssertion,
    Streaming,
    assertion,
    check_all,
)
from dawn.assertions.builtin import Agreement, Appear, ClassFlip, Flicker, Invariant, MultiBox, Range
from dawn.assertions.calibration import floor_for_precision
from dawn.assertions.consistency import AttributeConsistency, Consistency, TransitionConsistency
from dawn.assertions.detection import IoUTracker, as_detections, iou, track
from dawn.assertions.monitor import AssertionFired, Hook, Monitor
from dawn.assertions.store import EventStore
from dawn.assertions.streaming import StreamEvent, StreamingVideoAssertions
from dawn.assertions.weak import apply_detection_corrections, label_matrix, majority_vote, weak_labels

__all__ = [
    "BAL",
    "ActiveLoop",
    "Agreement",
    "Appear",
    "Assertion",
    "AssertionFired",
    "AssertionResult",
    "AttributeConsistency",
    "BanditUCB",
    "ClassFlip",
    "Consistency",
    "EventStore",
    "Flicker",
    "FunctionAssertion",
    "Hook",
    "Invariant",
    "IoUTracker",
    "Monitor",
    "MultiBox",
    "PoolScores",
    "RandomSampling",
    "Range",
    "StreamEvent",
    "Streaming",
    "StreamingVideoAssertions",
    "TransitionConsistency",
    "Uncertainty",
    "apply_detection_corrections",
    "as_detections",
    "assertion",
    "check_all",
    "floor_for_precision",
    "iou",
    "label_matrix",
    "majority_vote",
    "make_strategy",
    "track",
    "weak_labels",
]
