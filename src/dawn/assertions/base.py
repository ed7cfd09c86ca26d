"""The model-assertion abstraction: a vectorised function of a batch that returns per-item severities.

Kang et al., "Model Assertions for Monitoring and Improving ML Models", MLSys 2020, Sec. 3: an
assertion takes a model's inputs and outputs (optionally a recent window of them) and returns a
severity >= 0 per item, 0 meaning abstain. Here an assertion sees a whole batch at once (a pandas
DataFrame or numpy array) so it costs microseconds per row, and may return a *correction* (the value it
believes is right) for each item it flags, which :mod:`dawn.assertions.weak` turns into weak labels.

Items are identified by labels, never by position: a row assertion reports the batch's own index
labels, a temporal detection assertion reports frame numbers. :class:`Streaming` makes any windowed
assertion work on a live stream whose batches split a window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from dawn.core.errors import DawnError

__all__ = ["Assertion", "AssertionResult", "FunctionAssertion", "Streaming", "assertion", "check_all"]


@dataclass
class AssertionResult:
    """What one assertion says about one batch.

    Attributes
    ----------
    ids : ndarray of shape (n,)
        The items judged (row index labels, or frame numbers for per-frame assertions).
    severity : ndarray of shape (n,), float
        Severity per item; 0 = abstain.
    corrections : DataFrame or None
        Proposed fixes for flagged items, one row each, with an ``id`` column and the corrected
        values (plus ``action`` = ``"set"``, ``"add"`` or ``"remove"`` for detection outputs).
    """

    ids: np.ndarray
    severity: np.ndarray
    corrections: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids)
        self.severity = np.asarray(self.severity, dtype=np.float64)
        if self.ids.shape != self.severity.shape:
            raise ValueError(f"ids {self.ids.shape} and severity {self.severity.shape} differ in shape")

    @property
    def fired(self) -> np.ndarray:
        """Boolean mask of items with severity > 0."""
        return self.severity > 0

    def flagged(self) -> pd.Series:
        """Severity of flagged items only, indexed by id, highest first."""
        s = pd.Series(self.severity, index=self.ids)
        return s[s > 0].sort_values(ascending=False, kind="stable")

    def as_series(self) -> pd.Series:
        return pd.Series(self.severity, index=self.ids)


@dataclass
class Assertion:
    """Base class. Subclasses implement :meth:`check` on a whole batch.

    Parameters
    ----------
    name : str
        Identifies the assertion in event stores, reports and active-learning arms.
    window : int
        How many time units of history the assertion needs before an item (0 = stateless).
    lookahead : int
        How many time units after an item it needs before the item's verdict is final.
    """

    name: str = "assertion"
    window: int = field(default=0, kw_only=True)
    lookahead: int = field(default=0, kw_only=True)
    #: what the result's ids are: ``"rows"`` (the input's row labels), ``"times"`` (time values, e.g.
    #: frames) or None (not declared: :class:`Streaming` infers it from the ids)
    ids_kind: ClassVar[str | None] = None
    #: whether :meth:`check` takes ``span=(first, last)``: the time units its input covers, rows or not
    #: (an assertion that never judges what the input's ends may cut off, e.g. a brief appearance,
    #: otherwise takes the first and last times that have rows). :class:`Streaming` passes the stream's.
    takes_span: ClassVar[bool] = False

    def check(self, outputs: Any, inputs: Any = None) -> AssertionResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, outputs: Any, inputs: Any = None) -> AssertionResult:
        return self.check(outputs, inputs)


class FunctionAssertion(Assertion):
    """Wrap a vectorised function ``fn(outputs, inputs) -> severities`` (or ``(severities, corrections)``).

    The function receives the whole batch; a bool array means severity 0/1. Ids are the batch's index
    labels when it is a pandas object, else positions.
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None) -> None:
        super().__init__(name=name or str(getattr(fn, "__name__", "assertion")))
        self.fn = fn

    def check(self, outputs: Any, inputs: Any = None) -> AssertionResult:
        out = self.fn(outputs, inputs)
        corrections = None
        if isinstance(out, tuple):
            out, corrections = out
        if hasattr(out, "detach") and hasattr(out, "cpu"):  # a torch tensor, perhaps on a GPU
            out = out.detach().float().cpu().numpy()  # float: numpy has no bfloat16
        sev = np.asarray(out, dtype=np.float64).reshape(-1)
        n = n_items(outputs)
        if sev.shape[0] != n:
            raise DawnError(
                f"assertion {self.name!r} returned {sev.shape[0]} severities for {n} items",
                "return one severity per row of the batch",
            )
        ids = outputs.index.to_numpy() if isinstance(outputs, pd.DataFrame | pd.Series) else np.arange(n)
        return AssertionResult(ids, sev, corrections)


