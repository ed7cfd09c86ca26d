import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from dawn.core.errors import DawnError
from dawn.willump import OptimizedPipeline, Pipeline, format_plan, optimize
from dawn.willump.cascade import P50_MARGIN

from .conftest import cheap_block, slow_block


@pytest.fixture(scope="module")
def fitted(binary_data):
    X, y = binary_data
    pipe = Pipeline({"cheap": cheap_block, "slow": slow_block}, LogisticRegression().fit(X[:2000], y[:2000]))
    # measure=False: the measured-speed fallback depends on machine load; it is tested on its own below.
    opt = optimize(
        pipe, X[2000:4500], y[2000:4500], max_loss=0.02, top_k=20, top_k_n=1500, seed=0, measure=False
    )
    return pipe, opt, X[4500:], y[4500:]


def test_cascade_uses_cheap_group_and_stays_within_bound(fitted) -> None:
    pipe, opt, X, y = fitted
    plan = opt.cascade_
    assert plan is not None and plan.cheap == ["cheap"]
    assert 0 < plan.accept_rate < 1 and plan.bound <= 0.02
    full, fast = pipe.predict(X), opt.predict(X)
    assert np.mean(full != fast) <= 0.03  # the 0.02 bound, plus sampling slack on 1500 test rows
    assert abs(np.mean(full == y) - np.mean(fast == y)) <= 0.03
    proba = opt.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(opt.classes_[proba.argmax(axis=1)], fast)


def test_predict_one_uses_single_row_plan(fitted) -> None:
    pipe, opt, X, _ = fitted
    plan = opt.cascade_single_
    assert plan is not None and plan.cheap == ["cheap"]
    assert type(plan.scorer).__name__ == "LightGBMTrees"  # served without the estimator's wrapper
    one = np.array([opt.predict_one(X[i : i + 1]) for i in range(40)])
    p = plan.small.predict_proba(pipe.compute(X[:40], plan.cheap)["cheap"])
    early = p.max(axis=1) >= plan.threshold
    assert 0 < early.sum() < 40
    np.testing.assert_array_equal(one[early], plan.small.classes_[p.argmax(axis=1)][early])
    np.testing.assert_array_equal(one[~early], pipe.predict(X[:40])[~early])
    with pytest.raises(DawnError, match="one row"):
        opt.predict_one(X[:2])


def test_p50_objective_picks_the_candidate_with_the_best_expected_median(binary_data) -> None:
    X, y = binary_data
    pipe = Pipeline({"cheap": cheap_block, "slow": slow_block}, LogisticRegression().fit(X[:2000], y[:2000]))
    opt = optimize(pipe, X[2000:4500], y[2000:4500], max_loss=0.03, seed=0, measure=False,
                   single_row_objective="p50")  # fmt: skip
    plan = opt.cascade_single_
    assert plan is not None and opt.info_["single_row_objective"] == "p50"
    usable = [c for c in opt.info_["cascade_candidates"] if c["accept_rate"] > 0]
    best = max(c["expected_p50_speedup_single"] for c in usable)
    assert plan.full_cost[1] / plan.single_cost("p50") == pytest.approx(best)
    # the median row counts as exiting early exactly when clearly more than half the rows do
    early = plan.single_cost("p50") < plan.full_cost[1]
    assert early == (plan.accept_rate >= 0.5 + P50_MARGIN)
    # at max_loss=0.02 about half the rows exit: no dependable median gain, the full pipeline serves
    edge = optimize(pipe, X[2000:4500], y[2000:4500], max_loss=0.02, seed=0, measure=False,
                    single_row_objective="p50")  # fmt: skip
    assert all(c["accept_rate"] < 0.5 + P50_MARGIN for c in edge.info_["cascade_candidates"])
    assert edge.cascade_single_ is None
    with pytest.raises(DawnError, match="single_row_objective"):
        optimize(pipe, X[2000:2500], y[2000:2500], single_row_objective="p90", measure=False)


def test_predict_one_explains_a_flat_array_row(fitted) -> None:
    _, opt, X, _ = fitted
    with pytest.raises(DawnError, match=r"reshape\(1, -1\)"):
        opt.predict_one(X[0])
    assert opt.predict_one(X[:1]) in (0, 1)


def test_top_k_matches_full_ranking(fitted) -> None:
    pipe, opt, X, _ = fitted
    assert opt.topk_ is not None and opt.topk_.cheap == ["cheap"]
    got = opt.top_k(X, 20)
    true = np.argsort(-pipe.score(X))[:20]
    assert len(set(got) & set(true)) >= 18
    assert opt.topk_.n_keep(len(X), 20) < len(X)


