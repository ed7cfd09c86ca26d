"""Detection types, IoU, tracker, built-in assertions and streaming."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dawn.assertions import (
    Agreement,
    Appear,
    ClassFlip,
    Flicker,
    FunctionAssertion,
    Invariant,
    IoUTracker,
    MultiBox,
    Range,
    Streaming,
    StreamingVideoAssertions,
    apply_detection_corrections,
    as_detections,
    assertion,
    check_all,
    iou,
    track,
)
from dawn.core.errors import DawnError


def _walkers(
    n_frames: int = 30, drop: tuple[tuple[int, int], ...] = ((0, 10),), blip: int | None = 20
) -> pd.DataFrame:
    """Two people walking right; ``drop`` removes (person, frame) boxes; ``blip`` adds a 1-frame box."""
    rows = []
    for f in range(n_frames):
        for p, y in ((0, 50.0), (1, 300.0)):
            if (p, f) in drop:
                continue
            x = 10.0 + 5 * f
            rows.append((f, x, y, x + 60, y + 120, 2.0 + p, 0))
    if blip is not None:
        rows.append((blip, 600.0, 400.0, 660.0, 520.0, 0.4, 0))
    return pd.DataFrame(rows, columns=["frame", "x1", "y1", "x2", "y2", "score", "cls"])


def test_iou_matrix_known_values() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    m = iou(a, b)
    assert m.shape == (2, 3)
    assert m[0].tolist() == pytest.approx([1.0, 50 / 150, 0.0])
    assert m[1].tolist() == [0.0, 0.0, 0.0]  # zero-size box matches nothing


def test_tracker_keeps_identity_through_a_gap() -> None:
    det = track(_walkers())
    per_person = det[det["y1"] == 50.0]["track"].unique()
    assert len(per_person) == 1  # one id despite the missing frame 10
    assert det["track"].nunique() == 3  # two people + the blip


def test_tracker_rejects_out_of_order_frames_by_age() -> None:
    t = IoUTracker(max_age=1)
    a = t.update(0, np.array([[0, 0, 10, 10]]))
    b = t.update(3, np.array([[0, 0, 10, 10]]))  # gap of 3 > max_age: a new track
    assert a[0] != b[0]


def test_tracker_small_frames_match_exactly_as_the_matrix_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small frames are matched in plain Python; the ids must equal those of the numpy IoU matrix
    and greedy_match, ties (a coarse grid of boxes), classes and expiry included."""
    from dawn.assertions import detection

    rng = np.random.default_rng(0)
    streams = []
    for _ in range(60):
        frames = []
        for _f in range(30):
            n = int(rng.integers(0, 7))
            xy = rng.integers(0, 5, size=(n, 2)) * 10.0
            wh = rng.integers(0, 4, size=(n, 2)) * 10.0
            frames.append((np.c_[xy, xy + wh], rng.integers(0, 2, n)))
        streams.append((float(rng.choice([0.0, 0.3, 0.5])), int(rng.integers(1, 4)), frames))

    def run() -> list[list[list[int]]]:
        out = []
        for thr, age, frames in streams:
            t = IoUTracker(thr, age)
            out.append([t.update(f, b, c).tolist() for f, (b, c) in enumerate(frames)])
        return out

    small = run()
    monkeypatch.setattr(detection, "SMALL_MATCH", 0)  # every frame through iou() and greedy_match()
    assert run() == small
    assert any(len(set(sum(ids, []))) > 1 for ids in small)  # tracks were formed and told apart


def test_flicker_finds_the_gap_and_interpolates() -> None:
    r = Flicker().check(_walkers())
    assert r.ids[r.fired].tolist() == [10]
    c = r.corrections
    assert c[["frame", "x1", "y1"]].values.tolist() == [[10, 60.0, 50.0]]


def test_flicker_score_floor_keeps_only_gaps_seen_strongly_on_both_sides() -> None:
    df = _walkers(drop=((0, 10), (1, 15)))  # person 0 scores 2.0, person 1 scores 3.0
    r = Flicker().check(df)
    assert r.ids[r.fired].tolist() == [10, 15]
    assert r.corrections["support"].tolist() == [2.0, 3.0]
    df.loc[(df["frame"] == 16) & (df["y1"] == 300.0), "score"] = 1.0  # weak sighting after the gap
    assert Flicker().check(df).corrections["support"].tolist() == [2.0, 1.0]
    floored = Flicker(min_score=1.5).check(df)
    assert floored.ids[floored.fired].tolist() == [10]
    assert floored.corrections["support"].tolist() == [2.0]
    at_floor = Flicker(min_score=2.0).check(df)  # a support equal to the floor passes it
    assert at_floor.ids[at_floor.fired].tolist() == [10]

    def stream(min_score: float) -> list[tuple[int, float | None]]:
        sv = StreamingVideoAssertions(min_score=min_score)
        events = []
        for f in range(30):
            rows = df[df["frame"] == f]
            events += sv.update(f, rows[["x1", "y1", "x2", "y2"]].to_numpy(), rows["score"].to_numpy())
        return [(e.frame, e.support) for e in events if e.assertion == "flicker"]

    assert stream(1.5) == stream(2.0) == [(10, 2.0)]
    assert stream(0.5) == [(10, 2.0), (15, 1.0)]


