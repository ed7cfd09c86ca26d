"""Reference Convergence Points: generation and checking, without hidden files.

MLPerf Training (Mattson et al., MLSys 2020, Sec. 3.5; the rules' "RCP" section): for each batch
size, at least 2N reference runs give "epochs to converge". Their olympic mean, the standard
deviation of all of them, and a one-sided equal-variance t-test (alpha 0.05) with a binary search
give the fastest acceptable submission mean (``Min Epochs``) and ``Max Speedup = mean / Min Epochs``.
RCPs slower than the interpolation of their neighbours are pruned; a batch size between two RCPs is
checked against their linear interpolation. A submission whose olympic mean is faster than the RCP
mean but within bounds has its score scaled by ``RCP mean / submission mean``.

The computations follow ``mlperf_logging.rcp_checker`` exactly (so scores agree with the official
summarizer to 1e-9), but :func:`check_rcp` returns the scaling factor instead of writing
``scaling.json`` into the result folder, which made the official summarizer's score depend on
whether it had been run before.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dawn.core.errors import DawnError

ALPHA = 0.05
TOLERANCE = 1e-4
NOT_CONVERGED_EPOCHS = 1e9  # the official value for a run that did not converge


def samples_rejected(benchmark: str) -> int:
    """Runs dropped at each end of the olympic mean (4 for U-Net3D, 1 otherwise)."""
    return 4 if benchmark == "unet3d" else 1


def _p_value(m1: float, s1: float, n1: int, m2: float, s2: float, n2: int) -> float:
    """One-sided p-value of an equal-variance t-test that mean 1 is smaller than mean 2."""
    import scipy.stats

    t, p = scipy.stats.ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=True)
    return float(p / 2 if t < 0 else 1 - p / 2)


def min_acceptable_mean(mean: float, stdev: float, n_ref: int, submission_runs: int) -> float:
    """Binary search for the smallest submission mean the t-test cannot tell apart from ``mean``.

    As in the official checker, the submission side has ``submission_runs - 2`` samples and the search
    stops when the bracket is narrower than 1e-4 (absolute).
    """
    if stdev == 0:
        return mean
    n_subm = submission_runs - 2
    lo, hi = 0.0, mean
    mid = (lo + hi) / 2
    while hi - lo > TOLERANCE:
        if _p_value(mid, stdev, n_ref, mean, stdev, n_subm) > ALPHA:
            hi = mid
        else:
            lo = mid
        mid = (lo + hi) / 2
    return mid


@dataclass
class RCPRecord:
    """One reference convergence point (a batch size), with its derived statistics."""

    name: str
    benchmark: str
    bs: float
    hyperparams: dict[str, Any]
    epochs: list[float]
    mean: float = 0.0
    stdev: float = 0.0
    min_epochs: float = 0.0
    max_speedup: float = 0.0


@dataclass
class RCPCheck:
    """Outcome of checking a submission against the RCPs."""

    passed: bool
    message: str
    scaling: float  # the factor the score is multiplied by (1.0 unless faster-but-within-bounds)
    submission_mean: float | None = None
    rcp_mean: float | None = None
    min_epochs: float | None = None
    bs: float | None = None


@dataclass
class RCPSet:
    """RCPs of one benchmark, in the official JSON format, with pruning and interpolation."""

    benchmark: str
    submission_runs: int
    records: list[RCPRecord] = field(default_factory=list)
    pruned: list[RCPRecord] = field(default_factory=list)

    @classmethod
    def from_json(
        cls, raw: dict[str, Any], *, benchmark: str | None = None, submission_runs: int | None = None
    ) -> RCPSet:
        """Build from the official ``{name: {Benchmark, BS, Hyperparams, Epochs to converge}}``."""
        if not raw:
            raise DawnError("RCP file holds no records", "generate one with `dawn mlperf rcp`")
        recs = []
        for name, r in raw.items():
            try:
                unit = (
                    "samples to converge"
                    if r["Benchmark"] in ("llama2_70b_lora", "flux1")
                    else "Epochs to converge"
                )
                recs.append(
                    RCPRecord(
                        name,
                        r["Benchmark"],
                        r["BS"],
                        dict(r.get("Hyperparams", {})),
                        [float(x) for x in r[unit]],
                    )
                )
            except (KeyError, TypeError) as exc:
                raise DawnError(
                    f"RCP record {name!r} lacks field {exc}",
                    "use the official format: Benchmark, BS, Hyperparams, Epochs to converge",
                ) from None
        bench = benchmark or recs[0].benchmark
        if any(r.benchmark != bench for r in recs):
            raise DawnError(
                f"RCP records are for other benchmarks than {bench!r}", "use the benchmark's RCP file"
            )
        if submission_runs is None:
            from mlperf_logging.rcp_checker import rcp_checker

            submission_runs = rcp_checker.submission_runs["training"].get(bench)
            if submission_runs is None:
                from dawn.mlperf.benchmark import get

                submission_runs = get(bench).runs
        out = cls(bench, int(submission_runs))
        out.records = sorted(recs, key=lambda r: r.bs)
        for r in out.records:
            out._stats(r)
        out._prune()
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str], **kw: Any) -> RCPSet:
        p = Path(path)
        if not p.is_file():
            raise DawnError(f"no such RCP file: {p}", "generate one with `dawn mlperf rcp`")
        try:
            raw = json.loads(p.read_text())
        except json.JSONDecodeError as exc:
            raise DawnError(
                f"RCP file {p} is not valid JSON ({exc.msg}, line {exc.lineno})", "regenerate it"
            ) from None
        return cls.from_json(raw, **kw)

    def _stats(self, r: RCPRecord) -> None:
        import numpy as np

        e = sorted(r.epochs)
        d = samples_rejected(r.benchmark)
        r.mean = float(np.mean(e[d : len(e) - d]))
        r.stdev = float(np.std(e))
        r.min_epochs = min_acceptable_mean(r.mean, r.stdev, len(e) - 2 * d, self.submission_runs)
        r.max_speedup = r.mean / r.min_epochs

    def interpolate(self, bs: float, low: RCPRecord, high: RCPRecord) -> RCPRecord:
        """Linear interpolation of mean and stdev between two RCPs (reference size taken as 2N)."""
        import numpy as np

        mean = float(np.interp(bs, [low.bs, high.bs], [low.mean, high.mean]))
        stdev = float(np.interp(bs, [low.bs, high.bs], [low.stdev, high.stdev]))
        mn = min_acceptable_mean(mean, stdev, self.submission_runs * 2, self.submission_runs)
        return RCPRecord(
            f"{self.benchmark}_interp_{bs}", self.benchmark, bs, {}, [], mean, stdev, mn, mean / mn
        )

    def _prune(self) -> None:
        fastest = min(self.records, key=lambda r: r.mean)
        keep = [r for r in self.records if r.bs >= fastest.bs]
        i = 1
        while i < len(keep) - 1:
            if keep[i].mean > self.interpolate(keep[i].bs, keep[i - 1], keep[i + 1]).mean:
                del keep[i]
                i -= 1
            i += 1
        kept = {(r.benchmark, r.bs) for r in keep}
        self.pruned = [r for r in self.records if (r.benchmark, r.bs) in kept]

    def check(self, bs: float, epochs: list[float], *, pruned: bool = True) -> RCPCheck:
        """Check a submission's epochs-to-converge (1e9 for non-converged runs) at batch size ``bs``."""
        pool = self.pruned if pruned else self.records
        exact = [r for r in pool if r.bs == bs]
        lower = [r for r in pool if 0 < r.bs < bs]
        upper = [r for r in pool if bs < r.bs < 1e9]
        if exact:
            return self._eval(exact[0], epochs, "RCP found")
        if lower and upper:
            rec = self.interpolate(bs, max(lower, key=lambda r: r.bs), min(upper, key=lambda r: r.bs))
            return self._eval(rec, epochs, "RCP Interpolation")
        missing = f"Missing RCP, please submit RCP with BS = {bs}"
        if lower:
            return RCPCheck(False, missing, 1.0, bs=bs)
        if upper:
            res = self._eval(min(pool, key=lambda r: r.bs), epochs, "")
            res.message = (
                "RCP not found but slower convergence on smaller batch size" if res.passed else missing
            )
            return res
        return RCPCheck(False, "Cannot find any RCPs", 1.0, bs=bs)

    def _eval(self, rec: RCPRecord, epochs: list[float], message: str) -> RCPCheck:
        import numpy as np

        e = sorted(epochs)
        d = samples_rejected(rec.benchmark)
        mean = float(np.mean(e[d : len(e) - d]))
        passed = mean >= rec.mean / rec.max_speedup
        scaling = rec.mean / mean if (passed and mean < rec.mean) else 1.0
        return RCPCheck(passed, message, scaling, mean, rec.mean, rec.min_epochs, rec.bs)


