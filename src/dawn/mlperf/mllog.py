"""``:::MLLOG`` logging through the official ``mlperf_logging.mllog`` encoder, one file per run.

MLPerf Training (Mattson et al., MLSys 2020, Sec. 3) defines results by log lines; the official
tools parse exactly the lines :class:`mlperf_logging.mllog.MLLogger` writes. :class:`RunLogger`
encodes every line with the official encoder (``mllog._encode_log``) and the same metadata
(``file``/``lineno`` of the call site first, then the caller's fields), so its lines are byte-identical
to ``MLLogger``'s; it finds the call site with ``sys._getframe`` instead of ``inspect.getframeinfo``,
which reads source files and cost ~0.3 ms a line. Lines are written behind: a call records its
timestamp, call site and fields (a few microseconds), and the JSON encoding and the write happen when
the log is drained: at an interval end once ``flush_every_s`` has passed since the last drain, and at
:meth:`RunLogger.close`; or the pending records are handed over with :meth:`RunLogger.detach` (the
harness lets its post-run helper encode them). The timestamps are those of the calls, so the log is
identical to one written line by line, but a sub-second run pays for its lines after ``run_stop``
instead of inside the timed region, and a killed run loses at most ``flush_every_s`` of lines (its
result is discarded and rerun anyway). Each run has its own file,
so several runs in one process never share hidden state, and it adds the guards the official logger
lacks: EXACTLY_ONE keys refused on a second emission (relaunches used to duplicate them), and no
output on ranks other than 0 under ``torch.distributed``.
"""

from __future__ import annotations

import os
import sys
import time
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


#: One recorded call: timestamp (ms), event type, key, value, metadata (call site first).
Record = tuple[int, str, str, Any, dict[str, Any]]


def encode_records(namespace: str, records: list[Record]) -> list[str]:
    """``:::MLLOG`` lines for ``records``, by the official encoder (``mllog._encode_log``)."""
    from mlperf_logging.mllog import mllog

    return [mllog._encode_log(namespace, t, et, k, v, m) for t, et, k, v, m in records]


def append_records(path: str | os.PathLike[str], namespace: str, records: list[Record]) -> None:
    """Append ``records`` to the log at ``path``, encoded (see :meth:`RunLogger.detach`)."""
    if records:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in encode_records(namespace, records)))


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