def test_streaming_video_assertions_refuse_bad_detections_like_the_batch_ones() -> None:
    box = np.array([[0.0, 0.0, 10.0, 20.0]])
    cases = [
        (1, box, np.array([np.nan]), None, "NaN"),  # batch Flicker refuses NaN scores too
        (1, np.array([[10.0, 0.0, 0.0, 20.0]]), np.array([0.9]), None, "negative size"),
        (1, np.zeros((1, 3)), np.array([0.9]), None, "shape"),
        (1, box, np.array([0.9, 0.8]), None, "2 scores for 1 boxes"),
        (1, box, np.array([0.9]), np.array([1, 2]), "track ids"),
        ("1", box, np.array([0.9]), None, "whole number"),
    ]
    for frame, boxes, scores, tracks, msg in cases:
        sv = StreamingVideoAssertions(min_score=0.5)
        sv.update(0, box, np.array([0.9]))
        with pytest.raises(DawnError, match=msg):
            sv.update(frame, boxes, scores, tracks)  # type: ignore[arg-type]
    sv = StreamingVideoAssertions()
    assert sv.update(0, [], []) == []  # an empty frame, given as empty lists


def test_flicker_on_shuffled_rows_with_string_index() -> None:
    df = _walkers().sample(frac=1.0, random_state=0)
    df.index = [f"d{i}" for i in range(len(df))]
    assert Flicker().check(df).ids[Flicker().check(df).fired].tolist() == [10]


def test_appear_flags_the_blip_only() -> None:
    df = _walkers()
    r = Appear().check(df)
    assert r.ids[r.fired].tolist() == [20]
    assert df.loc[r.corrections["row"], "x1"].tolist() == [600.0]


def test_multibox_needs_three_overlapping_boxes() -> None:
    base = [
        (0, 0, 0, 100, 200, 1.0),
        (0, 5, 5, 100, 200, 2.0),
        (1, 0, 0, 100, 200, 1.0),
        (1, 2, 0, 98, 200, 0.5),
    ]
    extra = [(1, 0, 10, 95, 190, 0.7), (1, 400, 0, 500, 200, 3.0)]
    df = pd.DataFrame(base + extra, columns=["frame", "x1", "y1", "x2", "y2", "score"])
    r = MultiBox().check(df)
    assert r.ids[r.fired].tolist() == [1]
    kept_removed = df.loc[r.corrections["row"], "score"].tolist()
    assert sorted(kept_removed) == [0.5, 0.7]  # the highest-scoring box of the group stays


def test_class_flip_a_b_a() -> None:
    df = pd.DataFrame(
        {
            "track": [1] * 7 + [2] * 3,
            "frame": list(range(7)) + [0, 1, 2],
            "cls": ["a", "a", "b", "a", "a", "a", "a", "a", "b", "b"],
        }
    )
    df = df.iloc[::-1]  # reverse order: results must not depend on it
    r = ClassFlip().check(df)
    fired = df.loc[r.ids[r.fired]]
    assert fired[["track", "frame"]].values.tolist() == [[1, 2]]
    assert r.corrections["value"].tolist() == ["a"]


def test_agreement_between_two_detectors_and_two_classifiers() -> None:
    a = pd.DataFrame(
        {"frame": [0, 0, 1], "x1": [0, 100, 0], "y1": 0, "x2": [10, 110, 10], "y2": 10, "score": 1.0}
    )
    b = pd.DataFrame({"frame": [0, 2], "x1": [1, 0], "y1": 0, "x2": [10, 10], "y2": 10, "score": 1.0})
    r = Agreement().check((a, b))
    assert dict(zip(r.ids.tolist(), r.severity.tolist(), strict=True)) == {0: 1.0, 1: 1.0, 2: 1.0}
    r2 = Agreement().check((np.array([0, 1, 1]), np.array([0, 0, 1])))
    assert r2.severity.tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(DawnError, match="pair"):
        Agreement().check(a)