def n_items(batch: Any) -> int:
    """How many items a batch holds; a scalar (a 0-d array or tensor, a number) is one."""
    try:
        return len(batch)
    except TypeError:
        return 1


def require_frame(data: Any, who: str, columns: Sequence[str]) -> None:
    """A :class:`DawnError` unless ``data`` is a pandas DataFrame; ``who`` needs its ``columns``."""
    if not isinstance(data, pd.DataFrame):
        raise DawnError(
            f"{who} needs a pandas DataFrame, got {type(data).__name__}",
            f"pass a DataFrame with column(s) {', '.join(columns)}",
        )


def expand_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One entry per unit of ``counts``: (which count it belongs to, its 0-based position in it).

    ``expand_counts([2, 0, 3])`` is ``([0, 0, 2, 2, 2], [0, 1, 0, 1, 2])``: the vectorised form of
    "one row per missing frame of each gap" or "one pair per box in the same frame".
    """
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(len(counts)), counts)
    return owner, np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)


def covered_span(times: np.ndarray, span: Any) -> tuple[float, float]:
    """The first and last time units an input covers: ``span`` when given (checked to hold every time
    in ``times``), else the smallest and largest of ``times`` ((0, 0) when there are none)."""
    lo, hi = (float(times.min()), float(times.max())) if len(times) else (0.0, 0.0)
    if span is None:
        return lo, hi
    try:
        first, last = (float(v) for v in span)
    except (TypeError, ValueError):
        raise DawnError(f"span={span!r} is not a pair of times", "pass span=(first, last)") from None
    if not first <= last or (len(times) and (first > lo or last < hi)):
        raise DawnError(
            f"span=({first:g}, {last:g}) does not cover the input's times ({lo:g} to {hi:g})",
            "pass the first and last time units the input was taken from, rows or not",
        )
    return first, last


def assertion(fn: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """Decorator: ``@assertion`` turns a vectorised function into a :class:`FunctionAssertion`."""
    if fn is None:
        return lambda f: FunctionAssertion(f, name)
    return FunctionAssertion(fn, name)


def assertion_list(assertions: Any, who: str) -> list[Assertion]:
    """``assertions`` as a list; a :class:`DawnError` unless it is a list (or other iterable) of
    :class:`Assertion` objects."""
    if isinstance(assertions, Assertion):
        raise DawnError(f"{who} needs a list of assertions, got one {type(assertions).__name__}", "pass [a]")
    if isinstance(assertions, str | bytes) or not hasattr(assertions, "__iter__"):
        raise DawnError(
            f"{who} needs a list of assertions, got {type(assertions).__name__}", "pass [a, b, ...]"
        )
    out = list(assertions)
    for a in out:
        if isinstance(a, Assertion):
            continue
        if isinstance(a, type) and issubclass(a, Assertion):
            raise DawnError(f"{who} got the class {a.__name__}, not an instance", f"pass {a.__name__}(...)")
        if callable(a):
            name = getattr(a, "__name__", "")
            name = name if name.isidentifier() else "f"
            raise DawnError(
                f"{who} got the function {name!r}, not an Assertion",
                f"wrap it: FunctionAssertion({name}, name={name!r})",
            )
        raise DawnError(
            f"{who} got a {type(a).__name__}, not an Assertion", "pass a list of Assertion objects"
        )
    return out


def check_all(assertions: list[Assertion], outputs: Any, inputs: Any = None) -> pd.DataFrame:
    """Run several assertions; a long DataFrame of firings (``id``, ``assertion``, ``severity``)."""
    frames = []
    for a in assertion_list(assertions, "check_all"):
        r = a.check(outputs, inputs)
        m = r.fired
        frames.append(pd.DataFrame({"id": r.ids[m], "assertion": a.name, "severity": r.severity[m]}))
    if not frames:
        return pd.DataFrame(columns=["id", "assertion", "severity"])
    return pd.concat(frames, ignore_index=True)


class Streaming:
    """Run a windowed assertion over a live stream of batches, with state that spans batches.

    Kang et al. (2020) run temporal assertions over a sliding window of recent outputs. The original
    library was stateless per call, so a flicker split across two calls was never seen. This wrapper keeps
    the last ``window + lookahead`` time units of rows, re-checks them with each new batch, and emits each
    item's verdict exactly once, as soon as ``lookahead`` later time units have arrived. :meth:`flush`
    emits the rest at the end of the stream. Batches must arrive in time order (rows of earlier time
    units are refused, as they would be counted twice); rows out of order *within* a batch are fine.
    A batch's newest time unit counts as complete when it arrives; when batches are cut by size rather
    than by time, pass ``complete=False`` for a batch whose newest unit may go on in the next one: the
    verdicts that depend on that unit then wait for a later batch (or :meth:`flush`), and the result is
    the batch one. Time units with no rows count as seen up to ``last_time``, and an assertion that
    takes a ``span`` (appear, transition consistency) is told where the stream began and how far it
    has been seen. A batch the inner assertion refuses (e.g. a NaN score) leaves the stream as it was,
    so the corrected batch can be sent again.

    The inner assertion's ids may be time values (flicker, appear and multibox report frames) or its
    input's row labels (class flip, transition consistency): then each verdict is emitted by its row's
    time and carries the row's label in the batch it came in.

    Parameters
    ----------
    inner : Assertion
        A batch assertion with ``window`` and ``lookahead`` (in time units).
    time_col : str
        The column holding time.
    """

    def __init__(self, inner: Assertion, time_col: str = "frame") -> None:
        self.inner = inner
        self.time_col = time_col
        self.name = inner.name
        # buffered rows, indexed by their number in the stream (a batch's own labels may repeat)
        self._buffer: pd.DataFrame | None = None
        self._labels: dict[int, Any] = {}  # stream row number -> the row's label in its batch
        self._next_row = 0
        # the stream's first row, kept once the buffer has moved past it: assertions that never flag
        # what the start of their input may have cut off (appear) must still see where the stream began
        self._first_row: pd.DataFrame | None = None
        self._emitted_upto: float = -np.inf  # every item with time <= this has been emitted
        self._last_time: float = -np.inf
        self._first_time: float | None = None  # where the stream began (its first row or last_time)

    def update(
        self, batch: pd.DataFrame, last_time: float | None = None, *, complete: bool = True
    ) -> AssertionResult:
        """Add a batch; return verdicts that became final. ``last_time``: the batch's last time unit
        (frames with no rows still count as seen), default the largest time in the batch.
        ``complete=False``: the newest time unit may continue in the next batch, so nothing that
        depends on it is emitted yet."""
        require_frame(batch, "a streaming batch", [self.time_col])
        if self.time_col not in batch.columns:
            raise DawnError(f"streaming batch has no {self.time_col!r} column", "pass the time column")
        if not pd.api.types.is_numeric_dtype(batch[self.time_col]):
            raise DawnError(
                f"streaming needs a numeric time column; {self.time_col!r} is {batch[self.time_col].dtype}",
                "send times as numbers, e.g. seconds since a start ((t - t0).dt.total_seconds()), and "
                "give the assertion's horizon in the same unit",
            )
        t = batch[self.time_col].to_numpy()
        batch_last = float(t.max()) if len(t) else self._last_time
        if last_time is not None:
            batch_last = max(batch_last, float(last_time))
        if len(t) and float(t.min()) <= self._emitted_upto:
            raise DawnError(
                f"out-of-order batch: time {t.min()} already emitted (up to {self._emitted_upto})",
                "send batches in time order (when a batch's last time unit goes on in the next batch, "
                "pass complete=False with it), or check the whole batch with the assertion itself",
            )
        if len(t) and float(t.min()) < self._last_time:  # re-sent rows would be counted twice
            raise DawnError(
                f"out-of-order batch: time {t.min()} is before time {self._last_time}, already received",
                "send each time unit's rows once, in time order (a batch may continue the last one)",
            )
        before = (self._last_time, self._next_row, self._first_time)
        self._last_time = max(self._last_time, batch_last)
        if self._first_time is None and np.isfinite(batch_last):
            self._first_time = float(t.min()) if len(t) else batch_last
        numbered = batch.set_axis(pd.RangeIndex(self._next_row, self._next_row + len(batch)), axis=0)
        self._labels.update(zip(numbered.index.tolist(), batch.index.tolist(), strict=True))
        self._next_row += len(batch)
        buf = numbered if self._buffer is None else pd.concat([self._buffer, numbered])
        final_upto = self._last_time - self.inner.lookahead
        if not complete:  # only items whose lookahead ends before the newest (partial) unit
            final_upto = float(np.nextafter(final_upto, -np.inf))
        try:
            res = self._emit(buf, final_upto)
        except BaseException:  # a batch the assertion refuses leaves the stream as it was: resend it fixed
            self._last_time, self._next_row, self._first_time = before
            for k in numbered.index.tolist():
                self._labels.pop(k, None)
            raise
        keep_from = final_upto - self.inner.window - self.inner.lookahead
        times = buf[self.time_col].to_numpy()
        if self._first_row is None and len(buf) and (times <= keep_from).any():
            self._first_row = buf.iloc[[int(np.argmin(times))]]
        for k in buf.index[times <= keep_from].tolist():  # their verdicts are out: forget their labels
            self._labels.pop(k, None)
        self._buffer = buf[times > keep_from]
        return res

    def flush(self) -> AssertionResult:
        """Emit every remaining verdict (end of stream)."""
        if self._buffer is None:
            return AssertionResult(np.array([]), np.array([]))
        res = self._emit(self._buffer, np.inf)  # everything still pending, added rows included
        self._emitted_upto = self._last_time  # a stream that goes on after a flush starts past it
        self._buffer = None
        self._labels.clear()
        # ... and begins anew: what it held before is gone, so its start may cut tracks off again
        self._first_row, self._first_time = None, None
        return res

    def _emit(self, buf: pd.DataFrame, final_upto: float) -> AssertionResult:
        if self._first_row is not None:  # long emitted, and beyond every window: only marks the start
            buf = pd.concat([self._first_row, buf])
        if getattr(self.inner, "takes_span", False) and self._first_time is not None:
            check: Any = self.inner.check  # the subclass's, which takes span (takes_span says so)
            r = check(buf, span=(self._first_time, self._last_time))
        else:
            r = self.inner.check(buf)
        lo = self._emitted_upto
        self._emitted_upto = max(self._emitted_upto, final_upto)
        kind = getattr(self.inner, "ids_kind", None)
        if kind is None:  # undeclared: ids that are the buffer's row numbers are rows (frames may match)
            by_row = len(r.ids) == len(buf) and np.array_equal(r.ids, buf.index.to_numpy())
        else:
            by_row = kind == "rows"
        if by_row:  # ids are the buffer's row numbers: a verdict is due by its row's time
            when = buf[self.time_col].to_numpy(dtype=np.float64)
            ids = np.array([self._labels.get(k, k) for k in r.ids.tolist()], dtype=object)
        else:  # ids are time values
            when = r.ids.astype(np.float64) if r.ids.size else np.zeros(0)
            ids = r.ids
        m = (when > lo) & (when <= final_upto)
        corr = r.corrections
        if corr is not None and len(corr):
            corr = self._due_corrections(corr, buf, by_row, lo, final_upto)
        out_ids = ids[m]
        if by_row and len(out_ids) and all(isinstance(v, int | np.integer) for v in out_ids):
            out_ids = out_ids.astype(np.int64)
        return AssertionResult(out_ids, r.severity[m], corr)

    def _due_corrections(
        self, corr: pd.DataFrame, buf: pd.DataFrame, by_row: bool, lo: float, hi: float
    ) -> pd.DataFrame:
        """The corrections whose time is in ``(lo, hi]``, row numbers turned back into batch labels."""
        if not by_row:
            cid = corr["id"].to_numpy(dtype=np.float64)
            out = corr[(cid > lo) & (cid <= hi)].reset_index(drop=True)
            if "row" in out.columns:  # detection corrections name the row by its label in its batch
                out["row"] = [self._labels.get(k, k) for k in out["row"].tolist()]
            return out
        time_of = buf[self.time_col]
        row = corr["id"]
        known = row.isin(buf.index)
        if "action" in corr.columns:  # an added row is no existing row, whatever its "id" reads
            known &= corr["action"].ne("add")
        # a correction of an existing row is due by that row's time; an added row (a filled gap)
        # ``lookahead`` units after its own time: whether the gap is filled depends on the run that
        # follows it (a brief run is removed instead), which takes that long to be known
        own = corr[self.time_col] if self.time_col in corr.columns else pd.Series(np.nan, index=corr.index)
        own = own.to_numpy(dtype=np.float64) + self.inner.lookahead
        when = np.where(known, time_of.reindex(row.where(known)).to_numpy(dtype=np.float64), own)
        out = corr[(when > lo) & (when <= hi)].copy()
        out["id"] = [
            self._labels.get(k, k) if ok else k for k, ok in zip(out["id"], known[out.index], strict=True)
        ]
        return out.reset_index(drop=True)
