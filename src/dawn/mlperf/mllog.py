"""``:::MLLOG`` logging through the official ``mlperf_logging.mllog`` encoder, one file per run.

MLPerf Training (Mattson et al., MLSys 2020, Sec. 3) defines results by log lines; the official
tools parse exactly the lines :class:`mlperf_logging.mllog.MLLogger` writes. :class:`RunLogger` wraps
one such logger with its own file handler, so several runs in one process never share hidden
state, and adds the guards the official logger lacks: EXACTLY_ONE keys refused on a second emission
(relaunches used to duplicate them), and no output on ranks other than 0 under ``torch.distributed``.
"""

from __future__ import annotations

import itertools
import logging
import os
from pathlib import Path
from typing import Any

from dawn.core.errors import DawnError

#: Keys the rules require exactly once per log; a second emission is a bug in the caller.
EXACTLY_ONE_KEYS = frozenset(
    {
        "submission_benchmark",
        "submission_division",
        "submission_org",
        "submission_platform",
        "submission_status",
        "init_stop",
        "run_start",
        "run_stop",
        "train_samples",
        "eval_samples",
        "global_batch_size",
        "gradient_accumulation_steps",
    }
)

_counter = itertools.count()


def _is_rank_zero() -> bool:
    """Rank 0 of an initialised ``torch.distributed`` group, or any non-distributed process."""
    if "RANK" not in os.environ and "WORLD_SIZE" not in os.environ:
        return True
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank() == 0
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass
    return os.environ.get("RANK", "0") == "0"


class _LineHandler(logging.Handler):
    """Append each record's message as one line and flush, so a killed run keeps what it logged."""

    def __init__(self, path: Path) -> None:
        super().__init__(logging.INFO)
        self._fh = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def emit(self, record: logging.LogRecord) -> None:
        self._fh.write(record.getMessage() + "\n")
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        super().close()


class RunLogger:
    """Writes one run's ``:::MLLOG`` lines to ``path`` with the official encoder.

    Parameters
    ----------
    path : path-like or None
        The log file, truncated on open (a relaunch starts a fresh file rather than appending a
        second set of EXACTLY_ONE keys). ``None`` keeps lines in memory only (``lines``).
    enabled : bool, optional
        Write at all; defaults to "this is rank 0".
    """

    def __init__(self, path: str | os.PathLike[str] | None, *, enabled: bool | None = None) -> None:
        from mlperf_logging.mllog import mllog

        self.path = Path(path) if path is not None else None
        self.enabled = _is_rank_zero() if enabled is None else enabled
        self.lines: list[str] = []
        self._seen: set[str] = set()
        self._logger = logging.getLogger(f"dawn.mlperf.run.{os.getpid()}.{next(_counter)}")
        self._logger.propagate = False
        self._logger.setLevel(logging.INFO)
        self._handler: _LineHandler | None = None
        if self.enabled and self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handler = _LineHandler(self.path)
            self._logger.addHandler(self._handler)
        self._logger.addHandler(_MemoryHandler(self.lines))
        # stack offset 2: the caller of event()/start()/end() below is the call site recorded in
        # metadata (file, lineno), which the seed checker uses to tell seeds apart.
        self._ml = mllog.MLLogger(logger=self._logger, default_stack_offset=2)

    def _guard(self, key: str) -> None:
        if key in EXACTLY_ONE_KEYS:
            if key in self._seen:
                raise DawnError(
                    f"key {key!r} logged twice in one run (the rules allow exactly one)",
                    "log it once per run; relaunches must start a new log file",
                )
            self._seen.add(key)

    def event(self, key: str, value: Any = None, metadata: dict[str, Any] | None = None,
              time_ms: int | None = None, stack_offset: int = 0) -> None:  # fmt: skip
        """A POINT_IN_TIME line."""
        if not self.enabled:
            return
        self._guard(key)
        self._ml.event(key, value, metadata=metadata, time_ms=time_ms, stack_offset=2 + stack_offset)

    def start(self, key: str, value: Any = None, metadata: dict[str, Any] | None = None,
              time_ms: int | None = None, stack_offset: int = 0) -> None:  # fmt: skip
        """An INTERVAL_START line."""
        if not self.enabled:
            return
        self._guard(key)
        self._ml.start(key, value, metadata=metadata, time_ms=time_ms, stack_offset=2 + stack_offset)

    def end(self, key: str, value: Any = None, metadata: dict[str, Any] | None = None,
            time_ms: int | None = None, stack_offset: int = 0) -> None:  # fmt: skip
        """An INTERVAL_END line."""
        if not self.enabled:
            return
        self._guard(key)
        self._ml.end(key, value, metadata=metadata, time_ms=time_ms, stack_offset=2 + stack_offset)

    def close(self) -> None:
        for h in list(self._logger.handlers):
            self._logger.removeHandler(h)
            h.close()

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _MemoryHandler(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.INFO)
        self._sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self._sink.append(record.getMessage())