def test_range_invariant_and_function_assertions_keep_index() -> None:
    df = pd.DataFrame({"p": [0.2, 1.5, np.nan, -0.1], "q": [0.8, 0.1, 0.5, 0.1]}, index=[10, 20, 30, 40])
    r = Range(column="p", low=0, high=1).check(df)
    assert r.severity.tolist() == pytest.approx([0.0, 0.5, 1.0, 0.1])
    assert r.ids.tolist() == [10, 20, 30, 40]
    inv = Invariant(expr="p + q <= 1.0001").check(df)
    assert inv.ids[inv.fired].tolist() == [20, 30]  # NaN comparisons are false: flagged

    @assertion(name="neg")
    def neg(outputs: pd.DataFrame, inputs: object) -> np.ndarray:
        return outputs["p"].to_numpy() < 0

    assert isinstance(neg, FunctionAssertion)
    assert neg.check(df).flagged().index.tolist() == [40]
    bad = FunctionAssertion(lambda o, i: np.zeros(2), name="short")
    with pytest.raises(DawnError, match="2 severities for 4"):
        bad.check(df)


@pytest.mark.parametrize(
    ("df", "msg"),
    [
        (pd.DataFrame({"frame": [0], "x1": [0.0], "y1": [0.0], "x2": [1.0]}), "lack column"),
        (pd.DataFrame({"frame": [0], "x1": [0], "y1": [0], "x2": [1], "y2": [1], "score": [np.nan]}), "NaN"),
        (
            pd.DataFrame({"frame": [0], "x1": [5], "y1": [0], "x2": [1], "y2": [1], "score": [1.0]}),
            "negative size",
        ),
        (
            pd.DataFrame({"frame": [0], "x1": ["a"], "y1": [0], "x2": [1], "y2": [1], "score": [1.0]}),
            "not numeric",
        ),
        (pd.DataFrame({"frame": [1.5], "x1": [0], "y1": [0], "x2": [1], "y2": [1], "score": [1.0]}), "whole"),
        (
            pd.DataFrame({"frame": [0], "x1": [0], "y1": [0], "x2": [np.inf], "y2": [1], "score": [1.0]}),
            "infinite",
        ),
        (
            pd.DataFrame(
                {"frame": [0], "x1": [0], "y1": [0], "x2": [1], "y2": [1], "score": [1.0], "cls": [None]}
            ),
            "'cls' has 1 missing",
        ),
    ],
)
def test_bad_detections(df: pd.DataFrame, msg: str) -> None:
    with pytest.raises(DawnError, match=msg):
        as_detections(df)


def test_streaming_wrapper_matches_batch_across_batch_boundaries() -> None:
    df = _walkers(60, drop=((0, 10), (1, 29), (1, 30), (0, 45)), blip=20)
    batch = Flicker().check(df)
    expect = batch.ids[batch.fired].tolist()
    s = Streaming(Flicker())
    got: list[int] = []
    for start in range(0, 60, 7):  # batches of 7 frames split the gap at 29-30
        r = s.update(df[(df["frame"] >= start) & (df["frame"] < start + 7)], last_time=start + 6)
        got += r.ids[r.fired].tolist()
    r = s.flush()
    got += r.ids[r.fired].tolist()
    assert got == expect == [10, 29, 30, 45]
    with pytest.raises(DawnError, match="out-of-order"):
        s2 = Streaming(Flicker())
        s2.update(df[df["frame"] < 20])
        s2.update(df[df["frame"] < 5])


def test_streaming_wrapper_refuses_resent_frames_and_survives_a_refused_batch() -> None:
    df = _walkers(40, drop=((0, 15),), blip=None)
    clean = Streaming(Flicker())
    got_clean = []
    for start in range(0, 40, 5):
        r = clean.update(df[(df["frame"] >= start) & (df["frame"] < start + 5)], last_time=start + 4)
        got_clean += r.ids[r.fired].tolist()
    got_clean += (lambda r: r.ids[r.fired].tolist())(clean.flush())
    assert got_clean == [15]
    s = Streaming(Flicker())
    s.update(df[df["frame"] < 10], last_time=9)
    with pytest.raises(DawnError, match="already received"):
        s.update(df[(df["frame"] >= 7) & (df["frame"] < 9)])  # frames 7-8 again
    got: list[int] = []
    for start in range(10, 40, 5):
        part = df[(df["frame"] >= start) & (df["frame"] < start + 5)]
        if start == 15:
            broken = part.copy()
            broken.loc[broken.index[0], "score"] = np.nan
            with pytest.raises(DawnError, match="NaN"):
                s.update(broken, last_time=start + 4)
        r = s.update(part, last_time=start + 4)  # the same batch, fixed
        got += r.ids[r.fired].tolist()
    got += (lambda r: r.ids[r.fired].tolist())(s.flush())
    assert got == got_clean


