"""The consistency API: assertions generated from an identifier, attributes and a timestamp.

Kang et al. (2020), Sec. 3.2: the user names, per model output, an identifier, some attributes and a
timestamp; the system then asserts (1) outputs sharing an identifier agree on each attribute, and (2) an
identifier appears or disappears at most ``M`` times within any window of length ``T``. Each violation
yields a weak label: an attribute conflict becomes the identifier's most common value, a short absence is
filled by interpolating the numeric attributes, and a brief spurious appearance is removed.

The original library sorted by time but mapped results back through the unsorted index, so it reported
wrong rows for unsorted input or a non-default index. Here every result is computed on positions sorted
by (identifier, time) with a stable sort, then scattered back to the input's own row order and index
labels. Duplicate (identifier, time) rows count as one observation for transitions and as separate
votes for attributes.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from dawn.assertions.base import Assertion, AssertionResult, covered_span, expand_counts
from dawn.core.errors import DawnError

__all__ = ["AttributeConsistency", "Consistency", "TransitionConsistency"]


def _codes_and_times(df: pd.DataFrame, id_col: str, time_col: str | None) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(df, pd.DataFrame):
        raise DawnError(
            f"expected a pandas DataFrame, got {type(df).__name__}", "pass the outputs as a DataFrame"
        )
    for c in [id_col] + ([time_col] if time_col else []):
        if c not in df.columns:
            raise DawnError(f"column {c!r} not found (have {list(df.columns)})", "name an existing column")
    if df[id_col].isna().any():
        raise DawnError(f"identifier column {id_col!r} has missing values", "drop or fill them first")
    if pd.api.types.infer_dtype(df[id_col], skipna=True).startswith("mixed"):  # 1 and "1": two ids
        raise DawnError(
            f"identifier column {id_col!r} mixes types (e.g. numbers and strings)",
            f"convert it to one type first, e.g. df[{id_col!r}].astype(str)",
        )
    codes, _ = pd.factorize(df[id_col], sort=False)
    if time_col is None:
        return codes.astype(np.int64), np.zeros(len(df))
    t = df[time_col]
    if t.isna().any():  # NaT as well as NaN: NaT would become the smallest int64, not NaN
        raise DawnError(f"time column {time_col!r} has missing values", "drop or fill them first")
    if pd.api.types.is_datetime64_any_dtype(t):
        times = t.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
    elif pd.api.types.is_numeric_dtype(t):
        times = t.to_numpy(dtype=np.float64)
    else:
        raise DawnError(f"time column {time_col!r} is {t.dtype}", "use numbers or datetimes for time")
    if np.isnan(times).any():
        raise DawnError(f"time column {time_col!r} has missing values", "drop or fill them first")
    return codes.astype(np.int64), times


def _as_number(value: Any) -> Any:
    """A time as the time column's numbers: a timestamp in nanoseconds (as datetime columns are read)."""
    if isinstance(value, pd.Timestamp | np.datetime64 | datetime.datetime):
        return float(pd.Timestamp(value).value)  # nanoseconds since the epoch, in UTC for aware ones
    return value


def _span(value: Any, name: str) -> tuple[float, bool]:
    """A horizon or period as a positive float, and whether it was given as a duration (then in
    nanoseconds, the unit of datetime time columns)."""
    if isinstance(value, pd.Timedelta | np.timedelta64 | datetime.timedelta):
        v, is_duration = float(pd.Timedelta(value).value), True
    else:
        try:
            v, is_duration = float(value), False
        except (TypeError, ValueError):
            raise DawnError(
                f"{name}={value!r} is not a number or a duration", f"pass e.g. {name}=3"
            ) from None
    if not np.isfinite(v) or v <= 0:
        raise DawnError(f"{name}={value!r} is not a positive, finite span", f"pass e.g. {name}=3")
    return v, is_duration


