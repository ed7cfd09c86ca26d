"""Runtime monitor, hooks, sampling and the SQLite event store."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from dawn.assertions import Assertion, AssertionFired, EventStore, FunctionAssertion, Hook, Monitor, Range
from dawn.cli import main
from dawn.core.errors import DawnError


def _neg(name: str = "neg") -> FunctionAssertion:
    return FunctionAssertion(lambda out, inp: np.asarray(out) < 0, name=name)


def _boom(out: object, inp: object) -> np.ndarray:
    raise RuntimeError("bug in assertion")


def test_predictions_unchanged_and_firings_recorded(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "ev.sqlite")
    mon = Monitor(lambda x: x * 2.0, [_neg(), FunctionAssertion(_boom, name="boom")], store=store, name="dbl")
    x = np.array([1.0, -1.0, 3.0, -4.0])
    out = mon.predict(x)
    assert out.tolist() == [2.0, -2.0, 6.0, -8.0]
    ev = store.events()
    fired = ev[ev["kind"] == "fired"]
    assert fired["input_id"].tolist() == ["1", "3"]
    assert fired["severity"].tolist() == [1.0, 1.0]
    err = ev[ev["kind"] == "error"]
    assert err["assertion"].tolist() == ["boom"] and "bug in assertion" in err["detail"].iloc[0]
    assert mon.stats["assertion_errors"] == 1
    rep = mon.report()
    assert rep["events"] == 3 and rep["monitor"]["firings"] == 2


def test_sklearn_estimator_dataframe_ids_and_confidence() -> None:
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]}, index=["w", "x", "y", "z"])
    est = LogisticRegression().fit(X, [0, 0, 1, 1])
    always = FunctionAssertion(lambda out, inp: np.ones(len(out)), name="all")
    mon = Monitor(est, [always])
    out = mon.predict(X)
    assert out.tolist() == est.predict(X).tolist()
    ev = mon.store.events()
    assert ev["input_id"].tolist() == ["w", "x", "y", "z"]
    assert ev["confidence"].to_numpy() == pytest.approx(est.predict_proba(X).max(axis=1))


def test_torch_module_and_fallback_hook() -> None:
    net = torch.nn.Linear(2, 1)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, 0.0]]))
        net.bias.zero_()
    mon = Monitor(net, [_neg()], hooks={"neg": Hook("fallback", fallback=lambda x: torch.zeros(len(x), 1))})
    x = torch.tensor([[1.0, 0.0], [-2.0, 0.0]])
    out = mon.predict(x)
    assert out[:, 0].tolist() == [1.0, 0.0]  # the flagged row fell back


def test_raise_suppress_review_hooks() -> None:
    x = np.array([-1.0, 2.0])
    mon = Monitor(lambda v: v, [_neg()], hooks={"neg": Hook("raise")})
    with pytest.raises(AssertionFired, match="neg on 1 item"):
        mon.predict(x)
    assert len(mon.store.events()) == 1  # recorded before raising
    mon = Monitor(lambda v: v, [_neg()], hooks={"neg": Hook("suppress")})
    mon.predict(x)
    assert mon.store.events().empty
    mon = Monitor(lambda v: v, [_neg()], hooks={"neg": Hook("review")})
    mon.predict(x)
    assert list(mon.review_queue) == [0] and mon.store.events()["kind"].tolist() == ["review"]
    with pytest.raises(DawnError, match="unknown hook action"):
        Hook("explode")
    with pytest.raises(DawnError, match="unknown assertion"):
        Monitor(lambda v: v, [_neg()], hooks={"nope": Hook()})


def test_sampling_caps_checks() -> None:
    mon = Monitor(lambda v: v, [_neg()], sample_rate=0.2, seed=0)
    for _ in range(500):
        mon.predict(np.array([-1.0]))
    assert 60 < mon.stats["checked"] < 140
    assert len(mon.store.events()) == mon.stats["checked"]


def test_store_paths_that_cannot_be_written_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(DawnError, match="does not exist"):
        EventStore(tmp_path / "missing" / "ev.sqlite")
    with pytest.raises(DawnError, match="cannot open or create"):
        EventStore(tmp_path)  # a directory, not a file
    store = EventStore(tmp_path / "ev.sqlite")
    store.close()
    with pytest.raises(DawnError, match="was closed"):
        store.record([(0.0, "m", "1", "a", 1.0, None, "fired", None)])


def test_events_beyond_the_memory_cap_are_counted_when_dropped(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "ev.sqlite")
    mon = Monitor(lambda v: v, [_neg()], store=store)
    mon._pending = deque(maxlen=3)  # a small cap, to reach it
    store.close()  # every write fails from now on
    for _ in range(5):
        assert mon.predict(np.array([-1.0])).tolist() == [-1.0]
    assert mon.stats["store_errors"] == 5 and mon.stats["events_dropped"] == 2
    assert len(mon._pending) == 3


def test_locked_store_keeps_answering_then_catches_up(tmp_path: Path) -> None:
    path = tmp_path / "ev.sqlite"
    store = EventStore(path, timeout=0.05)
    mon = Monitor(lambda v: v, [_neg()], store=store)
    other = sqlite3.connect(path, timeout=0.05)
    other.execute("BEGIN EXCLUSIVE")
    assert mon.predict(np.array([-1.0, 1.0])).tolist() == [-1.0, 1.0]
    assert mon.stats["store_errors"] == 1 and mon.report()["pending"] == 1
    other.rollback()
    other.close()
    mon.predict(np.array([-3.0]))
    assert len(store.events()) == 2


def test_a_locked_store_delays_predictions_by_store_wait_not_the_store_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ev.sqlite"
    store = EventStore(path, timeout=30.0)  # a report may wait this long; a prediction must not
    mon = Monitor(lambda v: v, [_neg()], store=store, store_wait=0.01)
    other = sqlite3.connect(path)
    other.execute("BEGIN EXCLUSIVE")
    start = time.perf_counter()
    for _ in range(5):
        assert mon.predict(np.array([-1.0])).tolist() == [-1.0]
    assert time.perf_counter() - start < 10.0  # five waits of the store's 30 s would be 150 s
    assert mon.stats["store_errors"] == 5 and len(mon._pending) == 5
    assert sum("keeping" in r.getMessage() for r in caplog.records) == 1  # one warning per outage
    assert mon.flush(timeout=0.01) == 5  # still locked: nothing lost, nothing written
    other.rollback()
    other.close()
    assert mon.flush() == 0
    assert len(store.events()) == 5 and store.timeout == 30.0
    assert any("takes events again" in r.getMessage() for r in caplog.records)


def test_store_wait_must_be_a_finite_number_of_seconds() -> None:
    for bad in (-1.0, float("inf"), float("nan"), "0.1"):
        with pytest.raises(DawnError, match="store_wait"):
            Monitor(lambda v: v, [_neg()], store_wait=bad)  # type: ignore[arg-type]


def test_corrupt_store_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DawnError, match="not a usable SQLite database"):
        EventStore(bad)
    with pytest.raises(DawnError, match="no event store"):
        EventStore.open_existing(tmp_path / "missing.sqlite")


def test_report_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ev.sqlite"
    df = pd.DataFrame({"p": [0.5, 1.5, 2.0]})
    mon = Monitor(
        lambda d: d,
        [Range(column="p", high=1.0)],
        store=EventStore(path),
        confidence=lambda i, o: np.array([0.9, 0.95, 0.99]),
    )
    mon.predict(df)
    mon.store.close()
    assert main(["assertions", "report", str(path), "--format", "json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["events"] == 2
    assert rep["counts"][0]["assertion"] == "range"
    assert [r["input_id"] for r in rep["high_confidence"]] == ["2"]
    assert main(["assertions", "report", str(path), "--html", str(tmp_path / "html")]) == 0
    assert "range" in capsys.readouterr().out
    html = (tmp_path / "html" / "index.html").read_text()
    assert "Model assertion firings" in html and "Firings over time" in html
    # --top reaches the HTML report too: no high-confidence firing is listed with --top 0
    assert main(["assertions", "report", str(path), "--top", "0", "--html", str(tmp_path / "html0")]) == 0
    capsys.readouterr()
    assert main(["assertions", "report", str(path), "--html", "/proc/nope"]) == 2
    err = capsys.readouterr().err
    assert "HTML report directory '/proc/nope'" in err and "with --html" in err
    capsys.readouterr()
    section = json.loads((tmp_path / "html0" / "report.json").read_text())["sections"][0]
    assert section["tables"]["high-confidence firings"] == [] and section["data"]["high_confidence"] == []
    section = json.loads((tmp_path / "html" / "report.json").read_text())["sections"][0]
    assert [r["input_id"] for r in section["data"]["high_confidence"]] == ["2"]  # the default --top 20
    assert main(["assertions", "report", str(tmp_path / "none.sqlite")]) == 2
    assert "no event store" in capsys.readouterr().err
    # an infinite severity in the store: the JSON stays strict (null), not the non-standard Infinity
    inf_store = EventStore(tmp_path / "inf.sqlite")
    inf_store.record([(1.0, "m", "7", "range", float("inf"), 0.99, "fired", None)])
    inf_store.close()
    assert main(["assertions", "report", str(tmp_path / "inf.sqlite"), "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert "Infinity" not in out and json.loads(out)["events"] == 1


def test_check_cli_on_a_detection_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [(f, 10.0 + 5 * f, 50.0, 70.0 + 5 * f, 170.0, 2.0) for f in range(20) if f != 7]
    pd.DataFrame(rows, columns=["frame", "x1", "y1", "x2", "y2", "score"]).to_csv(
        tmp_path / "d.csv", index=False
    )
    assert main(["assertions", "check", str(tmp_path / "d.csv"), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["flicker"]["flagged"] == [[7, 1.0]] and out["appear"]["frames_flagged"] == 0
    assert main(["assertions", "check", str(tmp_path / "d.csv"), "--assertions", "nope"]) == 2
    assert "unknown assertion" in capsys.readouterr().err
    # a floor above the track's score (2.0) silences flicker; one at it keeps the firing
    for floor, flagged in (("2.5", []), ("2.0", [[7, 1.0]])):
        args = [
            "assertions",
            "check",
            str(tmp_path / "d.csv"),
            "--flicker-min-score",
            floor,
            "--format",
            "json",
        ]
        assert main(args) == 0
        assert json.loads(capsys.readouterr().out)["flicker"]["flagged"] == flagged
    assert main(["assertions", "check", str(tmp_path / "d.csv"), "--flicker-min-score", "nan"]) == 2
    assert "not a number" in capsys.readouterr().err
    assert main(["assertions", "check", str(tmp_path / "d.csv"), "--assertions", " , "]) == 2
    assert "names no assertion" in capsys.readouterr().err
    # a header-only table is an empty table, not a table of text columns
    (tmp_path / "empty.csv").write_text("frame,x1,y1,x2,y2,score\n")
    assert main(["assertions", "check", str(tmp_path / "empty.csv"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["flicker"]["frames_flagged"] == 0


def test_concurrent_predicts_record_every_firing_exactly_once(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "ev.sqlite")
    mon = Monitor(lambda v: v, [_neg()], store=store)
    n_threads, calls = 8, 150
    errors: list[BaseException] = []

    def work() -> None:
        for _ in range(calls):
            try:
                assert mon.predict(np.array([-1.0, -2.0, 3.0])).tolist() == [-1.0, -2.0, 3.0]
            except BaseException as exc:  # collected: an exception in a thread would be lost
                errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    expected = n_threads * calls * 2  # two negative items per batch
    ev = store.events()
    assert len(ev) == expected and ev["input_id"].is_unique
    # running ids: each batch of three got its own, so the firings are items 0 and 1 of every batch
    assert set(ev["input_id"].astype(int)) == {3 * b + i for b in range(n_threads * calls) for i in (0, 1)}
    assert mon.stats["firings"] == expected and mon.stats["batches"] == n_threads * calls
    assert mon.stats["store_errors"] == 0 and mon.report()["pending"] == 0


def test_duplicate_index_labels_fallback_and_confidence_go_to_the_flagged_row() -> None:
    X = pd.DataFrame({"v": [-1.0, 2.0]}, index=[7, 7])
    mon = Monitor(
        lambda d: d["v"].rename("pred"),
        [FunctionAssertion(lambda out, inp: (out < 0).to_numpy(), name="neg")],
        hooks={"neg": Hook("fallback", fallback=lambda sub: np.zeros(len(sub)))},
        confidence=lambda i, o: np.array([0.1, 0.9]),
    )
    assert mon.predict(X).tolist() == [0.0, 2.0]
    ev = mon.store.events()
    assert ev["input_id"].tolist() == ["7"] and ev["confidence"].tolist() == [0.1]


def test_review_hook_queues_only_firings_at_min_severity() -> None:
    sev = FunctionAssertion(lambda out, inp: np.asarray(out, dtype=float), name="sev")
    mon = Monitor(lambda v: v, [sev], hooks={"sev": Hook("review", min_severity=5.0)})
    mon.predict(np.array([0.5, 1.0, 9.0]))
    assert list(mon.review_queue) == [2]
    assert len(mon.store.events(kind="review")) == 3  # all firings are still recorded


class _BareArray(Assertion):
    def check(self, outputs: object, inputs: object = None) -> np.ndarray:  # type: ignore[override]
        return np.asarray(outputs) < 0  # not an AssertionResult


def test_misbehaving_assertion_or_fallback_is_recorded_not_raised() -> None:
    x = np.array([-1.0, 2.0])
    mon = Monitor(lambda v: v, [_BareArray("bare")])
    assert mon.predict(x).tolist() == [-1.0, 2.0]
    ev = mon.store.events()
    assert ev["kind"].tolist() == ["error"] and "severity" in ev["detail"].iloc[0]

    def broken(sub: object) -> object:
        raise RuntimeError("fallback bug")

    mon = Monitor(lambda v: v, [_neg()], hooks={"neg": Hook("fallback", fallback=broken)})
    assert mon.predict(x).tolist() == [-1.0, 2.0]  # the flagged row keeps the model's prediction
    ev = mon.store.events()
    assert ev["kind"].tolist() == ["fired", "error"] and "fallback bug" in ev["detail"].iloc[1]
    assert mon.stats["assertion_errors"] == 1

    mon = Monitor(lambda v: v, [_BareArray("bare"), _neg()], hooks={"neg": Hook("raise")})
    with pytest.raises(AssertionFired, match="neg on 1 item"):
        mon.predict(x)


def test_nan_severities_are_an_assertion_failure_and_finite_ones_still_fire() -> None:
    from dawn.assertions import FunctionAssertion

    def half_broken(outputs: np.ndarray, inputs: object = None) -> np.ndarray:
        return np.array([np.nan, 1.0, 0.0])

    mon = Monitor(lambda v: v, [FunctionAssertion(half_broken, name="hb")])
    assert mon.predict(np.array([1.0, 2.0, 3.0])).tolist() == [1.0, 2.0, 3.0]
    ev = mon.store.events()
    assert sorted(ev["kind"]) == ["error", "fired"] and mon.stats["assertion_errors"] == 1
    assert ev.loc[ev["kind"] == "fired", "input_id"].tolist() == ["1"]
    assert "NaN" in ev.loc[ev["kind"] == "error", "detail"].iloc[0]


def test_fallback_keeps_the_models_output_type() -> None:
    zeros = Hook("fallback", fallback=lambda sub: np.zeros(len(sub)))
    first_neg = FunctionAssertion(
        lambda out, inp: np.asarray(out).reshape(len(out), -1)[:, 0] < 0, name="neg"
    )
    out = Monitor(torch.nn.Identity(), [first_neg], hooks={"neg": zeros}).predict(torch.tensor([-1.0, 2.0]))
    assert isinstance(out, torch.Tensor) and out.tolist() == [0.0, 2.0]

    mon = Monitor(
        lambda v: list(v), [first_neg], hooks={"neg": Hook("fallback", fallback=lambda s: [0] * len(s))}
    )
    out = mon.predict(np.array([-1, 2]))
    assert isinstance(out, list) and out == [0, 2]

    labels = Monitor(
        lambda v: np.where(np.asarray(v) < 0, "neg", "pos"),
        [FunctionAssertion(lambda out, inp: out == "neg", name="n")],
        hooks={"n": Hook("fallback", fallback=lambda s: np.array(["unknown"] * len(s)))},
    )
    assert labels.predict(np.array([-1, 2])).tolist() == ["unknown", "pos"]  # not truncated to 'unk'


def test_open_existing_never_modifies_a_foreign_or_empty_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE users (name TEXT)")
    con.commit()
    con.close()
    before = other.read_bytes()
    with pytest.raises(DawnError, match="not a dawn event store"):
        EventStore.open_existing(other)
    assert main(["assertions", "report", str(other)]) == 2
    err = capsys.readouterr().err
    assert "not a dawn event store" in err and len(err.strip().splitlines()) == 1
    assert other.read_bytes() == before and not Path(f"{other}-wal").exists()
    con = sqlite3.connect(other)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    con.close()

    zero = tmp_path / "zero.db"
    zero.touch()
    assert main(["assertions", "report", str(zero)]) == 2
    assert "not a dawn event store" in capsys.readouterr().err and zero.stat().st_size == 0


def test_open_existing_reads_a_store_while_a_writer_holds_its_lock(tmp_path: Path) -> None:
    path = tmp_path / "ev.sqlite"
    with EventStore(path) as s:
        s.record([(1.0, "m", "1", "a", 1.0, 0.9, "fired", None)])
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute(
        "INSERT INTO events (ts, model, input_id, assertion, severity, kind) "
        "VALUES (2, 'm', '2', 'a', 1, 'fired')"
    )
    try:
        with EventStore.open_existing(path, timeout=0.2) as s:
            assert s.report()["events"] == 1  # the uncommitted row is not visible
            with pytest.raises(DawnError, match="cannot write"):
                s.record([(3.0, "m", "3", "a", 1.0, None, "fired", None)])
    finally:
        holder.execute("COMMIT")
        holder.close()


@pytest.mark.parametrize(
    ("flag", "value"), [("--bucket", "0"), ("--bucket", "-5"), ("--bucket", "nan"), ("--top", "-1")]
)
def test_report_cli_rejects_bad_bucket_and_top(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    path = tmp_path / "ev.sqlite"
    EventStore(path).close()
    assert main(["assertions", "report", str(path), flag, value]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"dawn: error: {flag}") and len(err.strip().splitlines()) == 1


def test_a_broken_ids_callable_does_not_break_the_prediction() -> None:
    def bad_ids(x: np.ndarray) -> np.ndarray:
        raise KeyError("no id column")

    above = FunctionAssertion(lambda out, inp: np.asarray(out) > 1.0, name="above_one")
    for ids in (bad_ids, lambda x: np.arange(3)):  # raises; wrong length for a 5-row batch
        mon = Monitor(lambda x: np.asarray(x) * 2.0, [above], ids=ids)
        out = mon.predict(np.array([0.1, 0.2, 0.6, 0.3, 0.9]))
        np.testing.assert_allclose(out, [0.2, 0.4, 1.2, 0.6, 1.8])
        ev = mon.store.events()
        assert sorted(ev["input_id"].tolist()) == ["2", "4"]  # running numbers stand in for the ids


def _plain(out: object, inp: object) -> np.ndarray:
    return np.asarray(out) < 0


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [
        ({"assertions": [_plain]}, r"FunctionAssertion\(_plain, name='_plain'\)"),
        ({"assertions": _neg()}, "needs a list of assertions"),
        ({"assertions": [Range]}, r"pass Range\(\.\.\.\)"),
        ({"hooks": {"neg": "raise"}}, r"pass Hook\('raise'\)"),
        ({"hooks": [Hook("raise")]}, "hooks must map assertion names to Hook objects"),
        ({"sample_rate": "0.5"}, "sample_rate '0.5' is not a number"),
    ],
)
def test_set_up_mistakes_are_refused_when_the_monitor_is_built(kwargs: dict, msg: str) -> None:
    """Found only by the first predict, they would break it, which a monitor promises never to do."""
    args: dict = {"assertions": [_neg()], **kwargs}
    with pytest.raises(DawnError, match=msg):
        Monitor(lambda v: v, **args)


def test_a_refused_monitor_leaves_no_store_file_behind(tmp_path: Path) -> None:
    path = tmp_path / "ev.sqlite"
    for bad in ({"model": object()}, {"model": lambda v: v, "hooks": {"neg": "raise"}}):
        with pytest.raises(DawnError):
            Monitor(assertions=[_neg()], store=str(path), **bad)  # type: ignore[arg-type]
    assert not path.exists()


def test_store_path_of_the_wrong_type_and_malformed_events_name_the_problem() -> None:
    with pytest.raises(DawnError, match="path is a NoneType"):
        EventStore.open_existing(None)  # type: ignore[arg-type]
    store = EventStore()
    good = (1.0, "m", "1", "a", 1.0, 0.9, "fired", None)
    with pytest.raises(DawnError, match=r"event \(1, 2\) is not a tuple of 8 fields.*ts, model, input_id"):
        store.record([good, (1, 2)])
    assert store.record([good]) == 1 and len(store.events()) == 1  # the store is still open and usable
    store.close()
    with pytest.raises(DawnError, match="was closed"):
        store.record([good])


def test_report_reads_a_store_in_a_read_only_directory(tmp_path: Path) -> None:
    """A WAL store needs a -shm file to be read; in a read-only directory SQLite cannot create it, and
    the report reads the file as an immutable snapshot instead of failing. The directory is made
    read-only with a bind mount in a private mount namespace (root only: skipped elsewhere)."""
    import shutil
    import subprocess
    import sys

    src, mnt = tmp_path / "src", tmp_path / "mnt"
    src.mkdir()
    mnt.mkdir()
    with EventStore(src / "ev.sqlite") as store:
        store.record([(0.0, "m", "1", "a", 1.0, None, "fired", None)])
    assert sorted(p.name for p in src.iterdir()) == ["ev.sqlite"]  # closed cleanly: no -wal, no -shm
    script = (
        f"mount --bind {src} {mnt} && mount -o remount,bind,ro {mnt} || exit 99; "
        f"touch {mnt}/x 2>/dev/null && exit 99; echo READ-ONLY; "
        f"{sys.executable} -m dawn assertions report {mnt}/ev.sqlite"
    )
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    if not proc.stdout.startswith("READ-ONLY"):
        pytest.skip(f"cannot make a read-only bind mount here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr
    assert "1 event(s)" in proc.stdout


def test_threads_serving_through_a_locked_store_do_not_queue_behind_each_other(tmp_path: Path) -> None:
    """With the store locked, one thread at a time waits store_wait; the others queue their events and
    answer at once. Once the lock goes, every event reaches the store exactly once."""
    path = tmp_path / "ev.sqlite"
    mon = Monitor(lambda v: v, [_neg()], store=EventStore(path), store_wait=0.2)
    other = sqlite3.connect(path)
    other.execute("BEGIN EXCLUSIVE")
    errors: list[BaseException] = []

    def serve(k: int) -> None:
        try:
            for j in range(5):
                assert mon.predict(np.array([-float(k * 10 + j + 1)])).tolist() == [-float(k * 10 + j + 1)]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    start = time.perf_counter()
    threads = [threading.Thread(target=serve, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    assert not errors
    # 40 predictions each waiting their turn for 0.2 s would take 8 s; here at most a few waits overlap
    assert elapsed < 6.0, elapsed
    assert mon.stats["firings"] == 40 and mon.stats["events_dropped"] == 0
    other.rollback()
    other.close()
    assert mon.flush() == 0
    events = mon.store.events()
    assert len(events) == 40 and events["input_id"].nunique() == 40  # each once: none lost, none twice


def _random_events(n: int, seed: int = 0) -> list[tuple]:
    rng = np.random.default_rng(seed)
    t0 = 1_710_000_000.0
    conf = np.where(rng.random(n) < 0.2, np.nan, rng.random(n))
    return [
        (
            t0 + float(rng.uniform(0, 3 * 86400)),
            str(rng.choice(["m1", "m2"])),
            str(i),
            str(rng.choice(["flicker", "appear", "range"])),
            float(rng.integers(1, 4)),
            None if np.isnan(conf[i]) else float(conf[i]),
            str(rng.choice(["fired", "fired", "fired", "error"])),
            None,
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("where", ["file", "memory"])
def test_the_report_aggregated_in_sqlite_matches_pandas_on_the_events(tmp_path: Path, where: str) -> None:
    store = EventStore(tmp_path / "ev.sqlite" if where == "file" else ":memory:")
    store.record(_random_events(3000))
    ev = store.events()
    rep = store.report(top=15)
    assert rep["events"] == len(ev) == 3000 and rep["bucket_s"] == 300.0  # 3 days: 5-min buckets
    want = (
        ev.groupby(["model", "assertion", "kind"])["severity"]
        .agg(events="size", mean_severity="mean", max_severity="max")
        .reset_index()
    )
    pd.testing.assert_frame_equal(pd.DataFrame(rep["counts"]), want, check_dtype=False)
    fired = ev[ev["kind"] == "fired"].copy()
    fired["bucket"] = np.floor(fired["ts"] / 300.0) * 300.0
    want_ot = fired.groupby(["bucket", "assertion"]).size().rename("events").reset_index()
    pd.testing.assert_frame_equal(pd.DataFrame(rep["over_time"]), want_ot, check_dtype=False)
    conf = fired.dropna(subset=["confidence"])
    thr = np.quantile(conf["confidence"], 0.75)
    top = conf[conf["confidence"] >= thr].sort_values(["severity", "ts"], ascending=[False, True]).head(15)
    assert [r["input_id"] for r in rep["high_confidence"]] == top["input_id"].tolist()
    assert len(store.high_confidence()) == int((conf["confidence"] >= thr).sum())
    assert store.report(bucket_s=60.0)["bucket_s"] == 60.0  # a bucket given is kept
    store.close()


def test_a_long_read_in_one_thread_does_not_hold_up_a_write_in_another(tmp_path: Path) -> None:
    """A report (a dashboard thread) reads through a connection of its own: a monitored prediction
    writing meanwhile waits for nothing. An in-memory store has one connection: there the write gives
    up after its short timeout, and the monitor keeps the events queued."""
    for path in (tmp_path / "ev.sqlite", ":memory:"):
        store = EventStore(path)
        store.record(_random_events(10))
        inside, done = threading.Event(), threading.Event()

        def read_slowly(store: EventStore, inside: threading.Event, done: threading.Event) -> None:
            with store._snapshot() as conn:
                conn.execute("SELECT COUNT(*) FROM events").fetchone()
                inside.set()
                done.wait(5)

        reader = threading.Thread(target=read_slowly, args=(store, inside, done))
        reader.start()
        inside.wait(5)
        start = time.perf_counter()
        if path == ":memory:":
            with pytest.raises(DawnError, match="busy in this process"):
                store.record(_random_events(5, seed=1), timeout=0.05)
        else:
            assert store.record(_random_events(5, seed=1), timeout=0.05) == 5
        assert time.perf_counter() - start < 2.0  # before: the report's lock, as long as it read
        done.set()
        reader.join()
        assert store.report()["events"] == (10 if path == ":memory:" else 15)
        store.close()


def test_events_since_takes_times_as_well_as_unix_seconds() -> None:
    import datetime

    store = EventStore()
    t0 = 1_710_050_400.0  # 2024-03-10 06:00 UTC
    store.record([(t0 + 600 * i, "m", str(i), "a", 1.0, 0.5, "fired", None) for i in range(24)])
    assert len(store.events(since=t0 + 3600)) == 18
    for when in (
        datetime.datetime(2024, 3, 10, 7, tzinfo=datetime.UTC),
        "2024-03-10T07:00Z",
        "2024-03-10 07:00",  # no zone: UTC
        pd.Timestamp("2024-03-10 03:00", tz="America/New_York"),  # the same instant (EDT, that day)
        np.datetime64("2024-03-10T07:00"),
    ):
        assert len(store.events(since=when)) == 18, when
    for bad in ("yesterday-ish", [1.0], True):
        with pytest.raises(DawnError, match="since="):
            store.events(since=bad)


def test_top_probability_reads_probabilities_logits_and_one_sigmoid_column() -> None:
    from dawn.assertions.monitor import top_probability

    probs = np.array([[0.2, 0.8], [0.6, 0.4]])
    np.testing.assert_allclose(top_probability(probs), [0.8, 0.6])
    logits = np.array([[0.0, 2.0], [-1.0, 1.0]])
    soft = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(top_probability(logits), soft.max(axis=1))
    np.testing.assert_allclose(top_probability(np.array([[0.0067], [0.9]])), [0.9933, 0.9])
    np.testing.assert_allclose(top_probability(np.array([[-5.0], [0.0]])), [1 / (1 + np.exp(-5.0)), 0.5])
    for t in (torch.tensor(logits), torch.tensor(logits, dtype=torch.bfloat16), torch.tensor(probs)):
        want = soft.max(axis=1) if t.max() > 1 else probs.max(axis=1)
        np.testing.assert_allclose(top_probability(t), want, atol=1e-2)
    assert top_probability(np.array([1, 0, 2])) is None and top_probability(np.zeros((0, 3))) is None


def test_confidence_is_computed_only_when_an_assertion_fires() -> None:
    calls = []

    def conf(inputs, outputs):
        calls.append(len(inputs))
        return np.full(len(inputs), 0.9)

    fires = FunctionAssertion(lambda o, i: np.asarray(o).ravel() > 0.5, name="big")
    mon = Monitor(lambda x: np.asarray(x, dtype=float), [fires], confidence=conf)
    mon.predict(np.zeros((4, 1)))
    assert calls == []
    mon.predict(np.ones((3, 1)))
    assert calls == [3]
    assert mon.store.events()["confidence"].tolist() == [0.9, 0.9, 0.9]


def test_scalar_inputs_and_tensor_severities_do_not_break_the_prediction() -> None:
    tensor_check = FunctionAssertion(lambda o, i: o.reshape(-1) > 5, name="tensor")  # returns a tensor
    mon = Monitor(lambda v: v * 2, [tensor_check])
    out = mon.predict(torch.tensor(3.0))  # a 0-d input is one item
    assert out.item() == 6.0
    mon.predict(torch.tensor([1.0, 4.0]))
    ev = mon.store.events()
    assert ev["kind"].tolist() == ["fired", "fired"] and mon.stats["assertion_errors"] == 0


def _run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("released", [True, False])
def test_events_still_queued_at_exit_are_written_or_reported_lost(tmp_path: Path, released: bool) -> None:
    path = tmp_path / "exit.sqlite"
    code = f"""
