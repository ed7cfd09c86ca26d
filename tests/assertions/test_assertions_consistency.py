"""Consistency API: correct rows on unsorted input and any index; weak labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dawn.assertions import AttributeConsistency, Consistency, TransitionConsistency, check_all
from dawn.core.errors import DawnError


def _track_table() -> pd.DataFrame:
    # id 1 seen at t=0..9 except t=4 (a one-frame flicker); id 2 seen only at t=5 (a brief appearance);
    # id 3 seen throughout with one wrong attribute at t=6
    rows = [(1, t, "car", float(t)) for t in range(10) if t != 4]
    rows += [(2, 5, "car", 50.0)]
    rows += [(3, t, "person" if t != 6 else "car", 100.0 + t) for t in range(10)]
    return pd.DataFrame(rows, columns=["obj", "t", "kind", "x"])


def _shuffle(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    out = df.sample(frac=1.0, random_state=seed)
    out.index = [f"r{i}" for i in np.random.default_rng(seed).permutation(len(out))]  # strings, not 0..n-1
    return out


@pytest.mark.parametrize("shuffle", [False, True])
def test_attribute_consistency_flags_the_dissenting_row(shuffle: bool) -> None:
    df = _track_table()
    if shuffle:
        df = _shuffle(df)
    r = AttributeConsistency("kind", id_col="obj", attr="kind").check(df)
    flagged = list(r.ids[r.fired])
    assert len(flagged) == 1
    row = df.loc[flagged[0]]
    assert (row["obj"], row["t"], row["kind"]) == (3, 6, "car")
    assert r.corrections["value"].tolist() == ["person"]
    assert r.corrections["id"].tolist() == flagged


@pytest.mark.parametrize("shuffle", [False, True])
def test_transitions_find_flicker_and_brief_appearance_on_any_order(shuffle: bool) -> None:
    df = _track_table()
    if shuffle:
        df = _shuffle(df, seed=3)
    tc = TransitionConsistency(id_col="obj", time_col="t", max_transitions=1, horizon=2, interpolate=["x"])
    r = tc.check(df)
    s = pd.Series(r.severity, index=r.ids)
    # rows around the flicker of object 1 (t=3 and t=5) and the brief object 2 fire; object 3 does not
    fired = df.loc[s[s > 0].index, ["obj", "t"]].sort_values(["obj", "t"]).values.tolist()
    assert fired == [[1, 3], [1, 5], [2, 5]]
    corr = r.corrections
    add = corr[corr["action"] == "add"]
    assert add[["obj", "t", "x"]].values.tolist() == [[1, 4.0, 4.0]]  # interpolated x
    rm = corr.loc[corr["action"] == "remove", "id"].tolist()
    assert [tuple(df.loc[i, ["obj", "t"]]) for i in rm] == [(2, 5)]


def test_results_identical_after_shuffle() -> None:
    df = _track_table()
    sh = _shuffle(df, seed=7)
    tc = TransitionConsistency(id_col="obj", time_col="t", horizon=2)
    a = tc.check(df).as_series()
    b = tc.check(sh).as_series()
    # same verdict per (obj, t) whatever the row order and index
    ka = dict(zip(map(tuple, df[["obj", "t"]].values), a.loc[df.index].to_numpy(), strict=True))
    kb = dict(zip(map(tuple, sh[["obj", "t"]].values), b.loc[sh.index].to_numpy(), strict=True))
    assert ka == kb


def test_long_gap_and_track_edges_do_not_fire() -> None:
    df = pd.DataFrame({"obj": [1] * 6, "t": [0, 1, 2, 10, 11, 12]})
    r = TransitionConsistency(id_col="obj", time_col="t", horizon=3).check(df)
    assert not r.fired.any()  # a gap of 7 > horizon, and the runs touching the ends are censored


def test_duplicate_timestamps_are_one_observation() -> None:
    df = pd.DataFrame({"obj": [1, 1, 1, 1, 1], "t": [0, 1, 1, 2, 3]})
    r = TransitionConsistency(id_col="obj", time_col="t", horizon=2).check(df)
    assert not r.fired.any()


def test_more_transitions_allowed_with_larger_m() -> None:
    df = pd.DataFrame({"obj": [1] * 8, "t": [0, 1, 2, 4, 5, 6, 7, 8]})
    assert (
        TransitionConsistency(id_col="obj", time_col="t", max_transitions=1, horizon=3).check(df).fired.any()
    )
    assert (
        not TransitionConsistency(id_col="obj", time_col="t", max_transitions=2, horizon=3)
        .check(df)
        .fired.any()
    )


def test_weak_labels_apply_all_corrections() -> None:
    df = _shuffle(_track_table(), seed=1)
    c = Consistency("obj", attrs=["kind"], time_col="t", horizon=2, interpolate=["x"])
    fixed = c.weak_labels(df)
    assert not (fixed["obj"] == 2).any()  # brief appearance removed
    assert set(fixed.loc[fixed["obj"] == 3, "kind"]) == {"person"}  # majority attribute
    added = fixed[fixed["weak"] == "add"]
    assert added[["obj", "t", "x", "kind"]].values.tolist() == [[1, 4.0, 4.0, "car"]]
    firings = check_all(c.assertions(), df)
    assert set(firings["assertion"]) == {"consistent_kind", "transitions"}


def test_datetime_time_column_with_many_identifiers() -> None:
    t = pd.to_datetime("2024-01-01") + pd.to_timedelta([0, 1, 2, 4, 5, 6], unit="s")
    # 3,000 identifiers over nanosecond timestamps: the windowed count must stay exact
    df = pd.concat([pd.DataFrame({"obj": k, "t": t}) for k in range(3000)], ignore_index=True)
    df = df[~((df["obj"] % 2 == 1) & df["t"].isin(t[2:4]))]  # odd ids: a 3 s gap, longer than T
    r = TransitionConsistency(id_col="obj", time_col="t", horizon=pd.Timedelta(2, "s")).check(df)
    fired = df.loc[r.ids[r.fired]]
    assert fired.groupby("obj").size().to_dict() == {k: 2 for k in range(0, 3000, 2)}
    # a bare number against datetimes would silently mean nanoseconds: refused, with the fix
    with pytest.raises(DawnError, match="pd.Timedelta"):
        TransitionConsistency(id_col="obj", time_col="t", horizon=2).check(df)
    with pytest.raises(DawnError, match="pd.Timedelta"):
        TransitionConsistency(id_col="obj", time_col="t", horizon=pd.Timedelta(2, "s")).check(
            pd.DataFrame({"obj": [1, 1], "t": [0, 1]})
        )


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [
        ({"horizon": 0}, "positive, finite"),
        ({"horizon": float("nan")}, "positive, finite"),
        ({"period": -1}, "positive, finite"),
        ({"horizon": "3s"}, "not a number or a duration"),
        ({"horizon": 3, "period": pd.Timedelta(1, "s")}, "mix a duration"),
    ],
)
def test_bad_horizon_or_period_is_a_clear_error(kwargs: dict, msg: str) -> None:
    with pytest.raises(DawnError, match=msg):
        TransitionConsistency(id_col="obj", time_col="t", **kwargs)


def test_identifiers_of_mixed_types_are_refused() -> None:
    df = pd.DataFrame({"obj": [1, "1", 1], "t": [0, 1, 2]})
    with pytest.raises(DawnError, match="mixes types"):
        TransitionConsistency(id_col="obj", time_col="t").check(df)


@pytest.mark.parametrize(
    ("df", "msg"),
    [
        (pd.DataFrame({"obj": [1]}), "column 't' not found"),
        (pd.DataFrame({"obj": [1, None], "t": [0, 1]}), "missing values"),
        (pd.DataFrame({"obj": [1, 1], "t": [0.0, np.nan]}), "missing values"),
        (pd.DataFrame({"obj": [1, 1], "t": pd.to_datetime(["2024-01-01", None])}), "missing values"),  # NaT
        (pd.DataFrame({"obj": [1, 1], "t": ["a", "b"]}), "use numbers or datetimes"),
    ],
)
def test_bad_input_is_a_clear_error(df: pd.DataFrame, msg: str) -> None:
    with pytest.raises(DawnError, match=msg):
        TransitionConsistency(id_col="obj", time_col="t").check(df)


@pytest.mark.parametrize("index", ["range", "ints", "strings"])
def test_weak_labels_give_added_rows_fresh_labels_and_keep_an_id_column(index: str) -> None:
    base = pd.DataFrame(
        {"id": [1] * 6 + [2] * 6, "time": [0, 1, 2, 4, 5, 6, 0, 1, 2, 3, 4, 5], "x": np.arange(12.0)}
    )
    if index == "ints":
        base.index = pd.Index(list(range(100, 112)))
    elif index == "strings":
        base.index = [f"r{i}" for i in range(12)]
    out = Consistency("id", time_col="time", horizon=2, interpolate=["x"]).weak_labels(base)
    added = out[out["weak"] == "add"]
    assert out.index.is_unique and len(added) == 1
    assert added["id"].tolist() == [1] and added["time"].tolist() == [3.0] and added["x"].tolist() == [2.5]
    assert out.loc[base.index, "x"].tolist() == base["x"].tolist()  # existing rows keep their labels


@pytest.mark.parametrize("max_transitions", [1, 2, 3])
def test_every_transition_in_an_over_full_window_violates(max_transitions: int) -> None:
    """Against a brute force: a transition violates when some window of length ``horizon`` holding it
    holds more than ``max_transitions`` transitions of its identifier (censored ends do not count)."""
    rng = np.random.default_rng(max_transitions)
    for _ in range(30):
        rows = [(k, t) for k in range(3) for t in range(30) if rng.random() < 0.6]
        df = pd.DataFrame(rows, columns=["id", "time"])
        tc = TransitionConsistency(max_transitions=max_transitions, horizon=3, period=1)
        a = tc.analyse(df)
        lo, hi = df["time"].min(), df["time"].max()
        trans = [(c, t, t > lo) for c, t in zip(a["seg_code"], a["seg_start"], strict=True)]
        trans += [(c, e + 1, e < hi) for c, e in zip(a["seg_code"], a["seg_end"], strict=True)]
        expected = []
        for c, t, real in trans:
            windows = [(w, w + 3) for c2, w, r2 in trans if c2 == c and r2 and w <= t <= w + 3]
            over = any(
                sum(1 for c2, u, r2 in trans if c2 == c and r2 and w0 <= u <= w1) > max_transitions
                for w0, w1 in windows
            )
            expected.append(bool(real and over))
        got = np.r_[a["bad_start"], a["bad_end"]].tolist()
        assert got == expected


@pytest.mark.parametrize("time", ["int64", "int32", "datetime64[ns]", "datetime64[s]", "tz"])
def test_weak_labels_keep_the_dtypes_of_identifier_and_time_columns(time: str) -> None:
    # id 1: a one-step gap at t=2 (filled); id 2: a brief appearance (removed), so the corrections
    # hold remove rows beside the added one
    df = pd.DataFrame(
        {"obj": [1, 1, 1, 1, 3, 3, 3, 3, 3, 2], "t": [0, 1, 3, 4, 0, 1, 2, 3, 4, 2], "x": np.arange(10.0)}
    )
    horizon: object = 2
    if time.startswith("int"):
        df["t"] = df["t"].astype(time)
    else:
        t = pd.Timestamp("2024-01-01") + pd.to_timedelta(df["t"], unit="s")
        df["t"] = t.dt.tz_localize("Europe/Paris") if time == "tz" else t.astype(time)
        horizon = pd.Timedelta(2, "s")
    df["obj"] = df["obj"].astype(np.int16)
    out = Consistency("obj", time_col="t", horizon=horizon, interpolate=["x"]).weak_labels(df)
    assert out["obj"].dtype == df["obj"].dtype and out["t"].dtype == df["t"].dtype
    added = out[out["weak"] == "add"]
    assert added["obj"].tolist() == [1] and added["t"].tolist() == [df["t"].iloc[6]]  # id 3's t=2
    assert not (out["obj"] == 2).any()


def test_weak_labels_with_only_removals_and_new_labels_beyond_removed_ones() -> None:
    # track 1 is a one-frame appearance: its row is removed and nothing is added
    df = pd.DataFrame({"track": [0] * 10 + [1], "frame": [*range(10), 5], "cls": 0})
    out = Consistency("track", attrs=["cls"], time_col="frame", horizon=3).weak_labels(df)
    assert out.index.tolist() == list(range(10)) and (out["weak"] == "").all()
    # a gap at frame 4 is filled while row 9 (a brief appearance) is removed: the fill is not row 9
    df = pd.DataFrame({"track": [0] * 9 + [1], "frame": [0, 1, 2, 3, 5, 6, 7, 8, 9, 6], "cls": 0})
    out = Consistency("track", attrs=["cls"], time_col="frame", horizon=3).weak_labels(df)
    added = out[out["weak"] == "add"]
    assert 9 not in out.index and added.index.tolist() == [10] and added["frame"].tolist() == [4]


def test_streaming_transitions_keep_an_added_rows_identifier_named_id() -> None:
    """With id_col="id", the corrections' own "id" column holds the object id of an added row."""
    from dawn.assertions import Streaming

    frames = [f for f in range(20) if f != 10]
    df = pd.DataFrame({"id": [25] * len(frames) + [7] * 20, "time": frames + list(range(20))})
    df.index = [f"r{i}" for i in range(len(df))]
    a = TransitionConsistency(horizon=3, period=1)
    s = Streaming(a, time_col="time")
    outs = [s.update(df[df.time == t]) for t in range(20)] + [s.flush()]
    added = [
        r
        for o in outs
        if o.corrections is not None
        for r in o.corrections.query("action == 'add'").to_dict("records")
    ]
    assert added == a.check(df).corrections.query("action == 'add'").to_dict("records")
    assert added[0]["id"] == 25
    with pytest.raises(DawnError, match="streaming needs a numeric time column"):
        Streaming(a, time_col="t").update(pd.DataFrame({"id": [1], "t": pd.to_datetime(["2024-01-01"])}))