def test_streaming_video_assertions_constant_state() -> None:
    df = _walkers(40, drop=((0, 10), (1, 29), (1, 30)), blip=20)
    sv = StreamingVideoAssertions(max_gap=2, max_len=2)
    events = []
    for f in range(40):
        rows = df[df["frame"] == f]
        events += sv.update(f, rows[["x1", "y1", "x2", "y2"]].to_numpy(), rows["score"].to_numpy())
    flicker = sorted(e.frame for e in events if e.assertion == "flicker")
    appear = [e.frame for e in events if e.assertion == "appear"]
    assert flicker == [10, 29, 30] and appear == [20]
    assert len(sv._tracks) <= 3
    with pytest.raises(DawnError, match="increasing order"):
        sv.update(5, np.zeros((0, 4)), np.zeros(0))


def test_apply_corrections_fixes_flicker_and_blip() -> None:
    df = as_detections(_walkers())
    fixed = apply_detection_corrections(df, [Flicker().check(df).corrections, Appear().check(df).corrections])
    assert len(fixed) == len(df)  # one added, one removed
    assert fixed["weak"].sum() == 1
    assert not (fixed["x1"] == 600.0).any()


def _stream(det: pd.DataFrame, n_frames: int) -> list:
    """Feed a detection table frame by frame to StreamingVideoAssertions (built-in tracker); the events."""
    sv = StreamingVideoAssertions(max_gap=2, max_len=2)
    events = []
    for f in range(n_frames):
        g = det[det["frame"] == f]
        events += sv.update(f, g[["x1", "y1", "x2", "y2"]].to_numpy(), g["score"].to_numpy())
    return events + sv.close()


def test_streaming_appear_matches_batch_appear_on_random_streams() -> None:
    """A track gone for more than max_gap frames has ended: the live stream must say so in time for
    brief tracks near the end of the stream to fire, as the batch assertion does (both track with the
    built-in tracker)."""
    rng = np.random.default_rng(1)
    n_fired = 0
    for _ in range(40):
        rows, n_frames = [], int(rng.integers(6, 25))
        for k in range(5):
            seen = rng.random(n_frames) < rng.choice([0.15, 0.6, 0.95])
            rows += [(int(f), 100.0 * k, 0.0, 100.0 * k + 50, 50.0, 0.9) for f in np.flatnonzero(seen)]
        rows.append((0, 900.0, 0.0, 950.0, 50.0, 0.9))  # the stream starts at frame 0
        rows.append((n_frames - 1, 900.0, 0.0, 950.0, 50.0, 0.9))  # and ends at the last frame
        det = pd.DataFrame(rows, columns=["frame", "x1", "y1", "x2", "y2", "score"])
        batch = Appear().check(det).corrections
        streamed = sorted((e.frame, e.box[0]) for e in _stream(det, n_frames) if e.assertion == "appear")
        assert streamed == sorted(zip(batch["frame"].tolist(), batch["x1"].tolist(), strict=True))
        n_fired += len(streamed)
    assert n_fired > 10  # the streams did contain brief appearances


def test_an_empty_detection_table_fires_nothing() -> None:
    empty = pd.DataFrame(columns=["frame", "x1", "y1", "x2", "y2", "score"], dtype=float)
    for a in (Flicker(), Appear(), MultiBox()):
        r = a.check(empty)
        assert len(r.ids) == 0 and not r.fired.any()
    assert len(track(empty)) == 0
    assert len(Streaming(Flicker()).update(empty, last_time=3).ids) == 0


def test_corrections_apply_to_per_frame_tables_concatenated_without_ignore_index() -> None:
    frames = []
    for f in range(12):
        rows = [(f, 0.0, 0.0, 10.0, 10.0, 0.9)]
        if f == 6:  # a one-frame spurious box, index label 0 as every frame's first box
            rows.insert(0, (f, 100.0, 100.0, 110.0, 110.0, 0.5))
        frames.append(pd.DataFrame(rows, columns=["frame", "x1", "y1", "x2", "y2", "score"]))
    det = pd.concat(frames)  # labels 0 (and 1 in frame 6) repeat across frames
    corr = Appear().check(det).corrections
    assert corr["frame"].tolist() == [6]
    fixed = apply_detection_corrections(det, [corr])
    assert len(fixed) == 12 and (fixed["x1"] == 0.0).all()  # only the spurious box is gone
    same_frame = pd.concat([frames[6], frames[6].assign(x1=300.0, x2=310.0)])  # labels repeat in frame 6
    with pytest.raises(DawnError, match="repeat an index label within a frame"):
        apply_detection_corrections(same_frame, [corr])


