import threading
import time

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.pipeline import Pipeline as SkPipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from dawn.core.errors import DawnError
from dawn.willump import Pipeline


def test_callable_and_transformer_groups_stack_in_order(binary_data) -> None:
    X, y = binary_data
    scaler = StandardScaler().fit(X)  # a transformer group sees the raw rows
    pipe = Pipeline({"a": lambda X: X[:, :3], "b": scaler}, LogisticRegression())
    feats = pipe.transform(X)
    assert feats.shape == (len(X), 8)
    np.testing.assert_allclose(feats[:, 3:], scaler.transform(X))
    pipe.model.fit(feats, y)
    assert pipe.task == "classification"
    np.testing.assert_array_equal(pipe.predict(X), pipe.model.predict(feats))


def test_sparse_and_dense_groups_give_csr() -> None:
    texts = ["good movie", "bad film", "great good", "awful bad"]
    vec = TfidfVectorizer().fit(texts)
    pipe = Pipeline({"w": vec, "len": lambda t: np.array([[len(s)] for s in t])}, LogisticRegression())
    feats = pipe.transform(texts)
    assert sp.issparse(feats) and feats.shape == (4, len(vec.vocabulary_) + 1)


def test_from_sklearn_feature_union_matches_sklearn() -> None:
    texts = ["good movie", "bad film", "great good fun", "awful bad plot"] * 10
    y = np.array([1, 0, 1, 0] * 10)
    sk = SkPipeline([
        ("features", FeatureUnion([("word", TfidfVectorizer()), ("char", TfidfVectorizer(analyzer="char"))])),
        ("model", LogisticRegression()),
    ]).fit(texts, y)  # fmt: skip
    pipe = Pipeline.from_sklearn(sk)
    assert pipe.group_names == ["word", "char"]
    np.testing.assert_allclose(pipe.predict_proba(texts), sk.predict_proba(texts))


def test_from_sklearn_column_transformer_with_later_steps() -> None:
    df = pd.DataFrame({"a": np.arange(40.0), "b": np.tile(["x", "y"], 20), "c": np.arange(40.0) ** 0.5})
    y = (df["a"] > 20).astype(int)
    ct = ColumnTransformer([("num", "passthrough", ["a", "c"]), ("cat", OneHotEncoder(), ["b"])])
    sk = make_pipeline(ct, StandardScaler(with_mean=False), LogisticRegression()).fit(df, y)
    pipe = Pipeline.from_sklearn(sk)
    assert pipe.group_names == ["num", "cat"]
    np.testing.assert_allclose(pipe.predict_proba(df), sk.predict_proba(df))


def test_bad_groups_and_models_raise_dawn_error(binary_data) -> None:
    X, _ = binary_data
    with pytest.raises(DawnError, match="rows"):
        Pipeline({"bad": lambda X: X[:-1]}, LogisticRegression()).transform(X)
    with pytest.raises(DawnError, match="neither callable"):
        Pipeline({"bad": 3}, LogisticRegression())
    with pytest.raises(DawnError, match="no predict"):
        Pipeline({"a": lambda X: X}, object())
    with pytest.raises(DawnError, match="no feature groups"):
        Pipeline({}, LogisticRegression())
    with pytest.raises(DawnError, match="FeatureUnion"):
        Pipeline.from_sklearn(make_pipeline(StandardScaler(), LogisticRegression()))


def test_a_group_that_raises_or_returns_non_numbers_is_named(binary_data) -> None:
    X, _ = binary_data

    def broken(X: np.ndarray) -> np.ndarray:
        raise KeyError("user_id")

    with pytest.raises(DawnError, match="'broken' raised KeyError") as info:
        Pipeline({"broken": broken}, LogisticRegression()).transform(X)
    assert isinstance(info.value.__cause__, KeyError)  # the user's own error stays chained
    with pytest.raises(DawnError, match="'words' returned values that are not numbers"):
        Pipeline({"words": lambda X: np.full((len(X), 1), "abc")}, LogisticRegression()).transform(X)