def test_explain_reports_costs_importance_and_bound(fitted) -> None:
    _, opt, _, _ = fitted
    e = opt.explain()
    assert e["groups"]["slow"]["cost_batch_s"] > 10 * e["groups"]["cheap"]["cost_batch_s"]
    assert e["groups"]["cheap"]["importance"] > 0
    assert e["cascade"]["bound"] <= e["max_loss"]
    assert e["cascade"]["expected_speedup_batch"] > 1
    assert e["topk"]["precision_bound"] >= 0.95
    # each part's batch call: fixed + per_row * rows, consistent with the per-row figure measured
    assert e["batch_rows"] == 1000
    for g in ["cheap", "slow", "model"]:
        part = e["cost_per_call"][g]
        assert part["fixed_s"] >= 0 and part["per_row_s"] >= 0
        per_row = e["groups"][g]["cost_batch_s"] if g != "model" else e["model_cost_batch_s"]
        assert part["per_row_s"] <= per_row * (1 + 1e-9)
    from dawn.willump.explain import format_plan

    text = format_plan(e)
    assert "us/call" in text and "calls of 1000 rows" in text


def test_measured_speedup_is_recorded_and_slow_cascades_dropped(binary_data) -> None:
    X, y = binary_data
    pipe = Pipeline({"cheap": cheap_block, "slow": slow_block}, LogisticRegression().fit(X[:2000], y[:2000]))
    opt = optimize(
        pipe,
        X[2000:4000],
        y[2000:4000],
        max_loss=0.02,
        small_model=LogisticRegression(),
        top_k=20,
        top_k_n=1500,
    )
    info = opt.info_
    assert (opt.topk_ is not None) == (info["measured_topk_speedup"] >= 1.0)
    assert info["measured_speedup_batch"] > 0
    # Kept only when measured faster than the full pipeline; otherwise the plan is kept for explain().
    assert (opt.cascade_ is not None) == (info["measured_speedup_batch"] >= 1.0)
    assert (opt.cascade_ is None) == ("dropped_cascade" in info)
    assert (opt.cascade_single_ is not None) == (info["measured_speedup_single"] >= 1.0)


def test_a_single_row_cascade_that_measures_slower_is_dropped(binary_data) -> None:
    """predict_one is timed as well: a single-row plan slower than the full pipeline (here its scorer
    made to sleep 5 ms a row, where the full pipeline costs about 1 ms) is not served."""
    import time

    from dawn.willump.fallback import drop_slower_plans

    X, y = binary_data
    pipe = Pipeline({"cheap": cheap_block, "slow": slow_block}, LogisticRegression().fit(X[:2000], y[:2000]))
    opt = optimize(pipe, X[2000:4000], y[2000:4000], max_loss=0.02, seed=0, measure=False)
    plan = opt.cascade_single_
    assert plan is not None and plan.scorer is not None
    fast_scorer = plan.scorer

    def sleepy(feats):
        time.sleep(5e-3)
        return fast_scorer(feats)

    plan.scorer = sleepy
    cal = np.arange(2000, 4000)[np.asarray(opt.info_["n_sel"]) :]  # any rows like the calibration ones
    drop_slower_plans(opt, X, cal, 1e-3, top_k=None, top_k_n=0, heuristic=False, full_single_cost=1e-3)
    assert opt.info_["measured_speedup_single"] < 1.0
    assert opt.cascade_single_ is None and "dropped_cascade_single" in opt.info_
    assert "predict_one): full pipeline (measured slower, dropped)" in format_plan(opt.explain())
    np.testing.assert_array_equal([opt.predict_one(X[i : i + 1]) for i in range(5)], pipe.predict(X[:5]))


def test_serving_report_flags_inputs_that_no_longer_look_like_the_calibration_rows(fitted, tmp_path) -> None:
    _, opt, X, _ = fitted
    opt.stats_.reset()
    opt.predict(X)  # rows like the calibration rows: the early share matches
    plan = opt.cascade_
    p = plan.small.predict_proba(opt.pipeline.compute(X, plan.cheap)["cheap"])
    r = opt.serving_report()["batch"]
    assert r["rows"] == len(X) and r["early"] == int((p.max(axis=1) >= plan.threshold).sum())
    assert abs(r["early_share"] - opt.cascade_.accept_rate) < 0.05
    assert not r["shift_suspected"] and r["p_value"] > 1e-3
    for i in range(20):
        opt.predict_one(X[i : i + 1])
    single = opt.serving_report()["single"]
    assert single["rows"] == 20 and not single["shift_suspected"]  # too few rows to judge
    shifted = X.copy()
    shifted[:, 0] *= 0.1  # the cheap group's strongest feature loses its scale: the small model hesitates
    opt.stats_.reset()
    opt.predict(shifted)
    r = opt.serving_report()["batch"]
    assert r["early_share"] < opt.cascade_.accept_rate - 0.2
    assert r["shift_suspected"] and r["p_value"] < 1e-6
    back = OptimizedPipeline.load(opt.save(tmp_path / "served.willump"))
    assert back.serving_report()["batch"]["rows"] == len(X)  # the counts travel; the lock is new
    back.predict(X[:10])
    assert back.serving_report()["batch"]["rows"] == len(X) + 10
    from dawn.willump.explain import format_plan

    assert "served (batch): 1510 rows" in format_plan(back.explain())
    opt.stats_.reset()