def test_two_close_flickers_are_two_flickers_in_batch_and_stream() -> None:
    present = [f for f in range(13) if f not in (5, 7)]  # one box, missing at frames 5 and 7
    det = pd.DataFrame({"frame": present, "x1": 0.0, "y1": 0.0, "x2": 10.0, "y2": 10.0, "score": 0.9})
    r = Flicker().check(det)
    assert r.ids[r.fired].tolist() == [5, 7]
    sv = StreamingVideoAssertions(max_gap=2)
    events = []
    for f in range(13):
        b = np.array([[0.0, 0.0, 10.0, 10.0]]) if f in present else np.zeros((0, 4))
        events += sv.update(f, b, np.full(len(b), 0.9))
    assert [e.frame for e in events if e.assertion == "flicker"] == [5, 7]


def test_streaming_flicker_matches_batch_flicker_on_random_streams() -> None:
    rng = np.random.default_rng(2)
    n_fired = 0
    for _ in range(40):
        n_frames = int(rng.integers(6, 25))
        rows = []
        for k in range(5):
            seen = rng.random(n_frames) < rng.choice([0.5, 0.8, 0.95])
            rows += [
                (int(f), 100.0 * k, 0.0, 100.0 * k + 50, 50.0, 0.5 + 0.1 * k) for f in np.flatnonzero(seen)
            ]
        det = pd.DataFrame(rows, columns=["frame", "x1", "y1", "x2", "y2", "score"])
        batch = Flicker().check(det).corrections
        events = _stream(det, n_frames)
        streamed = sorted((e.frame, e.box[0], round(e.score, 9)) for e in events if e.assertion == "flicker")
        expected = zip(
            batch["id"].tolist(), batch["x1"].tolist(), batch["score"].round(9).tolist(), strict=True
        )
        assert streamed == sorted(expected)
        n_fired += len(streamed)
    assert n_fired > 20


def test_multibox_needs_three_boxes_that_all_overlap_each_other() -> None:
    # a large box holding two people side by side who do not overlap: no group of three
    apart = pd.DataFrame(
        {"frame": 0, "x1": [0, 0, 60], "y1": 0, "x2": [100, 40, 100], "y2": 100, "score": [0.9, 0.8, 0.7]}
    )
    r = MultiBox().check(apart)
    assert not r.fired.any() and r.corrections.empty
    # the same frame plus a fourth box over the left person: {large, left, fourth} all overlap
    four = pd.concat(
        [apart, pd.DataFrame({"frame": [0], "x1": [2], "y1": [0], "x2": [42], "y2": [100], "score": [0.95]})]
    )
    four.index = range(4)
    r = MultiBox().check(four)
    assert r.severity.tolist() == [1.0]
    assert sorted(r.corrections["row"].tolist()) == [0, 1]  # keep the best-scoring box of the group (row 3)


@pytest.mark.parametrize("which", ["class_flip", "transitions"])
def test_streaming_row_level_assertions_match_the_batch_on_random_streams(which: str) -> None:
    """ClassFlip and TransitionConsistency report rows, not frames: the stream emits each row's verdict
    by its time, under the label the row had in its batch (shuffled, non-default labels here)."""
    from dawn.assertions import TransitionConsistency

    rng = np.random.default_rng(7)
    n_fired = 0
    for _ in range(30):
        rows = []
        for k in range(3):
            cls = "car"
            for f in range(40):
                if rng.random() < 0.15:
                    continue
                if rng.random() < 0.15:
                    cls = str(rng.choice(["car", "truck", "bus"]))
                rows.append((k, f, cls))
        df = pd.DataFrame(rows, columns=["track", "frame", "cls"]).sort_values("frame", kind="stable")
        df.index = rng.permutation(len(df)) + 1000
        inner = (
            ClassFlip(max_run=3)
            if which == "class_flip"
            else TransitionConsistency(id_col="track", time_col="frame", horizon=3, period=1)
        )
        # the stream has seen frames 0-39 (last_time), rows or not: the batch is told the same
        full = inner.check(df, span=(df["frame"].min(), 39)) if inner.takes_span else inner.check(df)
        stream = Streaming(inner, time_col="frame")
        got: list[int] = []
        lo = 0
        for cut in [*np.sort(rng.choice(np.arange(1, 40), 6, replace=False)).tolist(), 40]:
            r = stream.update(df[(df["frame"] >= lo) & (df["frame"] < cut)], last_time=cut - 1)
            got += r.ids[r.fired].tolist()
            lo = cut
        r = stream.flush()
        got += r.ids[r.fired].tolist()
        assert sorted(got) == sorted(full.ids[full.fired].tolist())
        n_fired += len(got)
    assert n_fired > 30


