"""Synthetic result folders in the official format, for verifying scoring against the official tools.

These logs are written by our :class:`~dawn.mlperf.mllog.RunLogger` with chosen timestamps, times to
train, epochs to converge and statuses; they exercise olympic scoring, non-converged runs and RCP
scaling/interpolation. They verify the scorer only and never produce a reported training number.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dawn.mlperf.benchmark import Benchmark
from dawn.mlperf.mllog import RunLogger


def write_log(
    path: str | os.PathLike[str],
    benchmark: Benchmark,
    *,
    minutes: float,
    conv_epoch: float,
    converged: bool = True,
    bs: int | None = None,
    seed: int = 1,
    start_ms: int = 1_700_000_000_000,
    division: str = "closed",
    evals: int = 3,
    hparams: dict[str, Any] | None = None,
) -> Path:
    """One log whose run lasts ``minutes`` and converges at epoch ``conv_epoch`` (or never)."""
    hp = {**benchmark.hyperparameters, **(hparams or {})}
    if bs is not None:
        hp["global_batch_size"] = bs
    t = start_ms
    with RunLogger(path, enabled=True) as ml:
        ml.event("cache_clear", True, time_ms=t)
        ml.start("init_start", time_ms=t)
        ml.event("submission_benchmark", benchmark.name, time_ms=t)
        ml.event("submission_division", division, time_ms=t)
        ml.event("submission_org", "dawn", time_ms=t)
        ml.event("submission_platform", "cpu", time_ms=t)
        ml.event("seed", int(seed), time_ms=t)
        ml.event("gradient_accumulation_steps", 1, time_ms=t)
        for k, v in {**hp, **benchmark.extra_keys}.items():
            ml.event(k, v, time_ms=t)
        ml.event("train_samples", 1000, time_ms=t)
        ml.event("eval_samples", 100, time_ms=t)
        t += 1000
        ml.end("init_stop", time_ms=t)
        ml.start("run_start", time_ms=t)
        dur = int(round(minutes * 60_000))
        target = benchmark.target
        for j in range(1, evals + 1):
            e = conv_epoch * j / evals
            te = t + dur * j // evals - 3
            sign = 1 if benchmark.higher_is_better else -1
            acc = target + sign * 0.001 if (converged and j == evals) else target - sign * 0.05 / j
            meta = {"epoch_num": e, "samples_count": int(e * 1000)}
            ml.start("epoch_start", metadata={"epoch_num": e}, time_ms=te - 10)
            ml.end("epoch_stop", metadata={"epoch_num": e}, time_ms=te - 2)
            ml.start("eval_start", metadata={"epoch_num": e}, time_ms=te - 1)
            ml.event("eval_accuracy", acc, metadata=meta, time_ms=te)
            ml.end("eval_stop", metadata={"epoch_num": e}, time_ms=te + 1)
        ml.end("run_stop", metadata={"status": "success" if converged else "aborted"}, time_ms=t + dur)
    return Path(path)


def write_folder(
    folder: str | os.PathLike[str],
    benchmark: Benchmark,
    minutes: list[float],
    epochs: list[float],
    converged: list[bool],
    *,
    bs: int | None = None,
    division: str = "closed",
) -> Path:
    """A result folder ``result_0.txt`` ... with one log per entry of ``minutes``."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    for i, (m, e, c) in enumerate(zip(minutes, epochs, converged, strict=True)):
        write_log(
            d / f"result_{i}.txt",
            benchmark,
            minutes=m,
            conv_epoch=e,
            converged=c,
            bs=bs,
            seed=1000 + i,
            start_ms=1_700_000_000_000 + i * 10_000_000,
            division=division,
        )
    return d


def scoring_cases(root: str | os.PathLike[str], n: int = 24, seed: int = 0) -> list[dict[str, Any]]:
    """Write ``n`` official-format BERT result folders under ``root`` covering exact and interpolated
    RCPs, scaling (faster than the RCP mean but within Max Speedup), RCP failures, batch sizes below
    every RCP, one and two non-converged runs, and rulesets 4.1.0 and 5.0.0. Returns their settings."""
    import numpy as np

    from dawn.mlperf.official import BERT
    from dawn.mlperf.rcp import RCPSet, official_rcp_path

    rng = np.random.default_rng(seed)
    bss = [256, 448, 3072, 1000, 2000, 5000, 7000, 10000, 16384, 4096, 8192, 128]
    factors = [0.97, 0.99, 1.0, 0.985, 1.1, 0.8]
    out = []
    for k in range(n):
        bs = bss[k % len(bss)]
        ruleset = "4.1.0" if k % 3 == 0 else "5.0.0"
        rcps = RCPSet.load(official_rcp_path("bert", ruleset))  # type: ignore[arg-type]
        check = rcps.check(bs, [1.0] * 10)
        base = check.rcp_mean or rcps.pruned[0].mean
        factor = factors[k % len(factors)]
        epochs = [float(x) for x in np.round(base * factor * rng.normal(1, 0.01, 10))]
        bad = [0, 0, 1, 0, 2][k % 5]
        conv = [True] * 10
        for j in rng.choice(10, bad, replace=False):
            conv[int(j)] = False
        minutes = [float(x) for x in rng.uniform(10, 30, 10)]
        d = write_folder(Path(root) / f"case{k:02d}", BERT, minutes, epochs, conv, bs=bs)
        out.append({"folder": str(d), "ruleset": ruleset, "bs": bs, "factor": factor, "non_converged": bad})
    return out
