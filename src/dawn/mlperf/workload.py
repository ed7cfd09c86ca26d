"""The workload contract: what a benchmark's implementation provides to the harness.

The harness (:mod:`dawn.mlperf.harness`) owns the clock (Mattson et al., MLSys 2020, Sec. 3.4): it
logs ``init_start``/``init_stop`` around :meth:`Workload.init` and ``run_start``/``run_stop`` around
:meth:`Workload.train`, and decides when a run stops. A workload only trains and evaluates.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dawn.mlperf.benchmark import Benchmark
    from dawn.mlperf.mllog import RunLogger


@dataclass
class EvalPoint:
    """One evaluation: the epoch, the samples seen so far, the quality, and seconds since run_start."""

    epoch: float
    samples: int
    value: float
    seconds: float


@dataclass
class RunSession:
    """What :meth:`Workload.train` gets: epoch/eval logging and the stop decision.

    ``done`` turns true when an evaluation reaches the target; :meth:`epochs` then stops yielding.
    The harness also stops at ``benchmark.max_epochs``.
    """

    logger: RunLogger
    benchmark: Benchmark
    train_samples: int
    t0: float = field(default_factory=time.perf_counter)
    curve: list[EvalPoint] = field(default_factory=list)
    done: bool = False
    overhead_s: float = 0.0

    # The logging calls below are written out rather than wrapped in a timing helper: between
    # two epochs every line of harness code runs with cold caches, so each layer costs more than
    # it would in a loop, and this time is inside the timed region.

    @contextmanager
    def epoch(self, epoch: int) -> Iterator[None]:
        """Log ``epoch_start``/``epoch_stop`` around the body."""
        t = time.perf_counter()
        self.logger.start("epoch_start", metadata={"epoch_num": epoch})
        self.overhead_s += time.perf_counter() - t
        yield
        t = time.perf_counter()
        self.logger.end("epoch_stop", metadata={"epoch_num": epoch})
        self.overhead_s += time.perf_counter() - t

    def epochs(self) -> Iterator[int]:
        """Epoch numbers 1, 2, ... until the target is reached or ``max_epochs``, each inside
        ``epoch_start``/``epoch_stop``."""
        for e in range(1, self.benchmark.max_epochs + 1):
            if self.done:
                return
            with self.epoch(e):
                yield e

    def should_eval(self, epoch: int) -> bool:
        """Whether the benchmark's cadence evaluates after ``epoch`` (always after the last)."""
        return epoch % self.benchmark.eval_every == 0 or epoch >= self.benchmark.max_epochs

    def evaluate(
        self, epoch: float, fn: Any, *, epoch_num: float | None = None, samples_count: int | None = None
    ) -> float:
        """Run ``fn()`` inside ``eval_start``/``eval_stop`` and log its value as ``eval_accuracy``."""
        t = time.perf_counter()
        num = epoch if epoch_num is None else epoch_num
        samples = int(round(epoch * self.train_samples)) if samples_count is None else samples_count
        self.logger.start("eval_start", metadata={"epoch_num": num})
        self.overhead_s += time.perf_counter() - t
        value = float(fn())
        t = time.perf_counter()
        self.logger.event("eval_accuracy", value, metadata={"epoch_num": num, "samples_count": samples})
        self.logger.end("eval_stop", metadata={"epoch_num": num})
        self.curve.append(EvalPoint(float(epoch), samples, value, t - self.t0))
        if self.benchmark.reached(value):
            self.done = True
        self.overhead_s += time.perf_counter() - t
        return value


class Workload:
    """Base class of a benchmark implementation.

    Subclasses set ``train_samples``/``eval_samples`` in :meth:`init` and implement
    :meth:`train_epoch` and :meth:`evaluate`; or override :meth:`train` for a custom loop that uses the
    :class:`RunSession`. ``hparams`` are the logged hyperparameters (reference values by default).
    """

    train_samples: int = 0
    eval_samples: int = 0

    def __init__(self, benchmark: Benchmark, hparams: dict[str, Any] | None = None) -> None:
        self.benchmark = benchmark
        self.hparams = {**benchmark.hyperparameters, **(hparams or {})}

    def clear_cache(self) -> None:
        """Drop cached state before ``cache_clear`` is logged (default: nothing)."""

    def init(self, seed: int) -> None:  # pragma: no cover - abstract
        """Load data and build the model (untimed, inside ``init_start``/``init_stop``)."""
        raise NotImplementedError

    def train_epoch(self, epoch: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def evaluate(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def train(self, session: RunSession) -> None:
        """Default loop: one epoch, then evaluate at the benchmark's cadence, until the session stops."""
        for epoch in session.epochs():
            self.train_epoch(epoch)
            if session.should_eval(epoch):
                session.evaluate(epoch, self.evaluate)


def load_workload(benchmark: Benchmark, hparams: dict[str, Any] | None = None) -> Workload:
    """Instantiate ``benchmark.workload`` (``module:Class``)."""
    import importlib

    from dawn.core.errors import DawnError

    if not benchmark.workload:
        raise DawnError(f"benchmark {benchmark.name!r} has no reference workload", "pass a Workload instance")
    module, _, cls = benchmark.workload.partition(":")
    wl: Workload = getattr(importlib.import_module(module), cls)(benchmark, hparams)
    return wl
