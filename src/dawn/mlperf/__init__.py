"""dawn.mlperf: an MLPerf-Training-style harness whose logs pass the official checkers.

Implements the methodology of MLPerf Training (Mattson et al., MLSys 2020, "MLPerf Training
Benchmark"): benchmarks as data (:mod:`~dawn.mlperf.benchmark`), a harness that owns the clock and
resumes interrupted suites (:mod:`~dawn.mlperf.harness`), ``:::MLLOG`` logs through the official encoder
(:mod:`~dawn.mlperf.mllog`), the official compliance checker run in-process with each benchmark's rule
tree (:mod:`~dawn.mlperf.check`, :mod:`~dawn.mlperf.rules`), stateless olympic scoring equal to the
official summarizer (:mod:`~dawn.mlperf.score`) with RCP generation and checks (:mod:`~dawn.mlperf.rcp`),
system descriptions and submission packages (:mod:`~dawn.mlperf.system`, :mod:`~dawn.mlperf.package`),
HTML reports (:mod:`~dawn.mlperf.report`) and reference workloads on real data
(:mod:`~dawn.mlperf.workloads`)::

    from dawn.mlperf import get, run_suite, score_folder
    manifest = run_suite(get("digits"), "results/digits", seed=0)   # 5 runs, each log checked
    print(score_folder("results/digits").score)                      # minutes, olympic x RCP scaling
"""

from dawn.mlperf.benchmark import BENCHMARKS, Benchmark, get, register
from dawn.mlperf.check import CheckResult, check_log
from dawn.mlperf.harness import run_once, run_suite
from dawn.mlperf.mllog import RunLogger
from dawn.mlperf.rcp import RCPSet, rcp_from_folders
from dawn.mlperf.score import Score, olympic_mean, score_folder
from dawn.mlperf.workload import RunSession, Workload

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "get",
    "register",
    "CheckResult",
    "check_log",
    "run_once",
    "run_suite",
    "RunLogger",
    "RCPSet",
    "rcp_from_folders",
    "Score",
    "olympic_mean",
    "score_folder",
    "RunSession",
    "Workload",
]