def _segments(codes: np.ndarray, times: np.ndarray, period: float) -> dict[str, np.ndarray]:
    """Sort by (id, time) and cut each identifier's observations into runs without gaps."""
    order = np.lexsort((times, codes))
    c, t = codes[order], times[order]
    new_id = np.r_[True, c[1:] != c[:-1]][: len(c)]  # [: len(c)]: no rows, no runs
    gap = np.r_[True, (t[1:] - t[:-1]) > period * 1.0001][: len(c)]
    start = new_id | gap
    seg = np.cumsum(start) - 1
    starts = np.flatnonzero(start)
    ends = (np.r_[starts[1:], len(c)] - 1)[: len(starts)]
    return {
        "order": order,
        "codes": c,
        "times": t,
        "seg": seg,
        "seg_start": t[starts],
        "seg_end": t[ends],
        "seg_code": c[starts],
        "first_pos": starts,
        "last_pos": ends,
    }


def _infer_period(times: np.ndarray) -> float:
    u = np.unique(times)
    d = np.diff(u)
    return float(d.min()) if d.size else 1.0


@dataclass
class AttributeConsistency(Assertion):
    """Rows of one identifier must agree on ``attr``; a dissenting row gets severity 1 and the majority."""

    ids_kind: ClassVar[str | None] = "rows"

    id_col: str = "id"
    attr: str = "label"

    def check(self, outputs: pd.DataFrame, inputs: object = None) -> AssertionResult:
        codes, _ = _codes_and_times(outputs, self.id_col, None)
        if self.attr not in outputs.columns:
            raise DawnError(f"attribute column {self.attr!r} not found", "name an existing column")
        vals, uniq = pd.factorize(outputs[self.attr], sort=True)
        # majority value per identifier via a (code, value) count table; ties go to the smallest value
        n_codes, n_vals = int(codes.max(initial=-1)) + 1, max(len(uniq), 1)
        counts = np.zeros((n_codes, n_vals), dtype=np.int64)
        ok = vals >= 0
        np.add.at(counts, (codes[ok], vals[ok]), 1)
        major = counts.argmax(axis=1)
        sev = (ok & (vals != major[codes])).astype(np.float64)
        idx = outputs.index.to_numpy()
        fired = np.flatnonzero(sev > 0)
        corr = pd.DataFrame(
            {
                "id": idx[fired],
                "action": "set",
                "column": self.attr,
                "value": np.asarray(uniq)[major[codes[fired]]],
            }
        )
        return AssertionResult(idx, sev, corr)


