"""Scoring: pure and stateless, equal to the official result summarizer.

MLPerf Training's score (Mattson et al., MLSys 2020, Sec. 3.6) is the olympic mean of the runs'
time-to-train: drop the fastest and the slowest (4 each for U-Net3D), average the rest. A run that
does not converge counts as infinitely slow: one may be the dropped slowest, more invalidate the
result. In the Closed division the RCP check may scale the score (:mod:`dawn.mlperf.rcp`).

The official ``result_summarizer`` computes the olympic mean of compliant runs *before* its RCP step
writes ``scaling.json`` and applies the factor found on disk from the previous invocation, so its score
changes between reruns; ``compute_score`` crashes. :func:`score_folder` reads the folder without
writing anything and applies the RCP factor of this invocation (the summarizer's value on its second
run). It adds what the official tool lacks: bootstrap confidence intervals, the run-to-run coefficient
of variation and the median window of N consecutive runs out of M > N.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dawn.core.errors import DawnError
from dawn.mlperf.check import TOKEN
from dawn.mlperf.rcp import NOT_CONVERGED_EPOCHS, RCPCheck, RCPSet, samples_rejected


@dataclass
class RunLog:
    """What scoring needs from one ``:::MLLOG`` file."""

    path: Path
    benchmark: str | None
    division: str | None
    status: str | None
    run_start: float | None
    run_stop: float | None
    global_batch_size: float | None
    seed: int | None
    curve: list[tuple[float, float, float]] = field(default_factory=list)  # (epoch_num, value, minutes)
    conv_epochs: float = NOT_CONVERGED_EPOCHS

    @property
    def minutes(self) -> float | None:
        if self.run_start is None or self.run_stop is None:
            return None
        return (self.run_stop - self.run_start) / 60 / 1000  # the official order of operations


def read_run(path: str | os.PathLike[str]) -> RunLog:
    """Parse one log (lenient: a broken line is skipped; :func:`dawn.mlperf.check.check_log` reports it)."""
    p = Path(path)
    r = RunLog(p, None, None, None, None, None, None, None)
    conv = None
    with open(p, encoding="latin-1") as fh:
        for raw in fh:
            if TOKEN not in raw:
                continue
            try:
                rec = json.loads(raw[raw.index(TOKEN) + len(TOKEN) :])
                key, value, meta, ts = (
                    rec["key"],
                    rec["value"],
                    rec.get("metadata") or {},
                    float(rec["time_ms"]),
                )
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
            if key == "submission_benchmark" and r.benchmark is None:
                r.benchmark = value
            elif key == "submission_division" and r.division is None:
                r.division = value
            elif key == "global_batch_size" and r.global_batch_size is None:
                r.global_batch_size = value
            elif key == "seed" and r.seed is None:
                r.seed = value
            elif key == "run_start" and r.run_start is None:
                r.run_start = ts
            elif key == "eval_accuracy" and "epoch_num" in meta:
                conv = round(meta["epoch_num"], 3)
                start = r.run_start if r.run_start is not None else ts
                r.curve.append((float(meta["epoch_num"]), float(value), (ts - start) / 60000))
            elif key == "run_stop" and r.run_stop is None:
                r.run_stop = ts
                r.status = meta.get("status")
                if r.status == "success" and conv is not None:
                    r.conv_epochs = conv
    return r


def olympic_mean(times: list[float], drop: int = 1) -> float | None:
    """Olympic mean of run times (``inf`` for non-converged runs) as the official summarizer does it.

    Returns ``None`` if more than ``drop`` runs did not converge or nothing is left after dropping.
    """
    finite = sorted(t for t in times if math.isfinite(t))
    dropped = len(times) - len(finite)
    if dropped > drop:
        return None
    kept = finite[drop : len(finite) - (drop - dropped)]
    if not kept:
        return None
    return sum(kept) * 1.0 / len(kept)


def median_window(times: list[float], n: int, drop: int = 1) -> tuple[int, float | None]:
    """Of M >= n runs in launch order, the start of the window of ``n`` consecutive runs whose olympic
    score is the (lower) median of all windows', and that score (failed runs count as infinite)."""
    if len(times) < n:
        raise DawnError(f"{len(times)} runs cannot form a window of {n}", f"launch at least {n} runs")
    scores = [(olympic_mean(times[i : i + n], drop), i) for i in range(len(times) - n + 1)]
    ranked = sorted(scores, key=lambda s: (math.inf if s[0] is None else s[0], s[1]))
    score, start = ranked[(len(ranked) - 1) // 2]
    return start, score


def bootstrap_ci(
    times: list[float], drop: int = 1, *, level: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the olympic score, resampling runs with replacement.

    Resamples that would be invalid (too many non-converged runs) count as infinitely slow; returns
    ``None`` when fewer than three runs converged.
    """
    import numpy as np

    if sum(math.isfinite(t) for t in times) < 3:
        return None
    rng = np.random.default_rng(seed)
    arr = np.asarray(times, dtype=float)
    idx = rng.integers(0, len(arr), size=(n_boot, len(arr)))
    stats = []
    for row in arr[idx]:
        s = olympic_mean(row.tolist(), drop)
        stats.append(math.inf if s is None else s)
    # no interpolation between order statistics: some may be infinite (invalid resamples)
    lo, hi = np.quantile(stats, [(1 - level) / 2, 1 - (1 - level) / 2], method="inverted_cdf")
    return float(lo), float(hi)


def coefficient_of_variation(times: list[float]) -> float | None:
    """Sample standard deviation over mean of the converged runs' times."""
    import numpy as np

    finite = [t for t in times if math.isfinite(t)]
    if len(finite) < 2:
        return None
    return float(np.std(finite, ddof=1) / np.mean(finite))


@dataclass
class Score:
    """A result folder's score and how it was obtained."""

    benchmark: str | None
    division: str | None
    runs: int
    required_runs: int | None
    times: list[float]
    converged: list[bool]
    olympic: float | None
    scaling: float
    score: float | None
    rcp: RCPCheck | None
    ci95: tuple[float, float] | None
    cv: float | None
    samples_to_converge: float | None
    problems: list[str] = field(default_factory=list)
    run_names: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.score is not None and not self.problems

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        d = asdict(self)
        d["valid"] = self.valid
        return d


def _rcps_for(benchmark: str, ruleset: str, rcp_file: str | os.PathLike[str] | None) -> RCPSet | None:
    from dawn.mlperf.benchmark import BENCHMARKS
    from dawn.mlperf.rcp import official_rcp_path

    if rcp_file is not None:
        return RCPSet.load(rcp_file)
    if benchmark in BENCHMARKS and BENCHMARKS[benchmark].rcp_file.is_file():
        return RCPSet.load(BENCHMARKS[benchmark].rcp_file)
    path = official_rcp_path(benchmark, ruleset)
    return RCPSet.load(path) if path else None


def score_folder(
    folder: str | os.PathLike[str],
    *,
    ruleset: str | None = None,
    check: bool = True,
    rcp_file: str | os.PathLike[str] | None = None,
    required_runs: int | None = None,
    seed: int = 0,
) -> Score:
    """Score the ``result_*.txt`` logs in ``folder`` without writing anything.

    A run counts as converged if its log passes the compliance checker (lenient, as the summarizer)
    and ends with ``run_stop`` status ``success``. In the Closed division the RCP check runs and its
    scaling factor is applied.
    """
    from dawn.mlperf.check import check_log, official_ruleset_for

    d = Path(folder)
    logs = sorted(d.glob("result_*.txt"))
    if not logs:
        raise DawnError(f"no result_*.txt files in {d}", "point at a benchmark's result folder")
    runs = [read_run(p) for p in logs]
    names = {r.benchmark for r in runs}
    if len(names) != 1 or None in names:
        raise DawnError(
            f"result folder {d} mixes benchmarks {sorted(map(str, names))}", "one benchmark per folder"
        )
    bench = str(runs[0].benchmark)
    from dawn.mlperf.benchmark import BENCHMARKS

    ours = bench in BENCHMARKS and not BENCHMARKS[bench].official
    rs = ruleset or ("5.0.0" if ours else official_ruleset_for(bench) or "5.0.0")
    drop = samples_rejected(bench)
    if required_runs is None:
        from mlperf_logging.benchmark_meta import get_result_file_counts

        required_runs = BENCHMARKS[bench].runs if ours else get_result_file_counts("training").get(bench)
    problems = []
    if required_runs is not None and len(runs) != required_runs:
        problems.append(f"{len(runs)} result files in {d}, the rules require {required_runs}")
    times, conv = [], []
    for r in runs:
        ok = r.minutes is not None and r.status == "success"
        if ok and check:
            ok = check_log(r.path, ruleset=None if ours else rs, strict=False).ok
        conv.append(ok)
        times.append(r.minutes if ok and r.minutes is not None else math.inf)
    olympic = olympic_mean(times, drop)
    if olympic is None:
        if conv.count(False) > drop:
            problems.append(f"{conv.count(False)} runs did not converge; at most {drop} may")
        else:
            problems.append(f"{len(runs)} runs are too few to drop {drop} at each end")
    division = runs[0].division
    rcp_res, scaling = None, 1.0
    bss = {r.global_batch_size for r in runs}
    epochs = [r.conv_epochs for r in runs]
    if division == "closed":
        rcps = _rcps_for(bench, rs, rcp_file)
        if len(bss) != 1 or None in bss:
            problems.append("global_batch_size missing or different between runs")
        elif len(epochs) < 2 * drop + 1:
            rcp_res = RCPCheck(False, f"{len(epochs)} runs are too few for the RCP check", 1.0)
        elif epochs.count(NOT_CONVERGED_EPOCHS) > drop:
            rcp_res = RCPCheck(False, "Insufficient convergence", 1.0)
        elif rcps is None:
            rcp_res = RCPCheck(False, "Cannot find any RCPs", 1.0)
        elif rcps.benchmark != bench:
            rcp_res = RCPCheck(False, f"the RCP file is for benchmark {rcps.benchmark}, not {bench}", 1.0)
        else:
            rcp_res = rcps.check(float(next(iter(bss))), list(epochs))  # type: ignore[arg-type]
            scaling = rcp_res.scaling
        if rcp_res is not None and not rcp_res.passed:
            problems.append(f"RCP check failed: {rcp_res.message}")
    score = None if olympic is None else olympic * scaling
    stc = None
    if len(epochs) >= 2 * drop + 1 and epochs.count(NOT_CONVERGED_EPOCHS) <= drop:
        import numpy as np

        s = sorted(epochs)
        stc = float(np.mean(s[drop : len(s) - drop]))
    ci = bootstrap_ci(times, drop, seed=seed)
    if ci is not None:
        ci = (ci[0] * scaling, ci[1] * scaling)  # the interval of the reported (scaled) score
    return Score(
        bench,
        division,
        len(runs),
        required_runs,
        times,
        conv,
        olympic,
        scaling,
        score,
        rcp_res,
        ci,
        coefficient_of_variation(times),
        stc,
        problems,
        [r.path.name for r in runs],
    )