def test_save_load_roundtrip(fitted, tmp_path) -> None:
    _, opt, X, _ = fitted
    opt.pipeline.features["extra_lambda"] = None  # lambdas and module functions must both pickle
    del opt.pipeline.features["extra_lambda"]
    path = opt.save(tmp_path / "opt.willump")
    back = OptimizedPipeline.load(path)
    np.testing.assert_array_equal(back.predict(X), opt.predict(X))
    (tmp_path / "bad").write_bytes(b"dawn.willump/1\nnot a pickle")
    with pytest.raises(DawnError, match="corrupt"):
        OptimizedPipeline.load(tmp_path / "bad")
    with pytest.raises(DawnError, match="no optimised pipeline"):
        OptimizedPipeline.load(tmp_path / "missing")
    (tmp_path / "a_dir").mkdir()
    with pytest.raises(DawnError, match=r"cannot write .*a_dir"):  # names the target, not a temp file
        opt.save(tmp_path / "a_dir")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp left
    import threading

    lock = threading.Lock()
    opt.pipeline.features["slow"] = lambda X, held=lock: slow_block(X)  # a lock does not pickle
    try:
        with pytest.raises(DawnError, match="does not pickle"):
            opt.save(tmp_path / "locked.willump")
    finally:
        opt.pipeline.features["slow"] = slow_block
    assert not (tmp_path / "locked.willump").exists()


def test_multiclass_cascade_with_lightgbm_and_xgboost(binary_data) -> None:
    lgb = pytest.importorskip("lightgbm")
    xgb = pytest.importorskip("xgboost")
    X, _ = binary_data
    y = np.digitize(2.5 * X[:, 0] + X[:, 2], [-1.5, 1.5])  # three classes
    for model in (
        lgb.LGBMClassifier(n_estimators=40, verbose=-1, n_jobs=1),
        xgb.XGBClassifier(n_estimators=40, max_depth=3, n_jobs=1),
    ):
        pipe = Pipeline({"cheap": cheap_block, "slow": slow_block}, model.fit(X[:2000], y[:2000]))
        # A linear small model keeps the cascade clearly cheaper than the GBDT it stands in for.
        opt = optimize(pipe, X[2000:4500], y[2000:4500], max_loss=0.03, measure=False,
                       small_model=LogisticRegression(max_iter=500))  # fmt: skip
        assert type(opt.cascade_.small).__name__ == "LogisticRegression"
        assert opt.cascade_.accept_rate > 0.2
        assert np.mean(opt.predict(X[4500:]) != pipe.predict(X[4500:])) <= 0.045
        assert opt.predict_proba(X[4500:]).shape == (1500, 3)


def test_regression_top_k_and_no_cascade(binary_data) -> None:
    X, _ = binary_data
    y = 3 * X[:, 0] + X[:, 2] + 0.1 * X[:, 3]
    pipe = Pipeline({"cheap": cheap_block, "slow": slow_block}, LinearRegression().fit(X[:2000], y[:2000]))
    opt = optimize(pipe, X[2000:4500], y[2000:4500], top_k=20, top_k_n=1500, measure=False)
    assert opt.cascade_ is None and opt.topk_ is not None
    got, true = opt.top_k(X[4500:], 20), np.argsort(-pipe.score(X[4500:]))[:20]
    assert len(set(got) & set(true)) >= 18
    np.testing.assert_allclose(opt.predict(X[4500:]), pipe.predict(X[4500:]))


def test_falls_back_to_full_pipeline_when_nothing_pays_off(binary_data) -> None:
    X, y = binary_data
    # Both groups cost the same, and the cheap one alone cannot mimic the model: no cascade.
    pipe = Pipeline(
        {"a": lambda X: X[:, :1] * 0, "b": lambda X: X[:, 1:]}, LogisticRegression().fit(X[:2000], y[:2000])
    )
    opt = optimize(pipe, X[2000:4000], y[2000:4000], max_loss=0.005)
    assert opt.cascade_ is None
    np.testing.assert_array_equal(opt.predict(X[4000:]), pipe.predict(X[4000:]))


def test_willump_heuristics_mode(binary_data) -> None:
    X, _ = binary_data
    y = (X[:, 0] > 0).astype(int)  # the cheap group decides the label
    pipe = Pipeline({"cheap": cheap_block, "slow": slow_block}, LogisticRegression().fit(X[:2000], y[:2000]))
    opt = optimize(pipe, X[2000:4500], y[2000:4500], mode="willump", top_k=20, top_k_n=1500, measure=False)
    plan = opt.cascade_
    assert plan is not None and round(plan.threshold, 6) in (0.6, 0.7, 0.8, 0.9)
    assert np.isnan(plan.bound)  # the original states no bound
    assert opt.topk_ is not None and opt.topk_.ratio is not None and 1 <= opt.topk_.ratio <= 99