@dataclass
class TransitionConsistency(Assertion):
    """An identifier may appear or disappear at most ``max_transitions`` times within ``horizon``.

    Severity per row: the number of violating transitions at the row (the last row before a violating
    disappearance, the first row of a violating appearance); every row of a brief run fires. Rows that
    repeat an identifier's time are one observation: each copy carries its severity, whatever the
    input order. Corrections:
    ``add`` rows that fill a violating gap (numeric ``interpolate`` columns linearly interpolated) and
    ``remove`` rows of a violating run that is shorter than ``horizon``.

    Parameters
    ----------
    id_col, time_col : str
    max_transitions : int, default=1
        ``M``. With 1, a disappearance followed by a reappearance within ``horizon`` (a flicker) and an
        appearance followed by a disappearance within ``horizon`` (a brief appearance) both violate.
    horizon : float or pd.Timedelta
        ``T``, in the time column's units; a duration (``pd.Timedelta``) when the time column holds
        datetimes, a number otherwise (a mismatch is a :class:`DawnError`: a bare 3 against datetimes
        would mean 3 nanoseconds).
    period : float, pd.Timedelta or None
        Time between consecutive observations, given like ``horizon``; inferred as the smallest
        positive step if None.
    interpolate : sequence of str
        Numeric columns to interpolate into gap fills (e.g. box corners).
    """

    ids_kind: ClassVar[str | None] = "rows"
    takes_span: ClassVar[bool] = True

    id_col: str = "id"
    time_col: str = "time"
    max_transitions: int = 1
    horizon: float = 3.0
    period: float | None = None
    interpolate: Sequence[str] = ()

    _durations: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        # durations (pd.Timedelta) are kept in nanoseconds, the unit of a datetime time column
        self.horizon, h_duration = _span(self.horizon, "horizon")
        p_duration = h_duration
        if self.period is not None:
            self.period, p_duration = _span(self.period, "period")
        if p_duration != h_duration:
            raise DawnError("horizon and period mix a duration and a bare number", "give both the same way")
        self._durations = h_duration
        self.window = int(np.ceil(self.horizon)) + 1
        self.lookahead = int(np.ceil(self.horizon)) + 1

    def analyse(self, outputs: pd.DataFrame, span: tuple[Any, Any] | None = None) -> dict[str, np.ndarray]:
        codes, times = _codes_and_times(outputs, self.id_col, self.time_col)
        if pd.api.types.is_datetime64_any_dtype(outputs[self.time_col]) != self._durations:
            raise DawnError(
                "the time column holds datetimes but horizon is a bare number (or the other way round)",
                "with datetimes pass horizon=pd.Timedelta(...) (and period); with numbers, numbers",
            )
        period = self.period if self.period is not None else _infer_period(times)
        s = _segments(codes, times, period)
        lo_t, hi_t = covered_span(times, None if span is None else [_as_number(v) for v in span])
        # transitions: each run starts (appear) and ends (disappear, one period after its last row);
        # runs touching the first/last observed time are censored, so those ends are not transitions
        appear = s["seg_start"]
        disappear = s["seg_end"] + period
        t_time = np.r_[appear, disappear]
        t_code = np.r_[s["seg_code"], s["seg_code"]]
        t_real = np.r_[appear > lo_t, s["seg_end"] < hi_t]
        o = np.lexsort((t_time, t_code))
        tt, tc, real = t_time[o], t_code[o], t_real[o]
        # windowed count of real transitions per identifier with one searchsorted over an offset key
        # in units of the period, which keeps the offset keys small (nanosecond datetimes included)
        unit = period if period > 0 else 1.0
        span = np.ceil(((hi_t - lo_t) + 2 * period + self.horizon) / unit) + 1.0
        key = tc * span + (tt - lo_t) / unit
        cum = np.r_[0, np.cumsum(real)]
        h = self.horizon / unit
        right = np.searchsorted(key, key + h, side="right")
        # a transition violates when some window of length T containing it holds more than M; any such
        # window can slide right until it starts at a transition, so it is enough to mark every
        # transition inside each over-full window that starts at a transition (a difference array)
        fwd = cum[right] - cum[np.arange(len(key))]
        over = np.flatnonzero(fwd > self.max_transitions)
        cover = np.zeros(len(key) + 1, dtype=np.int64)
        np.add.at(cover, over, 1)
        np.add.at(cover, right[over], -1)
        bad_sorted = real & (np.cumsum(cover)[: len(key)] > 0)
        bad = np.empty_like(bad_sorted)
        bad[o] = bad_sorted
        n_seg = len(appear)
        return {**s, "period": np.array(period), "bad_start": bad[:n_seg], "bad_end": bad[n_seg:]}

    def check(
        self, outputs: pd.DataFrame, inputs: object = None, *, span: tuple[Any, Any] | None = None
    ) -> AssertionResult:
        """``span``: the first and last times the outputs were taken from (numbers, or timestamps for a
        datetime time column), default the first and last times with a row. An identifier seen at an
        end of the span may have been there before (after) it, so that end is no transition."""
        a = self.analyse(outputs, span)
        seg = a["seg"]
        # a row is at its run's start (end) when its time is the run's first (last) time: every copy of
        # a duplicated observation, whatever the input order, as they count as one observation
        t = a["times"]
        is_first = t == a["seg_start"][seg]
        is_last = t == a["seg_end"][seg]
        # the rows at a violating boundary fire; every row of a violating brief run fires
        sev_sorted = (is_first & a["bad_start"][seg]).astype(np.float64) + (is_last & a["bad_end"][seg])
        short = self._short(a)[seg]
        sev_sorted = np.where(short, np.maximum(sev_sorted, 1.0), sev_sorted)
        sev = np.empty(len(outputs))
        sev[a["order"]] = sev_sorted
        return AssertionResult(outputs.index.to_numpy(), sev, self._corrections(outputs, a))

    def _short(self, a: dict[str, np.ndarray]) -> np.ndarray:
        """Runs that are brief appearances: both ends violate and the run lasts at most the horizon."""
        period = float(a["period"])
        return a["bad_start"] & a["bad_end"] & (a["seg_end"] - a["seg_start"] + period <= self.horizon)

    def _corrections(self, outputs: pd.DataFrame, a: dict[str, np.ndarray]) -> pd.DataFrame:
        period = float(a["period"])
        idx = outputs.index.to_numpy()
        rows: list[pd.DataFrame] = []
        # brief appearance: both ends violate and the run is shorter than the horizon -> remove its rows
        short = self._short(a)
        rm_sorted = short[a["seg"]]
        if rm_sorted.any():
            pos = a["order"][rm_sorted]
            rows.append(pd.DataFrame({"id": idx[pos], "action": "remove"}))
        # short gap between consecutive runs of one identifier whose ends violate -> interpolate
        nxt = np.arange(1, len(a["seg_start"]))
        same = a["seg_code"][nxt] == a["seg_code"][nxt - 1]
        gap = a["seg_start"][nxt] - a["seg_end"][nxt - 1] - period
        fill = same & (gap <= self.horizon) & a["bad_end"][nxt - 1] & a["bad_start"][nxt]
        fill &= ~short[nxt - 1] & ~short[nxt]  # a gap next to a removed run is not filled
        js = nxt[fill]
        if len(js):
            p0 = a["order"][a["last_pos"][js - 1]]
            p1 = a["order"][a["first_pos"][js]]
            t0, t1 = a["seg_end"][js - 1], a["seg_start"][js]
            k = np.maximum(np.rint((t1 - t0) / period).astype(np.int64) - 1, 0)  # missing steps per gap
            rep, step = expand_counts(k)
            step = step + 1
            ts = t0[rep] + step * period
            w = (ts - t0[rep]) / (t1 - t0)[rep]
            d: dict[str, object] = {
                "id": np.nan,
                "action": "add",
                self.id_col: outputs[self.id_col].to_numpy()[p0[rep]],
                self.time_col: ts,
            }
            for c in self.interpolate:
                v = outputs[c].to_numpy(dtype=np.float64)
                d[c] = v[p0[rep]] + w * (v[p1[rep]] - v[p0[rep]])
            rows.append(pd.DataFrame(d))
        if not rows:
            return pd.DataFrame(columns=["id", "action"])
        return pd.concat(rows, ignore_index=True)


