import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from dawn.core.errors import DawnError
from dawn.willump import Pipeline, optimize
from dawn.willump.remote import LRUCache, RedisFeature, upload_table


def test_lru_cache_evicts_least_recently_used() -> None:
    c = LRUCache(2)
    c.put("a", 1)
    c.put("b", 2)
    assert c.get("a") == 1  # "a" is now the most recent
    c.put("c", 3)
    assert "b" not in c and "a" in c and "c" in c
    assert (c.hits, c.misses) == (1, 0)
    off = LRUCache(0)
    off.put("a", 1)
    assert len(off) == 0


@pytest.mark.redis
def test_redis_feature_batched_lookup_and_cache(redis_url: str) -> None:
    table = pd.DataFrame({"f1": [1.0, 2.0, 3.0], "f2": [10.0, 20.0, 30.0]}, index=[7, 8, 9])
    assert upload_table(redis_url, "t1:", table) == 3
    group = RedisFeature(redis_url, "t1:", "key", 2, cache_size=2, chunk=2)
    X = pd.DataFrame({"key": [9, 7, 9, 42, 8]})
    out = group(X)
    np.testing.assert_allclose(out[[0, 1, 2, 4]], [[3, 30], [1, 10], [3, 30], [2, 20]])
    assert np.isnan(out[3]).all()  # unknown key -> missing features
    assert len(group.cache) == 2  # capacity respected
    group(X)
    assert group.cache.hits >= 2
    uncached = RedisFeature(redis_url, "t1:", "key", 2, chunk=2)  # the loop-free path
    np.testing.assert_array_equal(uncached(X), out)


@pytest.mark.redis
def test_redis_value_of_the_wrong_width_is_a_clear_error(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).set("t2:5", b"\x00" * 12)  # three floats where two are expected
    with pytest.raises(DawnError, match="t2:5 is not 2 packed float32"):
        RedisFeature(redis_url, "t2:", "key", 2)(pd.DataFrame({"key": [5]}))


@pytest.mark.redis
def test_pipeline_with_redis_group_optimizes(redis_url: str) -> None:
    rng = np.random.default_rng(0)
    users = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    upload_table(redis_url, "u2:", users)
    X = pd.DataFrame({"user": rng.integers(0, 300, size=3000), "x": rng.normal(size=3000)})
    y = (2 * X["x"] + users.loc[X["user"], "a"].to_numpy() > 0).astype(int).to_numpy()
    pipe = Pipeline({"local": lambda X: X[["x"]], "user": RedisFeature(redis_url, "u2:", "user", 3)},
                    LogisticRegression())  # fmt: skip
    pipe.model.fit(pipe.transform(X[:1000]), y[:1000])
    opt = optimize(pipe, X[1000:2500], y[1000:2500], max_loss=0.05, measure=False)
    assert np.mean(opt.predict(X[2500:]) != pipe.predict(X[2500:])) <= 0.08
    # with a remote group, every set of groups is also timed as it runs (lookups overlap local work)
    assert set(opt.info_["joint_costs"]) == {"local", "user", "local+user"}
    assert opt.explain()["remote_failures"] == {"user": 0}
    assert all(v["cost_batch_s"] > 0 and v["cost_single_s"] > 0 for v in opt.info_["joint_costs"].values())


def test_unreachable_redis_policies(caplog: pytest.LogCaptureFixture) -> None:
    url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    X = pd.DataFrame({"key": [1, 2]})
    with pytest.raises(DawnError, match="unreachable"):
        RedisFeature(url, "p:", "key", 2)(X)
    lenient = RedisFeature(url, "p:", "key", 2, on_error="nan")
    with caplog.at_level("WARNING", logger="dawn.willump.remote"):
        out = lenient(X)
        lenient(X)
    assert out.shape == (2, 2) and np.isnan(out).all() and lenient.failures == 4
    # one warning per outage, not one per call
    assert sum("serving NaN features" in r.getMessage() for r in caplog.records) == 1
    with pytest.raises(DawnError, match="on_error"):
        RedisFeature(url, "p:", "key", 2, on_error="ignore")
    with pytest.raises(DawnError, match="Redis"):
        upload_table(url, "p:", pd.DataFrame({"a": [1.0]}))