def test_optimize_refuses_inf_or_all_nan_features(binary_data) -> None:
    from dawn.willump import optimize

    X, y = binary_data
    model = LogisticRegression().fit(X[:500, :3], y[:500])
    for bad, msg in ((np.inf, "inf"), (np.nan, "only NaN")):
        pipe = Pipeline({"a": lambda X: X[:, :2], "b": lambda X, v=bad: np.full((len(X), 1), v)}, model)
        with pytest.raises(DawnError, match=msg):
            optimize(pipe, X[500:1000], y[500:1000], measure=False)


class _SlowRemote:
    is_remote = True

    def __init__(self) -> None:
        self.thread: str | None = None

    def __call__(self, X: np.ndarray) -> np.ndarray:
        self.thread = threading.current_thread().name
        time.sleep(0.2)
        return X[:, :1]


def test_remote_groups_run_concurrently_with_local_ones() -> None:
    remote = _SlowRemote()

    def local(X: np.ndarray) -> np.ndarray:
        time.sleep(0.2)
        return X[:, 1:]

    pipe = Pipeline({"local": local, "remote": remote}, LogisticRegression())
    t0 = time.perf_counter()
    feats = pipe.transform(np.ones((10, 3)))
    elapsed = time.perf_counter() - t0
    assert feats.shape == (10, 3)
    assert remote.thread is not None and remote.thread.startswith("willump")
    assert elapsed < 0.39  # both 0.2 s groups overlapped (in sequence they take >= 0.4 s)


def test_close_stops_the_worker_threads_and_the_pipeline_still_answers() -> None:
    remote = _SlowRemote()
    with Pipeline({"local": lambda X: X[:, 1:], "remote": remote}, LogisticRegression()) as pipe:
        pipe.transform(np.ones((4, 3)))
        pool = pipe._pool
        assert pool is not None and any(t.name.startswith("willump") for t in threading.enumerate())
    assert pipe._pool is None
    assert not any(t.is_alive() for t in pool._threads)  # joined, not left waiting for work
    assert pipe.transform(np.ones((4, 3))).shape == (4, 3)  # a new pool on the next use
    pipe.close()
    pipe.close()  # idempotent


def test_costs_use_a_measured_joint_cost_and_otherwise_the_sum() -> None:
    from dawn.willump.cost import Costs

    costs = Costs(batch={"a": 2.0, "b": 3.0, "model": 1.0}, single={"a": 20.0, "b": 30.0, "model": 10.0})
    assert costs.total(["a", "b", "model"]) == 6.0
    costs.stage_batch[("a", "b")] = 3.5  # the two overlap: less than 2 + 3
    costs.stage_single[("a", "b")] = 31.0
    assert costs.total(["b", "a"]) == 3.5 and costs.total(["a", "b", "model"]) == 4.5
    assert costs.total(["a", "b", "model"], single=True) == 41.0
    assert costs.total(["a", "b"], joint=False) == 5.0  # the original's rule: sum the parts
    assert costs.total(["a"]) == 2.0  # no joint measurement of {a}: its own cost


def test_from_sklearn_applies_transformer_weights() -> None:
    from sklearn.preprocessing import FunctionTransformer

    texts = ["good movie", "bad film", "great good fun", "awful bad plot"] * 10
    y = np.array([1, 0, 1, 0] * 10)
    length = FunctionTransformer(lambda t: np.array([[len(s)] for s in t], dtype=float))
    union = FeatureUnion(
        [("word", TfidfVectorizer()), ("len", length)], transformer_weights={"word": 5.0, "len": 0.1}
    )  # a sparse and a dense group, both weighted
    sk = SkPipeline([("features", union), ("model", LogisticRegression())]).fit(texts, y)
    np.testing.assert_allclose(Pipeline.from_sklearn(sk).predict_proba(texts), sk.predict_proba(texts))

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    ct = ColumnTransformer(
        [("a", StandardScaler(), [0]), ("b", "passthrough", [1, 2])], transformer_weights={"a": 10.0}
    )
    sk = make_pipeline(ct, LogisticRegression()).fit(X, (X @ [1.0, 2.0, 3.0] > 0).astype(int))
    np.testing.assert_allclose(Pipeline.from_sklearn(sk).predict_proba(X), sk.predict_proba(X))