def test_bad_input(binary_data) -> None:
    X, y = binary_data
    pipe = Pipeline({"cheap": cheap_block, "slow": slow_block}, LogisticRegression().fit(X[:500], y[:500]))
    with pytest.raises(DawnError, match="validation set"):
        optimize(pipe, X[:0], y[:0])
    with pytest.raises(DawnError, match="labels"):
        optimize(pipe, X[:500], y[:400])
    reg = Pipeline(
        {"a": cheap_block, "b": slow_block}, LinearRegression().fit(X[:500], y[:500]), task="classification"
    )
    with pytest.raises(DawnError, match="predict_proba"):
        optimize(reg, X[:500], y[:500])
    with pytest.raises(DawnError, match="risk"):
        optimize(pipe, X[:500], risk="accuracy")
    for bad in (0, -5, 2.5, "1000"):
        with pytest.raises(DawnError, match="batch_rows"):
            optimize(pipe, X[:500], y[:500], batch_rows=bad)  # type: ignore[arg-type]


def test_labels_a_cascade_cannot_be_calibrated_on_are_refused(binary_data) -> None:
    X, y = binary_data
    pipe = Pipeline({"cheap": cheap_block, "slow": slow_block}, LogisticRegression().fit(X[:500], y[:500]))
    # one class only: a net-loss cascade would answer every row with it, "certified"
    with pytest.raises(DawnError, match="single class"):
        optimize(pipe, X[500:1000], np.ones(500, dtype=int))
    with pytest.raises(DawnError, match="not the model's classes"):
        optimize(pipe, X[500:1000], np.where(y[500:1000] == 1, "b", "a"))
    with pytest.raises(DawnError, match="y_train"):
        optimize(pipe, X[500:1000], y[500:1000], X_train=X[:500], y_train=np.zeros(500, dtype=int))
    with pytest.raises(DawnError, match="1-D"):
        optimize(pipe, X[500:1000], y[500:1000, None])


def test_top_k_arguments_out_of_range_are_refused(binary_data) -> None:
    X, y = binary_data
    pipe = Pipeline({"cheap": cheap_block, "slow": slow_block}, LogisticRegression().fit(X[:500], y[:500]))
    for kw, msg in (
        ({"top_k": 0}, "positive whole"),
        ({"top_k": -5}, "positive whole"),
        ({"top_k": 2.5}, "positive whole"),
        ({"top_k": 20, "top_k_n": 10}, "at least top_k"),
        ({"top_k": 20, "top_k_precision": 1.5}, "top_k_precision"),
        ({"top_k": 600}, "validation rows"),
    ):
        with pytest.raises(DawnError, match=msg):
            optimize(pipe, X[500:1000], y[500:1000], measure=False, **kw)  # type: ignore[arg-type]


def test_a_classifier_without_predict_proba_is_not_taken_for_a_regressor(binary_data) -> None:
    from sklearn.svm import LinearSVC

    X, y = binary_data
    pipe = Pipeline({"cheap": cheap_block, "slow": slow_block}, LinearSVC().fit(X[:500], y[:500]))
    assert pipe.task == "classification"
    with pytest.raises(DawnError, match="predict_proba"):
        optimize(pipe, X[500:1000], y[500:1000], top_k=20)


def test_an_empty_batch_gets_empty_answers(fitted) -> None:
    pipe, opt, X, _ = fitted
    for p in (pipe, opt):
        assert p.predict(X[:0]).shape == (0,)
        assert p.predict_proba(X[:0]).shape == (0, 2)
    assert opt.predict(X[:0]).dtype == pipe.model.classes_.dtype


def test_small_models_can_be_fitted_on_training_rows(binary_data) -> None:
    X, y = binary_data
    pipe = Pipeline({"cheap": cheap_block, "slow": slow_block}, LogisticRegression().fit(X[:2000], y[:2000]))
    opt = optimize(pipe, X[2000:4000], y[2000:4000], max_loss=0.02, X_train=X[:2000], measure=False,
                   small_model=LogisticRegression())  # fmt: skip
    # The validation rows are split into selection (importance, threshold grid) and certification.
    assert opt.info_["n_fit"] == 2000 and opt.info_["n_sel"] == 400 and opt.info_["n_cal"] == 1600
    assert opt.cascade_ is not None and opt.cascade_.bound <= 0.02


