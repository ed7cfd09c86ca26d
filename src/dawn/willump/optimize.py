"""``optimize()``: measure, choose and certify a cascade and a top-K filter for a pipeline.

Implements Willump's two statistically-aware optimisations (Kraft et al., MLSys 2020) on a
user-declared :class:`~dawn.willump.pipeline.Pipeline`, with measured costs, repeated permutation
importance, distilled small models and Learn-then-Test calibrated thresholds; ``mode="willump"``
applies the original's heuristics instead, for side-by-side comparison.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from dawn.core.errors import DawnError
from dawn.core.logging import get_logger
from dawn.willump._blocks import n_rows, take
from dawn.willump.cascade import build_cascade
from dawn.willump.cost import measure_costs, permutation_importance
from dawn.willump.fallback import drop_slower_plans
from dawn.willump.optimized import OptimizedPipeline
from dawn.willump.pipeline import Pipeline
from dawn.willump.topk import build_topk

log = get_logger(__name__)

#: A plan is kept only if its expected cost is below this fraction of the full pipeline's.
PAYOFF = 0.9


def _check_no_remote_failures(pipeline: Pipeline, before: dict[str, int]) -> None:
    """A :class:`DawnError` if a remote group served NaN features while optimising: a cascade
    calibrated on missing features would be certified for data it will not see when the store is up."""
    now = pipeline.remote_failures()
    failed = {g: n - before.get(g, 0) for g, n in now.items() if n > before.get(g, 0)}
    if failed:
        g, k = next(iter(failed.items()))
        raise DawnError(
            f"feature group {g!r} could not reach its store for {k} row(s) while optimising "
            "(on_error='nan' served NaN features)",
            "make the store reachable and optimise again",
        )


def _check_finite(blocks: dict[str, Any]) -> None:
    """A :class:`DawnError` for a group whose validation block holds +-inf or nothing but NaN (NaN
    alone is a missing value, which tree models take)."""
    for g, b in blocks.items():
        vals = b.data if sp.issparse(b) else np.asarray(b)
        if np.isinf(vals).any():
            raise DawnError(f"feature group {g!r} returned inf on validation rows", "return finite features")
        if not sp.issparse(b) and vals.size and np.isnan(vals).all():
            raise DawnError(
                f"feature group {g!r} returned only NaN on the validation rows",
                "check the group (a failed lookup or join?) before optimising",
            )


def _check_labels(model: Any, y: np.ndarray | None, name: str) -> None:
    """A :class:`DawnError` for labels a cascade cannot be calibrated on: fewer than two classes (every
    early answer would be that class), or labels that are not the model's classes."""
    if y is None:
        return
    if y.ndim != 1:
        raise DawnError(f"{name} has shape {y.shape}", "pass one label per row, as a 1-D array")
    classes = getattr(model, "classes_", None)
    seen = np.unique(y)
    if len(seen) < 2:
        raise DawnError(
            f"{name} holds a single class ({seen[0] if len(seen) else 'none'})",
            "pass rows of at least two classes: a cascade calibrated on one class answers everything with it",
        )
    if classes is not None:
        unknown = np.setdiff1d(seen, np.asarray(classes))
        if len(unknown):
            raise DawnError(
                f"{name} has labels {unknown[:5].tolist()} that are not the model's classes "
                f"{np.asarray(classes)[:5].tolist()}",
                "pass labels in the model's own encoding",
            )


def _check_fraction(name: str, value: Any, example: str) -> None:
    """A :class:`DawnError` unless ``value`` is a number strictly between 0 and 1."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.integer | np.floating)
        or not 0 < value < 1
    ):
        raise DawnError(
            f"{name} must be a number strictly between 0 and 1, got {value!r}", f"e.g. {name}={example}"
        )


def _check_fitted(model: Any) -> None:
    """A :class:`DawnError` if ``model`` says it is not fitted, before any feature is computed."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    # without __sklearn_is_fitted__, check_is_fitted guesses from attributes ending in "_": right for
    # scikit-learn's own estimators, not for every model (those meet NotFittedError at their first call)
    if not hasattr(model, "__sklearn_is_fitted__") and not type(model).__module__.startswith("sklearn."):
        return
    try:
        check_is_fitted(model)
    except NotFittedError as exc:
        raise DawnError(
            f"model {type(model).__name__} is not fitted",
            "fit it first (model.fit(X, y) on the feature groups' output), then optimise",
        ) from exc
    except TypeError:  # not an estimator to sklearn: nothing to check
        return