def official_rcp_path(benchmark: str, ruleset: str) -> Path | None:
    """The RCP JSON the installed ``mlperf_logging`` ships for an official benchmark, if any."""
    from mlperf_logging.rcp_checker import rcp_checker

    p = Path(rcp_checker.__file__).parent / f"training_{ruleset}" / f"rcps_{benchmark}.json"
    return p if p.is_file() else None


def generate(
    benchmark: str,
    bs: int,
    epochs: list[float],
    hyperparams: dict[str, Any],
    *,
    name: str | None = None,
    min_runs: int | None = None,
) -> dict[str, Any]:
    """One RCP record in the official format from reference runs' epochs to converge.

    Raises :class:`DawnError` if fewer than ``min_runs`` (default 2N) converged runs are given.
    """
    conv = [float(e) for e in epochs if e is not None and e < NOT_CONVERGED_EPOCHS]
    need = min_runs if min_runs is not None else 0
    if len(conv) < max(need, 3):
        raise DawnError(
            f"{len(conv)} converged reference runs for {benchmark} at batch size {bs}; "
            f"an RCP needs at least {max(need, 3)}",
            "run more reference runs (`--runs`)",
        )
    return {
        name or f"{benchmark}_ref_{bs}": {
            "Benchmark": benchmark,
            "Creator": "dawn.mlperf",
            "When": "reference runs",
            "Platform": "cpu",
            "BS": bs,
            "Hyperparams": hyperparams,
            "Epochs to converge": conv,
        }
    }


