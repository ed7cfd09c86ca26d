"""What assertions cost: per row, per streamed detection, and on top of a wrapped model.

All figures are medians of interleaved repeats measured in one process (``dawn.core.timing``). The
per-row and per-detection costs are the median time divided by the number of rows or detections.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dawn.assertions.base import FunctionAssertion
from dawn.assertions.builtin import Range
from dawn.assertions.monitor import Monitor
from dawn.assertions.streaming import StreamingVideoAssertions
from dawn.core.timing import compare, time_call


def per_row(n: int = 1_000_000, repeats: int = 7, seed: int = 0) -> dict[str, float]:
    """Microseconds per row of a vectorised range assertion on an ``n``-row DataFrame."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"p": rng.random(n) * 1.01})
    a = Range(column="p", low=0.0, high=1.0)
    t = time_call(lambda: a.check(df), warmup=1, repeats=repeats)
    return {"rows": n, "us_per_row": t.median / n * 1e6, "spread": t.spread}


def streaming(det: pd.DataFrame, repeats: int = 5) -> dict[str, Any]:
    """Microseconds per detection of streaming flicker + appear over a whole video, fed frame by frame,
    with track ids given (the assertion alone) and with the built-in IoU tracker."""
    from dawn.assertions.detection import BOX
    from dawn.assertions.detection import track as run_tracker

    tracked = run_tracker(det)
    n_frames = int(det["frame"].max()) + 1
    groups = {int(f): g for f, g in tracked.groupby("frame")}
    empty = (np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64))
    frames = [
        (
            f,
            *(
                (g[BOX].to_numpy(), g["score"].to_numpy(), g["track"].to_numpy())
                if (g := groups.get(f)) is not None
                else empty
            ),
        )
        for f in range(n_frames)
    ]

    def with_ids() -> None:
        s = StreamingVideoAssertions()
        for f, b, sc, tr in frames:
            s.update(f, b, sc, tr)

    def with_tracker() -> None:
        s = StreamingVideoAssertions()
        for f, b, sc, _ in frames:
            s.update(f, b, sc)

    cmp = compare({"tracked": with_ids, "with_tracker": with_tracker}, warmup=1, repeats=repeats)
    n = len(det)
    return {
        "detections": n,
        "frames": n_frames,
        "us_per_detection": cmp.timings["tracked"].median / n * 1e6,
        "us_per_detection_with_tracker": cmp.timings["with_tracker"].median / n * 1e6,
    }


def wrapping(repeats: int = 15, batch: int = 32, seed: int = 0) -> dict[str, float]:
    """What a :class:`Monitor` with one per-row assertion adds to each prediction (every batch checked).

    Two measurements. ``overhead_us``: the monitor around a model that returns a precomputed output,
    so only the wrapping is timed (robust on a loaded machine); ``overhead_vs_1ms`` puts it against a
    1 ms prediction. ``end_to_end``: the monitored vs bare call of a small MLP (~8 MFLOP), whose own
    time varies with the machine's load.
    """
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    W = rng.standard_normal((256, 256)) / 16
    X = rng.standard_normal((batch, 256))

    def model(x: np.ndarray) -> np.ndarray:
        h = x
        for _ in range(4):
            h = np.tanh(h @ W)
        return h[:, 0]

    out = model(X)

    def cached(x: np.ndarray) -> np.ndarray:
        return out

    def saturated(o: np.ndarray, i: object) -> np.ndarray:
        return np.abs(o) > 0.999

    inner = 50  # calls per timed sample, so timer resolution does not matter
    with threadpool_limits(1):
        mon_c = Monitor(cached, [FunctionAssertion(saturated, name="saturated")])
        c1 = compare(
            {
                "bare": lambda: [cached(X) for _ in range(inner)],
                "monitored": lambda: [mon_c.predict(X) for _ in range(inner)],
            },
            warmup=2,
            repeats=repeats,
        )
        mon = Monitor(model, [FunctionAssertion(saturated, name="saturated")])
        c2 = compare(
            {
                "bare": lambda: [model(X) for _ in range(inner // 10)],
                "monitored": lambda: [mon.predict(X) for _ in range(inner // 10)],
            },
            warmup=1,
            repeats=repeats,
        )
    over_us = (c1.timings["monitored"].median - c1.timings["bare"].median) / inner * 1e6
    return {
        "overhead_us": over_us,
        "overhead_vs_1ms": over_us / 1000.0,
        "end_to_end": c2.timings["monitored"].median / c2.timings["bare"].median - 1,
        "predict_ms": c2.timings["bare"].median / (inner // 10) * 1e3,
        "firing_rate": float(saturated(out, None).mean()),
    }


def torch_monitor(
    device: str = "cpu", *, batch: int = 256, repeats: int = 15, inner: int = 50
) -> dict[str, Any]:
    """What a :class:`Monitor` adds to a ``torch.nn.Module`` on ``device`` (e.g. ``"cuda"``).

    A Linear(512 -> 1000) classifier (logits) on a batch of ``batch`` inputs, under ``torch.no_grad``,
    with one assertion that never fires. Side by side: the bare module; the monitored module (its
    default confidence, computed only when an assertion fires); and the monitor with a confidence
    that copies every output to the host on every batch (how the default worked before, and still
    how a ``confidence=`` callback that reads ``outputs.cpu()`` works). Every timed call ends with a
    device synchronisation, so each figure is a whole prediction. Microseconds per batch.
    """
    import torch

    torch.manual_seed(0)
    model = torch.nn.Linear(512, 1000).to(device).eval()
    x = torch.randn(batch, 512, device=device)
    never = FunctionAssertion(lambda o, i: (o[:, 0] > 1e9).cpu().numpy(), name="never")
    lazy = Monitor(model, [never])
    eager = Monitor(model, [never], confidence=lambda i, o: o.detach().cpu().numpy().max(axis=1))

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def timed(fn: Any) -> Any:
        def run() -> None:
            with torch.no_grad():
                for _ in range(inner):
                    fn(x)
            sync()

        return run

    cmp = compare(
        {
            "bare": timed(model),
            "monitored": timed(lazy.predict),
            "host_confidence_every_batch": timed(_eager_confidence(eager)),
        },
        warmup=2,
        repeats=repeats,
    )
    per = {k: v.median / inner * 1e6 for k, v in cmp.timings.items()}
    return {
        "device": device,
        "batch": batch,
        "us_per_batch": per,
        "monitor_overhead_us": per["monitored"] - per["bare"],
        "host_confidence_overhead_us": per["host_confidence_every_batch"] - per["bare"],
    }


def _eager_confidence(mon: Monitor) -> Any:
    """``mon.predict`` that also reads the confidence on every batch, as the monitor once did."""

    def predict(x: Any) -> Any:
        out = mon.predict(x)
        mon._confidence(x, out, len(x))
        return out

    return predict


if __name__ == "__main__":  # python -m dawn.assertions.experiments.overhead [cuda]
    import json
    import sys

    print(json.dumps(torch_monitor(sys.argv[1] if len(sys.argv) > 1 else "cpu"), indent=2))