def _check_small_model(small_model: Any, task: str) -> None:
    """A :class:`DawnError` unless ``small_model`` is an estimator instance to clone (with
    ``predict_proba`` for a classification cascade)."""
    if isinstance(small_model, type):
        raise DawnError(
            f"small_model is the class {small_model.__name__}, not an estimator",
            f"pass an instance, e.g. small_model={small_model.__name__}() (it is cloned and fitted)",
        )
    if not (hasattr(small_model, "fit") and hasattr(small_model, "get_params")):
        raise DawnError(
            f"small_model {type(small_model).__name__} is not a scikit-learn estimator (fit, get_params)",
            "pass an unfitted estimator, e.g. small_model=LogisticRegression()",
        )
    if task == "classification" and not hasattr(small_model, "predict_proba"):
        raise DawnError(
            f"small_model {type(small_model).__name__} has no predict_proba(), which a classification "
            "cascade needs",
            "pass a probabilistic classifier, e.g. small_model=LogisticRegression()",
        )


def _given_blocks(pipeline: Pipeline, blocks: dict[str, Any], n: int) -> dict[str, Any]:
    """Validate precomputed blocks: every group present, one row per input row."""
    from dawn.willump._blocks import as_block

    missing = [g for g in pipeline.group_names if g not in blocks]
    if missing:
        raise DawnError(f"precomputed blocks lack groups {missing}", "pass one block per feature group")
    return {g: as_block(blocks[g], g, n) for g in pipeline.group_names}


def _willump_topk_target(y_fit: Any, score_fit: np.ndarray, classes: np.ndarray | None) -> np.ndarray:
    """What the heuristics' top-K small model learns: the labels (as the original), as a score.

    For classification the ranking score is P(last class), so the label becomes "is the last class"
    (labels may be strings); without labels, the full model's score.
    """
    if y_fit is None:
        return np.asarray(score_fit, dtype=float)
    if classes is not None:
        return (np.asarray(y_fit) == classes[-1]).astype(float)
    return np.asarray(y_fit, dtype=float)


def _cascade_choice(heuristic: bool, choose_on_selection: bool, candidate_choice: str) -> str:
    """How the cascade candidate was chosen, for ``explain()``."""
    if heuristic:
        from dawn.willump.heuristics import TOLERANCE

        return (
            "the original's rule: the cheapest candidate whose accuracy on calibration rows is within "
            f"{TOLERANCE:g} of the full model's (a point estimate, no bound)"
        )
    if not choose_on_selection:
        return "Bonferroni over all candidates, cheapest certified"
    if candidate_choice == "hedged":
        return (
            "predicted on held-out selection rows; the batch choice certified at half the level, "
            "the others (Bonferroni) at the other half"
        )
    return "predicted on held-out selection rows; only the chosen certified"


