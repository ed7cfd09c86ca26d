"""The measured fallback: time an optimised plan against the full pipeline and drop what is slower.

The cost model predicts a plan's speed from per-group timings; this checks the prediction on real
calibration rows before the plan is served, so an optimisation that would slow the pipeline down is
never kept (the issue's "no more than 5% slower than not optimizing").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dawn.core.logging import get_logger
from dawn.core.timing import compare
from dawn.willump._blocks import take
from dawn.willump.optimized import OptimizedPipeline

log = get_logger(__name__)


def drop_slower_plans(
    opt: OptimizedPipeline,
    X_val: Any,
    cal_idx: np.ndarray,
    full_cost_per_row: float,
    *,
    top_k: int | None,
    top_k_n: int,
    heuristic: bool,
    full_single_cost: float | None = None,
) -> None:
    """Time ``opt``'s cascade, single-row cascade and top-K filter against its full pipeline on
    calibration rows; record the measured speedups in ``opt.info_`` and serve the full pipeline where
    a plan measured slower.

    ``full_cost_per_row`` (seconds) sizes the timed batches so each call lasts a few milliseconds;
    ``full_single_cost`` (seconds for one row alone, default the batch figure) how many single rows are
    timed, 10 to 50, about 0.3 s of them.
    """
    pipeline, info = opt.pipeline, opt.info_
    per_row = max(full_cost_per_row, 1e-9)
    if opt.cascade_ is not None:
        Xc = take(X_val, cal_idx[: min(1000, max(100, int(1.0 / per_row)))])
        cmp = compare({"full": lambda: pipeline.predict(Xc), "optimized": lambda: opt.predict(Xc)}, repeats=3)
        info["measured_speedup_batch"] = cmp.speedup("optimized")
        if cmp.speedup("optimized") < 1.0:
            log.info("cascade measured %.2fx; serving the full pipeline", cmp.speedup("optimized"))
            info["dropped_cascade"] = opt.explain()["cascade"]
            opt.cascade_ = None
            if heuristic:  # the original served one cascade for both uses
                opt.cascade_single_ = None
    if opt.cascade_single_ is not None and pipeline.task != "regression":
        one = max(full_single_cost if full_single_cost is not None else per_row, 1e-9)
        n_single = min(len(cal_idx), int(np.clip(0.3 / one, 10, 50)))
        singles = [take(X_val, cal_idx[i : i + 1]) for i in range(n_single)]

        def full_one() -> list[Any]:  # what predict_one serves without a plan
            return [pipeline.call_model("predict", pipeline.transform(x))[0] for x in singles]

        def optimized_one() -> list[Any]:
            return [opt.predict_one(x) for x in singles]

        cmp = compare({"full": full_one, "optimized": optimized_one}, repeats=3)
        info["measured_speedup_single"] = cmp.speedup("optimized")
        if cmp.speedup("optimized") < 1.0:
            log.info("single-row cascade measured %.2fx; serving the full pipeline", cmp.speedup("optimized"))
            info["dropped_cascade_single"] = opt.explain()["cascade_single"]
            opt.cascade_single_ = None
    if opt.topk_ is not None:
        rows = min(len(cal_idx), max(500, int(2.0 / per_row)))
        Xq = take(X_val, cal_idx[:rows])
        kq = max(1, min(rows // 2, round((top_k or 1) * rows / top_k_n)))  # keep the query's K/N

        def full_top() -> np.ndarray:
            s = pipeline.score(Xq)
            return np.argpartition(-s, kq - 1)[:kq]

        cmp = compare({"full": full_top, "optimized": lambda: opt.top_k(Xq, kq)}, repeats=3)
        info["measured_topk_speedup"] = cmp.speedup("optimized")
        if cmp.speedup("optimized") < 1.0:
            log.info("top-K filter measured %.2fx; scoring every row instead", cmp.speedup("optimized"))
            info["dropped_topk"] = opt.explain()["topk"]
            opt.topk_ = None