def test_net_loss_risk_certifies_accuracy_and_uses_precomputed_blocks(binary_data) -> None:
    X, y = binary_data
    # A deliberately weak full model (trained on few, noisy-label rows): a label-trained small model
    # fixes some of its mistakes, so net_loss lets more rows exit than the accuracy risk does.
    rng = np.random.default_rng(5)
    y_noisy = np.where(rng.uniform(size=len(y)) < 0.2, 1 - y, y)
    pipe = Pipeline(
        {"cheap": cheap_block, "slow": slow_block}, LogisticRegression().fit(X[:60], y_noisy[:60])
    )
    Xv, yv = X[2000:4500], y[2000:4500]
    blocks = pipe.compute(Xv)
    kw = dict(
        max_loss=0.01, X_train=X[:2000], y_train=y[:2000], measure=False, small_model=LogisticRegression()
    )
    net = optimize(pipe, Xv, yv, risk="net_loss", blocks_val=blocks, **kw)
    acc = optimize(pipe, Xv, yv, risk="accuracy_risk", small_target="labels", **kw)
    assert net.info_["risk"] == "net_loss" and net.info_["small_target"] == "labels"
    assert net.cascade_ is not None and net.cascade_.bound <= 0.01
    assert net.cascade_.accept_rate > acc.cascade_.accept_rate
    Xt, yt = X[4500:], y[4500:]
    assert np.mean(net.predict(Xt) == yt) >= np.mean(pipe.predict(Xt) == yt) - 0.01
    with pytest.raises(DawnError, match="lack groups"):
        optimize(pipe, Xv, yv, risk="net_loss", blocks_val={"cheap": blocks["cheap"]}, **kw)
    with pytest.raises(DawnError, match="rows"):
        optimize(pipe, Xv, yv, risk="net_loss", blocks_val={**blocks, "slow": blocks["slow"][:10]}, **kw)
    # the user did not ask for label-trained small models: the risk did, and the message says so
    with pytest.raises(DawnError, match="risk='net_loss' makes the small models learn the labels") as err:
        optimize(pipe, Xv, yv, risk="net_loss", X_train=X[:2000], measure=False)
    assert "y_train" in str(err.value) and "small_target='full'" in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(DawnError, match="small_target='labels' needs labels"):
        optimize(pipe, Xv, yv, small_target="labels", X_train=X[:2000], measure=False)


def test_candidate_is_chosen_on_selection_rows_and_only_it_certified(binary_data) -> None:
    X, y = binary_data
    groups = {"a": lambda Z: Z[:, :1], "b": lambda Z: Z[:, 1:2], "slow": slow_block}
    pipe = Pipeline(groups, LogisticRegression().fit(X[:2000], y[:2000]))
    kw = dict(max_loss=0.02, measure=False, small_model=LogisticRegression())
    held = optimize(pipe, X[2000:4000], y[2000:4000], X_train=X[:2000], candidate_choice="selection", **kw)
    cands = held.info_["cascade_candidates"]
    assert len(cands) == 3  # {a}, {b}, {a, b}: a set with the slow group costs over 90% of the whole
    assert all(c["predicted_accept_rate"] is not None for c in cands)
    assert 1 <= sum(c["certified"] for c in cands) <= 2  # the batch and single-row choices only
    assert held.cascade_ is not None and held.cascade_.bound <= 0.02
    assert "held-out" in held.info_["cascade_choice"]
    # without training rows the candidates are compared on the certification rows: all certified
    bonf = optimize(pipe, X[2000:4000], y[2000:4000], **kw)
    assert all(c["certified"] for c in bonf.info_["cascade_candidates"])
    assert "Bonferroni" in bonf.info_["cascade_choice"]
    # ... which can also be asked for with training rows
    asked = optimize(pipe, X[2000:4000], y[2000:4000], X_train=X[:2000], candidate_choice="bonferroni", **kw)
    assert all(c["certified"] for c in asked.info_["cascade_candidates"])
    with pytest.raises(DawnError, match="X_train"):
        optimize(pipe, X[2000:4000], y[2000:4000], candidate_choice="selection", **kw)
    # hedged: the chosen candidate(s) at half the level, every other one in a Bonferroni half
    hedged = optimize(pipe, X[2000:4000], y[2000:4000], X_train=X[:2000], **kw)  # "auto" with X_train
    assert "half the level" in hedged.info_["cascade_choice"]
    levels = [c["level"] for c in hedged.info_["cascade_candidates"]]
    assert all(c["certified"] for c in hedged.info_["cascade_candidates"])
    assert sum(levels) <= 0.05 + 1e-12 and max(levels) >= 0.05 / 4 and min(levels) == pytest.approx(0.05 / 6)
    assert hedged.cascade_ is not None and hedged.cascade_.bound <= 0.02


def test_willump_mode_top_k_learns_string_labels(binary_data) -> None:
    X, y = binary_data
    labels = np.where(y == 1, "spam", "ham")
    model = LogisticRegression().fit(X[:1500], labels[:1500])
    pipe = Pipeline({"cheap": cheap_block, "slow": slow_block}, model)
    opt = optimize(
        pipe, X[1500:3500], labels[1500:3500], mode="willump", top_k=20, top_k_n=1000, measure=False
    )
    plan = opt.topk_
    assert plan is not None and len(set(opt.top_k(X[3500:4500], 20).tolist())) == 20
    # its small model learnt "is the last class" (spam), the class the full model's score ranks by
    cheap = plan.small.predict(pipe.compute(X[3500:4500], plan.cheap)["cheap"])
    assert np.corrcoef(cheap, pipe.score(X[3500:4500]))[0, 1] > 0.5