def optimize(
    pipeline: Any,
    X_val: Any,
    y_val: Any = None,
    *,
    max_loss: float = 0.005,
    confidence: float = 0.95,
    top_k: int | None = None,
    top_k_n: int = 20_000,
    top_k_precision: float = 0.95,
    mode: str = "bounded",
    risk: str = "disagreement",
    single_row_objective: str = "mean",
    candidate_choice: str = "auto",
    batch_rows: int | None = 1000,
    cal_fraction: float = 0.5,
    select_fraction: float = 0.2,
    small_target: str = "auto",
    small_model: Any = None,
    measure: bool = True,
    X_train: Any = None,
    y_train: Any = None,
    blocks_val: dict[str, Any] | None = None,
    blocks_train: dict[str, Any] | None = None,
    seed: int = 0,
) -> OptimizedPipeline:
    """Build an :class:`OptimizedPipeline` for ``pipeline`` from held-out rows.

    Parameters
    ----------
    pipeline : Pipeline or fitted sklearn Pipeline
        The feature groups and the user's fitted model (kept as the full model).
    X_val, y_val : raw rows and optional labels
        Held-out data. Without ``X_train`` it is split into a part to fit the small models (and to
        measure importance and set the threshold grid) and a certification part; with ``X_train``
        into a selection part and a certification part. ``y_val`` is needed by the label-based risks
        and by ``mode="willump"``.
    max_loss : float, default=0.005
        The largest acceptable risk (see ``risk``), e.g. 0.005 = half a percentage point.
    confidence : float, default=0.95
        The probability, over the calibration draw, that the certified bounds hold.
    top_k, top_k_n, top_k_precision : int or None, int, float
        Prepare a top-K filter for queries of about ``top_k_n`` rows with precision at least
        ``top_k_precision`` (against the full pipeline's own top-K).
    risk : {"disagreement", "accuracy_risk", "net_loss"}, default="disagreement"
        What ``max_loss`` bounds, with probability ``confidence``:

        - ``"disagreement"``: the fraction of rows where the cascade's answer differs from the full
          model's (no labels needed; Clopper-Pearson);
        - ``"accuracy_risk"`` (alias ``"accuracy"``; needs ``y_val``): the fraction of rows where the
          cascade is wrong and the full model right, an upper bound on the accuracy drop that ignores
          rows the small model fixes (Clopper-Pearson);
        - ``"net_loss"`` (needs ``y_val``): the expected accuracy drop itself, full-model accuracy
          minus cascade accuracy, which credits rows the cascade fixes (a bounded mean in
          ``[-1, 1]``, Waudby-Smith-Ramdas betting). It certifies accuracy, not agreement: the
          cascade may answer differently from the full model on more rows.
    single_row_objective : {"mean", "p50"}, default="mean"
        What the plan ``predict_one`` uses minimises: the expected mean single-row latency, or the
        median. ``"p50"`` prefers the cheapest first stage that answers at least 55% of the rows
        early; it can raise the mean (the rows that go on pay for both stages).
    candidate_choice : {"auto", "selection", "hedged", "bonferroni"}, default="auto"
        How the cascade's cheap set and small model are chosen without spending the guarantee:
        ``"selection"`` predicts each candidate's certified accept rate on the selection rows and
        certifies only the chosen one (or two: batch and single row); ``"bonferroni"`` certifies
        every candidate at ``(1 - confidence) / n_candidates`` and takes the cheapest; ``"hedged"``
        certifies the batch choice at half the level and every other candidate with the other half
        (Bonferroni), and each use takes the cheapest certified plan, so a choice mispredicted on few
        selection rows costs little. ``"auto"`` is ``"hedged"`` when ``X_train`` is given (the
        selection rows are then held out from the small models' fit) and ``"bonferroni"`` otherwise
        (the other two need ``X_train``).
    batch_rows : int or None, default=1000
        The batch size ``predict`` is expected to be called with. Each group and the model cost a
        fixed amount per call plus an amount per row (both measured), and the rows a cascade sends
        on form a small call that pays the fixed part in full; the batch plan is chosen, and its
        speedup predicted, for this size. None: per-row costs only (the original's cost model).
    cal_fraction : float, default=0.5
        Without ``X_train``, the share of the validation rows that certify (strictly between 0 and
        1, leaving rows on both sides); the rest fit the small models, measure importance and set
        the threshold grid.
    select_fraction : float, default=0.2
        With ``X_train``, the share of the validation rows kept apart to measure importance and set
        the threshold grid (strictly between 0 and 1, leaving rows on both sides); the rest certify.
    small_target : {"auto", "full", "labels"}, default="auto"
        What the small models learn: the full model's output (distillation) or the labels; ``auto``
        uses labels for ``risk="net_loss"`` (when available) and the full model's output otherwise.
    small_model : unfitted estimator, optional
        The cascade's small model with ``mode="bounded"`` (e.g. ``LogisticRegression()``: a
        classifier with ``predict_proba``), cloned and fitted on each candidate set of cheap groups.
        Default: a 25-tree and a 60-tree LightGBM for dense cheap features, logistic regression for
        sparse ones (see :mod:`dawn.willump.small`); the top-K filter always uses the defaults.
    mode : {"bounded", "willump"}
        ``willump`` reproduces the original's heuristics (see :mod:`dawn.willump.heuristics`).
    X_train, y_train : raw rows and optional labels, optional
        Rows to fit the small models on (e.g. the full model's own training rows; their target is
        the full model's output there, or ``y_train`` when the small models learn labels). Then the
        validation rows only select (``select_fraction``) and certify, which gives tighter bounds;
        ``y_train`` is needed by ``mode="willump"`` and by label-trained small models.
    blocks_val, blocks_train : dict of str to block, optional
        Feature blocks already computed for ``X_val`` / ``X_train`` (e.g. read from an offline
        feature table), one per group, to skip recomputing expensive groups; group costs are still
        measured by computing every group on a sample of ``X_val``.
    measure : bool, default=True
        Time the batch cascade, the single-row cascade and the top-K filter against the full
        pipeline on calibration rows; drop each one that is not faster.
    seed : int, default=0
        Seeds the split of the validation rows, the rows timed, the importance permutations and the
        small models.
    """
    t0 = time.perf_counter()
    if not isinstance(pipeline, Pipeline):
        pipeline = Pipeline.from_sklearn(pipeline)
    if mode not in ("bounded", "willump"):
        raise DawnError(f"unknown mode {mode!r}", "use mode='bounded' or mode='willump'")
    risk = "accuracy_risk" if risk == "accuracy" else risk
    if risk not in ("disagreement", "accuracy_risk", "net_loss") or (
        risk != "disagreement" and y_val is None
    ):
        raise DawnError(
            f"risk={risk!r} is not available here",
            "use 'disagreement', or pass y_val for 'accuracy_risk' or 'net_loss'",
        )
    if single_row_objective not in ("mean", "p50"):
        raise DawnError(f"unknown single_row_objective {single_row_objective!r}", "use 'mean' or 'p50'")
    if candidate_choice not in ("auto", "selection", "hedged", "bonferroni") or (
        candidate_choice in ("selection", "hedged") and X_train is None
    ):
        raise DawnError(
            f"candidate_choice={candidate_choice!r} is not available here",
            "use 'auto' or 'bonferroni', or pass X_train to choose on held-out selection rows",
        )
    choose_on_selection = X_train is not None and candidate_choice != "bonferroni"
    if candidate_choice == "auto":  # hedged did best over five reseeded splits (BENCHMARKS.md)
        candidate_choice = "hedged" if choose_on_selection else "bonferroni"
    if small_target not in ("auto", "full", "labels"):
        raise DawnError(f"unknown small_target {small_target!r}", "use 'auto', 'full' or 'labels'")
    if batch_rows is not None and (not isinstance(batch_rows, int | np.integer) or batch_rows < 1):
        raise DawnError(f"batch_rows must be a positive integer or None, got {batch_rows!r}", "e.g. 1000")
    for name, value, example in (
        ("max_loss", max_loss, "0.005"),
        ("confidence", confidence, "0.95"),
        ("cal_fraction", cal_fraction, "0.5"),
        ("select_fraction", select_fraction, "0.2"),
        ("top_k_precision", top_k_precision, "0.95"),
    ):
        _check_fraction(name, value, example)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise DawnError(f"seed must be a whole number >= 0, got {seed!r}", "e.g. seed=0")
    n = n_rows(X_val)
    if n < 50:
        raise DawnError(
            f"the validation set has {n} rows", "pass at least a few hundred held-out rows to calibrate on"
        )
    # each side of the validation split below must hold rows (the same rounding as the split's)
    name, fraction = (
        ("cal_fraction", cal_fraction) if X_train is None else ("select_fraction", select_fraction)
    )
    n_first = int(round(n * (1.0 - cal_fraction if X_train is None else select_fraction)))
    if not 0 < n_first < n:
        raise DawnError(
            f"{name}={fraction} splits the {n} validation rows into {n_first} and {n - n_first}",
            f"pass a {name} that leaves rows on both sides (default {0.5 if X_train is None else 0.2})",
        )
    y = None if y_val is None else np.asarray(y_val)
    if y is not None and len(y) != n:
        raise DawnError(f"y_val has {len(y)} labels for {n} rows", "pass one label per validation row")
    if X_train is not None and y_train is not None and len(y_train) != n_rows(X_train):
        raise DawnError(
            f"y_train has {len(y_train)} labels for {n_rows(X_train)} X_train rows",
            "pass one label per training row",
        )
    _check_fitted(pipeline.model)
    task = pipeline.task
    if small_model is not None:
        _check_small_model(small_model, task)
    if task == "classification" and not hasattr(pipeline.model, "predict_proba"):
        raise DawnError(
            f"model {type(pipeline.model).__name__} has no predict_proba(), which a cascade and "
            "classification top-K need",
            "use a probabilistic classifier (e.g. CalibratedClassifierCV around it)",
        )
    if task == "classification":
        _check_labels(pipeline.model, y, "y_val")
        _check_labels(pipeline.model, None if y_train is None else np.asarray(y_train), "y_train")
    if top_k is not None:
        if not isinstance(top_k, int | np.integer) or top_k < 1:
            raise DawnError(f"top_k={top_k!r} is not a positive whole number", "pass e.g. top_k=100")
        if top_k_n is not None and (not isinstance(top_k_n, int | np.integer) or top_k_n < top_k):
            raise DawnError(
                f"top_k_n={top_k_n!r}: a query must have at least top_k={top_k} rows",
                "pass the number of rows a top-K query will rank (>= top_k)",
            )
        if top_k >= n:
            raise DawnError(
                f"top_k={top_k} is not smaller than the {n} validation rows it is calibrated on",
                "pass more validation rows or a smaller top_k",
            )
    if len(pipeline.group_names) < 2:
        log.info("one feature group: nothing to cascade on; serving the full pipeline")

    failures_before = pipeline.remote_failures()
    pipeline.check_feature_names(take(X_val, np.arange(1)))  # a model fitted on a DataFrame: its columns
    pipeline.fix_widths({})  # a group may have changed since an earlier plan: this one measures anew
    blocks = _given_blocks(pipeline, blocks_val, n) if blocks_val is not None else pipeline.compute(X_val)
    _check_no_remote_failures(pipeline, failures_before)
    _check_finite(blocks)  # before the model sees them: its own error would not name the group
    pipeline.fix_widths(blocks)  # what the plan is made for: another width later is refused
    feats = pipeline.assemble(blocks)
    if task == "classification":
        full_pred = np.asarray(pipeline.call_model("predict", feats))
        full_score = np.asarray(pipeline.call_model("predict_proba", feats))[:, -1]
        classes = np.asarray(getattr(pipeline.model, "classes_", np.unique(full_pred)))
    else:
        full_pred = full_score = np.asarray(pipeline.call_model("predict", feats), dtype=float).ravel()
        classes = None
    costs = measure_costs(pipeline, X_val, seed=seed)

    # Three disjoint roles: rows the small models are fitted on, rows that pick the candidates'
    # order and the threshold grid ("selection"), and rows that certify ("calibration"). Keeping the
    # certification rows out of the first two is what makes the stated bound valid.
    perm = np.random.default_rng(seed).permutation(n)
    if X_train is None:
        n_fit = int(round(n * (1.0 - cal_fraction)))
        fit_idx, cal_idx = np.sort(perm[:n_fit]), np.sort(perm[n_fit:])
        b_fit = {g: b[fit_idx] for g, b in blocks.items()}
        pred_fit, score_fit = full_pred[fit_idx], full_score[fit_idx]
        y_fit = None if y is None else y[fit_idx]
        sel_idx = fit_idx  # the full model never saw them, so importance there is honest
    else:
        b_fit = (
            _given_blocks(pipeline, blocks_train, n_rows(X_train))
            if blocks_train is not None
            else pipeline.compute(X_train)
        )
        tf = pipeline.assemble(b_fit)
        pred_fit = np.asarray(pipeline.call_model("predict", tf))
        score_fit = (
            pred_fit.astype(float)
            if task == "regression"
            else pipeline.call_model("predict_proba", tf)[:, -1]
        )
        y_fit = None if y_train is None else np.asarray(y_train)
        n_sel = int(round(n * select_fraction))
        sel_idx, cal_idx = np.sort(perm[:n_sel]), np.sort(perm[n_sel:])
    _check_no_remote_failures(pipeline, failures_before)  # again: costs and X_train looked up too
    b_cal = {g: b[cal_idx] for g, b in blocks.items()}
    b_sel = {g: b[sel_idx] for g, b in blocks.items()}
    heuristic = mode == "willump"
    target = y if (heuristic and y is not None) else full_pred
    importance = permutation_importance(
        pipeline, b_sel, target[sel_idx], n_repeats=1 if heuristic else 3, seed=seed
    )

    # The small model mimics the full model (distillation) unless net accuracy is what is bounded:
    # then it learns the labels, so it can also fix some of the full model's mistakes.
    use_labels = small_target == "labels" or (small_target == "auto" and risk == "net_loss")
    if use_labels and y_fit is None:
        if small_target == "labels":
            raise DawnError(
                "small_target='labels' needs labels for the fit rows", "pass y_train with X_train"
            )
        raise DawnError(
            "risk='net_loss' makes the small models learn the labels, but the fit rows (X_train) have none",
            "pass y_train with X_train, or small_target='full' to learn the full model's output",
        )
    small_target_arr = y_fit if use_labels and y_fit is not None else pred_fit
    cascade = cascade_single = topk = None
    trace: list[dict[str, Any]] = []
    if task == "classification" and len(pipeline.group_names) > 1:
        if heuristic:
            from dawn.willump.heuristics import build_cascade_willump

            yl = y if y is not None else full_pred
            cascade = build_cascade_willump(
                pipeline,
                b_fit,
                b_cal,
                y_fit if y_fit is not None else pred_fit,
                yl[cal_idx],
                full_pred[cal_idx],
                costs,
                importance,
                seed=seed,
            )
        else:
            cascade, cascade_single = build_cascade(
                pipeline, b_fit, b_cal, small_target_arr, full_pred[cal_idx], costs, importance,
                max_loss=max_loss, confidence=confidence, seed=seed, small_model=small_model,
                y_cal=None if y is None else y[cal_idx], risk=risk, blocks_sel=b_sel, trace=trace,
                # with X_train the selection rows are held out from the small models' fit, so the
                # candidate can be chosen there (see candidate_choice)
                full_sel=full_pred[sel_idx] if choose_on_selection else None,
                y_sel=None if not choose_on_selection or y is None else y[sel_idx],
                single_objective=single_row_objective, hedge=candidate_choice == "hedged",
                batch_rows=batch_rows,
            )  # fmt: skip
        if cascade is not None and cascade.expected_cost[0] > PAYOFF * cascade.full_cost[0]:
            log.info("cascade does not pay off (expected %.2fx); serving the full pipeline",
                     cascade.expected_speedup[0])  # fmt: skip
            cascade = None
        if heuristic:
            cascade_single = cascade  # the original had one cascade for both uses
        elif (
            cascade_single is not None
            and cascade_single.single_cost(single_row_objective) > PAYOFF * cascade_single.full_cost[1]
        ):
            cascade_single = None
    if top_k is not None and len(pipeline.group_names) > 1:
        if heuristic:
            from dawn.willump.heuristics import build_topk_willump

            tgt = _willump_topk_target(y_fit, score_fit, classes)
            topk = build_topk_willump(
                pipeline, b_fit, b_cal, tgt, full_score[cal_idx], costs, importance,
                k=top_k, n_query=top_k_n, seed=seed,
            )  # fmt: skip
        else:
            topk = build_topk(
                pipeline, b_fit, b_cal, score_fit, full_score[cal_idx], costs, importance,
                k=top_k, n_query=top_k_n, precision=top_k_precision, confidence=confidence, seed=seed,
            )  # fmt: skip
        if topk is not None and topk.expected_cost > PAYOFF * topk.full_cost:
            topk = None

    info: dict[str, Any] = {
        "mode": mode,
        "task": task,
        "groups": {
            g: {
                "cost_batch_s": costs.batch[g],
                "cost_single_s": costs.single[g],
                "importance": importance[g][0],
                "importance_std": importance[g][1],
            }
            for g in pipeline.group_names
        },  # fmt: skip
        "model_cost_batch_s": costs.batch["model"],
        "model_cost_single_s": costs.single["model"],
        # a batch call's time = fixed + per_row * rows, pinned by the single-row and batch timings
        "cost_per_call": {
            g: {"fixed_s": f, "per_row_s": r}
            for g in [*pipeline.group_names, "model"]
            for f, r in [costs.fixed_and_slope(g)]
        },
        "batch_rows": batch_rows,
        # pipelines with remote groups: sets of groups timed together (lookups overlap local work)
        "joint_costs": {
            "+".join(k): {"cost_batch_s": v, "cost_single_s": costs.stage_single[k]}
            for k, v in costs.stage_batch.items()
        },
        "max_loss": max_loss,
        "risk": risk,
        "single_row_objective": single_row_objective,
        "cascade_candidates": trace,
        # how the cascade candidate was chosen without spending the guarantee (see build_cascade)
        "cascade_choice": _cascade_choice(heuristic, choose_on_selection, candidate_choice),
        "confidence": confidence,
        "n_fit": n_rows(next(iter(b_fit.values()))),
        "n_cal": len(cal_idx),
        "n_sel": len(sel_idx),
        # the heuristics train the small models on the labels when there are any (as the original)
        "small_target": "labels" if (y_fit is not None if heuristic else use_labels) else "full model",
    }
    opt = OptimizedPipeline(
        pipeline, cascade, topk, classes=classes, info=info, cascade_single=cascade_single
    )
    opt.record_raw_input(X_val)
    if measure:
        drop_slower_plans(
            opt, X_val, cal_idx, costs.total(pipeline.group_names),
            top_k=top_k, top_k_n=top_k_n, heuristic=heuristic,
            full_single_cost=costs.total([*pipeline.group_names, "model"], single=True),
        )  # fmt: skip
    opt.stats_.reset()  # the timing above served calibration rows; count only what users send
    info["optimize_seconds"] = time.perf_counter() - t0
    return opt
