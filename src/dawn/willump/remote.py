"""Remote feature groups backed by a real Redis server, with batched pipelined lookups and an LRU cache.

Willump's remote mode (Kraft et al., MLSys 2020) issued Redis GETs on a thread pool as early as the
inputs allowed and memoised them (its cache evicted the newest entry). Here a :class:`RedisFeature`
is marked ``is_remote`` so :meth:`Pipeline.compute <dawn.willump.pipeline.Pipeline.compute>` issues it
on a thread before computing local groups; each call deduplicates keys, serves what it can from a
true LRU cache, and fetches the rest with chunked ``MGET`` commands sent in one pipelined round trip.

Serve-time policy when Redis is unreachable or does not answer within ``timeout``: ``on_error="raise"``
(default) raises a one-line :class:`~dawn.core.errors.DawnError`; ``on_error="nan"`` returns NaN
features for the affected rows, which tree models (LightGBM, XGBoost) treat as missing values, and
counts those rows in ``failures``. The pipeline waits at most ``timeout`` for a call's lookups, time
queued behind other calls' hung lookups included (:meth:`RedisFeature.timed_out`).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd

from dawn.core.errors import DawnError
from dawn.core.logging import get_logger

log = get_logger(__name__)


class LRUCache:
    """A least-recently-used mapping with a fixed capacity (0 disables it); thread-safe."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Any) -> Any:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
            self.misses += 1
            return None

    def put(self, key: Any, value: Any) -> None:
        if self.maxsize <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)  # evict the least recently used

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: Any) -> bool:
        return key in self._data


def _key(value: Any) -> Any:
    """A key as stored: integral floats (a key column made float by a missing key) become ints."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return int(value)
    return value


def _keys(uniq: np.ndarray) -> list[Any]:
    """:func:`_key` of each of the distinct, non-missing keys of a batch (vectorised where it can be)."""
    if uniq.dtype.kind == "f" and np.all(np.mod(uniq, 1) == 0) and np.all(np.abs(uniq) < 2**62):
        return uniq.astype(np.int64).tolist()  # (larger keys take the exact path below)
    if uniq.dtype.kind in "fO":
        return [_key(k) for k in uniq.tolist()]
    return uniq.tolist()


def _connect(url: str, timeout: float = 10.0) -> Any:
    try:
        import redis
    except ImportError as exc:
        raise DawnError("the redis client is not installed", "pip install 'dawn[willump]'") from exc
    return redis.Redis.from_url(url, socket_connect_timeout=min(2.0, timeout), socket_timeout=timeout)


def upload_table(url: str, prefix: str, table: Any, *, chunk: int = 2000) -> int:
    """Store each row of a DataFrame (indexed by key) as packed float32 under ``prefix + str(key)``
    (integral float keys as ints, as :class:`RedisFeature` looks them up)."""
    client = _connect(url)
    values = table.to_numpy(dtype=np.float32)
    keys = [f"{prefix}{_key(k)}" for k in table.index]
    try:
        for start in range(0, len(keys), chunk):
            client.mset(
                {
                    k: v.tobytes()
                    for k, v in zip(keys[start : start + chunk], values[start : start + chunk], strict=True)
                }
            )
    except Exception as exc:
        raise DawnError(
            f"cannot write to Redis at {url} ({type(exc).__name__})", "start redis-server"
        ) from exc
    return len(keys)


class LookupCall:
    """One call's lookups as the pipeline hands them to a worker thread: the pipeline may abandon the
    call at its deadline, or the worker finish it, whichever comes first, so that the rows a failed
    call serves NaN for are counted exactly once (by :meth:`RedisFeature.timed_out` or the worker)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = "running"

    def finish(self) -> bool:
        """The worker is done; False when the pipeline abandoned the call first."""
        return self._settle("finished", unless="abandoned")

    def abandon(self) -> bool:
        """The pipeline gives up waiting; False when the worker finished first (its answer stands)."""
        return self._settle("abandoned", unless="finished")

    def _settle(self, state: str, *, unless: str) -> bool:
        with self._lock:
            if self._state == unless:
                return False
            self._state = state
            return True