def test_willump_mode_explain_states_the_original_rule_not_a_bound(binary_data) -> None:
    from dawn.willump.explain import format_plan

    X, _ = binary_data
    y = (X[:, 0] > 0).astype(int)  # the cheap group decides the label
    pipe = Pipeline({"cheap": cheap_block, "slow": slow_block}, LogisticRegression().fit(X[:2000], y[:2000]))
    opt = optimize(pipe, X[2000:5000], y[2000:5000], mode="willump", X_train=X[:2000], y_train=y[:2000],
                   top_k=20, top_k_n=1500, measure=False)  # fmt: skip
    assert opt.cascade_ is not None and opt.topk_ is not None
    assert opt.info_["small_target"] == "labels"  # the heuristics train on the labels
    assert "original's rule" in opt.info_["cascade_choice"] and "certified" not in opt.info_["cascade_choice"]
    text = format_plan(opt.explain())
    assert "accepted by the original's 0.001 accuracy rule (no bound)" in text
    assert "certified" not in text and "nan" not in text and "small models learn the labels" in text
    bounded = format_plan(optimize(pipe, X[2000:5000], y[2000:5000], max_loss=0.02, measure=False).explain())
    assert "certified <= 0.02" in bounded and "no bound" not in bounded


def test_predict_one_reads_a_dataframe_row_with_its_column_dtypes(tmp_path) -> None:
    import pandas as pd

    rng = np.random.default_rng(0)
    table = rng.normal(size=(50, 2))  # per-user features, looked up by integer position
    X = pd.DataFrame({"user": rng.integers(0, 50, size=2000), "x": rng.normal(size=2000)})
    y = (2 * X["x"] + table[X["user"], 0] > 0).astype(int).to_numpy()
    pipe = Pipeline({"local": lambda X: X[["x"]], "user": lambda X: table[X["user"].to_numpy()]},
                    LogisticRegression())  # fmt: skip
    pipe.model.fit(pipe.transform(X[:800]), y[:800])
    opt = optimize(pipe, X[800:1800], y[800:1800], max_loss=0.05, measure=False)
    back = OptimizedPipeline.load(opt.save(tmp_path / "frame.willump"))
    for model in (opt, back):
        # the row as a Series is all float64; the user column must be an int key again
        got = [model.predict_one(X.iloc[i]) for i in range(1800, 1830)]
        assert got == [model.predict_one(X.iloc[[i]]) for i in range(1800, 1830)]
        # a record, as a JSON request gives it (the user id as a float, too)
        assert got == [model.predict_one(X.iloc[i].to_dict()) for i in range(1800, 1830)]
        assert got[0] == model.predict_one({k: [v] for k, v in X.iloc[1800].to_dict().items()})
        backwards = dict(reversed(list(X.iloc[1801].to_dict().items())))  # a record's key order is free
        assert got[1] == model.predict_one(backwards)
    with pytest.raises(DawnError, match="a dict of several rows"):
        opt.predict_one(X.iloc[:2].to_dict(orient="list"))


def test_predict_one_takes_a_series_of_texts_as_a_batch() -> None:
    import pandas as pd
    from sklearn.feature_extraction.text import TfidfVectorizer

    rng = np.random.default_rng(0)
    words = np.array(["good", "bad", "great", "awful", "fine", "meh", "ok", "nice", "poor", "cool"])
    docs = pd.Series([" ".join(rng.choice(words, 8)) for _ in range(1500)], name="text")
    y = np.array(
        [sum(w in ("good", "great", "nice", "cool") for w in d.split()) > 3 for d in docs], dtype=int
    )
    word, char = TfidfVectorizer().fit(docs), TfidfVectorizer(analyzer="char", ngram_range=(2, 3)).fit(docs)
    pipe = Pipeline({"word": word, "char": char}, LogisticRegression(max_iter=500))
    pipe.model.fit(pipe.transform(docs[:600]), y[:600])
    opt = optimize(pipe, docs[600:1300], y[600:1300], max_loss=0.05, measure=False)
    for i in range(1300, 1320):
        assert opt.predict_one(docs.iloc[[i]]) == opt.predict_one(docs.iloc[i])  # a 1-text batch, a text
    with pytest.raises(DawnError, match="one row"):
        opt.predict_one(docs.iloc[:2])