def test_streaming_fills_a_gap_only_once_the_run_after_it_is_known() -> None:
    """Object 0: frames 0-10, gone 11-12, back for a brief run 13-15. The batch removes the brief run
    and fills nothing; the stream must not fill frame 11 before it knows the run is brief."""
    from dawn.assertions import Streaming

    frames = [*range(11), 13, 14, 15]
    df = pd.DataFrame({"obj": [0] * len(frames) + [1] * 31, "frame": frames + list(range(31))})
    a = TransitionConsistency(id_col="obj", time_col="frame", horizon=3, period=1)
    s = Streaming(a)
    outs = [s.update(df[df.frame == f]) for f in range(31)] + [s.flush()]
    got = [r for o in outs if o.corrections is not None for r in o.corrections.to_dict("records")]
    assert got == a.check(df).corrections.to_dict("records")
    assert {r["action"] for r in got} == {"remove"}
    more = s.update(pd.DataFrame({"obj": [1], "frame": [31]}))  # the stream may go on after a flush
    assert len(more.ids) == 0


def test_duplicated_observations_each_carry_their_severity_in_any_order() -> None:
    a = TransitionConsistency(id_col="obj", time_col="t", horizon=3, period=1)
    base = pd.DataFrame({"obj": [1] * 11 + [0], "t": [*range(11), 5]})
    dup = pd.concat([base, base.tail(1)], ignore_index=True)  # the brief observation, twice
    assert a.check(base).severity[-1] == 2.0 and a.check(dup).severity[-2:].tolist() == [2.0, 2.0]
    # a flicker's boundary observation (t=2) duplicated: both copies fire, in either row order
    f = pd.DataFrame({"obj": [0] * 6, "t": [0, 1, 2, 2, 4, 5]}, index=list("abcdef"))
    assert a.check(f).flagged().to_dict() == a.check(f.iloc[[0, 1, 3, 2, 4, 5]]).flagged().to_dict()
    assert set(a.check(f).flagged().index) == {"c", "d", "e"}


