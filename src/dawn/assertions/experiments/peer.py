"""Side by side with the authors' library, ``model-assertions==0.0.3`` (stanford-futuredata/omg).

It needs pandas < 2 (it calls ``DataFrame.append``), so it runs in its own virtual environment under
``data_dir()/peers/omg-venv`` with pinned versions, in a subprocess, on the same input written to a
``.npz`` file. Both sides check the first 100,000 flights of nycflights13 (``dawn.data`` ``flights``):
the aircraft (``tailnum``) must keep one ``carrier`` (identifier consistency), it may not start/stop
flying more than once within 3 days (time consistency over day of year), and each row's average speed
must be plausible (a per-row assertion). A small hand-made table, shuffled and with a string index,
shows which rows each library reports.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dawn.core.errors import DawnError
from dawn.core.logging import get_logger

log = get_logger(__name__)

PEER_PINS = ("model-assertions==0.0.3", "pandas==1.5.3", "numpy==1.26.4")

# Runs inside the peer venv. Times each assertion (median of `repeats`) and reports the rows flagged.
_PEER_SCRIPT = r"""
import json, sys, time
import numpy as np, pandas as pd
from model_assertions.consistency import IdentifierConsistencyAssertion, TimeConsistencyAssertion
from model_assertions.per_row import PerRowAssertion
from model_assertions.checker import Checker
d = np.load(sys.argv[1], allow_pickle=True)
repeats = int(sys.argv[2])
df = pd.DataFrame({k: d[k] for k in ("tailnum", "carrier", "day", "speed")})
def timed(fn):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter(); out = fn(); ts.append(time.perf_counter() - t0)
    return float(np.median(ts)), out
res = {"pandas": pd.__version__}
ident = IdentifierConsistencyAssertion("tailnum", "carrier")
tcon = TimeConsistencyAssertion("tailnum", "day", window=3, allowed_transitions=1)
prow = PerRowAssertion(lambda inp, out: not (0 < out["speed"] < 700), name="speed")
res["identifier_s"], e1 = timed(lambda: ident.check_errors(df, df))
res["time_s"], e2 = timed(lambda: tcon.check_errors(df, df))
res["per_row_s"], e3 = timed(lambda: prow.check_errors(df, df))
res["n_rows"] = len(df)
res["identifier_errors"] = len(e1); res["time_errors"] = len(e2); res["per_row_errors"] = len(e3)
# the demo table in two shapes: shuffled rows keeping their integer labels (what df.sample gives), and a
# string index. Rows as read back through iloc, as Checker.wrap does.
demo = pd.DataFrame(json.loads(sys.argv[3]))
int_labels = json.loads(sys.argv[4])
for key, labels in (("demo_int", int_labels), ("demo_str", [f"r{i}" for i in int_labels])):
    demo.index = labels
    t2 = TimeConsistencyAssertion("obj", "t", window=3, allowed_transitions=1)
    try:
        errs = t2.check_errors(demo, demo)
        res[key] = sorted(demo.iloc[err][["obj", "t"]].values.tolist() for err in errs)
    except Exception as exc:
        res[key] = f"error: {type(exc).__name__}: {exc}"
c = Checker(verbose=False)
c.register_assertion(IdentifierConsistencyAssertion("obj", "t").get_assertion(), "ident")
try:
    c.wrap(lambda x: x)(demo.reset_index(drop=True)); c.retrieve_errors(); res["retrieve_errors"] = "ok"
except Exception as exc:
    res["retrieve_errors"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(res))