def test_predict_one_reads_a_series_as_an_array_row(fitted) -> None:
    import pandas as pd

    _, opt, X, _ = fitted
    for i in range(20):
        assert opt.predict_one(pd.Series(X[i])) == opt.predict_one(X[i : i + 1])
    with pytest.raises(DawnError, match="got a dict, but the pipeline does not read DataFrame rows"):
        opt.predict_one({0: X[0, 0]})


def test_plans_saved_before_the_raw_input_was_recorded_take_a_series_as_a_row(binary_data, tmp_path) -> None:
    import copy

    import pandas as pd

    X, y = binary_data
    df = pd.DataFrame(X, columns=list("abcde"))
    pipe = Pipeline({"cheap": lambda Z: Z[["a", "b"]], "rest": lambda Z: Z[["c", "d", "e"]]},
                    LogisticRegression().fit(X[:2000], y[:2000]))  # fmt: skip
    opt = optimize(pipe, df[2000:4000], y[2000:4000], measure=False)
    old = copy.copy(opt)
    del old.raw_input_  # as unpickled from a file written before the attribute existed
    back = OptimizedPipeline.load(old.save(tmp_path / "old.willump"))
    assert not hasattr(back, "raw_input_")
    for i in range(4000, 4020):
        assert back.predict_one(df.iloc[i]) == opt.predict_one(df.iloc[[i]])


def test_optimize_arguments_are_checked_before_any_work(binary_data) -> None:
    from sklearn.linear_model import Ridge

    X, y = binary_data
    pipe = Pipeline({"cheap": cheap_block, "slow": slow_block}, LogisticRegression().fit(X[:500], y[:500]))
    Xv, yv = X[500:1000], y[500:1000]
    for kw, msg in (
        ({"cal_fraction": 1.5}, "cal_fraction must be a number strictly between 0 and 1"),
        ({"cal_fraction": 0}, "cal_fraction must be"),
        ({"cal_fraction": 1.0}, "cal_fraction must be"),
        ({"cal_fraction": 0.9999}, r"cal_fraction=0.9999 splits the 500 validation rows into 0 and 500"),
        ({"X_train": X[:500], "select_fraction": 0.0}, "select_fraction must be"),
        ({"X_train": X[:500], "select_fraction": 1}, "select_fraction must be"),
        ({"X_train": X[:500], "y_train": y[:400]}, "y_train has 400 labels for 500 X_train rows"),
        ({"max_loss": "0.01"}, "max_loss must be a number"),
        ({"confidence": "0.9"}, "confidence must be a number"),
        ({"top_k": 20, "top_k_precision": "0.9"}, "top_k_precision must be a number"),
        ({"seed": "1"}, "seed must be a whole number"),
        (
            {"small_model": LogisticRegression},
            r"small_model is the class LogisticRegression.*LogisticRegression\(\)",
        ),
        ({"small_model": Ridge()}, "small_model Ridge has no predict_proba"),
        ({"small_model": object()}, "not a scikit-learn estimator"),
    ):
        with pytest.raises(DawnError, match=msg):
            optimize(pipe, Xv, yv, measure=False, **kw)  # type: ignore[arg-type]
    unfitted = Pipeline({"cheap": cheap_block, "slow": slow_block}, LogisticRegression())
    with pytest.raises(DawnError, match="LogisticRegression is not fitted; fit it first"):
        optimize(unfitted, Xv, yv, measure=False)


def test_a_fitted_model_that_sklearn_cannot_check_is_accepted(binary_data) -> None:
    X, y = binary_data

    class Threshold:  # a plain fitted model: no sklearn base class, no "name_" attributes
        def predict(self, Z: np.ndarray) -> np.ndarray:
            return (Z[:, 0] > 0).astype(int)

        def predict_proba(self, Z: np.ndarray) -> np.ndarray:
            p = 1 / (1 + np.exp(-4 * Z[:, 0]))
            return np.c_[1 - p, p]

    opt = optimize(Pipeline({"cheap": cheap_block, "slow": slow_block}, Threshold()), X[:500], y[:500],
                   measure=False)  # fmt: skip
    assert opt.predict(X[500:510]).shape == (10,)


def test_top_k_wants_a_whole_k_and_save_and_load_a_path(fitted) -> None:
    _, opt, X, _ = fitted
    assert (OptimizedPipeline.top_k.__doc__ or "").startswith("Positions (use ``X.iloc")
    np.testing.assert_array_equal(opt.top_k(X, np.int64(5)), opt.top_k(X, 5))
    for k in (5.0, "5", True):
        with pytest.raises(DawnError, match="k a positive whole number"):
            opt.top_k(X, k)  # type: ignore[arg-type]
    with pytest.raises(DawnError, match="save needs a file path"):
        opt.save(None)  # type: ignore[arg-type]
    with pytest.raises(DawnError, match="load needs a file path"):
        OptimizedPipeline.load(None)  # type: ignore[arg-type]


