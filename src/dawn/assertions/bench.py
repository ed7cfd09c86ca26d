"""``dawn assertions bench``: every number in BENCHMARKS.md (assertions), into ``assertions.json``.

Runs the video-monitoring evaluation (flicker, multibox, appear and agreement with a second scan on HOG
detections of vtest, judged by a stronger HOG scan; also on the held-out second half of the video, and
flicker with a score floor chosen on the first half), the active-learning curves (BAL vs baselines,
several seeds, on digits, movie-review sentences, two temporal tasks on vtest, and a movie-review model
deployed on tweets, Amazon sentences and New York Times sentences), weak supervision,
the overhead measurements and, unless ``quick``, the side-by-side with model-assertions 0.0.3.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from dawn.core.errors import DawnError
from dawn.core.io import atomic_write_json, ensure_writable_dir, to_jsonable
from dawn.core.logging import get_logger

log = get_logger(__name__)


def video_section(quick: bool) -> dict[str, Any]:
    from dawn.assertions.experiments import video
    from dawn.assertions.experiments import weak_supervision as ws

    # quick mode reads the cache only (computing it takes minutes: `dawn assertions detect`)
    frames = range(0, 400) if quick else None
    fast = video.detections(video.FAST, frames=frames, compute=not quick)
    ref = video.detections(video.REFERENCE, frames=frames, compute=not quick)
    try:
        second = video.detections(video.SECOND, frames=frames, compute=not quick)
    except DawnError as exc:  # quick mode without the cache: report the other assertions
        log.warning("agreement skipped: %s", exc.one_line())
        second = None
    # flicker's floor on its sightings' scores is chosen on the tuning frames only, for precision 0.9
    tune = fast["frame"] < video.TUNE_FRAMES.stop
    floor = video.calibrate_flicker_floor(fast[tune], ref[ref["frame"] < video.TUNE_FRAMES.stop])
    ev = video.evaluate(fast, ref, second=second, flicker_min_score=floor)
    ev["flicker_floor"] = {
        "min_score": floor,
        "target": 0.9,
        "chosen_on_frames": f"0-{video.TUNE_FRAMES.stop - 1}",
    }
    ev["weak_supervision"] = ws.video(fast, ref)
    ev["frames_used"] = "0-399" if quick else "all 795"
    # defaults may have been chosen looking at the first half; the second half is the held-out check
    halves: dict[str, Any] = {}
    for name, lo, hi in (("tune", 0, video.TUNE_FRAMES.stop), ("held_out", video.TUNE_FRAMES.stop, 795)):
        if quick and name == "held_out":
            continue

        def part(d: Any, lo: int = lo, hi: int = hi) -> Any:
            return None if d is None else d[(d["frame"] >= lo) & (d["frame"] < hi)]

        per: dict[str, Any] = video.evaluate(  # type: ignore[assignment]
            part(fast), part(ref), second=part(second), flicker_min_score=floor
        )["per_assertion"]
        halves[name] = {
            "frames": f"{lo}-{hi - 1}",
            "precision": {k: v["precision"] for k, v in per.items()},
            "firings": {k: v["firings"] for k, v in per.items()},
        }
    ev["halves"] = halves
    return ev


def active_section(quick: bool, seed: int) -> dict[str, Any]:
    from dawn.assertions.experiments import active_learning as al
    from dawn.assertions.experiments.tasks import load_task

    out = {}
    if quick:
        task = load_task("digits")
        out["digits"] = al.run_task(
            task,
            seeds=[seed, seed + 1],
            strategies=("random", "margin", "bal", "bal_unc"),
            sched=al.Schedule(20, 10, 200),
            noise_check=False,
        )
        try:  # the temporal task reads cached detections; a fresh machine skips it in quick mode
            out["vtest-video"] = al.run_task(
                load_task("vtest-video"),
                seeds=[seed, seed + 1],
                strategies=("random", "least_confidence", "bal"),
                sched=al.Schedule(10, 5, 60),
                noise_check=False,
            )
        except DawnError as exc:
            log.warning("vtest-video skipped: %s", exc.one_line())
        return out
    seeds = [seed + k for k in range(5)]
    noise_seeds = [seed + k for k in range(20)]  # the paired noise check needs more seeds
    # temporal tasks on video; binary, so least confidence stands for margin and entropy too
    for name in ("vtest-video", "vtest-frames"):
        out[name] = al.run_task(
            load_task(name),
            seeds=seeds,
            strategies=("random", "least_confidence", "bal", "bal_ucb", "bal_unc"),
            noise_seeds=noise_seeds,
            oracle_check=True,
        )
    from dawn.assertions.experiments.video_task import VideoTask, assertion_precision

    out["vtest-video"]["assertion_precision"] = assertion_precision(VideoTask())
    out["vtest-frames-proposals"] = al.run_task(  # uncertainty over every proposal: a stronger baseline
        _frames_all_proposals(), seeds=seeds, strategies=("least_confidence", "bal"), noise_check=False
    )
    out["digits"] = al.run_task(load_task("digits"), seeds=seeds, noise_seeds=noise_seeds, oracle_check=True)
    # binary task: least confidence, margin and entropy rank items identically, so one run stands for all
    out["vader-mr"] = al.run_task(
        load_task("vader-mr"),
        seeds=seeds,
        strategies=("random", "least_confidence", "bal", "bal_ucb", "bal_unc"),
        noise_seeds=noise_seeds,
        oracle_check=True,
    )
    # the paper's fine-tuning on a new domain: a movie-review model deployed on tweets / Amazon / NYT
    from dawn.assertions.experiments.shift_task import DomainShiftTask

    for name in ("mr-to-tweets", "mr-to-amazon", "mr-to-nyt"):
        shifted = DomainShiftTask(name=name)
        out[name] = al.run_task(
            shifted,
            seeds=seeds,
            strategies=("random", "least_confidence", "bal", "bal_ucb", "bal_unc"),
            noise_seeds=noise_seeds,
            oracle_check=True,
        )
        out[name]["sensor_accuracy"] = {"vader_agreement": shifted.sensor_accuracy}
        out[name]["before_target_labels"] = shifted.diagnostics()
    return out


def _frames_all_proposals() -> Any:
    from dawn.assertions.experiments.video_task import VideoFrameTask

    return VideoFrameTask(uncertainty="proposals")


def weak_section(quick: bool, seed: int) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    from dawn.assertions.experiments import weak_supervision as ws
    from dawn.assertions.experiments.tasks import DigitsTask

    seeds = [seed + k for k in range(2 if quick else 5)]
    with threadpool_limits(1):
        out = {"digits": ws.digits(DigitsTask(), seeds=seeds)}
        if not quick:  # ~25 s per seed on this machine
            out["flights"] = ws.flights(seeds=seeds)
    return out


def overhead_section(quick: bool) -> dict[str, Any]:
    from dawn.assertions.experiments import overhead, video

    out: dict[str, Any] = {
        "per_row": overhead.per_row(n=200_000 if quick else 1_000_000, repeats=5 if quick else 9)
    }
    try:
        out["streaming"] = overhead.streaming(
            video.detections(video.FAST, compute=False), repeats=3 if quick else 7
        )
    except DawnError as exc:
        out["streaming"] = {"skipped": exc.one_line()}
    out["wrapping"] = overhead.wrapping(repeats=7 if quick else 21)
    return out


def _summary(res: dict[str, Any]) -> dict[str, Any]:
    s: dict[str, Any] = {}
    v = res.get("video", {})
    if "per_assertion" in v:
        s["precision"] = {k: round(x["precision"], 3) for k, x in v["per_assertion"].items()}
        if "held_out" in v.get("halves", {}):
            s["precision_held_out"] = {
                k: round(x, 3) for k, x in v["halves"]["held_out"]["precision"].items()
            }
        s["confident_error_share"] = v["confident_error_share"]
        s["frame_confident_error_share"] = v.get("frame_confident_error_share")
        s["video_weak_f1_gain"] = v["weak_supervision"]["gain"]
    al = res.get("active_learning", {})
    s["labels_to_target"] = {
        t: {k: round(x["labels_to_target"], 1) for k, x in r["strategies"].items()} for t, r in al.items()
    }
    s["label_reduction_vs_best_uncertainty"] = {
        t: r.get("label_reduction_vs_best_uncertainty") for t, r in al.items()
    }
    s["label_reduction_vs_best_uncertainty_bal_unc"] = {t: r.get("bal_unc_reduction") for t, r in al.items()}
    # the control: BAL with one assertion that flags exactly the model's errors
    s["oracle_reduction_vs_best_uncertainty"] = {
        t: r["oracle_reduction_vs_best_uncertainty"]
        for t, r in al.items()
        if "oracle_reduction_vs_best_uncertainty" in r
    }
    s["bal_vs_random"] = {t: r.get("bal_vs_random") for t, r in al.items()}
    s["sensor_accuracy"] = {t: r["sensor_accuracy"] for t, r in al.items() if "sensor_accuracy" in r}
    s["noise_change"] = {t: r.get("noise_change") for t, r in al.items() if "noise_change" in r}
    s["noise_check"] = {
        t: {"seeds": len(r["noise_check"]["seeds"]), "paired_diff_ci95": r["noise_check"]["paired_diff_ci95"]}
        for t, r in al.items()
        if "noise_check" in r
    }
    if "assertion_precision" in al.get("vtest-video", {}):
        s["vtest_video_assertion_precision"] = {
            k: round(x["precision"], 3) for k, x in al["vtest-video"]["assertion_precision"].items()
        }
        s["vtest_video_confident_error_share"] = {
            k: x["confident_error_share"] for k, x in al["vtest-video"]["assertion_precision"].items()
        }
    w = res.get("weak_supervision", {})
    if "digits" in w:
        s["gain"] = {t: w[t]["gain"] for t in ("flights", "digits") if t in w}
        s["weak_precision"] = {t: w[t]["weak_precision"] for t in ("flights", "digits") if t in w}
    o = res.get("overhead", {})
    s["us_per_row"] = o.get("per_row", {}).get("us_per_row")
    s["us_per_detection_streaming"] = o.get("streaming", {}).get("us_per_detection")
    s["us_per_detection_streaming_with_tracker"] = o.get("streaming", {}).get("us_per_detection_with_tracker")
    s["wrap_overhead_us"] = o.get("wrapping", {}).get("overhead_us")
    s["wrap_overhead_vs_1ms"] = o.get("wrapping", {}).get("overhead_vs_1ms")
    s["wrap_end_to_end"] = o.get("wrapping", {}).get("end_to_end")
    p = res.get("peer", {})
    s["speedup_vs_omg"] = p.get("speedup_total")
    s["speedup_vs_omg_per_assertion"] = p.get("speedup")
    return s


def run_bench(
    out_dir: str | Path = "results/assertions", *, quick: bool = False, seed: int = 0, peer: bool = True
) -> dict[str, Any]:
    """Run everything; write ``out_dir/assertions.json``; return the results with ``summary`` and ``path``."""
    from dawn.core.env import collect_environment

    out = ensure_writable_dir(out_dir)
    res: dict[str, Any] = {"quick": quick, "seed": seed, "timings_s": {}}
    steps: list[tuple[str, Any]] = [
        ("video", lambda: video_section(quick)),
        ("active_learning", lambda: active_section(quick, seed)),
        ("weak_supervision", lambda: weak_section(quick, seed)),
        ("overhead", lambda: overhead_section(quick)),
    ]
    if peer and not quick:
        from dawn.assertions.experiments import peer as peer_mod

        steps.append(("peer", lambda: peer_mod.compare(repeats=3)))
    for name, fn in steps:
        t0 = time.perf_counter()
        try:
            res[name] = fn()
        except DawnError as exc:  # one part failing (e.g. no cached detections) must not lose the rest
            log.warning("%s skipped: %s", name, exc.one_line())
            res[name] = {"skipped": exc.one_line()}
        res["timings_s"][name] = time.perf_counter() - t0
    res["summary"] = _summary(res)
    res["environment"] = collect_environment()
    path = atomic_write_json(out / "assertions.json", to_jsonable(res))
    res["path"] = str(path)
    return res