class RunLogger:
    """Writes one run's ``:::MLLOG`` lines to ``path`` with the official encoder.

    Parameters
    ----------
    path : path-like or None
        The log file, truncated on open (a relaunch starts a fresh file rather than appending a
        second set of EXACTLY_ONE keys). ``None`` keeps lines in memory only (``lines``).
    enabled : bool, optional
        Write at all; defaults to "this is rank 0".
    namespace : str, default=""
        The ``namespace`` field of every line.
    flush_every_s : float, default=1.0
        Write pending lines at the first interval end this many seconds after the last write; 0
        writes (and flushes) at every interval end.
    defer_open : bool, default=False
        Open (truncate) the file at the first write rather than now, and not at all when the
        pending lines are handed over with :meth:`detach`. The harness uses it: its post-run
        helper creates each run's log file beforehand, because creating and closing a file in the
        benchmark's own process, between two runs and with cold caches, was a large share of the
        harness time of a sub-second run.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        enabled: bool | None = None,
        namespace: str = "",
        flush_every_s: float = 1.0,
        defer_open: bool = False,
    ) -> None:
        self.path = path  # made a Path only when the file is opened (pathlib costs even that)
        self.enabled = _is_rank_zero() if enabled is None else enabled
        self.namespace = namespace
        self.flush_every_s = flush_every_s
        self._lines: list[str] = []
        self._pending: list[Record] = []
        self._last_drain = time.perf_counter()
        self._seen: set[str] = set()
        self._fh: Any = None
        self._closed = False
        if not defer_open:
            self._open()

    def _open(self) -> None:
        """Create (truncate) the log file, once, on rank 0 with a path."""
        if self._fh is None and not self._closed and self.enabled and self.path is not None:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def _guard(self, key: str) -> None:
        if key in EXACTLY_ONE_KEYS:
            if key in self._seen:
                raise DawnError(
                    f"key {key!r} logged twice in one run (the rules allow exactly one)",
                    "log it once per run; relaunches must start a new log file",
                )
            self._seen.add(key)

    def _log(
        self,
        event_type: str,
        key: str,
        value: Any,
        metadata: dict[str, Any] | None,
        time_ms: int | None,
        stack_offset: int,
    ) -> None:
        if not self.enabled:
            return
        self._guard(key)
        frame = sys._getframe(2 + stack_offset)
        meta: dict[str, Any] = {"file": frame.f_code.co_filename, "lineno": frame.f_lineno}
        if metadata:
            meta.update(metadata)
        t = int(time.time() * 1e3) if time_ms is None else time_ms
        self._pending.append((t, event_type, key, value, meta))
        if event_type == "INTERVAL_END" and time.perf_counter() - self._last_drain >= self.flush_every_s:
            self._drain()

    def _drain(self) -> None:
        """Encode the pending lines with the official encoder and write them (flushed)."""
        if not self._pending:
            return
        new = encode_records(self.namespace, self._pending)
        self._pending.clear()
        self._lines.extend(new)
        self._open()
        if self._fh is not None:
            self._fh.write("".join(line + "\n" for line in new))
            self._fh.flush()
        self._last_drain = time.perf_counter()

    @property
    def lines(self) -> list[str]:
        """Every line logged so far, encoded."""
        self._drain()
        return self._lines

    def event(
        self,
        key: str,
        value: Any = None,
        metadata: dict[str, Any] | None = None,
        time_ms: int | None = None,
        stack_offset: int = 0,
    ) -> None:
        """A POINT_IN_TIME line."""
        self._log("POINT_IN_TIME", key, value, metadata, time_ms, stack_offset)

    def events(self, items: list[tuple[str, Any]], stack_offset: int = 0) -> None:
        """POINT_IN_TIME lines for ``(key, value)`` pairs, with one timestamp and call site: the
        same lines as calling :meth:`event` in a loop, at a fraction of the cost (the harness logs
        a run's two dozen submission and hyperparameter lines this way)."""
        if not self.enabled:
            return
        for key, _ in items:
            self._guard(key)
        frame = sys._getframe(1 + stack_offset)
        file, line = frame.f_code.co_filename, frame.f_lineno
        t = int(time.time() * 1e3)
        self._pending.extend((t, "POINT_IN_TIME", k, v, {"file": file, "lineno": line}) for k, v in items)

    def start(
        self,
        key: str,
        value: Any = None,
        metadata: dict[str, Any] | None = None,
        time_ms: int | None = None,
        stack_offset: int = 0,
    ) -> None:
        """An INTERVAL_START line."""
        self._log("INTERVAL_START", key, value, metadata, time_ms, stack_offset)

    def end(
        self,
        key: str,
        value: Any = None,
        metadata: dict[str, Any] | None = None,
        time_ms: int | None = None,
        stack_offset: int = 0,
    ) -> None:
        """An INTERVAL_END line."""
        self._log("INTERVAL_END", key, value, metadata, time_ms, stack_offset)

    def close(self) -> None:
        """Write the pending lines and close the file."""
        if not self._closed:
            self._drain()
            self._open()  # a run without lines still leaves its (empty) file
            self._closed = True
            if self._fh is not None:
                self._fh.close()

    def detach(self) -> list[Record]:
        """Close the file without writing the pending lines, and return them (records, not yet
        encoded): whoever takes them appends ``encode_records(namespace, records)`` to the file
        (with ``defer_open`` and nothing written yet, the file is not created here).
        The harness hands a finished run's tail to its post-run helper this way."""
        tail = list(self._pending)
        self._pending.clear()
        self._closed = True
        if self._fh is not None:
            self._fh.close()
        return tail

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