@dataclass
class Consistency:
    """Generate consistency assertions from column roles, and apply their weak labels.

    Parameters
    ----------
    id_col : str
        Identifier column (e.g. a track id, a face id, a patient id).
    attrs : sequence of str
        Attributes that must agree per identifier.
    time_col : str or None
        Timestamp column; None skips the transition assertion.
    max_transitions : int, default=1
    horizon : float or pd.Timedelta, default=3
        As in :class:`TransitionConsistency` (a duration for datetime time columns).
    period : float, pd.Timedelta or None
    interpolate : sequence of str
        Numeric columns to interpolate when filling a gap.

    Examples
    --------
    >>> c = Consistency("track", attrs=["cls"], time_col="frame", horizon=2, interpolate=["x1", "y1"])
    >>> firings = check_all(c.assertions(), df)  # doctest: +SKIP
    >>> fixed = c.weak_labels(df)  # doctest: +SKIP
    """

    id_col: str
    attrs: Sequence[str] = ()
    time_col: str | None = None
    max_transitions: int = 1
    horizon: float = 3.0
    period: float | None = None
    interpolate: Sequence[str] = ()

    def assertions(self) -> list[Assertion]:
        out: list[Assertion] = [
            AttributeConsistency(f"consistent_{a}", id_col=self.id_col, attr=a) for a in self.attrs
        ]
        if self.time_col is not None:
            out.append(self.transitions())
        return out

    def transitions(self) -> TransitionConsistency:
        assert self.time_col is not None
        return TransitionConsistency(
            "transitions",
            id_col=self.id_col,
            time_col=self.time_col,
            max_transitions=self.max_transitions,
            horizon=self.horizon,
            period=self.period,
            interpolate=tuple(self.interpolate),
        )

    def weak_labels(self, outputs: pd.DataFrame) -> pd.DataFrame:
        """The outputs with every correction applied, plus a ``weak`` column naming the change
        (``""`` unchanged, ``"set"``, ``"add"``); removed rows are dropped. The input index is kept
        for existing rows; added rows get new labels."""
        out = outputs.copy()
        out["weak"] = ""
        for a in self.assertions():
            if isinstance(a, AttributeConsistency):
                corr = a.check(outputs).corrections
                if corr is not None and len(corr):
                    out.loc[corr["id"].to_numpy(), a.attr] = corr["value"].to_numpy()
                    out.loc[corr["id"].to_numpy(), "weak"] = "set"
        if self.time_col is not None:
            corr = self.transitions().check(outputs).corrections
            if corr is not None and len(corr):
                rm = corr.loc[corr["action"] == "remove", "id"].to_numpy()
                # the columns by name: an identifier column called "id" shares its name with the
                # corrections' own row-label column
                cols = list(dict.fromkeys([self.id_col, self.time_col, *self.interpolate]))
                adding = corr["action"] == "add"
                # with only removals the corrections table has no identifier or time columns
                add = corr.loc[adding, cols] if adding.any() else None
                out = out.drop(index=rm)
                if add is not None:
                    # the corrections hold times as numbers (nanoseconds for datetimes) and, beside
                    # remove rows, identifiers as floats: added rows take the input's dtypes back
                    for c in (self.id_col, self.time_col):
                        add[c] = _in_dtype_of(add[c], outputs[c])
                    add = add.assign(weak="add")
                    for attr in self.attrs:  # added rows carry the identifier's (now consistent) attributes
                        first = out.drop_duplicates(self.id_col).set_index(self.id_col)[attr]
                        add[attr] = add[self.id_col].map(first).to_numpy()
                    # new labels beyond every input label: a removed row's label is not reused
                    add.index = _new_labels(outputs.index, len(add))
                    out = pd.concat([out, add])
        return out