class RedisFeature:
    """A feature group that looks up one packed float32 row per input key in Redis.

    Parameters
    ----------
    url : str
        ``redis://host:port/db``.
    prefix : str
        Key prefix; the key of an input row is ``prefix + str(row[key_column])``, with integral
        float keys written as ints (``u:1``, not ``u:1.0``).
    key_column : str
        Column of the raw input DataFrame holding the key; rows whose key is missing (NaN, None)
        get NaN features without a lookup.
    n_features : int
        Width of the stored rows (missing keys give NaN rows).
    cache_size : int, default=0
        Entries in the LRU cache; 0 disables caching.
    on_error : {"raise", "nan"}, default="raise"
        What to do when Redis cannot be reached at serve time (see the module docstring).
    timeout : float, default=10.0
        Seconds a call waits for its lookups (connecting waits at most 2 s of them) before the
        ``on_error`` policy applies: a server that hangs costs each call this long, however many
        calls are waiting.

    Attributes
    ----------
    failures : int
        Rows served NaN features because Redis failed or did not answer (``on_error="nan"``).
    """

    is_remote = True

    def __init__(
        self,
        url: str,
        prefix: str,
        key_column: str,
        n_features: int,
        *,
        cache_size: int = 0,
        on_error: str = "raise",
        chunk: int = 1000,
        timeout: float = 10.0,
    ) -> None:
        if on_error not in ("raise", "nan"):
            raise DawnError(f"unknown on_error policy {on_error!r}", "use 'raise' or 'nan'")
        if not (isinstance(timeout, (int, float)) and 0.0 < timeout < float("inf")):
            raise DawnError(f"Redis timeout {timeout!r} is not a positive number of seconds", "pass e.g. 1.0")
        self.timeout = float(timeout)
        self.url, self.prefix, self.key_column = url, prefix, key_column
        self.n_features, self.on_error, self.chunk = n_features, on_error, chunk
        self.cache = LRUCache(cache_size)
        self.failures = 0
        self._client: Any = None

    def _fetch(self, keys: list[Any]) -> list[bytes | None]:
        # a local reference: another thread may reset self._client after a failure meanwhile
        client = self._client
        if client is None:
            client = self._client = _connect(self.url, getattr(self, "timeout", 10.0))
        pipe = client.pipeline(transaction=False)
        for start in range(0, len(keys), self.chunk):
            pipe.mget([f"{self.prefix}{k}" for k in keys[start : start + self.chunk]])
        out: list[bytes | None] = []
        for part in pipe.execute():  # one round trip for all chunks
            out.extend(part)
        return out

    def __call__(self, X: Any, call: LookupCall | None = None) -> np.ndarray:
        """One packed row per input key (NaN rows for missing keys). ``call``: the pipeline's handle
        on this call, which it may abandon at its deadline (:meth:`timed_out` then answers for it)."""
        return self._lookup(X, call=call, fetch=True)

    def timed_out(self, X: Any) -> np.ndarray:
        """The answer for a call whose lookups did not come back within ``timeout``: the rows whose keys
        the cache holds, NaN for the rest (counted in ``failures``), or a :class:`DawnError` with
        ``on_error="raise"``. The abandoned lookup, if it is still running, counts nothing itself."""
        return self._lookup(X, call=None, fetch=False)

    def _lookup(self, X: Any, *, call: LookupCall | None, fetch: bool) -> np.ndarray:
        keys = X[self.key_column].to_numpy()
        absent = np.asarray(pd.isna(keys), dtype=bool)
        try:
            uniq_raw, inverse = np.unique(keys[~absent], return_inverse=True)
            uniq = _keys(uniq_raw)
        except TypeError:  # keys of mixed types (10, "11", 12.0 from JSON requests) do not sort
            as_text = np.array([str(_key(k)) for k in keys[~absent].tolist()], dtype=object)
            uniq_raw, inverse = np.unique(as_text, return_inverse=True)  # the stored key's text
            uniq = uniq_raw.tolist()
        width = self.n_features
        rows = np.full((len(uniq), width), np.nan, dtype=np.float32)
        if self.cache.maxsize > 0:
            missing = []
            for i, k in enumerate(uniq):
                hit = self.cache.get(k)
                if hit is None:
                    missing.append(i)
                else:
                    rows[i] = hit
            todo = np.array(missing, dtype=np.intp)
        else:  # no cache: no per-key cache lookups
            todo = np.arange(len(uniq))
        if len(todo):
            wanted = [uniq[i] for i in todo]
            n_failed = int(np.isin(inverse, todo).sum())  # rows served NaN if these keys fail
            got: list[bytes | None] = [None] * len(todo)
            if not fetch:
                self._failed(f"did not answer within {self.timeout:g} s", n_failed)
            else:
                try:
                    got = self._fetch(wanted)
                except DawnError:
                    raise
                except Exception as exc:
                    self._client = None
                    # a call the pipeline has given up on was answered (and counted) by timed_out
                    if call is None or call.finish():
                        self._failed(f"is unreachable ({type(exc).__name__})", n_failed, exc)
                else:
                    if getattr(self, "_failing", False):
                        log.warning("Redis at %s answers again (keys %s*)", self.url, self.prefix)
                    self._failing = False
            # one decode for the whole batch: absent keys become NaN rows
            nan_row = np.full(width, np.nan, dtype=np.float32).tobytes()
            parts = [nan_row if raw is None else raw for raw in got]
            if set(map(len, parts)) != {len(nan_row)}:
                bad = next(k for k, part in zip(wanted, parts, strict=True) if len(part) != len(nan_row))
                raise DawnError(
                    f"Redis value {self.prefix}{bad} is not {width} packed float32 values",
                    "re-upload the table with dawn.willump.remote.upload_table, or fix n_features",
                )
            fetched = np.frombuffer(b"".join(parts), dtype=np.float32).reshape(len(todo), width)
            rows[todo] = fetched
            if self.cache.maxsize > 0:  # a late answer to an abandoned call still fills the cache
                for j, (k, raw) in enumerate(zip(wanted, got, strict=True)):
                    if raw is not None:
                        self.cache.put(k, fetched[j].copy())
        if call is not None:
            call.finish()
        out = np.full((len(keys), width), np.nan)  # rows without a key get NaN features, no lookup
        out[~absent] = rows[inverse]
        return out

    def _failed(self, what: str, rows: int, exc: BaseException | None = None) -> None:
        """The ``on_error`` policy for ``rows`` rows whose lookups failed: raise, or count them (and
        log once per outage, not once per call)."""
        if self.on_error == "raise":
            raise DawnError(
                f"Redis at {self.url} {what}",
                "start redis-server, or build the group with on_error='nan' to serve NaN features",
            ) from exc
        self.failures += rows
        if not getattr(self, "_failing", False):
            log.warning(
                "Redis at %s %s: serving NaN features for keys %s* (on_error='nan') until it answers again",
                self.url, what, self.prefix,
            )  # fmt: skip
        self._failing = True

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_client"] = None  # connections do not pickle; reconnect on first use
        state["_failing"] = False  # an outage is this process's: a loaded plan starts afresh
        # the cache holds a lock, which does not pickle: keep its size and rebuild it on load
        state["cache"] = self.cache.maxsize
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        cache = state["cache"]
        state["cache"] = LRUCache(cache) if isinstance(cache, int) else cache
        self.__dict__.update(state)


class RedisServer:
    """A private ``redis-server`` on a free loopback port, for benchmarks and the CLI (a context manager)."""

    def __init__(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise DawnError(
                "redis-server is not installed", "apt-get install redis-server, or pass --redis-url"
            )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self._dir = tempfile.TemporaryDirectory(prefix="dawn-redis-")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self._dir.name],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise DawnError("redis-server did not start within 10 s", "check that redis-server runs on this host")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._dir.cleanup()

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
