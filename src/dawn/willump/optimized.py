"""The optimised pipeline: cascade and top-K at serve time, ``explain()``, save and load.

The user's own fitted model stays the full model: rows the small model is not certified to answer,
and the rows that survive the top-K filter, go through the original pipeline unchanged.
"""

from __future__ import annotations

import contextlib
import copy
import os
import pickle
import threading
from pathlib import Path
from typing import Any

import numpy as np

from dawn.core.errors import DawnError
from dawn.core.io import atomic_write_bytes
from dawn.core.logging import get_logger
from dawn.willump._blocks import hstack, n_rows, take
from dawn.willump.cascade import CascadePlan, describe_model
from dawn.willump.pipeline import Pipeline
from dawn.willump.serving import Calibration, ServingStats
from dawn.willump.topk import TopKPlan

log = get_logger(__name__)


def _in_dtypes(row: Any, dtypes: dict[Any, Any]) -> Any:
    """A one-row DataFrame built from a record, its columns in the dtypes ``predict`` got (a value a
    dtype cannot hold, such as a missing value in an int column, stays as it is)."""
    for col, dtype in dtypes.items():
        if col in row.columns:
            with contextlib.suppress(TypeError, ValueError):
                row[col] = row[col].astype(dtype)
    return row


_MAGIC = b"dawn.willump/1\n"
_STATS_LOCK = threading.Lock()


def _check_path(path: Any, verb: str) -> None:
    """A :class:`DawnError` unless ``path`` is a file path (a str or path-like)."""
    if not isinstance(path, str | os.PathLike):
        raise DawnError(
            f"{verb} needs a file path, got {type(path).__name__}", f'pass one, e.g. .{verb}("clf.willump")'
        )


