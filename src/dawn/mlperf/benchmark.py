"""Benchmarks as data: what is trained, to which quality, how often evaluated, how many runs.

A benchmark in MLPerf Training (Mattson et al., MLSys 2020, Sec. 3.1-3.3) is a dataset, a reference
model, a quality metric with a target, an evaluation cadence, a number of runs for olympic scoring and
the hyperparameters the Closed division may change. :class:`Benchmark` holds exactly that, plus the
path of its rule file for the official compliance checker. Our own benchmarks are registered here;
official names (``bert``, ...) are described from the installed ``mlperf_logging`` rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dawn.core.errors import DawnError

RULES_DIR = Path(__file__).parent / "rules"
RCP_DIR = Path(__file__).parent / "rcps"


@dataclass(frozen=True)
class Benchmark:
    """One benchmark's definition.

    Parameters
    ----------
    name : str
        The ``submission_benchmark`` value.
    dataset : str
        A ``dawn.data`` name.
    model : str
        The reference model, in words.
    metric : str
        Quality metric, e.g. ``"top1_accuracy"``.
    target : float
        Quality target; a run converges at the first evaluation with ``metric >= target``.
    eval_every : int
        Evaluation cadence in epochs.
    max_epochs : int
        The run stops (status ``aborted``) if the target is not reached by then.
    runs : int
        Number of runs in a result (olympic scoring drops ``drop`` fastest and slowest).
    drop : int
        Runs dropped at each end by olympic scoring.
    hyperparameters : dict
        Reference values of the hyperparameters logged in every run; in the Closed division only
        those in ``closed_tunable`` may differ from the reference.
    closed_tunable : tuple of str
        Hyperparameters the Closed division may change.
    workload : str
        ``module:Class`` of the reference implementation.
    official : bool
        Whether the name is an official MLPerf benchmark (checked against the official rules).
    higher_is_better : bool
        ``False`` for loss-like metrics, where a run converges at ``metric <= target``.
    extra_keys : dict
        Further keys logged once per run (e.g. the precision and parallelism keys of ruleset 6.1).
    """

    name: str
    dataset: str
    model: str
    metric: str
    target: float
    eval_every: int = 1
    max_epochs: int = 50
    runs: int = 5
    drop: int = 1
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    closed_tunable: tuple[str, ...] = ()
    workload: str = ""
    official: bool = False
    higher_is_better: bool = True
    extra_keys: dict[str, Any] = field(default_factory=dict)

    def reached(self, value: float) -> bool:
        """Whether an evaluation ``value`` meets the quality target."""
        return value >= self.target if self.higher_is_better else value <= self.target

    @property
    def rules(self) -> Path:
        """Entry point of the benchmark's rule tree (``--config`` for the compliance checker)."""
        return RULES_DIR / "common.yaml"

    @property
    def rcp_file(self) -> Path:
        """The shipped RCP JSON of this benchmark (official format)."""
        return RCP_DIR / f"rcps_{self.name}.json"

    def closed_violations(self, hparams: dict[str, Any]) -> list[str]:
        """Hyperparameters that differ from the reference but are not Closed-tunable."""
        return [
            k
            for k, v in hparams.items()
            if k in self.hyperparameters and v != self.hyperparameters[k] and k not in self.closed_tunable
        ]


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            name="dawn_digits",
            dataset="digits",
            model="MLP 64-64-10 (ReLU), SGD with momentum",
            metric="top1_accuracy",
            target=0.97,
            max_epochs=60,
            runs=5,
            hyperparameters={
                "global_batch_size": 32,
                "opt_base_learning_rate": 0.05,
                "opt_momentum": 0.9,
                "hidden_size": 64,
            },
            closed_tunable=("global_batch_size", "opt_base_learning_rate"),
            workload="dawn.mlperf.workloads.digits:DigitsMLP",
        ),
        Benchmark(
            name="dawn_mnist",
            dataset="mnist",
            model="CNN conv(8)-pool-conv(16)-pool-fc(10), Adam",
            metric="top1_accuracy",
            target=0.975,
            max_epochs=10,
            runs=5,
            hyperparameters={"global_batch_size": 128, "opt_base_learning_rate": 0.002},
            closed_tunable=("global_batch_size", "opt_base_learning_rate"),
            workload="dawn.mlperf.workloads.mnist:MnistCNN",
        ),
        Benchmark(
            name="dawn_ncf",
            dataset="movielens",
            model="NeuMF (GMF + MLP), leave-one-out, 4 negatives per positive, Adam",
            metric="hit_rate@10",
            target=0.635,
            max_epochs=20,
            runs=10,
            hyperparameters={
                "global_batch_size": 2048,
                "opt_base_learning_rate": 0.002,
                "factors": 16,
                "negatives": 4,
            },
            closed_tunable=("global_batch_size", "opt_base_learning_rate"),
            workload="dawn.mlperf.workloads.ncf:NCF",
        ),
        Benchmark(
            name="dawn_gcn_cora",
            dataset="cora",
            model="2-layer GCN (hidden 16, dropout 0.5) from dawn.roc, Adam, full-graph",
            metric="node_accuracy",
            target=0.79,
            max_epochs=200,
            runs=10,
            hyperparameters={
                "global_batch_size": 2708,
                "opt_base_learning_rate": 0.01,
                "opt_weight_decay": 5e-4,
                "hidden_size": 16,
            },
            closed_tunable=("opt_base_learning_rate",),
            workload="dawn.mlperf.workloads.graph:CoraGCN",
        ),
    )
}


def get(name: str) -> Benchmark:
    """The registered benchmark ``name``; raises :class:`DawnError` naming the known ones."""
    try:
        return BENCHMARKS[name]
    except KeyError:
        short = {b.name.removeprefix("dawn_"): b for b in BENCHMARKS.values()}
        if name in short:
            return short[name]
        raise DawnError(f"unknown benchmark {name!r}", f"choose one of {', '.join(sorted(short))}") from None


def register(benchmark: Benchmark) -> Benchmark:
    """Add a benchmark (e.g. an official name driven by a user workload) to the registry."""
    BENCHMARKS[benchmark.name] = benchmark
    return benchmark