def test_from_sklearn_keeps_a_dense_column_transformer_output_dense() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"cat": rng.choice(list("abc"), 300), "x1": rng.normal(size=300), "x2": rng.normal(size=300)}
    )
    y = (df["x1"] > 0).astype(int)
    ct = ColumnTransformer([("oh", OneHotEncoder(), ["cat"]), ("num", StandardScaler(), ["x1", "x2"])])
    # the model needs dense input: sklearn densified the stacked output (sparse_output_ is False)
    sk = make_pipeline(ct, HistGradientBoostingClassifier(max_iter=10)).fit(df, y)
    assert not sk[0].sparse_output_
    pipe = Pipeline.from_sklearn(sk)
    assert not sp.issparse(pipe.transform(df))
    np.testing.assert_allclose(pipe.predict_proba(df), sk.predict_proba(df))
    # a pipeline pickled before the flag existed stacks as it did (CSR when a group is sparse)
    del pipe.dense
    assert sp.issparse(pipe.transform(df))


def test_a_model_class_or_an_unfitted_model_is_refused(binary_data) -> None:
    X, _ = binary_data
    groups = {"a": lambda Z: Z[:, :2], "b": lambda Z: Z[:, 2:]}
    with pytest.raises(DawnError, match=r"the class LogisticRegression, not a fitted estimator"):
        Pipeline(groups, LogisticRegression)
    unfitted = Pipeline(groups, LogisticRegression())  # built before fitting, as the workloads do
    for call in (unfitted.predict, unfitted.predict_proba, unfitted.score):
        with pytest.raises(DawnError, match="LogisticRegression is not fitted"):
            call(X[:10])


def test_a_model_fitted_on_a_dataframe_has_its_columns_checked_once_and_does_not_warn(binary_data) -> None:
    import warnings

    from dawn.willump import optimize

    X, y = binary_data
    df = pd.DataFrame(X, columns=list("abcde"))
    model = LogisticRegression().fit(df[:2000], y[:2000])  # feature_names_in_ = a..e
    pipe = Pipeline({"cheap": lambda Z: Z[["a", "b"]], "rest": lambda Z: Z[["c", "d", "e"]]}, model)
    filters = list(warnings.filters)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        opt = optimize(pipe, df[2000:3000], y[2000:3000], top_k=10, top_k_n=500, measure=False)
        opt.predict(df[3000:3500])
        opt.top_k(df[3000:3500], 10)
        pipe.predict(df[3000:3100])
        for i in range(3000, 3020):
            opt.predict_one(df.iloc[[i]])
    assert not [w for w in seen if "feature names" in str(w.message)]
    assert warnings.filters == filters  # the user's own filters are left as they were
    swapped = Pipeline({"rest": lambda Z: Z[["c", "d", "e"]], "cheap": lambda Z: Z[["a", "b"]]}, model)
    with pytest.raises(DawnError, match=r"group 'rest' returns column 'c' at model input position 0.*'a'"):
        optimize(swapped, df[2000:3000], y[2000:3000], measure=False)
    reordered = Pipeline({"cheap": lambda Z: Z[["a", "b"]], "rest": lambda Z: Z[["e", "d", "c"]]}, model)
    with pytest.raises(DawnError, match=r"column 'e' at model input position 2.*'c'"):
        optimize(reordered, df[2000:3000], y[2000:3000], measure=False)
    short = Pipeline({"cheap": lambda Z: Z[["a", "b"]], "rest": lambda Z: Z[["c", "d"]].to_numpy()}, model)
    with pytest.raises(DawnError, match="return 4 columns, but the model was fitted on 5"):
        optimize(short, df[2000:3000], y[2000:3000], measure=False)