def test_expand_counts_gives_one_entry_per_unit_with_its_owner_and_position() -> None:
    from dawn.assertions.base import expand_counts

    owner, pos = expand_counts(np.array([2, 0, 3]))
    assert owner.tolist() == [0, 0, 2, 2, 2] and pos.tolist() == [0, 1, 0, 1, 2]
    owner, pos = expand_counts(np.zeros(0, dtype=np.int64))
    assert len(owner) == 0 and len(pos) == 0


@pytest.mark.parametrize(("run", "fires"), [(1, True), (2, True), (3, False)])
def test_class_flip_fires_for_a_b_run_of_at_most_max_run_frames(run: int, fires: bool) -> None:
    """``max_run=2``: A, B, B, A (a run of max_run) fires; A, B, B, B, A (max_run + 1) does not."""
    cls = [0] + [1] * run + [0]
    df = pd.DataFrame({"track": 7, "frame": range(len(cls)), "cls": cls})
    r = ClassFlip(max_run=2).check(df)
    assert r.ids[r.fired].tolist() == (list(range(1, run + 1)) if fires else [])


def test_multibox_refuses_an_unknown_overlap() -> None:
    assert MultiBox(overlap="iou").overlap == "iou"
    for bad in ("IoU", "iso", ""):
        with pytest.raises(DawnError, match="unknown overlap"):
            MultiBox(overlap=bad)


@pytest.mark.parametrize(
    ("call", "msg"),
    [
        (lambda: Range(column="p").check(np.zeros((3, 2))), "range needs a pandas DataFrame, got ndarray"),
        (lambda: Range(column="p").check(pd.Series([1.0])), "range needs a pandas DataFrame, got Series"),
        (lambda: Range(column="p").check(pd.DataFrame({"p": ["a", "b"]})), "'p' is .*, not numeric"),
        (
            lambda: ClassFlip().check(np.zeros((3, 3))),
            "class_flip needs a pandas DataFrame.*track, frame, cls",
        ),
        (lambda: track(np.zeros((3, 6))), "detections must be a pandas DataFrame"),
        (lambda: Invariant(expr="a > 0").check(np.zeros(3)), "invariant needs a pandas DataFrame"),
        (lambda: Streaming(ClassFlip()).update(np.zeros((3, 3))), "streaming batch needs a pandas DataFrame"),
        (lambda: check_all(Range(column="p"), pd.DataFrame({"p": [1.0]})), "needs a list of assertions"),
        (lambda: check_all([len], pd.DataFrame({"p": [1.0]})), r"wrap it: FunctionAssertion\(len"),
        (lambda: apply_detection_corrections(_walkers(), pd.DataFrame()), "list of corrections tables"),
        (lambda: apply_detection_corrections(_walkers().to_numpy(), []), "must be a pandas DataFrame"),
    ],
)
def test_inputs_of_the_wrong_type_name_what_is_expected(call: object, msg: str) -> None:
    with pytest.raises(DawnError, match=msg):
        call()  # type: ignore[operator]


def test_range_with_the_column_given_positionally_says_it_named_the_assertion() -> None:
    with pytest.raises(DawnError, match=r"Range\('p'\) sets the assertion's name; pass column='p'"):
        Range("p", high=1.0).check(pd.DataFrame({"p": [2.0]}))
    with pytest.raises(DawnError, match="name an existing column"):
        Range(column="q").check(pd.DataFrame({"p": [2.0]}))


def test_streaming_reports_frames_even_when_frames_equal_the_buffers_row_numbers() -> None:
    """One box per frame makes the stream's row numbers equal the frames: ids must stay frames."""
    a_rows = [dict(frame=f, x1=0, y1=0, x2=10, y2=10, score=0.9, cls=0) for f in (0, 1, 2, 4, 5)]
    b_row = [dict(frame=3, x1=50, y1=50, x2=60, y2=60, score=0.9, cls=0)]
    df = pd.DataFrame(a_rows[:3] + b_row + a_rows[3:], index=["a0", "a1", "a2", "b3", "a4", "a5"])
    s = Streaming(Flicker())
    got = [s.update(df), s.flush()]
    assert Flicker().check(df).flagged().to_dict() == {3: 1.0}
    assert {k: v for r in got for k, v in r.flagged().items()} == {3: 1.0}


def test_streaming_detection_corrections_name_rows_by_their_batch_labels() -> None:
    rows = [dict(frame=f, x1=0, y1=0, x2=10, y2=10, score=0.9, cls=0) for f in range(21)]
    df = pd.DataFrame(rows, index=[f"r{f}" for f in range(21)])
    df.loc["spur"] = dict(frame=10, x1=50, y1=50, x2=60, y2=60, score=0.5, cls=0)
    a = Appear(max_len=1, max_gap=2)
    s = Streaming(a)
    outs = [s.update(df[df.frame < 8]), s.update(df[df.frame >= 8]), s.flush()]
    got = [
        r
        for o in outs
        if o.corrections is not None
        for r in o.corrections[["action", "row"]].to_dict("records")
    ]
    assert (
        got
        == a.check(df).corrections[["action", "row"]].to_dict("records")
        == [{"action": "remove", "row": "spur"}]
    )


