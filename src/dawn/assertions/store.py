"""An embedded event store for assertion firings: one SQLite file, queried by the report CLI.

Each event is one firing (or one assertion failure) with the input id, assertion name, severity, the
model's confidence and the time. SQLite is in the standard library, needs no server, survives crashes
(write-ahead log) and lets several monitored processes append to one file.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dawn.core.errors import DawnError
from dawn.core.logging import get_logger

log = get_logger(__name__)

__all__ = ["EventStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,            -- unix seconds
    model TEXT NOT NULL,
    input_id TEXT NOT NULL,
    assertion TEXT NOT NULL,
    severity REAL NOT NULL,
    confidence REAL,             -- model confidence for the input, NULL if unknown
    kind TEXT NOT NULL,          -- 'fired' | 'error' (the assertion raised) | 'review'
    detail TEXT
);
CREATE INDEX IF NOT EXISTS events_assertion_ts ON events (assertion, ts);
"""

COLUMNS = ["ts", "model", "input_id", "assertion", "severity", "confidence", "kind", "detail"]


class EventStore:
    """Append-only firing log in a SQLite file (``":memory:"`` for tests).

    Parameters
    ----------
    path : str or Path
        The database file; created with its schema if absent.
    timeout : float, default=2.0
        Seconds to wait for another writer's lock before giving up with :class:`DawnError`.
    read_only : bool, default=False
        Open an existing store for reading only (see :meth:`open_existing`).
    """

    def __init__(
        self, path: str | Path = ":memory:", *, timeout: float = 2.0, read_only: bool = False
    ) -> None:
        if not isinstance(path, str | os.PathLike):
            raise DawnError(
                f"the event store path is a {type(path).__name__}, not a path",
                "pass the SQLite file's path as a str or Path",
            )
        self.path = str(path)
        self.timeout = timeout
        # one writing connection shared by every thread of a monitored service: each use holds this
        # lock; reports and queries read a file store through a connection of their own, so a long
        # read never holds up a monitored prediction's write
        self._lock = threading.RLock()
        self._read_lock = threading.RLock()
        self._reader: sqlite3.Connection | None = None
        self._read_only = read_only
        self._inherited: list[sqlite3.Connection] = []  # a fork's copies: never used, never closed
        self._closed = False
        reset_after_fork(self)
        if read_only:
            p = Path(path)
            self.path = str(p)
            if not p.is_file():
                raise DawnError(f"no event store at {p}", "pass the path that the monitor wrote (store=...)")
            self._conn = _connect_read_only(p, timeout)
            return
        if self.path != ":memory:":
            parent = Path(self.path).resolve().parent
            if not parent.is_dir():
                raise DawnError(
                    f"cannot create event store {self.path}: directory {parent} does not exist",
                    "create the directory or choose another store path",
                )
        try:
            self._conn = sqlite3.connect(self.path, timeout=timeout, check_same_thread=False)
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
                # a reader holding a snapshot stops checkpoints from resetting the log; once it is
                # done, the log is cut back to this size instead of keeping its largest
                self._conn.execute(f"PRAGMA journal_size_limit = {64 * 1024 * 1024}")
            self._conn.executescript(_SCHEMA)
        except sqlite3.OperationalError as exc:  # permissions, a directory at the path, a read-only file
            raise DawnError(
                f"cannot open or create event store {self.path} for writing ({exc})",
                "check that the file and its directory are writable, or choose another store path",
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise DawnError(
                f"event store {self.path} is not a usable SQLite database ({exc})",
                "move the file aside or point the monitor at a new store path",
            ) from exc

    @classmethod
    def open_existing(cls, path: str | Path, *, timeout: float = 2.0) -> EventStore:
        """Open a store for reading; a :class:`DawnError` if the file is missing or not a store.

        The file is opened read-only and never modified: no schema, no journal-mode change.
        """
        return cls(path, timeout=timeout, read_only=True)

    def record(self, rows: Iterable[tuple[Any, ...]], *, timeout: float | None = None) -> int:
        """Append events given as tuples in :data:`COLUMNS` order; returns how many were written.

        ``timeout`` (seconds) replaces the store's own wait for another writer's lock for this call only:
        a monitor passes a short one so that a locked store never stalls the predictions it records.
        """
        rows = list(rows)
        if not rows:
            return 0
        # another thread of this process writing (or reading an in-memory store) counts as a lock too
        if not self._lock.acquire(timeout=-1 if timeout is None else max(timeout, 0.0)):
            raise DawnError(
                f"cannot write to event store {self.path}: busy in this process for {timeout:g} s",
                "the events stay queued; they are written with a later batch",
            )
        try:
            if timeout is not None:
                self._conn.execute(f"PRAGMA busy_timeout = {max(int(timeout * 1000), 0)}")
            try:
                with self._conn:
                    self._conn.executemany(
                        "INSERT INTO events (ts, model, input_id, assertion, severity, confidence, "
                        "kind, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        rows,
                    )
            finally:
                if timeout is not None:
                    self._conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        except sqlite3.OperationalError as exc:  # locked past the timeout, disk full, read-only
            raise DawnError(
                f"cannot write to event store {self.path}: {exc}",
                "check that no process holds a long write lock and the disk is writable",
            ) from exc
        except sqlite3.ProgrammingError as exc:  # events of the wrong shape, or a closed connection
            # looked for only after the failure: record() runs on every monitored batch
            bad = next(
                (r for r in rows if not (isinstance(r, tuple | list) and len(r) == len(COLUMNS))), None
            )
            if bad is not None:
                raise DawnError(
                    f"event {bad!r} is not a tuple of {len(COLUMNS)} fields",
                    f"give each event as a tuple of {', '.join(COLUMNS)}, in that order",
                ) from exc
            raise DawnError(
                f"event store {self.path} was closed ({exc})", "give the monitor an open EventStore"
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise DawnError(
                f"event store {self.path} is corrupt: {exc}", "move it aside and start a new one"
            ) from exc
        finally:
            self._lock.release()
        return len(rows)

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A connection for reading, inside one read transaction: every query in the block sees the
        same events, whatever other threads and processes write meanwhile."""
        if self._closed:  # its reader would quietly reopen, and a fork would not know of it
            raise DawnError(f"event store {self.path} is closed", "read it before close(), or open it again")
        if self._read_only or self.path == ":memory:":  # an in-memory store has one connection
            lock, conn = self._lock, self._conn
        else:
            lock = self._read_lock
        with lock:
            if lock is self._read_lock:
                if self._reader is None:
                    try:
                        self._reader = sqlite3.connect(
                            self.path, timeout=self.timeout, check_same_thread=False
                        )
                    except sqlite3.DatabaseError as exc:
                        raise DawnError(
                            f"event store {self.path} cannot be read: {exc}", "check the path"
                        ) from exc
                conn = self._reader
            outer = not conn.in_transaction
            try:
                if outer:
                    conn.execute("BEGIN")
                yield conn
            except sqlite3.DatabaseError as exc:
                raise DawnError(
                    f"event store {self.path} cannot be read: {exc}", "check that it is a dawn event store"
                ) from exc
            finally:
                if outer and conn.in_transaction:
                    conn.execute("COMMIT")

    def events(
        self,
        *,
        assertion: str | None = None,
        since: Any = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Events as a DataFrame, oldest first, optionally filtered. ``since``: unix seconds, or a
        datetime, ``pd.Timestamp`` or ISO string (a time without a zone is read as UTC)."""
        q = "SELECT " + ", ".join(COLUMNS) + " FROM events WHERE 1=1"
        args: list[object] = []
        if assertion is not None:
            q += " AND assertion = ?"
            args.append(assertion)
        if since is not None:
            q += " AND ts >= ?"
            args.append(_unix_seconds(since))
        if kind is not None:
            q += " AND kind = ?"
            args.append(kind)
        q += " ORDER BY ts, id"
        if limit is not None:
            q += f" LIMIT {int(limit)}"
        with self._snapshot() as conn:
            rows = conn.execute(q, args).fetchall()
        return pd.DataFrame(rows, columns=COLUMNS)

    def counts(self) -> pd.DataFrame:
        """Per model, assertion and kind: number of events, mean and max severity."""
        with self._snapshot() as conn:
            rows = conn.execute(
                "SELECT model, assertion, kind, COUNT(*), AVG(severity), MAX(severity) FROM events "
                "GROUP BY model, assertion, kind ORDER BY model, assertion, kind"
            ).fetchall()
        return pd.DataFrame(
            rows, columns=["model", "assertion", "kind", "events", "mean_severity", "max_severity"]
        )

    def over_time(self, bucket_s: float = 60.0) -> pd.DataFrame:
        """Firings per assertion per time bucket (bucket start in unix seconds, UTC)."""
        _check_bucket(bucket_s)
        with self._snapshot() as conn:
            rows = conn.execute(
                # floor(ts / bucket): CAST truncates toward zero, one too high below zero
                "SELECT CAST(ts / :b AS INTEGER) - (ts < 0 AND CAST(ts / :b AS INTEGER) <> ts / :b) AS k, "
                "assertion, COUNT(*) FROM events WHERE kind = 'fired' "
                "GROUP BY k, assertion ORDER BY k, assertion",
                {"b": float(bucket_s)},
            ).fetchall()
        out = pd.DataFrame(rows, columns=["bucket", "assertion", "events"])
        out["bucket"] = out["bucket"].astype(np.float64) * float(bucket_s)
        return out

    def high_confidence(self, quantile: float = 0.75, limit: int | None = None) -> pd.DataFrame:
        """Firings whose model confidence is at or above the ``quantile`` of the confidences of all
        recorded firings (kind ``fired``; linear interpolation, as ``np.quantile``), highest severity
        first: the confident errors that uncertainty monitoring cannot see."""
        fired = "FROM events WHERE kind = 'fired' AND confidence IS NOT NULL"
        with self._snapshot() as conn:
            (n,) = conn.execute(f"SELECT COUNT(*) {fired}").fetchone()
            if not n:
                return pd.DataFrame(columns=COLUMNS)
            pos = quantile * (n - 1)
            low = int(np.floor(pos))
            pair = [
                r[0]
                for r in conn.execute(
                    f"SELECT confidence {fired} ORDER BY confidence LIMIT 2 OFFSET ?", (low,)
                )
            ]
            thr = pair[0] if len(pair) == 1 else pair[0] + (pos - low) * (pair[1] - pair[0])
            q = f"SELECT {', '.join(COLUMNS)} {fired} AND confidence >= ? ORDER BY severity DESC, ts, id"
            rows = conn.execute(q + ("" if limit is None else f" LIMIT {int(limit)}"), (thr,)).fetchall()
        return pd.DataFrame(rows, columns=COLUMNS)

    def report(self, *, bucket_s: float | None = None, top: int = 20) -> dict[str, Any]:
        """A JSON-ready summary: counts, firings over time, and the top high-confidence firings, all
        from one snapshot of the store and aggregated inside SQLite (a store of millions of events
        reports in seconds). ``bucket_s`` None: 60 s, or the smallest of 5 min, 15 min, 1 h, 6 h,
        1 day and 1 week that keeps the span to about 1,000 buckets (at most 1,002)."""
        if bucket_s is not None:
            _check_bucket(bucket_s)
        with self._snapshot() as conn:
            n, first, last = conn.execute("SELECT COUNT(*), MIN(ts), MAX(ts) FROM events").fetchone()
            if bucket_s is None:
                span = (last - first) if n else 0.0
                bucket_s = next((b for b in _BUCKETS if span / b <= 1000), _BUCKETS[-1])
            return {
                "store": self.path,
                "events": int(n),
                "first_ts": None if first is None else float(first),
                "last_ts": None if last is None else float(last),
                "bucket_s": float(bucket_s),
                "counts": self.counts().to_dict("records"),
                "over_time": self.over_time(bucket_s).to_dict("records"),
                "high_confidence": self.high_confidence(limit=top).to_dict("records"),
            }

    def _forked(self) -> None:
        """In a child process made by ``fork``: the parent's SQLite connections must not be used
        there (nor closed: closing could end the parent's locks and log), so new ones are opened."""
        self._lock, self._read_lock = threading.RLock(), threading.RLock()
        if self.path == ":memory:" or self._closed:
            return  # the child's copy of an in-memory store is its own; a closed one stays closed
        self._inherited += [c for c in (self._conn, self._reader) if c is not None]
        self._reader = None
        with contextlib.suppress(sqlite3.Error, DawnError):  # an unusable store fails at first use
            if self._read_only:
                self._conn = _connect_read_only(Path(self.path), self.timeout)
            else:
                self._conn = sqlite3.connect(self.path, timeout=self.timeout, check_same_thread=False)

    def close(self) -> None:
        with self._read_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        with self._lock:
            self._conn.close()
        self._closed = True  # after: a fork meanwhile reopens the store rather than keep a parent's

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _connect_read_only(p: Path, timeout: float) -> sqlite3.Connection:
    """A read-only connection to the store at ``p``; a :class:`DawnError` if it is not a store.

    A store in WAL mode needs its shared-memory file (``-shm``) even to be read, and SQLite cannot
    create it where the directory is read-only (a copied-out or mounted store): then the file is read
    as immutable, a snapshot that ignores a write-ahead log it cannot open (logged when one exists).
    """
    # mode=ro: reading a file that is not ours must not turn it into a store
    uri = p.resolve().as_uri() + "?mode=ro"
    try:
        return _open_store(uri, p, timeout)
    except sqlite3.OperationalError as exc:
        if "unable to open" not in str(exc) and "readonly" not in str(exc):
            raise DawnError(
                f"event store {p} cannot be read: {exc}", "check that it is a dawn event store"
            ) from exc
        try:
            conn = _open_store(uri + "&immutable=1", p, timeout)
        except sqlite3.DatabaseError:
            raise DawnError(
                f"event store {p} cannot be read: {exc}", "check the path and its permissions"
            ) from exc
    wal = Path(str(p) + "-wal")
    if wal.is_file() and wal.stat().st_size > 0:
        log.warning(
            "event store %s is read as a snapshot (its directory is read-only): events still in %s "
            "are not shown; copy the store and its -wal file to a writable directory to see them",
            p, wal.name,
        )  # fmt: skip
    return conn


def _open_store(uri: str, p: Path, timeout: float) -> sqlite3.Connection:
    """Connect to ``uri`` and check it holds an events table; OperationalError if SQLite cannot read it."""
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as exc:
        raise DawnError(f"cannot open event store {p}: {exc}", "check the path and permissions") from exc
    try:
        have = {r[1] for r in conn.execute("PRAGMA table_info(events)")}
    except sqlite3.OperationalError:
        conn.close()
        raise
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DawnError(
            f"event store {p} cannot be read: {exc}", "check that it is a dawn event store"
        ) from exc
    if not set(COLUMNS) <= have:
        conn.close()
        raise DawnError(
            f"{p} is not a dawn event store (no events table with columns {', '.join(COLUMNS)})",
            "pass the SQLite file that a Monitor wrote (store=...)",
        )
    return conn


_FORK_RESET: weakref.WeakSet[Any] = weakref.WeakSet()


def reset_after_fork(obj: Any) -> None:
    """Call ``obj._forked()`` in every child process made by ``fork`` while ``obj`` lives: stores
    reopen their connections, monitors drop their parent's queue and locks."""
    _FORK_RESET.add(obj)


def _reset_in_forked_child() -> None:
    for obj in list(_FORK_RESET):
        obj._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_forked_child)


def _check_bucket(bucket_s: Any) -> None:
    try:
        ok = float(bucket_s) > 0 and np.isfinite(float(bucket_s))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise DawnError(f"bucket_s={bucket_s!r} is not a positive number of seconds", "pass e.g. 60")


_BUCKETS = (60.0, 300.0, 900.0, 3600.0, 6 * 3600.0, 86400.0, 7 * 86400.0)


def _unix_seconds(when: Any) -> float:
    """``when`` as unix seconds: a number as it is; a datetime, ``pd.Timestamp``, ``np.datetime64``
    or ISO string as that instant (UTC when it names no zone)."""
    if isinstance(when, int | float | np.integer | np.floating) and not isinstance(when, bool):
        return float(when)
    if isinstance(when, str | datetime.datetime | datetime.date | pd.Timestamp | np.datetime64):
        try:
            t = pd.Timestamp(when)
        except (ValueError, TypeError) as exc:
            raise DawnError(
                f"since={when!r} is not a time", "pass unix seconds or e.g. '2024-03-10T06:00Z'"
            ) from exc
        if t is pd.NaT:
            raise DawnError(f"since={when!r} is not a time", "pass unix seconds or a timestamp")
        return float((t.tz_localize("UTC") if t.tzinfo is None else t).timestamp())
    raise DawnError(
        f"since={when!r} is a {type(when).__name__}, not a time", "pass unix seconds, a datetime or a string"
    )


def now() -> float:
    return time.time()


def store_section(
    store: EventStore, *, bucket_s: float | None = None, top: int = 20, report: dict[str, Any] | None = None
) -> Any:
    """The store's report as a :class:`dawn.core.report.Section` (counts, high-confidence firings and
    a plot of firings over time), for an HTML report; ``report``: one :meth:`EventStore.report`
    already made, so that the page shows the same snapshot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dawn.core.report import Headline, Section

    rep = report if report is not None else store.report(bucket_s=bucket_s, top=top)
    bucket_s = rep.get("bucket_s", bucket_s or 60.0)
    fired = sum(r["events"] for r in rep["counts"] if r["kind"] == "fired")
    errors = sum(r["events"] for r in rep["counts"] if r["kind"] == "error")
    sec = Section(
        f"Model assertion firings: {Path(store.path).name}",
        summary=f"{rep['events']} events in {store.path}",
        headlines=[Headline("firings", fired), Headline("assertion failures", errors)],
        tables={"per assertion": rep["counts"], "high-confidence firings": rep["high_confidence"]},
        data=rep,
        command=f"dawn assertions report {store.path}",
    )
    ot = pd.DataFrame(rep["over_time"])
    if len(ot):
        fig, ax = plt.subplots(figsize=(7, 3))
        for name, g in ot.groupby("assertion"):
            ax.plot(pd.to_datetime(g["bucket"], unit="s"), g["events"], marker=".", label=str(name))
        ax.set_ylabel(f"firings per {bucket_s:g} s")
        ax.set_xlabel("time (UTC)")
        ax.legend(fontsize=7)
        fig.autofmt_xdate()
        sec.add_figure("Firings over time", fig)
    return sec