def test_serving_from_threads_leaves_the_users_warning_filters_as_they_were(binary_data) -> None:
    """catch_warnings interleaved across threads restores stale filter lists (Python < 3.14)."""
    import threading
    import warnings

    X, y = binary_data
    df = pd.DataFrame(X, columns=list("abcde"))
    model = LogisticRegression().fit(df[:2000], y[:2000])
    pipe = Pipeline({"cheap": lambda Z: Z[["a", "b"]], "rest": lambda Z: Z[["c", "d", "e"]]}, model)
    with warnings.catch_warnings():  # the test's own changes are undone at the end
        before = list(warnings.filters)
        errors: list[BaseException] = []

        def serve(k: int) -> None:
            try:
                for i in range(150):
                    pipe.predict(df[3000 + i : 3001 + i])
                    if k == 0 and i == 75:  # the user adds a filter while the threads serve
                        warnings.filterwarnings("ignore", "user's own filter")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=serve, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        after = list(warnings.filters)
        assert not [f for f in after if f[1] is not None and "valid feature names" in f[1].pattern]
        assert any(f[1] is not None and f[1].pattern == "user's own filter" for f in after)
        assert [f for f in after if f[1] is None or f[1].pattern != "user's own filter"] == before


def test_a_quiet_filter_left_behind_by_another_threads_catch_warnings_is_removed_again() -> None:
    """The race an audit found with a 1 us switch interval, played in order: another thread's
    catch_warnings saves the filters while dawn's entry is in, and restores them after dawn's last
    call has left. The next model call removes the copy; the user's own equal filter stays."""
    import warnings

    from dawn.willump.pipeline import _QUIET_ENTRY, _no_feature_names_warning

    def ours() -> list:
        return [f for f in warnings.filters if f is _QUIET_ENTRY]

    with warnings.catch_warnings():  # the test's own changes are undone at the end
        with _no_feature_names_warning():
            assert len(ours()) == 1
            saved = list(warnings.filters)  # the other thread's catch_warnings enters
        assert ours() == []
        warnings.filters[:] = saved  # ... and leaves: the entry is back, no dawn call running
        assert len(ours()) == 1
        with _no_feature_names_warning():
            assert len(ours()) == 1  # one, not two
        assert ours() == []
        warnings.filterwarnings("ignore", "X does not have valid feature names", UserWarning)
        users = warnings.filters[0]
        with _no_feature_names_warning():
            assert ours() == []  # the user's equal filter does the work; none added
        assert warnings.filters[0] is users


def test_sklearn_unions_with_pandas_output_pass_the_column_check() -> None:
    df = pd.DataFrame(np.random.default_rng(0).normal(size=(100, 4)), columns=list("abcd"))
    y = (df["a"] + df["c"] > 0).astype(int)
    ct = ColumnTransformer([("num", StandardScaler(), ["a", "b"]), ("oth", StandardScaler(), ["c", "d"])])
    union = FeatureUnion([("s", StandardScaler()), ("m", StandardScaler(with_mean=False))])
    for first in (ct, union):  # the model sees "num__a", ...: the union's prefixed names
        sk = make_pipeline(first.set_output(transform="pandas"), LogisticRegression()).fit(df, y)
        pipe = Pipeline.from_sklearn(sk)
        pipe.check_feature_names(df[:1])
        np.testing.assert_allclose(pipe.predict_proba(df), sk.predict_proba(df))


def test_code_digests_are_the_same_in_every_process() -> None:
    """A set literal compiles to a frozenset constant whose repr order follows string hashing, which
    differs from process to process: the digest must not."""
    import subprocess
    import sys

    code = (
        "from dawn.willump.pipeline import code_digest\n"
        "def f(X):\n    return [x in {'alpha', 'beta', 'gamma', 'delta'} for x in X]\n"
        "print(code_digest(f))"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True,
            env={**__import__("os").environ, "PYTHONHASHSEED": str(seed)},
        ).stdout.strip()
        for seed in (1, 2, 3)
    }  # fmt: skip
    assert len(digests) == 1