def test_class_flip_on_an_empty_table_and_stream_start() -> None:
    empty = pd.DataFrame({"track": [1], "frame": [1], "cls": [0]}).iloc[:0]
    r = ClassFlip().check(empty)
    assert len(r.ids) == 0 and r.corrections is not None and r.corrections.empty
    assert len(Streaming(ClassFlip()).update(empty).ids) == 0


def test_streaming_appear_reports_each_sighting_with_its_own_box() -> None:
    """A brief object seen in frames 10 and 12 (not 11): one appear event per sighting, as the batch."""
    rows = [(f, 0, 0, 10, 10, 0.9, 0) for f in range(25)]
    rows += [(10, 50, 50, 60, 60, 0.4, 1), (12, 52, 50, 62, 60, 0.6, 1)]
    d = pd.DataFrame(rows, columns=["frame", "x1", "y1", "x2", "y2", "score", "track"])
    batch = Appear(max_len=3, max_gap=2).check(d).corrections[["frame", "x1", "score"]]
    sv = StreamingVideoAssertions(max_gap=2, max_len=3)
    events = []
    for f in range(25):
        r = d[d.frame == f]
        events += sv.update(
            f, r[["x1", "y1", "x2", "y2"]].to_numpy(), r["score"].to_numpy(), r["track"].to_numpy()
        )
    appear = [(e.frame, e.box[0], e.score) for e in events + sv.close() if e.assertion == "appear"]
    assert appear == [tuple(v) for v in batch.itertuples(index=False)] == [(10, 50.0, 0.4), (12, 52.0, 0.6)]


def test_streaming_tracker_matches_boxes_of_the_same_class_when_given_classes() -> None:
    """A car missing in frame 5 while a person box sits where it was: a flicker, as batch Flicker
    (whose tracker matches by class) says; without classes the stream cannot tell them apart."""
    rows = [(f, 0, 0, 10, 10, 0.9, 0) for f in range(10) if f != 5] + [(5, 0, 0, 10, 10, 0.9, 1)]
    d = pd.DataFrame(rows, columns=["frame", "x1", "y1", "x2", "y2", "score", "cls"])
    assert Flicker().check(d).flagged().to_dict() == {5: 1.0}
    for given, expected in ((True, [5]), (False, [])):
        sv = StreamingVideoAssertions()
        events = []
        for f in range(10):
            r = d[d.frame == f]
            classes = r["cls"].to_numpy() if given else None
            events += sv.update(
                f, r[["x1", "y1", "x2", "y2"]].to_numpy(), r["score"].to_numpy(), classes=classes
            )
        assert [e.frame for e in events + sv.close() if e.assertion == "flicker"] == expected
    with pytest.raises(DawnError, match="2 classes for 1 boxes"):
        StreamingVideoAssertions().update(0, np.zeros((1, 4)), np.ones(1), classes=np.zeros(2))


def _video_ending_without_boxes() -> pd.DataFrame:
    """A walker in frames 0-17 and a one-off box in frames 16-17; the video runs on to frame 30, empty."""
    rows = [(f, 10.0 + 5 * f, 50.0, 70.0 + 5 * f, 170.0, 2.0) for f in range(18)]
    rows += [(f, 600.0, 400.0, 660.0, 520.0, 0.4) for f in (16, 17)]
    return pd.DataFrame(rows, columns=["frame", "x1", "y1", "x2", "y2", "score"])


def test_appear_fires_near_the_end_of_the_rows_when_told_the_video_went_on() -> None:
    det = _video_ending_without_boxes()
    r = Appear().check(det)  # for all it knows the one-off box goes on after frame 17
    assert not r.fired.any()
    r = Appear().check(det, span=(0, 30))
    assert r.ids[r.fired].tolist() == [16, 17]
    assert r.corrections["x1"].tolist() == [600.0, 600.0]
    with pytest.raises(DawnError, match="does not cover"):
        Appear().check(det, span=(0, 12))
    with pytest.raises(DawnError, match="not a pair of times"):
        Appear().check(det, span=30)