def _in_dtype_of(values: pd.Series, like: pd.Series) -> pd.Series:
    """``values`` (numbers; nanoseconds since the epoch for a datetime ``like``) in ``like``'s dtype;
    left as they are where they do not fit it (times between whole numbers for an integer column)."""
    dtype = like.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        ns = np.rint(values.to_numpy(dtype=np.float64)).astype(np.int64)
        t = pd.Series(pd.to_datetime(ns, unit="ns", utc=True), index=values.index)
        tz = getattr(dtype, "tz", None)
        return (t.dt.tz_convert(tz) if tz is not None else t.dt.tz_localize(None)).astype(dtype)
    if pd.api.types.is_integer_dtype(dtype):
        v = values.to_numpy(dtype=np.float64)
        return values.astype(dtype) if (v == np.round(v)).all() else values
    try:
        return values.astype(dtype)
    except (TypeError, ValueError):
        return values


def _new_labels(index: pd.Index, n: int) -> pd.Index:
    """``n`` labels not in ``index``: the next integers for an integer index, else ``weak-<k>``."""
    if pd.api.types.is_integer_dtype(index.dtype):
        start = int(index.max()) + 1 if len(index) else 0
        return (
            pd.RangeIndex(start, start + n)
            if isinstance(index, pd.RangeIndex)
            else pd.Index(range(start, start + n))
        )
    taken = set(index.tolist())
    labels: list[str] = []
    k = 0
    while len(labels) < n:
        if f"weak-{k}" not in taken:
            labels.append(f"weak-{k}")
        k += 1
    return pd.Index(labels)