def test_a_hung_redis_costs_each_call_the_timeout_then_the_policy_applies() -> None:
    """A server that accepts connections and never answers (a hung Redis) is not 'unreachable' at
    connect time: the read timeout bounds each call, then on_error decides."""
    import socket
    import time

    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)  # the kernel completes the handshake; nobody ever reads or writes
        url = f"redis://127.0.0.1:{hung.getsockname()[1]}/0"
        X = pd.DataFrame({"key": [1, 2]})
        start = time.perf_counter()
        with pytest.raises(DawnError, match="unreachable"):
            RedisFeature(url, "p:", "key", 2, timeout=0.2)(X)
        lenient = RedisFeature(url, "p:", "key", 2, on_error="nan", timeout=0.2)
        assert np.isnan(lenient(X)).all() and lenient.failures == 2
        assert time.perf_counter() - start < 5.0  # the default 10 s read timeout would take 20 s
    for bad in (0.0, -1.0, float("inf"), "1"):
        with pytest.raises(DawnError, match="timeout"):
            RedisFeature(url, "p:", "key", 2, timeout=bad)  # type: ignore[arg-type]


def test_calls_queued_behind_a_hung_redis_wait_the_timeout_not_a_multiple_of_it() -> None:
    """16 threads serve through a pipeline whose Redis hangs: its 4 lookup workers block, and before a
    per-call deadline the other calls queued behind them (0.3, 0.6, 0.9, 1.2 s). Each call now gets
    its answer (NaN features, on_error='nan') about ``timeout`` after it was issued, and every row
    served NaN is counted once, whether its lookup was cancelled in the queue or failed running."""
    import socket
    import threading
    import time

    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(64)
        url = f"redis://127.0.0.1:{hung.getsockname()[1]}/0"
        X = pd.DataFrame({"key": [1, 2], "x": [0.5, -0.5]})
        group = RedisFeature(url, "p:", "key", 2, on_error="nan", timeout=0.3)
        pipe = Pipeline({"local": lambda Z: Z[["x"]], "user": group}, LogisticRegression(), max_workers=4)
        took: list[float] = []

        def serve() -> None:
            start = time.perf_counter()
            block = pipe.compute(X)["user"]
            took.append(time.perf_counter() - start)
            assert np.isnan(block).all()

        threads = [threading.Thread(target=serve) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        pipe.close()  # waits for the lookups still running, which count their own rows
        assert len(took) == 16 and max(took) < 0.8, sorted(took)
        assert group.failures == 32  # rows, each once
        strict = RedisFeature(url, "p:", "key", 2, timeout=0.2)
        blocker = Pipeline({"user": strict}, LogisticRegression(), max_workers=1)
        with pytest.raises(DawnError, match="unreachable|did not answer within 0.2 s"):
            blocker.compute(X)
        blocker.close()


def test_optimizing_while_the_store_serves_nan_features_is_refused() -> None:
    """on_error='nan' keeps serving through an outage; calibrating on the NaN rows would certify a
    cascade for data the pipeline will not see once the store is back."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"user": rng.integers(0, 50, size=600), "x": rng.normal(size=600)})
    y = (X["x"] > 0).astype(int).to_numpy()
    down = RedisFeature("redis://127.0.0.1:1/0", "p:", "user", 2, on_error="nan")  # nothing on port 1
    pipe = Pipeline({"local": lambda X: X[["x"]], "user": down}, HistGradientBoostingClassifier(max_iter=20))
    pipe.model.fit(np.c_[X[["x"]][:200], rng.normal(size=(200, 2))], y[:200])  # fitted while the store was up
    with pytest.raises(DawnError, match="could not reach its store"):
        optimize(pipe, X[200:], y[200:], measure=False)


@pytest.mark.redis
def test_a_pipeline_with_a_redis_group_saves_and_loads(redis_url: str, tmp_path) -> None:
    import pickle

    from dawn.willump import OptimizedPipeline

    rng = np.random.default_rng(1)
    users = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    upload_table(redis_url, "u3:", users)
    X = pd.DataFrame({"user": rng.integers(0, 200, size=2000), "x": rng.normal(size=2000)})
    y = (2 * X["x"] + users.loc[X["user"], "a"].to_numpy() > 0).astype(int).to_numpy()
    group = RedisFeature(redis_url, "u3:", "user", 3, cache_size=50)
    pipe = Pipeline({"local": lambda X: X[["x"]], "user": group}, LogisticRegression())
    pipe.model.fit(pipe.transform(X[:800]), y[:800])
    assert len(group.cache) == 50  # a used cache: its lock must not be pickled
    opt = optimize(pipe, X[800:1600], y[800:1600], max_loss=0.05, measure=False)
    back = OptimizedPipeline.load(opt.save(tmp_path / "redis.willump"))
    loaded = back.pipeline.features["user"]
    assert isinstance(loaded.cache, LRUCache) and loaded.cache.maxsize == 50 and len(loaded.cache) == 0
    np.testing.assert_array_equal(back.predict(X[1600:]), opt.predict(X[1600:]))
    assert len(loaded.cache) > 0  # the rebuilt cache serves
    uncached = pickle.loads(pickle.dumps(RedisFeature(redis_url, "u3:", "user", 3)))
    np.testing.assert_array_equal(uncached(X[:5]), group(X[:5]))


@pytest.mark.redis
def test_float_and_missing_keys_are_looked_up_as_stored(redis_url: str) -> None:
    upload_table(redis_url, "t4:", pd.DataFrame({"f": [1.0, 2.0]}, index=[1, 2]))
    float_keys = pd.DataFrame({"key": [1, np.nan, 2, 1]})  # one missing key made the column float
    object_keys = pd.DataFrame({"key": pd.Series([1, None, 2, 1], dtype=object)})
    for cache_size in (0, 4):
        group = RedisFeature(redis_url, "t4:", "key", 1, cache_size=cache_size)
        for X in (float_keys, object_keys):
            np.testing.assert_array_equal(group(X).ravel(), [1.0, np.nan, 2.0, 1.0])
        assert np.isnan(group(pd.DataFrame({"key": [np.nan, np.nan]}))).all()
        if cache_size:
            assert 1 in group.cache and 2 in group.cache  # cached under the stored key, not 1.0
    mixed = pd.DataFrame({"key": pd.Series([1, "2", 2.0, None, "1"], dtype=object)})  # as JSON gives them
    for cache_size in (0, 4):
        group = RedisFeature(redis_url, "t4:", "key", 1, cache_size=cache_size)
        np.testing.assert_array_equal(group(mixed).ravel(), [1.0, 2.0, 2.0, np.nan, 1.0])
        np.testing.assert_array_equal(group(mixed).ravel(), [1.0, 2.0, 2.0, np.nan, 1.0])  # cached


@pytest.mark.redis
def test_a_saved_plan_names_changed_group_code_and_widths(redis_url: str, tmp_path, caplog) -> None:
    """A module's function is saved by reference: load() warns when its code changed since, and a
    group that now returns another number of columns is refused at serve time. A renamed one is
    named as such, not called a corrupt file."""
    import subprocess
    import sys
    import textwrap

    mod = tmp_path / "groups_mod.py"
    mod.write_text("def local(X):\n    return X[['x']].to_numpy()\n")
    script = textwrap.dedent(
        f"""
        import sys; sys.path.insert(0, {str(tmp_path)!r})
        import numpy as np, pandas as pd
        from sklearn.linear_model import LogisticRegression
        from dawn.willump import Pipeline, optimize
        from dawn.willump.remote import RedisFeature, upload_table
        import groups_mod
        rng = np.random.default_rng(0)
        upload_table({redis_url!r}, "g5:", pd.DataFrame(rng.normal(size=(50, 2)), columns=["a", "b"]))
        X = pd.DataFrame({{"user": rng.integers(0, 50, size=1500), "x": rng.normal(size=1500)}})
        y = (X["x"] > 0).astype(int).to_numpy()
        pipe = Pipeline({{"local": groups_mod.local, "user": RedisFeature({redis_url!r}, "g5:", "user", 2)}},
                        LogisticRegression())
        pipe.model.fit(pipe.transform(X[:500]), y[:500])
        optimize(pipe, X[500:], y[500:], max_loss=0.05, measure=False).save({str(tmp_path / "p.willump")!r})
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    from dawn.willump import OptimizedPipeline

    sys.path.insert(0, str(tmp_path))
    try:
        X = pd.DataFrame({"user": [1, 2, 3], "x": [0.1, -0.2, 0.3]})
        with caplog.at_level("WARNING", logger="dawn.willump.optimized"):
            OptimizedPipeline.load(tmp_path / "p.willump").predict(X)
        assert not caplog.records  # unchanged code: no warning
        sys.modules.pop("groups_mod", None)
        mod.write_text("def local(X):\n    return -X[['x']].to_numpy()\n")  # same width, other values
        with caplog.at_level("WARNING", logger="dawn.willump.optimized"):
            OptimizedPipeline.load(tmp_path / "p.willump")
        assert "feature group 'local' has changed code" in caplog.text
        sys.modules.pop("groups_mod", None)
        mod.write_text("def local(X):\n    return X[['x', 'x']].to_numpy()\n")  # two columns now
        back = OptimizedPipeline.load(tmp_path / "p.willump")
        with pytest.raises(
            DawnError, match="group 'local' returned 2 columns, where it returned 1 when the plan"
        ):
            back.predict(X)
        sys.modules.pop("groups_mod", None)
        mod.write_text("def renamed(X):\n    return X[['x']].to_numpy()\n")
        with pytest.raises(DawnError, match="refers to a name its module no longer defines"):
            OptimizedPipeline.load(tmp_path / "p.willump")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("groups_mod", None)


def test_a_deadline_serves_cached_keys_and_counts_each_nan_row_once() -> None:
    """A Redis that stops answering (SIGSTOP) mid-service: at the deadline the call is answered from
    the cache where it can, NaN elsewhere, and those rows are counted once, whether the abandoned
    lookup later fails or gets its answer."""
    import os
    import signal

    from dawn.willump.remote import RedisServer

    with RedisServer() as srv:
        upload_table(srv.url, "d:", pd.DataFrame({"f": [1.0, 2.0, 3.0]}, index=[1, 2, 3]))
        group = RedisFeature(srv.url, "d:", "key", 1, cache_size=10, on_error="nan", timeout=0.3)
        pipe = Pipeline({"user": group}, LogisticRegression())
        pipe.compute(pd.DataFrame({"key": [1]}))  # key 1 is cached now
        os.kill(srv.proc.pid, signal.SIGSTOP)
        try:
            block = pipe.compute(pd.DataFrame({"key": [1, 2, 2, 3]}))["user"][:, 0]
        finally:
            os.kill(srv.proc.pid, signal.SIGCONT)
        assert block[0] == 1.0 and np.isnan(block[1:]).all()
        assert group.failures == 3
        pipe.close()  # waits for the abandoned lookup, which fails or answers late
        assert group.failures == 3
        np.testing.assert_array_equal(pipe.compute(pd.DataFrame({"key": [2, 3]}))["user"][:, 0], [2.0, 3.0])
        pipe.close()


def test_a_pipeline_that_is_not_optimised_may_have_its_groups_refitted() -> None:
    """Widths are fixed by optimize() (what a plan was made for), not by the first call: a plain
    pipeline whose vocabulary is refitted on new text, with its model, keeps working."""
    from sklearn.feature_extraction.text import CountVectorizer

    words = CountVectorizer().fit(["good film", "bad film"])
    pipe = Pipeline({"words": words}, LogisticRegression())
    pipe.model.fit(pipe.transform(["good film", "bad film"]), [1, 0])
    pipe.predict(["good"])
    words.fit(["good film", "bad film", "great plot"])  # a new day's vocabulary: more columns
    pipe.model.fit(pipe.transform(["good film", "bad film", "great plot"]), [1, 0, 1])
    assert len(pipe.predict(["great"])) == 1


def test_a_pipeline_whose_group_changed_can_be_optimised_again() -> None:
    """The width check refuses serving an old plan with a changed group, and the fix it names,
    optimising again, works (widths are measured anew; a failed optimize() fixes none)."""
    from sklearn.feature_extraction.text import CountVectorizer

    rng = np.random.default_rng(0)
    words = np.array(["good", "bad", "fine", "poor", "great", "awful"])
    text = pd.Series([" ".join(rng.choice(words[:4], 3)) for _ in range(1500)])
    X = pd.DataFrame({"text": text, "x": rng.normal(size=1500)})
    y = ((X["x"] > 0) ^ text.str.contains("bad")).astype(int).to_numpy()
    vec = CountVectorizer().fit(text)
    pipe = Pipeline({"num": lambda Z: Z[["x"]].to_numpy(), "words": lambda Z: vec.transform(Z["text"])},
                    LogisticRegression())  # fmt: skip
    pipe.model.fit(pipe.transform(X[:500]), y[:500])
    optimize(pipe, X[500:], y[500:], max_loss=0.05, measure=False)
    vec.fit(pd.concat([text, pd.Series(["great awful"])]))  # a new vocabulary: two more columns
    with pytest.raises(DawnError, match="group 'words' returned 6 columns, where it returned 4"):
        pipe.transform(X[:5])
    pipe.model.fit(np.c_[X[["x"]][:500], vec.transform(text[:500]).toarray()], y[:500])
    opt = optimize(pipe, X[500:], y[500:], max_loss=0.05, measure=False)  # optimising again works
    assert len(opt.predict(X[:5])) == 5


def test_a_call_that_fails_elsewhere_leaves_its_pending_lookups_uncounted() -> None:
    """A local group raises while the call's Redis lookup hangs: the call serves nothing, so the
    lookup, when it fails later, must not count rows as served NaN."""
    import socket

    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        url = f"redis://127.0.0.1:{hung.getsockname()[1]}/0"
        group = RedisFeature(url, "p:", "key", 2, on_error="nan", timeout=0.3)

        def broken(Z: pd.DataFrame) -> np.ndarray:
            raise ValueError("bad input")

        pipe = Pipeline({"user": group, "local": broken}, LogisticRegression())
        with pytest.raises(DawnError, match="feature group 'local' raised ValueError"):
            pipe.compute(pd.DataFrame({"key": [1, 2]}))
        pipe.close()  # the lookup has failed by now
        assert group.failures == 0