class OptimizedPipeline:
    """A :class:`~dawn.willump.pipeline.Pipeline` served through a certified cascade and top-K filter.

    Built by :func:`~dawn.willump.optimize`; ``cascade_`` or ``topk_`` is None when that optimisation
    did not pay off, in which case the full pipeline answers (fallback).
    """

    def __init__(
        self,
        pipeline: Pipeline,
        cascade: CascadePlan | None,
        topk: TopKPlan | None,
        *,
        classes: np.ndarray | None,
        info: dict[str, Any],
        cascade_single: CascadePlan | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.cascade_ = cascade
        self.cascade_single_ = cascade_single  # the plan predict_one uses (chosen by single-row cost)
        self.topk_ = topk
        self.classes_ = classes
        self.info_ = info
        #: the raw input's form, so predict_one reads a Series right (see record_raw_input); None:
        #: not recorded (plans saved before it was), a Series is then taken as one row
        self.raw_input_: dict[str, Any] | None = None
        #: rows served through each use's cascade and answered early since optimisation (or the last
        #: reset), and rows the full pipeline served after a "full" policy stopped early answers
        self.stats_ = ServingStats()

    def record_raw_input(self, X: Any) -> None:
        """Note the form of the raw input rows ``X``: a DataFrame (with its column dtypes), a 2-D
        array (with its dtype), or a batch of raw items (texts, records)."""
        if hasattr(X, "columns") and hasattr(X, "dtypes"):
            self.raw_input_ = {"kind": "frame", "dtypes": dict(X.dtypes.items())}
        elif isinstance(X, np.ndarray) and X.ndim == 2:
            self.raw_input_ = {"kind": "array", "dtype": X.dtype}
        else:
            self.raw_input_ = {"kind": "items"}

    def _series_input(self, x: Any) -> Any:
        """A pandas Series passed to predict_one, as the raw input ``predict`` would get."""
        raw = getattr(self, "raw_input_", None)  # absent from plans saved before it was recorded
        if raw is None:
            return x.to_frame().T
        if raw["kind"] == "array":  # one row of a 2-D array
            return np.asarray(x, dtype=raw["dtype"]).reshape(1, -1)
        if raw["kind"] == "items":  # a batch of raw items (e.g. texts): taken as it is
            return x
        return _in_dtypes(x.to_frame().T, raw["dtypes"])  # transposing made its columns one dtype

    # -- cascade ----------------------------------------------------------------------------------
    def _small_to_full(self, proba: np.ndarray, small: Any) -> np.ndarray:
        """Place the small model's class columns at the full model's class positions."""
        assert self.classes_ is not None
        out = np.zeros((proba.shape[0], len(self.classes_)))
        out[:, np.searchsorted(self.classes_, small.classes_)] = proba
        return out

    def _cascade(self, X: Any, *, proba: bool) -> np.ndarray:
        plan = self.cascade_
        pipe = self.pipeline
        stats = self._serving_stats()
        n = n_rows(X)
        # the serving statistics count a call once it has been answered: a call that raised (e.g. a
        # feature store down) served nothing, and its early answers would skew the drift check
        if plan is None or not stats.answers_early("batch") or n == 0:
            full = pipe.predict_proba(X) if proba else pipe.predict(X)
            if plan is not None and n:
                stats.record_stopped("batch", n)
            return full
        cheap = pipe.compute(X, plan.cheap)
        p_small = plan.small.predict_proba(hstack([cheap[g] for g in plan.cheap]))
        accepted = p_small.max(axis=1) >= plan.threshold
        rest_idx = np.flatnonzero(~accepted)
        if proba:
            out: np.ndarray = np.empty((n, len(self.classes_)))  # type: ignore[arg-type]
            out[accepted] = self._small_to_full(p_small[accepted], plan.small)
        else:
            out = np.empty(n, dtype=np.asarray(self.classes_).dtype)
            out[accepted] = plan.small.classes_[p_small[accepted].argmax(axis=1)]
        if len(rest_idx):
            rest = [g for g in pipe.group_names if g not in plan.cheap]
            blocks = pipe.compute(take(X, rest_idx), rest)
            for g in plan.cheap:
                blocks[g] = cheap[g][rest_idx]
            feats = pipe.assemble(blocks)
            out[rest_idx] = pipe.call_model("predict_proba" if proba else "predict", feats)
        stats.record("batch", n, int(accepted.sum()), self._calibration(plan))
        return out

    def predict(self, X: Any) -> np.ndarray:
        """Predictions for a batch: early answers where certified, the full model elsewhere."""
        if self.pipeline.task == "regression" or self.cascade_ is None:
            return self.pipeline.predict(X)
        return self._cascade(X, proba=False)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities for a batch (the small model's where it answered)."""
        return self._cascade(X, proba=True)

    def _record_input(self, x: dict[Any, Any]) -> Any:
        """A dict passed to predict_one: one record (column -> value, as a JSON request gives it) for
        a pipeline that reads DataFrame rows; one-item lists as values are taken as the same row."""
        import pandas as pd

        raw = getattr(self, "raw_input_", None)
        if raw is None or raw["kind"] != "frame":
            raise DawnError(
                "predict_one got a dict, but the pipeline does not read DataFrame rows",
                "pass one row as the pipeline takes it (see predict_one's docstring)",
            )
        one = {k: v[0] if isinstance(v, list | tuple) and len(v) == 1 else v for k, v in x.items()}
        if any(isinstance(v, list | tuple | np.ndarray) for v in one.values()):
            raise DawnError("predict_one got a dict of several rows", "pass one record, or use predict()")
        row = pd.DataFrame([one])
        saved = [c for c in raw["dtypes"] if c in row.columns]  # a record's keys have no order that counts
        return _in_dtypes(row[saved + [c for c in row.columns if c not in raw["dtypes"]]], raw["dtypes"])

    def _string_input(self, x: str) -> list[str]:
        """A single string passed to predict_one, as a one-item batch: what a pipeline that reads raw
        items (a list of texts) takes; a pipeline that reads DataFrame or array rows cannot."""
        raw = getattr(self, "raw_input_", None)  # absent from plans saved before it was recorded
        if raw is None or raw["kind"] == "items":
            return [x]
        if raw["kind"] == "frame":
            cols = list(raw["dtypes"])
            raise DawnError(
                f"predict_one got a single string, but the pipeline reads DataFrame rows (columns {cols})",
                f"pass a one-row DataFrame, e.g. X.iloc[[i]] or pd.DataFrame({{{cols[0]!r}: [text]}})"
                if len(cols) == 1
                else "pass a one-row DataFrame with those columns, e.g. X.iloc[[i]]",
            )
        raise DawnError(
            "predict_one got a single string, but the pipeline reads rows of a 2-D array",
            "pass one row as a 2-D array, e.g. X[i : i + 1]",
        )

    def predict_one(self, x: Any) -> Any:
        """Prediction for one raw input, exiting early: a one-row batch (DataFrame, 2-D array or
        one-item list), a single string (when the pipeline reads raw items, e.g. a list of texts; a
        pipeline that reads DataFrame rows takes a one-row DataFrame), a Series (one DataFrame or
        array row when the raw input is one, else a one-item batch) or a dict (one record, column ->
        value, for a pipeline that reads DataFrame rows)."""
        if isinstance(x, str):
            x = self._string_input(x)
        elif hasattr(x, "to_frame") and not hasattr(x, "columns"):
            x = self._series_input(x)
        elif isinstance(x, dict):
            x = self._record_input(x)
        if n_rows(x) != 1:
            if isinstance(x, np.ndarray) and x.ndim == 1:  # one feature vector, read as len(x) rows
                raise DawnError(
                    f"predict_one got a 1-D array of {len(x)} values, which reads as {len(x)} rows",
                    "pass one array row as x.reshape(1, -1), or use predict() for a batch",
                )
            raise DawnError(f"predict_one got {n_rows(x)} rows", "pass one row, or use predict() for a batch")
        plan, pipe, stats = self.cascade_single_, self.pipeline, self._serving_stats()
        if plan is None or pipe.task == "regression" or not stats.answers_early("single"):
            full = pipe.call_model("predict", pipe.transform(x))[0]
            if plan is not None and pipe.task != "regression":
                stats.record_stopped("single", 1)
            return full
        cheap = pipe.compute(x, plan.cheap)
        feats = hstack([cheap[g] for g in plan.cheap])
        p = plan.scorer(feats) if plan.scorer is not None else plan.small.predict_proba(feats)[0]
        if p.max() >= plan.threshold:
            stats.record("single", 1, 1, self._calibration(plan))
            return plan.small.classes_[int(p.argmax())]
        blocks = pipe.compute(x, [g for g in pipe.group_names if g not in plan.cheap])
        blocks.update(cheap)
        answer = pipe.call_model("predict", pipe.assemble(blocks))[0]
        stats.record("single", 1, 0, self._calibration(plan))  # once answered, as in a batch
        return answer

    # -- top-K ------------------------------------------------------------------------------------
    def top_k(self, X: Any, k: int) -> np.ndarray:
        """Positions (use ``X.iloc[...]`` on a DataFrame, not ``X.loc``) of the ``k`` rows of ``X`` with
        the highest full-pipeline score, best first.

        The score is the prediction (regression) or the probability of the last class. Only the rows
        the cheap scorer keeps are scored by the full pipeline.
        """
        n = n_rows(X)
        if isinstance(k, bool) or not isinstance(k, int | np.integer):
            raise DawnError(
                f"top_k needs k a positive whole number, got {k!r}", "pass an int, e.g. top_k(X, 100)"
            )
        k = int(k)
        if not 0 < k <= n:
            raise DawnError(f"top_k needs 0 < k <= {n}, got k={k}", "pass a smaller k or more rows")
        plan, pipe = self.topk_, self.pipeline
        if plan is None:
            s = pipe.score(X)
            idx = np.argpartition(-s, k - 1)[:k]
            return idx[np.argsort(-s[idx], kind="stable")]
        cheap = pipe.compute(X, plan.cheap)
        s_cheap = np.asarray(plan.small.predict(hstack([cheap[g] for g in plan.cheap])), dtype=float).ravel()
        keep = plan.n_keep(n, k)
        kept = np.argpartition(-s_cheap, keep - 1)[:keep] if keep < n else np.arange(n)
        blocks = pipe.compute(take(X, kept), [g for g in pipe.group_names if g not in plan.cheap])
        for g in plan.cheap:
            blocks[g] = cheap[g][kept]
        feats = pipe.assemble(blocks)
        if pipe.task == "regression":
            s_full = np.asarray(pipe.call_model("predict", feats), dtype=float).ravel()
        else:
            s_full = np.asarray(pipe.call_model("predict_proba", feats))[:, -1]
        order = np.argsort(-s_full, kind="stable")[:k]
        return np.asarray(kept[order])

    # -- reporting and persistence ---------------------------------------------------------------
    def _serving_stats(self) -> ServingStats:
        stats = getattr(self, "stats_", None)
        if stats is None:  # plans saved before serving stats existed lack them
            with _STATS_LOCK:  # several serving threads may arrive together
                stats = getattr(self, "stats_", None)
                if stats is None:
                    stats = self.stats_ = ServingStats()
        return stats

    def _calibration(self, plan: CascadePlan) -> Calibration:
        """(early answers, rows) of ``plan`` on the calibration rows; the share alone if unknown."""
        n_cal = self.info_.get("n_cal")
        return (int(round(plan.accept_rate * n_cal)), int(n_cal)) if n_cal else plan.accept_rate

    def set_shift_policy(
        self, on_shift: str = "warn", *, window: int = 2000, alpha: float = 1e-3, alpha_spending: bool = True
    ) -> None:
        """What to do when served rows stop looking like the calibration rows (counts restart; set
        it before serving, as calls already under way count into the old statistics).

        Every ``window`` rows per use, the share answered early is tested against calibration
        (exact; ``alpha`` spent over the stream, so the chance that unshifted traffic flags any
        window of a use is at most ``alpha``, or with ``alpha_spending=False`` each window at
        ``alpha``); a flagged window
        logs a warning (``"warn"``), or switches that use to the full pipeline (``"full"``: the
        answers are the full model's until :meth:`clear_shift`), or is ignored. See
        :mod:`dawn.willump.serving`.
        """
        self.stats_ = ServingStats(
            window=window, alpha=alpha, on_shift=on_shift, alpha_spending=alpha_spending
        )

    def clear_shift(self) -> None:
        """Answer early again after a ``"full"`` policy stopped it (e.g. once the inputs are known to
        be fine, or after recalibrating); the counts are kept (``stats_.reset()`` forgets them)."""
        self._serving_stats().clear_shift()

    def serving_report(self, *, min_rows: int = 200) -> dict[str, dict[str, Any]]:
        """Rows served and the share answered early, per use (``batch``, ``single``), against the
        share on the calibration rows, with an exact test; ``shift_suspected`` means the
        inputs no longer look like the calibration rows and the stated bound may not hold
        (recalibrate). See :mod:`dawn.willump.serving`."""
        expected = {
            "batch": None if self.cascade_ is None else self._calibration(self.cascade_),
            "single": None if self.cascade_single_ is None else self._calibration(self.cascade_single_),
        }
        return self._serving_stats().report(expected, min_rows=min_rows)

    def explain(self) -> dict[str, Any]:
        """The plan: groups with measured costs and importances, the chosen cascade and top-K filter,
        thresholds, expected (and, if measured, actual) speedups and the certified bounds."""
        out: dict[str, Any] = dict(self.info_)
        c = self.cascade_
        out["cascade"] = None if c is None else {
            "cheap_groups": c.cheap,
            "small_model": describe_model(c.small),
            "threshold": c.threshold,
            "accept_rate": c.accept_rate,
            "risk": c.risk,  # point estimate of the certified risk (see info "risk")
            # the upper confidence bound at the chosen threshold alone; after the threshold has been
            # chosen it is optimistic: what is guaranteed is risk <= info "max_loss"
            "bound": c.bound,
            "expected_speedup_batch": c.expected_speedup[0],
            "expected_speedup_single": c.expected_speedup[1],
            "candidates": c.candidates,
        }  # fmt: skip
        cs = self.cascade_single_
        out["cascade_single"] = None if cs is None else {
            "cheap_groups": cs.cheap,
            "small_model": describe_model(cs.small),
            # how predict_one scores the small model (dawn.willump.fast): its own trees or
            # coefficients when they reproduced predict_proba, else the estimator itself
            "single_row_scorer": type(cs.scorer).__name__ if cs.scorer is not None else "predict_proba",
            "threshold": cs.threshold,
            "accept_rate": cs.accept_rate,
            "bound": cs.bound,
            "expected_speedup_single": cs.expected_speedup[1],
            "expected_p50_speedup_single": cs.full_cost[1] / cs.expected_p50_single,
        }  # fmt: skip
        t = self.topk_
        out["topk"] = None if t is None else {
            "cheap_groups": t.cheap,
            "small_model": type(t.small).__name__,
            "k": t.k,
            "n_query": t.n_query,
            "retain_fraction": t.retain if t.ratio is None else t.ratio * t.k / t.n_query,
            "ratio": t.ratio,
            "precision_target": t.precision,
            "precision_bound": t.bound,
            "expected_speedup": t.full_cost / t.expected_cost,
            "candidates": t.candidates,
        }  # fmt: skip
        out["serving"] = self.serving_report()  # rows served since optimisation (saved with the plan)
        # rows a remote group served NaN features for (on_error="nan": lookups failed or timed out)
        out["remote_failures"] = self.pipeline.remote_failures()
        return copy.deepcopy(out)  # the caller's to edit: the plan itself stays as it is

    def save(self, path: str | Path) -> Path:
        """Write the optimised pipeline (user model, small models, plan) to ``path``.

        Feature groups are serialised with cloudpickle, so lambdas work; Redis groups reconnect on load.
        """
        _check_path(path, "save")
        # a module's function is saved by reference: load() tells whether its code changed since
        self.group_code_ = self.pipeline.code_digests()
        try:
            try:
                import cloudpickle

                payload = cloudpickle.dumps(self)
            except ImportError:
                payload = pickle.dumps(self)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise DawnError(
                f"the optimised pipeline cannot be saved: a feature group or model does not pickle ({exc})",
                "make the groups plain functions or picklable objects (open connections on first use)",
            ) from exc
        try:
            return atomic_write_bytes(path, _MAGIC + payload)
        except OSError as exc:  # nothing is left behind: the temporary file is removed
            raise DawnError(
                f"cannot write {path} ({exc.strerror or exc})", "choose a writable file path"
            ) from exc

    @staticmethod
    def load(path: str | Path) -> OptimizedPipeline:
        """Read a pipeline written by :meth:`save` (only load files you trust: this unpickles)."""
        _check_path(path, "load")
        p = Path(path)
        if not p.is_file():
            raise DawnError(
                f"no optimised pipeline at {p}", "pass the path written by OptimizedPipeline.save"
            )
        raw = p.read_bytes()
        if not raw.startswith(_MAGIC):
            raise DawnError(f"{p} is not a dawn.willump optimised pipeline", "save one with .save(path)")
        try:
            obj = pickle.loads(raw[len(_MAGIC) :])
        except ModuleNotFoundError as exc:  # the file is fine: a module it refers to is not importable here
            mod = exc.name or str(exc)
            raise DawnError(
                f"{p} needs module {mod!r} (where its feature groups or models are defined), "
                "which cannot be imported here",
                f"make {mod!r} importable (install it, or add the directory that holds it to "
                "PYTHONPATH) and load again",
            ) from exc
        except AttributeError as exc:  # the file is fine: a name it refers to is gone from its module
            raise DawnError(
                f"{p} refers to a name its module no longer defines ({exc})",
                "restore the feature group or model class under its old name, or optimise again",
            ) from exc
        except Exception as exc:
            raise DawnError(
                f"{p} is corrupt ({type(exc).__name__})", "re-run the optimizer and save again"
            ) from exc
        if not isinstance(obj, OptimizedPipeline):
            raise DawnError(f"{p} holds a {type(obj).__name__}", "save an OptimizedPipeline with .save(path)")
        now = obj.pipeline.code_digests()
        for group, saved in getattr(obj, "group_code_", {}).items():
            if now.get(group, saved) != saved:
                log.warning(
                    "feature group %r has changed code since %s was saved: its costs, thresholds and "
                    "certified bound were measured with the old code; optimise again",
                    group, p,
                )  # fmt: skip
        return obj

    def close(self) -> None:
        """Stop the pipeline's worker threads (remote feature groups); it still answers afterwards."""
        self.pipeline.close()

    def __enter__(self) -> OptimizedPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        c = "none" if self.cascade_ is None else f"{self.cascade_.cheap}@{self.cascade_.threshold:.3f}"
        t = "none" if self.topk_ is None else f"{self.topk_.cheap}"
        return f"OptimizedPipeline({self.pipeline!r}, cascade={c}, topk={t})"