def test_streaming_tells_the_inner_assertion_about_frames_seen_without_rows() -> None:
    """Frames 18-30 hold no box but were seen (``last_time``): the stream's appear fires on the one-off
    box as the batch does with the same span. Before, the stream read the end of its rows as the end
    of what it had seen, and the verdict went out unfired."""
    det = _video_ending_without_boxes()
    s = Streaming(Appear())
    r1 = s.update(det, last_time=30)
    r2 = s.flush()
    got = r1.ids[r1.fired].tolist() + r2.ids[r2.fired].tolist()
    assert got == [16, 17]
    s = Streaming(Appear())  # frame by frame, the empty frames sent as empty batches
    got = []
    for f in range(31):
        r = s.update(det[det["frame"] == f], last_time=f)
        got += r.ids[r.fired].tolist()
    assert got == [16, 17]  # due by frame 30 (lookahead 6): no flush needed


def _random_detections(rng: np.random.Generator, n_frames: int) -> pd.DataFrame:
    rows = []
    for k in range(4):
        seen = rng.random(n_frames) < rng.choice([0.2, 0.6, 0.9])
        flips = rng.random(n_frames) < 0.15  # now and then the class reads wrong (class flip)
        rows += [
            (int(f), 60.0 * k, 0.0, 60.0 * k + 50, 50.0, 0.5 + 0.1 * k, (k + flips[f]) % 2, k)
            for f in np.flatnonzero(seen)
        ]
    for j, f in enumerate(rng.choice(n_frames, 3)):  # a stack of three boxes (multibox)
        rows += [(int(f), 500.0 + d, 0.0, 550.0 + d, 50.0, 0.6, 0, 10 + 3 * j + d) for d in (0, 1, 2)]
    det = pd.DataFrame(rows, columns=["frame", "x1", "y1", "x2", "y2", "score", "cls", "track"])
    det = det.sort_values("frame", kind="stable")
    det.index = rng.permutation(len(det)) + 500
    return det


@pytest.mark.parametrize("which", ["flicker", "appear", "multibox", "class_flip", "transitions"])
def test_streaming_batches_cut_inside_a_frame_match_the_batch_with_complete_false(which: str) -> None:
    """Batches cut by row count split frames between them; sent with ``complete=False`` the stream
    holds back every verdict that depends on the partial frame and ends with the batch's verdicts."""
    from dawn.assertions import TransitionConsistency

    def make() -> Streaming:
        inner = {
            "flicker": Flicker(),
            "appear": Appear(),
            "multibox": MultiBox(),
            "class_flip": ClassFlip(max_run=3),
            "transitions": TransitionConsistency(id_col="cls", time_col="frame", horizon=2, period=1),
        }[which]
        return Streaming(inner)

    rng = np.random.default_rng(11)
    n_fired = 0
    for _ in range(25):
        det = _random_detections(rng, int(rng.integers(8, 30)))
        full = make().inner.check(det)
        s = make()
        got: list = []
        cuts = np.sort(rng.choice(np.arange(1, len(det)), min(5, len(det) - 1), replace=False)).tolist()
        for lo, hi in zip([0, *cuts], [*cuts, len(det)], strict=True):
            r = s.update(det.iloc[lo:hi], complete=hi == len(det))
            got += r.ids[r.fired].tolist()
        r = s.flush()
        got += r.ids[r.fired].tolist()
        assert sorted(got) == sorted(full.ids[full.fired].tolist())
        n_fired += len(got)
    assert n_fired > 10
    if which == "multibox":  # no lookahead: without complete=False a split frame is refused
        det = _random_detections(np.random.default_rng(0), 10)
        f = det["frame"].iloc[len(det) // 2]
        s = make()
        s.update(det[det["frame"] < f])
        part = det[det["frame"] == f]
        s.update(part.iloc[:1])
        with pytest.raises(DawnError, match="complete=False"):
            s.update(part.iloc[1:])


def test_a_stream_that_goes_on_after_a_flush_begins_anew() -> None:
    """After flush() the stream has forgotten what came before: a track seen since frame 0 and
    continuing past the flush is cut off by the new start, not a brief appearance."""
    walker = pd.DataFrame(
        [(f, 10.0 + 5 * f, 50.0, 70.0 + 5 * f, 170.0, 2.0) for f in range(6)],
        columns=["frame", "x1", "y1", "x2", "y2", "score"],
    )
    s = Streaming(Appear())
    got = []
    for f in range(4):
        got += s.update(walker[walker["frame"] == f], last_time=f).flagged().index.tolist()
    got += s.flush().flagged().index.tolist()
    for f in range(4, 30):
        got += s.update(walker[walker["frame"] == f], last_time=f).flagged().index.tolist()
    got += s.flush().flagged().index.tolist()
    assert got == []


def test_tensor_severities_of_any_float_type() -> None:
    import torch

    a = FunctionAssertion(lambda o, i: torch.as_tensor(o, dtype=torch.bfloat16), name="bf16")
    assert a.check(np.array([0.0, 2.0])).severity.tolist() == [0.0, 2.0]