def rcp_from_folders(folders: list[str | os.PathLike[str]], *, min_runs: int | None = None) -> dict[str, Any]:
    """RCP records (official format) from folders of reference runs, one record per batch size.

    ``min_runs`` defaults to 2N, twice the benchmark's submission runs, as the rules require.
    """
    from dawn.mlperf.benchmark import BENCHMARKS
    from dawn.mlperf.check import read_header
    from dawn.mlperf.score import read_run

    groups: dict[tuple[str, Any], list[float]] = {}
    hparams: dict[tuple[str, Any], dict[str, Any]] = {}
    for folder in folders:
        logs = sorted(Path(folder).glob("result_*.txt"))
        if not logs:
            raise DawnError(f"no result_*.txt in {folder}", "point at folders written by `dawn mlperf run`")
        for p in logs:
            r = read_run(p)
            key = (str(r.benchmark), r.global_batch_size)
            groups.setdefault(key, []).append(r.conv_epochs)
            if key not in hparams:
                head = read_header(p)
                b = BENCHMARKS.get(str(r.benchmark))
                names = list(b.hyperparameters) if b else [k for k in head if str(k).startswith("opt_")]
                hparams[key] = {k: head[k] for k in names if k in head and k != "global_batch_size"}
    out: dict[str, Any] = {}
    for (bench, bs), epochs in groups.items():
        b = BENCHMARKS.get(bench)
        need = min_runs if min_runs is not None else (2 * b.runs if b else 3)
        out.update(generate(bench, bs, epochs, hparams[(bench, bs)], min_runs=need))
    return out
