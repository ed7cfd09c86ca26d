"""Official benchmark names, and the official summarizer run as a referee without side effects.

``BERT`` describes the official ``bert`` benchmark with the hyperparameters of the Closed rules
(training 4.1.0/5.0.0 ``closed_bert.yaml``), so our logger can emit official-name logs. The official
``result_summarizer`` writes ``scaling.json`` into the folder it scores and reads it back on its next
run; :func:`official_score` runs it twice on a private copy, so the user's folder is never touched
and the value is the summarizer's settled one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from dawn.mlperf.benchmark import Benchmark

BERT = Benchmark(
    name="bert",
    dataset="wikipedia (official; not on this machine)",
    model="BERT-large (official reference)",
    metric="masked_lm_accuracy",
    target=0.720,
    runs=10,
    hyperparameters={
        "global_batch_size": 256,
        "opt_base_learning_rate": 0.00035,
        "opt_lamb_epsilon": 1e-06,
        "opt_learning_rate_training_steps": 13700,
        "opt_learning_rate_warmup_steps": 0,
        "num_warmup_steps": 0,
        "start_warmup_step": 0,
        "opt_lamb_beta_1": 0.9,
        "opt_lamb_beta_2": 0.999,
        "opt_lamb_weight_decay_rate": 0.01,
    },
    closed_tunable=(
        "global_batch_size",
        "opt_base_learning_rate",
        "opt_learning_rate_training_steps",
        "opt_learning_rate_warmup_steps",
        "num_warmup_steps",
        "start_warmup_step",
        "opt_lamb_beta_1",
        "opt_lamb_beta_2",
        "opt_lamb_weight_decay_rate",
        "opt_lamb_epsilon",
    ),
    official=True,
)


#: The official ``flux1`` benchmark of ruleset 6.1.0 (validation loss target, lower is better), with the
#: precision, parallelism and run-configuration keys 6.1 requires of every log.
FLUX1 = Benchmark(
    name="flux1",
    dataset="CC12M (official; not on this machine)",
    model="FLUX.1 (official reference)",
    metric="validation_loss",
    target=0.586,
    runs=10,
    higher_is_better=False,
    hyperparameters={
        "global_batch_size": 1024,
        "evaluation_frequency": 262144,
        "opt_name": "adamw",
        "opt_adamw_beta_1": 0.9,
        "opt_adamw_beta_2": 0.95,
        "opt_adamw_epsilon": 1e-08,
        "opt_adamw_weight_decay": 0.1,
        "opt_base_learning_rate": 0.0001,
        "opt_learning_rate_warmup_steps": 0,
        "opt_gradient_clip_norm": 1.0,
    },
    closed_tunable=(
        "global_batch_size",
        "evaluation_frequency",
        "opt_base_learning_rate",
        "opt_learning_rate_warmup_steps",
    ),
    official=True,
    extra_keys={
        "lowest_numerical_precision_in_linear": "fp32",
        "lowest_numerical_precision_in_attn": "fp32",
        "lowest_numerical_precision_in_comm": "fp32",
        "tensor_parallelism": 1,
        "pipeline_parallelism": 1,
        "context_parallelism": 1,
        "expert_parallelism": 1,
        "micro_batch_size": 1,
        "config_filename": "config.yaml",
    },
)


def official_score(
    folder: str | os.PathLike[str], ruleset: str, *, division: str = "closed", system: str = "system"
) -> tuple[float | None, float]:
    """The official summarizer's (score, scaling factor) for a benchmark result folder.

    Runs ``rcp_checker.check_directory`` (which writes ``scaling.json``) and then the summarizer's
    ``_compute_strong_score_standalone`` on a temporary copy, i.e. the summarizer's second-run value.
    """
    import contextlib
    import io
    import logging

    from mlperf_logging.rcp_checker import rcp_checker
    from mlperf_logging.result_summarizer import result_summarizer

    from dawn.mlperf.check import _quiet_official

    src = Path(folder)
    benchmark = _benchmark_of(src)
    with tempfile.TemporaryDirectory(prefix="dawn-official-") as tmp:
        dst = Path(tmp) / system / benchmark
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("scaling.json"))
        with _quiet_official(cache=False), contextlib.redirect_stdout(io.StringIO()):
            if division == "closed":
                try:
                    rcp_checker.check_directory(
                        str(dst),
                        "training",
                        ruleset,
                        False,
                        False,
                        rcp_file=None,
                        rcp_pass="pruned_rcps",
                        rcp_bypass=False,
                        set_scaling=True,
                    )
                except Exception:  # noqa: BLE001 - the official checker raises on odd folders; no scaling then
                    logging.getLogger(__name__).debug("official RCP check raised", exc_info=True)
            score, _power, scaling = result_summarizer._compute_strong_score_standalone(
                benchmark, system, False, str(dst), "training", ruleset
            )
    return score, float(scaling)


def _benchmark_of(folder: Path) -> str:
    from dawn.mlperf.check import first_value

    for p in sorted(folder.glob("result_*.txt")):
        b = first_value(p, "submission_benchmark")
        if b:
            return str(b)
    return folder.name