def test_transitions_at_the_end_of_the_rows_count_when_the_span_goes_on() -> None:
    """A brief run at the last observed times is censored (it may go on); told that observation went
    on until later, the run is a brief appearance, for numbers and for datetimes alike."""
    rows = pd.DataFrame({"id": ["a"] * 11 + ["b", "b"], "t": [*range(11), 9, 10]})
    tc = TransitionConsistency(id_col="id", time_col="t", horizon=3, period=1)
    assert not tc.check(rows).fired[-2:].any()
    r = tc.check(rows, span=(0, 20))
    assert r.fired[-2:].all() and not r.fired[:11].any()
    assert r.corrections["action"].tolist() == ["remove", "remove"]
    t0 = pd.Timestamp("2024-03-01 08:00", tz="Europe/Paris")
    dated = rows.assign(t=t0 + pd.to_timedelta(rows["t"], unit="min"))
    tcd = TransitionConsistency(
        id_col="id", time_col="t", horizon=pd.Timedelta(3, "min"), period=pd.Timedelta(1, "min")
    )
    assert not tcd.check(dated).fired.any()
    assert tcd.check(dated, span=(t0, t0 + pd.Timedelta(20, "min"))).fired.tolist() == r.fired.tolist()
    with pytest.raises(DawnError, match="does not cover"):
        tc.check(rows, span=(1, 20))
