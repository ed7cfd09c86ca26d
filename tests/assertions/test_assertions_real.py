"""Real data: HOG detections on vtest, a real active-learning task, and the peer library."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("cv2", reason="needs opencv-python-headless (pip install dawn[assertions])")


@pytest.mark.data
def test_hog_on_real_frames_and_assertions_run() -> None:
    from dawn import data
    from dawn.assertions import Flicker, MultiBox, Streaming
    from dawn.assertions.experiments.video import FAST, detect_frame

    video = data.load("vtest")
    hog = data.load("hog-people")
    rows = []
    for i, frame in enumerate(video.frames(stop=12)):
        assert frame.shape == (576, 768, 3)
        boxes, scores = detect_frame(hog, frame, FAST)
        rows += [(i, *b, s) for b, s in zip(boxes, scores, strict=True)]
    det = pd.DataFrame(rows, columns=["frame", "x1", "y1", "x2", "y2", "score"])
    assert len(det) >= 12  # vtest has pedestrians in every early frame
    assert ((det["x2"] > det["x1"]) & (det["y2"] > det["y1"])).all()
    batch = Flicker().check(det)
    s = Streaming(Flicker())
    got = []
    for f in range(12):
        r = s.update(det[det["frame"] == f], last_time=f)
        got += r.ids[r.fired].tolist()
    r = s.flush()
    got += r.ids[r.fired].tolist()
    assert got == batch.ids[batch.fired].tolist()
    assert len(MultiBox().check(det).ids) == det["frame"].nunique()


@pytest.mark.data
def test_video_evaluation_on_cached_detections() -> None:
    from dawn.assertions.experiments import video
    from dawn.core.errors import DawnError

    try:
        fast = video.detections(video.FAST, frames=range(0, 200), compute=False)
        ref = video.detections(video.REFERENCE, frames=range(0, 200), compute=False)
    except DawnError:
        pytest.skip("no cached HOG detections; run `dawn assertions detect` once")
    ev = video.evaluate(fast, ref)
    fl = ev["per_assertion"]["flicker"]
    assert fl["firings"] > 5 and 0.0 <= fl["precision"] <= 1.0
    assert fl["real_errors"] == round(fl["precision"] * fl["firings"])
    assert 0.0 <= ev["confident_error_share"] <= 1.0
    # a floor chosen for precision 0.8 on these frames: the evaluation's floored flicker agrees
    floor = video.calibrate_flicker_floor(fast, ref, target=0.8)
    assert floor is not None
    fl2 = video.evaluate(fast, ref, flicker_min_score=floor)["per_assertion"]["flicker_floor"]
    assert 10 <= fl2["firings"] <= fl["firings"] and fl2["precision"] >= 0.8
    try:
        second = video.detections(video.SECOND, frames=range(0, 200), compute=False)
    except DawnError:
        return
    ev2 = video.evaluate(fast, ref, second=second)
    ag = ev2["per_assertion"]["agreement"]
    # the second scan sees people the monitored scan lacks, and the reference confirms most of them
    assert ag["firings"] > 50 and ag["precision"] > 0.5
    # judging the monitored model against itself: nothing is missed
    ev3 = video.evaluate(fast, ref, second=fast)
    assert "agreement" not in ev3["per_assertion"]


@pytest.mark.data
def test_digits_task_curve_improves() -> None:
    from dawn.assertions.experiments.active_learning import Schedule, run_curve
    from dawn.assertions.experiments.tasks import load_task

    task = load_task("digits")
    curve = run_curve(task, "bal", 0, Schedule(20, 20, 80))
    assert [n for n, _ in curve] == [20, 40, 60, 80]
    assert curve[-1][1] > curve[0][1]
    sc = task.scores(task.fit(np.arange(40)))
    assert sc.names == ["shift_invariance", "agreement"]
    assert sc.severity.shape == (len(task.y_pool), 2) and (sc.severity > 0).any()


@pytest.mark.slow
@pytest.mark.data
def test_peer_library_side_by_side() -> None:
    from dawn.assertions.experiments import peer

    res = peer.compare(repeats=1, n=5000)
    assert res["ours"]["demo_int"] == [[1, 3], [1, 5]] == res["ours"]["demo_str"]
    assert res["peer"]["demo_int"] != res["ours"]["demo_int"]  # the original reports wrong rows
    assert res["speedup"]["per_row"] > 10


@pytest.mark.slow
@pytest.mark.data
def test_quick_bench_writes_json(tmp_path: Path) -> None:
    from dawn.cli import main

    assert main(["assertions", "bench", "--quick", "--out", str(tmp_path), "--format", "json"]) == 0
    res = json.loads((tmp_path / "assertions.json").read_text())
    s = res["summary"]
    for key in ("labels_to_target", "label_reduction_vs_best_uncertainty", "gain", "us_per_row"):
        assert key in s
    assert "digits" in s["gain"] and s["us_per_row"] > 0


@pytest.mark.data
def test_domain_shift_task_flags_the_models_errors_with_vader() -> None:
    from dawn.assertions.experiments.active_learning import Schedule, run_curve
    from dawn.assertions.experiments.tasks import load_task

    task = load_task("mr-to-amazon")
    assert len(task.y_pool) == 2472 and len(task.y_test) == 1236
    assert 0.6 < task.sensor_accuracy < 0.8  # VADER on Amazon sentences: a useful but imperfect sensor
    model = task.fit(np.arange(0))  # the movie-review model alone, before any target label
    sc = task.scores(model)
    assert sc.names == ["vader_agreement", "char_agreement"]
    wrong = sc.predictions != task.y_pool
    flagged = sc.severity[:, 0] > 0
    # where the model disagrees with VADER it is wrong far more often than elsewhere
    assert wrong[flagged].mean() > 1.5 * wrong[~flagged].mean()
    diag = task.diagnostics(n_examples=3)
    assert diag["wrong_where_flagged"] == pytest.approx(wrong[flagged].mean())
    assert diag["accuracy"] == pytest.approx(1 - wrong.mean())
    assert len(diag["confident_flagged_errors"]) == 3
    assert diag["confident_flagged_errors"][0][0] >= diag["confident_flagged_errors"][-1][0] > 0.5
    curve = run_curve(task, "bal", 0, Schedule(20, 40, 100))
    assert [n for n, _ in curve] == [20, 60, 100]
    assert all(0.5 < m < 1.0 for _, m in curve)


def test_unknown_domain_shift_task_is_a_clear_error() -> None:
    from dawn.assertions.experiments.shift_task import DomainShiftTask
    from dawn.core.errors import DawnError

    with pytest.raises(DawnError, match="unknown domain-shift task"):
        DomainShiftTask(name="mr-to-mars")


@pytest.mark.data
def test_flights_carrier_model_does_not_diverge_on_a_few_thousand_flights() -> None:
    from dawn import data
    from dawn.assertions.experiments.weak_supervision import flights_features, flights_model

    f = data.load("flights")
    f = f[f["tailnum"].notna() & f["air_time"].notna()].reset_index(drop=True)
    X, y = flights_features(f)
    idx = np.random.default_rng(12345).permutation(len(f))[:3000]
    model = flights_model().fit(X.iloc[idx], y[idx])
    # without the L2 penalty this fit diverged to 0.18 training accuracy
    assert (model.predict(X.iloc[idx]) == y[idx]).mean() > 0.8


def test_confident_errors_count_each_error_once() -> None:
    """Two assertions finding the same missed person (same frame, overlapping boxes) is one error;
    it is confident if either saw it so."""
    from dawn.assertions.experiments.video import _distinct_errors

    box = np.array([[10.0, 10.0, 50.0, 110.0]])
    flicker = (np.array([3]), box, np.array([False]), np.array([True]))
    agreement = (
        np.array([3, 3, 4]),
        np.r_[box + 2.0, [[200.0, 10.0, 240.0, 110.0]], box],  # the same person, another one, next frame
        np.array([True, False, False]),
        np.array([False, False, False]),
    )
    assert _distinct_errors([flicker, agreement], 0.4) == (3, 1, 1)
    assert _distinct_errors([flicker], 0.4) == (1, 0, 1)
