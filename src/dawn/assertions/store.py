"""An embedded event store for assertion firings: one SQLite file, queried by the report CLI.

Each event is one firing (or one assertion failure) with the input id, assertion name, severity, the
model's confidence and the time. SQLite is in the standard library, needs no server, survives crashes
(write-ahead log) and lets several monitored processes append to one file.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable
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
        # one connection shared by every thread of a monitored service: each use holds this lock
        self._lock = threading.RLock()
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
        try:
            with self._lock:
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
        return len(rows)

    def events(
        self,
        *,
        assertion: str | None = None,
        since: float | None = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Events as a DataFrame, oldest first, optionally filtered."""
        q = "SELECT " + ", ".join(COLUMNS) + " FROM events WHERE 1=1"
        args: list[object] = []
        if assertion is not None:
            q += " AND assertion = ?"
            args.append(assertion)
        if since is not None:
            q += " AND ts >= ?"
            args.append(since)
        if kind is not None:
            q += " AND kind = ?"
            args.append(kind)
        q += " ORDER BY ts, id"
        if limit is not None:
            q += f" LIMIT {int(limit)}"
        try:
            with self._lock:
                rows = self._conn.execute(q, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise DawnError(
                f"event store {self.path} cannot be read: {exc}", "check that it is a dawn event store"
            ) from exc
        return pd.DataFrame(rows, columns=COLUMNS)

    def counts(self) -> pd.DataFrame:
        """Per assertion and kind: number of events, mean and max severity."""
        ev = self.events()
        if ev.empty:
            return pd.DataFrame(columns=["assertion", "kind", "events", "mean_severity", "max_severity"])
        g = ev.groupby(["assertion", "kind"], sort=True)["severity"]
        return g.agg(events="size", mean_severity="mean", max_severity="max").reset_index()

    def over_time(self, bucket_s: float = 60.0) -> pd.DataFrame:
        """Firings per assertion per time bucket (bucket start in unix seconds)."""
        ev = self.events(kind="fired")
        if ev.empty:
            return pd.DataFrame(columns=["bucket", "assertion", "events"])
        ev["bucket"] = np.floor(ev["ts"] / bucket_s) * bucket_s
        return ev.groupby(["bucket", "assertion"]).size().rename("events").reset_index()

    def high_confidence(self, quantile: float = 0.75) -> pd.DataFrame:
        """Firings whose model confidence is at or above the ``quantile`` of all recorded confidences:
        the confident errors that uncertainty monitoring cannot see."""
        ev = self.events(kind="fired").dropna(subset=["confidence"])
        if ev.empty:
            return ev
        thr = float(np.quantile(ev["confidence"], quantile))
        return ev[ev["confidence"] >= thr].sort_values("severity", ascending=False)

    def report(self, *, bucket_s: float = 60.0, top: int = 20) -> dict[str, Any]:
        """A JSON-ready summary: counts, firings over time, and the top high-confidence firings."""
        with self._lock:  # one consistent snapshot while other threads keep recording
            ev = self.events()
            return {
                "store": self.path,
                "events": int(len(ev)),
                "first_ts": float(ev["ts"].min()) if len(ev) else None,
                "last_ts": float(ev["ts"].max()) if len(ev) else None,
                "counts": self.counts().to_dict("records"),
                "over_time": self.over_time(bucket_s).to_dict("records"),
                "high_confidence": self.high_confidence().head(top).to_dict("records"),
            }

    def close(self) -> None:
        with self._lock:
            self._conn.close()

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


def now() -> float:
    return time.time()


def store_section(store: EventStore, *, bucket_s: float = 60.0, top: int = 20) -> Any:
    """The store's report as a :class:`dawn.core.report.Section` (counts, high-confidence firings and
    a plot of firings over time), for an HTML report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dawn.core.report import Headline, Section

    rep = store.report(bucket_s=bucket_s, top=top)
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
        ax.legend(fontsize=7)
        fig.autofmt_xdate()
        sec.add_figure("Firings over time", fig)
    return sec
