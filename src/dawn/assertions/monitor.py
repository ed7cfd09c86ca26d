"""Runtime monitoring: wrap a model, run assertions on its outputs, record firings, act on them.

Kang et al. (2020), Sec. 3.1 and 5.1: assertions run beside a deployed model and flag likely errors,
including confident ones that uncertainty monitoring misses; a firing can trigger a corrective action
(e.g. hand control to a human). :class:`Monitor` wraps any predict callable, scikit-learn estimator or
``torch.nn.Module``. Predictions are returned unchanged unless a ``fallback`` hook replaces flagged
items; an assertion (or hook) that raises or misbehaves is recorded as an assertion failure and never
breaks the prediction; a store that cannot be written is logged and its events are kept in memory
until it can.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import threading
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dawn.assertions.base import Assertion, assertion_list, n_items
from dawn.assertions.store import EventStore, now, reset_after_fork
from dawn.core.errors import DawnError
from dawn.core.logging import get_logger

log = get_logger(__name__)

__all__ = ["AssertionFired", "Hook", "Monitor", "top_probability"]

HOOK_ACTIONS = ("record", "raise", "fallback", "suppress", "review")


class AssertionFired(DawnError):
    """Raised by a ``raise`` hook when its assertion fires on a prediction."""


@dataclass
class Hook:
    """What to do when an assertion fires.

    action : {"record", "raise", "fallback", "suppress", "review"}
        ``record`` (default) only logs the firing; ``raise`` logs it and raises :class:`AssertionFired`;
        ``fallback`` replaces the flagged items' predictions with ``fallback(inputs_of_flagged_items)``;
        ``suppress`` switches the assertion off (it is not run, so costs nothing); ``review`` logs the
        firing with kind ``review`` and appends the input id to :attr:`Monitor.review_queue`.
    min_severity : float
        Firings below this severity are recorded but do not trigger the action.
    """

    action: str = "record"
    fallback: Callable[[Any], Any] | None = None
    min_severity: float = 0.0

    def __post_init__(self) -> None:
        if self.action not in HOOK_ACTIONS:
            raise DawnError(f"unknown hook action {self.action!r}", f"use one of {', '.join(HOOK_ACTIONS)}")
        if self.action == "fallback" and self.fallback is None:
            raise DawnError("a fallback hook needs a fallback callable", "pass Hook('fallback', fallback=fn)")


def _as_predict(model: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any] | None]:
    """The predict function and, if the model has one, its probability function."""
    try:
        import torch

        if isinstance(model, torch.nn.Module):

            def torch_predict(x: Any) -> Any:
                with torch.no_grad():
                    return model(x)

            return torch_predict, None
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass
    if hasattr(model, "predict"):
        return model.predict, getattr(model, "predict_proba", None)
    if callable(model):
        return model, None
    raise DawnError(
        f"cannot monitor a {type(model).__name__}", "pass a callable, an estimator or a torch module"
    )


class Monitor:
    """Wrap a model so every prediction is checked by model assertions.

    Parameters
    ----------
    model : callable, scikit-learn estimator or torch.nn.Module
    assertions : list of Assertion
        Each is called as ``a.check(outputs, inputs)`` on the batch.
    store : EventStore, path or None
        Where firings go (default: an in-memory SQLite store).
    hooks : mapping of assertion name -> Hook
    sample_rate : float, default=1.0
        Fraction of batches checked, to cap overhead; the choice is made by a seeded generator.
    confidence : callable or None
        ``confidence(inputs, outputs) -> (n,) array``, computed only for batches where an assertion
        fires. By default: the max class probability when the model has ``predict_proba`` (costs one
        more call), else read from a 2-D float output (:func:`top_probability`: probabilities, logits
        through a softmax, or one sigmoid column), else unknown.
    ids : callable or None
        ``ids(inputs) -> (n,) ids``; default the index of a DataFrame input, else running numbers.
        Running numbers are counted per process (a forked worker goes on from its parent's count,
        as its parent does), so processes repeat each other's: give ``ids`` or a ``name`` per
        process when several write to one store.
    name : str
        The model's name in the store.
    seed : int
    store_wait : float, default=0.05
        How long (seconds) a prediction waits for a locked event store, and for another thread's write
        before it: so about twice this at most. Events that cannot be written in time stay in memory
        (the newest 100,000) and go to the store with a later batch or :meth:`flush`, so another
        process holding the store's write lock cannot stall the predictions. Whatever is still
        waiting at interpreter exit is written then (waiting up to the store's timeout), or logged as
        lost; a child process made by ``fork`` starts with an empty queue.
    """

    def __init__(
        self,
        model: Any,
        assertions: list[Assertion],
        *,
        store: EventStore | str | None = None,
        hooks: Mapping[str, Hook] | None = None,
        sample_rate: float = 1.0,
        confidence: Callable[[Any, Any], Any] | None = None,
        ids: Callable[[Any], Any] | None = None,
        name: str = "model",
        seed: int = 0,
        store_wait: float = 0.05,
    ) -> None:
        # set-up mistakes are refused here: found on the first predict, they would break it
        if not isinstance(sample_rate, int | float | np.integer | np.floating):
            raise DawnError(f"sample_rate {sample_rate!r} is not a number", "pass a fraction such as 0.1")
        if not 0.0 <= sample_rate <= 1.0:
            raise DawnError(f"sample_rate {sample_rate} is outside [0, 1]", "pass a fraction such as 0.1")
        if not (isinstance(store_wait, int | float | np.integer | np.floating) and 0 <= store_wait < np.inf):
            raise DawnError(
                f"store_wait {store_wait!r} is not a finite number of seconds >= 0", "pass e.g. 0.05"
            )
        self.model = model
        self.assertions = assertion_list(assertions, "Monitor")
        if hooks is not None and not isinstance(hooks, Mapping):
            raise DawnError(
                f"hooks must map assertion names to Hook objects, got a {type(hooks).__name__}",
                'pass e.g. hooks={"my_assertion": Hook("raise")}',
            )
        self.hooks = dict(hooks or {})
        for k, h in self.hooks.items():
            if not isinstance(h, Hook):
                shown = f"Hook({h!r})" if isinstance(h, str) else "Hook(...)"
                raise DawnError(f"the hook for {k!r} is a {type(h).__name__}, not a Hook", f"pass {shown}")
        unknown = set(self.hooks) - {a.name for a in self.assertions}
        if unknown:
            raise DawnError(f"hooks for unknown assertion(s) {sorted(unknown)}", "use the assertions' names")
        self._predict, self._proba = _as_predict(model)
        # last: a store path creates its file, which no refused set-up should leave behind
        self.store = store if isinstance(store, EventStore) else EventStore(store or ":memory:")
        self.sample_rate = sample_rate
        self.confidence = confidence
        self.ids = ids
        self.name = name
        self.store_wait = float(store_wait)
        self._rng = np.random.default_rng(seed)
        # predict may be called from many threads at once: the bookkeeping below is shared
        self._lock = threading.RLock()
        self._counter = 0
        self._store_failing = self._store_dropping = False
        self._writing = threading.Lock()  # held by the one thread writing the queue to the store
        self._pending: deque[tuple[Any, ...]] = deque(maxlen=100_000)  # events the store refused
        _LIVE.add(self)  # flushed at exit
        reset_after_fork(self)
        self.review_queue: deque[Any] = deque(maxlen=100_000)
        self.stats = {
            "batches": 0, "checked": 0, "firings": 0, "assertion_errors": 0, "store_errors": 0,
            "events_dropped": 0,
        }  # fmt: skip

    def __call__(self, inputs: Any) -> Any:
        return self.predict(inputs)

    def predict(self, inputs: Any) -> Any:
        """Predict, check (on a sample of batches), record, apply hooks; return the predictions."""
        outputs = self._predict(inputs)
        n = n_items(inputs)
        ids = self._ids(inputs, n)
        with self._lock:
            self.stats["batches"] += 1
            if self.sample_rate < 1.0 and self._rng.random() >= self.sample_rate:
                return outputs
            self.stats["checked"] += 1
        original = outputs
        known: list[np.ndarray | None] = []

        def conf() -> np.ndarray | None:  # only once something fires: it may copy a GPU tensor to the host
            if not known:
                known.append(self._confidence(inputs, original, n))
            return known[0]

        ts = now()
        events: list[tuple[Any, ...]] = []
        to_raise: list[str] = []
        for a in self.assertions:
            hook = self.hooks.get(a.name, Hook())
            if hook.action == "suppress":
                continue
            try:
                outputs = self._check_one(a, hook, inputs, outputs, ids, n, conf, ts, events, to_raise)
            except Exception as exc:  # an assertion or hook bug must never break the prediction
                with self._lock:
                    self.stats["assertion_errors"] += 1
                msg = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
                events.append((ts, self.name, "*", a.name, 0.0, None, "error", msg))
        self._write(events)
        if to_raise:
            raise AssertionFired(
                "model assertion fired: " + "; ".join(to_raise),
                "inspect the flagged inputs (the firings are in the event store)",
            )
        return outputs

    def _check_one(
        self,
        a: Assertion,
        hook: Hook,
        inputs: Any,
        outputs: Any,
        ids: np.ndarray,
        n: int,
        conf: Callable[[], np.ndarray | None],
        ts: float,
        events: list[tuple[Any, ...]],
        to_raise: list[str],
    ) -> Any:
        """Run one assertion, append its firings to ``events`` and apply its hook; the outputs after it.

        Firings are appended before the hook runs, so a hook that fails leaves them recorded.
        """
        res = a.check(outputs, inputs)
        sev = np.asarray(res.severity, dtype=np.float64).reshape(-1)
        res_ids = np.asarray(res.ids).reshape(-1)
        bad = ~np.isfinite(sev)
        if bad.any():  # an assertion bug: recorded as a failure; its finite severities still count
            with self._lock:
                self.stats["assertion_errors"] += 1
            msg = f"assertion returned {int(bad.sum())} NaN or infinite severities (of {len(sev)})"
            events.append((ts, self.name, "*", a.name, 0.0, None, "error", msg))
            sev = np.where(bad, 0.0, sev)
        fired = np.flatnonzero(sev > 0)
        if fired.size == 0:
            return outputs
        pos = self._positions(fired, res_ids, ids, n)
        kind = "review" if hook.action == "review" else "fired"
        fired_events = []
        confidence = conf()
        for k, p in zip(fired, pos, strict=True):
            c = None if confidence is None or p is None else float(confidence[p])
            iid = str(ids[p]) if p is not None else str(res_ids[k])
            fired_events.append((ts, self.name, iid, a.name, float(sev[k]), c, kind, None))
        events.extend(fired_events)
        with self._lock:
            self.stats["firings"] += int(fired.size)
        act = [(k, p) for k, p in zip(fired, pos, strict=True) if sev[k] >= hook.min_severity]
        if not act:
            return outputs
        if hook.action == "review":
            with self._lock:
                self.review_queue.extend(ids[p] if p is not None else res_ids[k] for k, p in act)
        elif hook.action == "raise":
            to_raise.append(f"{a.name} on {len(act)} item(s)")
        elif hook.action == "fallback" and hook.fallback is not None:
            rows_to_replace = sorted({p for _, p in act if p is not None})
            return self._apply_fallback(outputs, inputs, rows_to_replace, hook.fallback)
        return outputs

    def _ids(self, inputs: Any, n: int) -> np.ndarray:
        if self.ids is not None:
            try:
                ids = np.asarray(self.ids(inputs))
                if ids.shape == (n,):
                    return ids
                log.warning("ids() gave shape %s for %d inputs; using running numbers", ids.shape, n)
            except Exception as exc:  # a broken ids() must not break the prediction either
                log.warning("ids() raised %s: %s; using running numbers", type(exc).__name__, exc)
        elif isinstance(inputs, pd.DataFrame | pd.Series):
            return inputs.index.to_numpy()
        with self._lock:
            out = np.arange(self._counter, self._counter + n)
            self._counter += n
        return out

    @staticmethod
    def _positions(fired: np.ndarray, res_ids: np.ndarray, ids: np.ndarray, n: int) -> list[int | None]:
        """Batch positions of an assertion's fired items (given by their positions in its result);
        None for items that are not rows, such as frames of a detection batch."""
        if len(res_ids) == n and np.array_equal(res_ids, ids):
            # the result lists the batch's rows in order: position k is row k, even where labels repeat
            return [int(k) for k in fired]
        if len(res_ids) == n:  # positional ids (array input)
            return [
                int(v) if isinstance(v, int | np.integer) and 0 <= v < n else None for v in res_ids[fired]
            ]
        return [None] * len(fired)

    def _confidence(self, inputs: Any, outputs: Any, n: int) -> np.ndarray | None:
        try:
            conf = self._raw_confidence(inputs, outputs)
        except Exception as exc:  # confidence is best effort; never break the prediction
            log.debug("confidence unavailable: %s", exc)
            return None
        if conf is not None and len(conf) != n:
            log.debug("confidence has %d values for %d inputs; ignoring it", len(conf), n)
            return None
        return conf

    def _raw_confidence(self, inputs: Any, outputs: Any) -> np.ndarray | None:
        if self.confidence is not None:
            return np.asarray(self.confidence(inputs, outputs), dtype=np.float64).reshape(-1)
        if self._proba is not None:
            return np.asarray(self._proba(inputs)).max(axis=1)
        return top_probability(outputs)

    @staticmethod
    def _apply_fallback(outputs: Any, inputs: Any, rows: list[int], fallback: Callable[[Any], Any]) -> Any:
        """The outputs with ``rows`` replaced by ``fallback(inputs of rows)``, in the outputs' own type."""
        if not rows:
            return outputs
        return _replaced(outputs, rows, fallback(_take(inputs, rows)))

    def flush(self, timeout: float | None = None) -> int:
        """Write the events kept in memory while the store could not take them; returns how many are
        still waiting (0 when the store took them all). ``timeout`` defaults to the store's own."""
        self._write([], timeout=self.store.timeout if timeout is None else timeout)
        with self._lock:
            return len(self._pending)

    def _write(self, events: list[tuple[Any, ...]], *, timeout: float | None = None) -> None:
        """Queue ``events`` and write the queue. One thread writes at a time and takes everything
        queued; another thread waits for it no longer than it would wait for the store (``store_wait``,
        or ``timeout`` for :meth:`flush`), then leaves its events queued, and a writer looks at the
        queue again after releasing it, so events queued meanwhile are not left behind."""
        with self._lock:
            self._enqueue(events)
            if not self._pending:
                return
        wait = self.store_wait if timeout is None else timeout
        for _ in range(4):  # passes: a busy service must not keep one caller writing for ever
            got = self._writing.acquire(timeout=wait) if wait > 0 else self._writing.acquire(blocking=False)
            if not got:
                return  # the thread writing now looks at the queue again when it is done
            try:
                with self._lock:
                    batch = list(self._pending)
                    self._pending.clear()
                ok = not batch or self._record(batch, wait)
            finally:
                self._writing.release()
            with self._lock:
                if not ok or not self._pending:
                    return

    def _record(self, batch: list[tuple[Any, ...]], timeout: float) -> bool:
        """Write ``batch``; on failure put it back ahead of what was queued meanwhile. Whether it went."""
        try:
            self.store.record(batch, timeout=timeout)
        except DawnError as exc:  # keep answering; retry these events with a later batch
            with self._lock:
                self.stats["store_errors"] += 1
                newer = list(self._pending)  # queued by other threads meanwhile: they stay last
                self._pending.clear()
                self._enqueue(batch + newer)
                if not self._store_failing:  # once per outage, not on every batch (stats count them)
                    log.warning("%s; keeping the events in memory until it takes them", exc.one_line())
                self._store_failing = True
            return False
        with self._lock:
            if self._store_failing:
                log.warning("event store %s takes events again (%d written)", self.store.path, len(batch))
            self._store_failing = self._store_dropping = False
        return True

    def _enqueue(self, events: list[tuple[Any, ...]]) -> None:
        """Append to the in-memory queue (the caller holds the lock); beyond its cap the oldest go."""
        cap = self._pending.maxlen or len(events) + len(self._pending)
        dropped = max(len(self._pending) + len(events) - cap, 0)
        self._pending.extend(events)  # the deque keeps the newest
        if dropped:
            self.stats["events_dropped"] += dropped
            if not self._store_dropping:  # once per outage
                log.warning(
                    "event store %s: more than %d events waiting, dropping the oldest", self.store.path, cap
                )
            self._store_dropping = True

    def _forked(self) -> None:
        """In a child process made by ``fork``: new locks (another thread may have held one at the
        fork) and an empty queue (the parent writes what it had queued, once)."""
        self._lock = threading.RLock()
        self._writing = threading.Lock()
        self._pending.clear()
        self._store_failing = self._store_dropping = False

    def report(self) -> dict[str, Any]:
        """The store's report plus this monitor's counters, after trying once more (:meth:`flush`) to
        write the events kept in memory."""
        self.flush()
        rep = self.store.report()
        with self._lock:
            return {**rep, "monitor": dict(self.stats), "pending": len(self._pending)}


_LIVE: weakref.WeakSet[Monitor] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    """At interpreter exit, write what each monitor still holds (waiting up to its store's timeout),
    and say how many events are lost when the store will not take them."""
    for m in list(_LIVE):
        with contextlib.suppress(Exception):  # exit must go on whatever the store does
            if m._pending and m.flush():
                log.warning(
                    "monitor %r: %d event(s) could not be written to %s before exit and are lost",
                    m.name, len(m._pending), m.store.path,
                )  # fmt: skip


def top_probability(outputs: Any) -> np.ndarray | None:
    """The model's confidence in each output row, read from its outputs, or None where they are not
    scores: for (n, k) probabilities the top one; for (n, k) logits (values outside [0, 1]) the top
    softmax probability; for (n, 1), ``max(p, 1 - p)`` of the probability (a sigmoid of a logit).
    A tensor is reduced on its own device, so only n values are copied to the host."""
    if hasattr(outputs, "detach") and hasattr(outputs, "softmax"):  # a torch tensor
        t = outputs.detach()
        if t.ndim != 2 or not t.is_floating_point() or t.shape[0] == 0:
            return None
        t = t.float()  # bfloat16 and float16 have no numpy counterpart worth keeping
        probs = bool(((t >= 0) & (t <= 1)).all())
        if t.shape[1] == 1:
            p = t[:, 0] if probs else t[:, 0].sigmoid()
            top = (p - 0.5).abs() + 0.5
        else:
            top = (t if probs else t.softmax(dim=1)).max(dim=1).values
        return top.cpu().numpy().astype(np.float64)
    arr = np.asarray(outputs)
    if arr.ndim != 2 or arr.dtype.kind != "f" or arr.shape[0] == 0:
        return None
    arr = arr.astype(np.float64)
    probs = bool(((arr >= 0) & (arr <= 1)).all())
    if arr.shape[1] == 1:
        p = arr[:, 0] if probs else 0.5 * (1.0 + np.tanh(arr[:, 0] / 2.0))  # the sigmoid, no overflow
        return np.abs(p - 0.5) + 0.5
    if probs:
        return arr.max(axis=1)
    z = np.exp(arr - arr.max(axis=1, keepdims=True))
    return (z / z.sum(axis=1, keepdims=True)).max(axis=1)


def _take(inputs: Any, rows: list[int]) -> Any:
    """The inputs at positions ``rows``."""
    if isinstance(inputs, pd.DataFrame | pd.Series):
        return inputs.iloc[rows]
    if isinstance(inputs, list):
        return [inputs[i] for i in rows]
    return inputs[rows]


def _replaced(outputs: Any, rows: list[int], repl: Any) -> Any:
    """A copy of ``outputs`` (list, tensor, pandas or array-like) with ``rows`` set to ``repl``."""
    if isinstance(outputs, list):
        vals = list(repl)
        if len(vals) != len(rows):
            raise ValueError(f"fallback returned {len(vals)} prediction(s) for {len(rows)} item(s)")
        out_list = list(outputs)
        for i, v in zip(rows, vals, strict=True):
            out_list[i] = v
        return out_list
    if hasattr(outputs, "clone") and hasattr(outputs, "device"):
        import torch

        out = outputs.clone()
        out[rows] = torch.as_tensor(repl, dtype=out.dtype, device=out.device)
        return out
    new = np.asarray(repl)
    if isinstance(outputs, pd.DataFrame | pd.Series):
        frame = outputs.copy()
        # widen a plain numpy column (not a pandas extension type) so no replacement is truncated
        if isinstance(frame, pd.Series) and isinstance(frame.dtype, np.dtype):
            wide = _widened(frame.dtype, new.dtype)
            if wide != frame.dtype:
                frame = frame.astype(wide)
        frame.iloc[rows] = new
        return frame
    arr = np.asarray(outputs)
    arr = arr.astype(_widened(arr.dtype, new.dtype), copy=True)
    arr[rows] = new
    return arr


def _widened(old: np.dtype[Any], new: np.dtype[Any]) -> np.dtype[Any]:
    """A dtype that holds both the old predictions and their replacements without truncating either
    (e.g. ``'<U7'`` for ``'<U3'`` labels and ``'unknown'``); object where numpy has no common type."""
    try:
        return np.result_type(old, new)
    except TypeError:  # numpy's DTypePromotionError, e.g. strings and numbers
        return np.dtype(object)


def dumps(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=2, default=str)