def test_loading_a_plan_whose_groups_module_cannot_be_imported_names_the_module(
    binary_data, tmp_path, monkeypatch
) -> None:
    import importlib
    import sys

    X, y = binary_data
    src = tmp_path / "src"
    src.mkdir()
    (src / "willump_user_groups.py").write_text(
        "def cheap(X):\n    return X[:, :2]\n\ndef rest(X):\n    return X[:, 2:]\n"
    )
    monkeypatch.syspath_prepend(str(src))
    mod = importlib.import_module("willump_user_groups")
    pipe = Pipeline({"cheap": mod.cheap, "rest": mod.rest}, LogisticRegression().fit(X[:500], y[:500]))
    path = optimize(pipe, X[500:1000], y[500:1000], measure=False).save(tmp_path / "plan.willump")
    monkeypatch.delitem(sys.modules, "willump_user_groups")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(src)])  # as from another directory
    with pytest.raises(DawnError, match=r"needs module 'willump_user_groups'.*PYTHONPATH") as info:
        OptimizedPipeline.load(path)
    assert "corrupt" not in str(info.value)


def test_predict_one_refuses_a_bare_string_when_the_pipeline_reads_dataframe_rows() -> None:
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline as SkPipeline

    rng = np.random.default_rng(0)
    words = np.array(["good", "bad", "great", "awful", "fine", "meh", "ok", "nice", "poor", "cool"])
    df = pd.DataFrame({"text": [" ".join(rng.choice(words, 8)) for _ in range(1500)]})
    y = np.array(
        [sum(w in ("good", "great", "nice", "cool") for w in d.split()) > 3 for d in df["text"]], int
    )
    char = TfidfVectorizer(analyzer="char", ngram_range=(2, 3))
    ct = ColumnTransformer([("word", TfidfVectorizer(), "text"), ("char", char, "text")])
    sk = SkPipeline([("f", ct), ("m", LogisticRegression(max_iter=500))]).fit(df[:600], y[:600])
    opt = optimize(sk, df[600:1300], y[600:1300], max_loss=0.05, measure=False)
    assert opt.predict_one(df.iloc[[1300]]) == sk.predict(df.iloc[[1300]])[0]
    with pytest.raises(DawnError, match=r"columns \['text'\]\); pass a one-row DataFrame.*'text': \[text\]"):
        opt.predict_one("great film")


def test_the_package_exports_a_readable_plan_and_its_example_runs_without_a_cascade(binary_data) -> None:
    import dawn.willump
    from dawn.willump.explain import format_plan

    assert dawn.willump.format_plan is format_plan
    X, y = binary_data
    one_group = Pipeline({"all": lambda Z: Z}, LogisticRegression().fit(X[:500], y[:500]))
    opt = optimize(one_group, X[500:1000], y[500:1000], measure=False)
    assert opt.cascade_ is None and opt.explain()["cascade"] is None
    text = format_plan(opt.explain())  # the docstring's example: readable with no cascade too
    assert "cascade: none (one feature group: nothing to cascade on; the full pipeline answers" in text


def test_a_call_that_raises_is_not_counted_as_served_and_explain_is_a_copy(binary_data) -> None:
    """A feature store down mid-call (the expensive group raises): the call served nothing, so the
    drift check must not count its rows or early answers. And explain() hands out a copy."""
    X, y = binary_data
    down = {"now": False}

    def flaky(Z: np.ndarray) -> np.ndarray:
        if down["now"]:
            raise ConnectionError("store down")
        return slow_block(Z)

    pipe = Pipeline({"cheap": cheap_block, "flaky": flaky}, LogisticRegression().fit(X[:2000], y[:2000]))
    opt = optimize(pipe, X[2000:4000], y[2000:4000], max_loss=0.02, seed=0, measure=False)
    assert opt.cascade_ is not None and opt.cascade_single_ is not None
    opt.predict(X[4000:4500])
    late = next(i for i in range(4500, 5000) if not _early(opt, X, i))  # a row the full model answers
    for i in range(4500, late + 1):
        opt.predict_one(X[i : i + 1])
    down["now"] = True
    with pytest.raises(DawnError, match="flaky"):
        opt.predict(X[4000:4500])
    with pytest.raises(DawnError, match="flaky"):
        opt.predict_one(X[late : late + 1])
    report = opt.serving_report()
    assert report["batch"]["rows"] == 500  # the first call only
    assert report["single"]["rows"] == late - 4500 + 1  # the calls before the failing one
    plan = opt.explain()
    plan["groups"]["cheap"]["importance"] = 99.0
    plan["cascade"]["candidates"].clear()
    assert opt.explain()["groups"]["cheap"]["importance"] != 99.0
    assert opt.explain()["cascade"]["candidates"]


def _early(opt: OptimizedPipeline, X: np.ndarray, i: int) -> bool:
    plan = opt.cascade_single_
    p = plan.small.predict_proba(opt.pipeline.compute(X[i : i + 1], plan.cheap)["cheap"])
    return bool(p.max() >= plan.threshold)