"""


def peer_venv(venv: Path | None = None) -> Path:
    """Create (once) the peer's virtual environment with pinned versions; return its python.

    ``venv`` defaults to ``data_dir()/peers/omg-venv``.
    """
    from dawn.data import data_dir

    venv = data_dir() / "peers" / "omg-venv" if venv is None else Path(venv)
    py = venv / "bin" / "python"
    ok = venv / ".dawn-ok"
    if ok.is_file() and py.is_file():
        return py
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, text=True)
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", *PEER_PINS],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        err = getattr(exc, "stderr", "") or str(exc)
        raise DawnError(
            f"cannot build the peer venv at {venv}: {err.strip().splitlines()[-1:]}",
            f"check that PyPI is reachable and that {' '.join(PEER_PINS)} install",
        ) from exc
    ok.write_text(" ".join(PEER_PINS) + "\n")
    return py


def flights_input(n: int = 100_000) -> pd.DataFrame:
    """The shared input: first ``n`` flights with a tail number (tailnum, carrier, day, speed)."""
    from dawn import data

    f = data.load("flights")
    f = f[f["tailnum"].notna()].head(n)
    day = pd.to_datetime(dict(year=f["year"], month=f["month"], day=f["day"])).dt.day_of_year
    speed = (f["distance"] / (f["air_time"] / 60.0)).fillna(-1.0)
    return pd.DataFrame(
        {
            "tailnum": f["tailnum"].astype(str).to_numpy(),
            "carrier": f["carrier"].astype(str).to_numpy(),
            "day": day.to_numpy(dtype=np.int64),
            "speed": speed.to_numpy(dtype=np.float64),
        }
    )


def demo_table(string_index: bool = False) -> pd.DataFrame:
    """Object 1 flickers at t=4 (rows t=3 and t=5 should be reported); rows shuffled as real logs arrive,
    keeping their integer labels (what ``df.sample`` gives), or with string labels."""
    rows = [(1, t) for t in range(10) if t != 4] + [(2, t) for t in range(10)]
    df = pd.DataFrame(rows, columns=["obj", "t"]).sample(frac=1.0, random_state=0)
    if string_index:
        df.index = [f"r{i}" for i in df.index]
    return df


def ours(df: pd.DataFrame, repeats: int = 5) -> dict[str, Any]:
    """Our equivalents, timed as medians, on the same table."""
    from functools import partial

    from dawn.assertions.base import Assertion
    from dawn.assertions.builtin import Range
    from dawn.assertions.consistency import AttributeConsistency, TransitionConsistency
    from dawn.core.timing import time_call

    ident = AttributeConsistency(id_col="tailnum", attr="carrier")
    tcon = TransitionConsistency(id_col="tailnum", time_col="day", max_transitions=1, horizon=3, period=1)
    prow = Range(column="speed", low=1e-9, high=700)
    out: dict[str, Any] = {"n_rows": len(df)}
    checks: tuple[tuple[str, Assertion], ...] = (("identifier", ident), ("time", tcon), ("per_row", prow))
    for key, a in checks:
        out[f"{key}_s"] = time_call(partial(a.check, df), warmup=1, repeats=repeats).median
        out[f"{key}_errors"] = int(a.check(df).fired.sum())
    for key, demo in (("demo_int", demo_table()), ("demo_str", demo_table(string_index=True))):
        r = TransitionConsistency(id_col="obj", time_col="t", horizon=3).check(demo)
        out[key] = sorted(demo.loc[r.ids[r.fired], ["obj", "t"]].values.tolist())
    return out


def compare(repeats: int = 3, n: int = 100_000, venv: Path | None = None) -> dict[str, Any]:
    """Run both sides; speedups are ratios of per-assertion medians (each side in its own process).

    ``venv``: where the peer's virtual environment lives or is built (see :func:`peer_venv`).
    """
    df = flights_input(n)
    py = peer_venv(venv)
    demo = demo_table()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.npz"
        np.savez(path, **{c: df[c].to_numpy() for c in df.columns})
        cmd = [
            str(py),
            "-c",
            _PEER_SCRIPT,
            str(path),
            str(repeats),
            json.dumps(demo.reset_index(drop=True).to_dict("list")),
            json.dumps(demo.index.tolist()),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise DawnError(
            f"the peer library failed: {proc.stderr.strip().splitlines()[-1:]}", "see the peer venv"
        )
    peer = json.loads(proc.stdout.strip().splitlines()[-1])
    us = ours(df, repeats=max(repeats, 3))
    keys = ("identifier", "time", "per_row")
    total_peer = sum(peer[f"{k}_s"] for k in keys)
    total_ours = sum(us[f"{k}_s"] for k in keys)
    return {
        "n_rows": len(df),
        "peer": peer,
        "ours": us,
        "speedup": {k: peer[f"{k}_s"] / us[f"{k}_s"] for k in keys},
        "speedup_total": total_peer / total_ours,
        "peer_rows_per_s": len(df) / total_peer,
        "ours_rows_per_s": len(df) / total_ours,
        "note": "medians per side in separate processes on the same machine; both single-threaded",
    }