import sqlite3, numpy as np
from dawn.assertions import EventStore, FunctionAssertion, Monitor
always = FunctionAssertion(lambda o, i: np.ones(len(o)), name="always")
mon = Monitor(lambda x: x, [always], store=EventStore({str(path)!r}, timeout=0.2), store_wait=0.01)
blocker = sqlite3.connect({str(path)!r}, isolation_level=None)
blocker.execute("BEGIN IMMEDIATE")  # another writer holds the store
mon.predict(np.zeros((10, 1)))
assert len(mon._pending) == 10
if {released!r}:
    blocker.execute("ROLLBACK")
"""
    done = _run_python(code)
    assert done.returncode == 0, done.stderr
    n = len(EventStore.open_existing(path).events())
    if released:
        assert n == 10 and "lost" not in done.stderr
    else:
        assert n == 0 and "10 event(s) could not be written" in done.stderr


def test_a_forked_child_does_not_write_its_parents_queue_again(tmp_path: Path) -> None:
    import os

    path = tmp_path / "fork.sqlite"
    always = FunctionAssertion(lambda o, i: np.ones(len(o)), name="always")
    mon = Monitor(lambda x: x, [always], store=EventStore(path, timeout=0.2), store_wait=0.01)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    mon.predict(np.zeros((7, 1)))  # queued in memory: the store is locked
    blocker.execute("ROLLBACK")
    blocker.close()
    pid = os.fork()
    if pid == 0:  # the child: its own events only, through its own connection
        code = 0
        try:
            mon.predict(np.zeros((3, 1)))
            code = mon.flush()
        except BaseException:
            code = 99
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert mon.flush() == 0
    assert len(EventStore.open_existing(path).events()) == 10  # 7 + 3, not 7 twice


def test_the_torch_overhead_experiment_runs_on_the_cpu() -> None:
    from dawn.assertions.experiments.overhead import torch_monitor

    r = torch_monitor("cpu", batch=8, repeats=2, inner=2)
    assert set(r["us_per_batch"]) == {"bare", "monitored", "host_confidence_every_batch"}
    assert all(v > 0 for v in r["us_per_batch"].values())


def test_over_time_floors_times_before_the_epoch_and_forks_leave_closed_stores_closed(tmp_path: Path) -> None:
    import os

    store = EventStore()
    store.record(
        [(-30.0, "m", "1", "a", 1.0, None, "fired", None), (30.0, "m", "2", "a", 1.0, None, "fired", None)]
    )
    assert store.over_time(60.0)["bucket"].tolist() == [-60.0, 0.0]
    path = tmp_path / "closed.sqlite"
    EventStore(path).close()
    path.unlink()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    assert not path.exists()  # the child did not reopen (and so recreate) the closed store


def test_reports_refuse_a_bucket_that_is_not_positive_and_a_closed_store() -> None:
    store = EventStore()
    store.record([(30.0, "m", "1", "a", 1.0, None, "fired", None)])
    for bad in (0, -60, float("nan"), "60s"):
        with pytest.raises(DawnError, match="bucket_s"):
            store.report(bucket_s=bad)
    store.close()
    with pytest.raises(DawnError, match="is closed"):
        store.report()