def test_the_users_equal_filter_behind_an_error_filter_does_not_silence_the_warning(binary_data) -> None:
    import warnings

    X, y = binary_data
    df = pd.DataFrame(X, columns=list("abcde"))
    model = LogisticRegression().fit(df[:2000], y[:2000])
    pipe = Pipeline({"cheap": lambda Z: Z[["a", "b"]], "rest": lambda Z: Z[["c", "d", "e"]]}, model)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "X does not have valid feature names", UserWarning)
        warnings.simplefilter("error", UserWarning)  # now in front of the user's ignore
        assert len(pipe.predict(df[:5])) == 5  # dawn's own entry goes in front and silences it


def _city_frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame(
        {"a": rng.normal(0, 1, n), "b": rng.normal(5, 3, n), "city": rng.choice(list("pqr"), n)}
    )
    y = (df.a - 0.3 * df.b + (df.city == "p") > -1.5).astype(int).to_numpy()
    return df, y


@pytest.mark.parametrize(
    "spec",
    [
        "positions",
        "mask",
        "series_mask",
        "label_slice",
        "remainder",
        "empty_selector",
    ],
)
def test_column_transformer_selections_agree_with_sklearn_whatever_the_served_column_order(spec: str) -> None:
    """An audit's sklearn pipelines: selections by position, mask (a pandas Series too), label slice
    and a passthrough remainder are read by name as sklearn does, so a frame served with its columns
    in another order gets sklearn's answers; a part that selects nothing is skipped, as sklearn does."""
    from sklearn.compose import make_column_selector
    from sklearn.pipeline import Pipeline as SkPipeline
    from sklearn.preprocessing import OneHotEncoder

    df, y = _city_frame()
    parts = {
        "positions": [("num", "passthrough", [0, 1]), ("cat", OneHotEncoder(), [2])],
        "mask": [
            ("num", StandardScaler(), [True, True, False]),
            ("cat", OneHotEncoder(), [False, False, True]),
        ],
        "series_mask": [
            ("num", StandardScaler(), df.dtypes.map(pd.api.types.is_float_dtype)),
            ("cat", OneHotEncoder(), ~df.dtypes.map(pd.api.types.is_float_dtype)),
        ],
        "label_slice": [("num", StandardScaler(), slice("a", "b")), ("cat", OneHotEncoder(), ["city"])],
        "remainder": [("cat", OneHotEncoder(), [2])],
        "empty_selector": [
            ("num", StandardScaler(), ["a", "b"]),
            ("cat", OneHotEncoder(), ["city"]),
            ("ints", StandardScaler(), make_column_selector(dtype_include="int")),
        ],
    }[spec]
    ct = ColumnTransformer(parts, remainder="passthrough" if spec == "remainder" else "drop")
    sk = SkPipeline([("ct", ct), ("m", LogisticRegression())]).fit(df, y)
    pipe = Pipeline.from_sklearn(sk)
    shuffled = df[["city", "b", "a"]]
    np.testing.assert_array_equal(pipe.predict(df), sk.predict(df))
    np.testing.assert_array_equal(pipe.predict(shuffled), sk.predict(shuffled))


def test_later_steps_fitted_on_the_unions_dataframe_get_one() -> None:
    from sklearn.pipeline import Pipeline as SkPipeline
    from sklearn.preprocessing import OneHotEncoder

    df, y = _city_frame()
    ct = ColumnTransformer(
        [("num", StandardScaler(), ["a", "b"]), ("cat", OneHotEncoder(sparse_output=False), ["city"])]
    ).set_output(transform="pandas")
    pick = ColumnTransformer([("k", "passthrough", ["num__a", "cat__city_p"])])
    sk = SkPipeline([("ct", ct), ("pick", pick), ("m", LogisticRegression())]).fit(df, y)
    pipe = Pipeline.from_sklearn(sk)
    np.testing.assert_array_equal(pipe.predict(df), sk.predict(df))
    np.testing.assert_allclose(pipe.predict_proba(df), sk.predict_proba(df))
