"""A serving pipeline as named feature groups plus the user's fitted model (no source parsing).

Willump (Kraft et al., MLSys 2020, https://arxiv.org/abs/1906.01974) found feature groups by parsing
the Python source of a decorated function. Here the user states them: ``features`` maps a group name
to a callable or fitted scikit-learn transformer from raw rows to a block of features, and ``model``
is the user's own fitted estimator, which stays the full model after optimisation.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import time
import types
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError

from dawn.core.errors import DawnError
from dawn.willump._blocks import as_block, hstack, n_rows
from dawn.willump.remote import LookupCall

Block = Any  # a 2-D float ndarray or a scipy CSR matrix

_POOL_LOCK = threading.Lock()  # guards the lazy creation of each pipeline's thread pool

#: sklearn's warning when a model fitted on a DataFrame gets an array, as every model call here does
_NO_NAMES_WARNING = "X does not have valid feature names"


_quiet_lock = threading.Lock()
_quiet_calls = 0  # model calls now inside _no_feature_names_warning, over all threads
# the one filter entry they share, always this very object, so that every copy of it can be found by
# identity: the user's own equal filter is never it
_QUIET_ENTRY = ("ignore", re.compile(_NO_NAMES_WARNING, re.I), UserWarning, None, 0)


def _set_quiet(on: bool) -> None:
    """Remove every copy of :data:`_QUIET_ENTRY` from the warning filters, then (``on``) put one in
    front unless the user's own equal filter is in front already (behind others it may not apply)."""
    filters: list[Any] = warnings.filters  # type: ignore[assignment]  # a list at run time
    for i in reversed([i for i, f in enumerate(filters) if f is _QUIET_ENTRY]):
        del filters[i]
    if on and not (filters and filters[0] == _QUIET_ENTRY):  # the user's equal one may lead already
        filters.insert(0, _QUIET_ENTRY)
    mutated = getattr(warnings, "_filters_mutated", None)  # invalidates the warnings' caches
    if mutated is not None:
        mutated()


@contextlib.contextmanager
def _no_feature_names_warning() -> Iterator[None]:
    """Ignore sklearn's "X does not have valid feature names" warning during the block.

    ``warnings.catch_warnings`` is not thread-safe before Python 3.14: threads that enter and leave it
    interleaved restore each other's saved filter lists. Here the first call in adds one filter entry
    and the last call out removes it alone, so the user's own filters are never saved, restored or
    replaced. A ``catch_warnings`` in another thread (scikit-learn runs one inside every prediction)
    may still save the list while the entry is in it and restore it after the last call out; every
    copy of the entry is removed again when the next call enters or leaves.
    """
    global _quiet_calls
    with _quiet_lock:
        if _quiet_calls == 0:
            _set_quiet(True)
        _quiet_calls += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_calls -= 1
            if _quiet_calls == 0:
                _set_quiet(False)


def code_digest(fn: Any) -> str | None:
    """A digest of a Python function's code (its instructions, names and constants, nested functions
    included; not its file or line numbers), None for other callables: whether a function saved by
    reference (a module's function) still has the code it had."""
    code = getattr(fn, "__code__", None)
    if not isinstance(code, types.CodeType):
        return None
    h = hashlib.sha256()

    def text(k: Any) -> str:  # a constant's text, the same in every process
        if isinstance(k, frozenset):  # (x in {"a", "b"}): its repr's order follows string hashing
            return "frozenset(" + ",".join(sorted(map(text, k))) + ")"
        if isinstance(k, tuple):
            return "(" + ",".join(map(text, k)) + ")"
        return repr(k)

    def add(c: types.CodeType) -> None:
        h.update(c.co_code)
        h.update(repr(c.co_names).encode())
        for k in c.co_consts:
            if isinstance(k, types.CodeType):
                add(k)
            else:
                h.update(text(k).encode())

    add(code)
    return h.hexdigest()[:16]


def _run_group(name: str, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, with an exception from the user's group named after the group."""
    try:
        return fn(*args)
    except DawnError:
        raise
    except Exception as exc:
        raise DawnError(
            f"feature group {name!r} raised {type(exc).__name__}: {exc}",
            "fix the group (rerun with --debug, or call it on the same rows, to see its traceback)",
        ) from exc


def _group_fn(name: str, group: Any) -> Callable[[Any], Any]:
    if hasattr(group, "transform"):
        return group.transform
    if callable(group):
        return group
    raise DawnError(
        f"feature group {name!r} is a {type(group).__name__}, neither callable nor a transformer",
        "pass a function of the raw rows or a fitted scikit-learn transformer",
    )


def is_remote(group: Any) -> bool:
    """Whether a group reads from a remote store, so it should be issued first and run concurrently."""
    return bool(getattr(group, "is_remote", False))


class Pipeline:
    """Named feature groups and a fitted model: ``model(hstack(group(X) for group in features))``.

    Parameters
    ----------
    features : mapping of str to callable or transformer
        Each group maps raw input rows (a DataFrame, array or list) to a block of features (dense,
        sparse or a DataFrame) with one row per input row. The column order of the model input is the
        mapping's order.
    model : fitted estimator
        The user's model, with ``predict`` and, for cascades, ``predict_proba``.
    task : {"auto", "classification", "regression"}, default="auto"
        ``auto`` means classification if the model has ``predict_proba`` or ``classes_`` (or is a
        scikit-learn classifier).
    max_workers : int, default=4
        Threads for remote groups (Redis lookups), which are issued before local groups are computed.
    dense : bool, default=False
        Give the model a dense array even when some groups are sparse (as a ColumnTransformer whose
        output was dense does); by default the model gets CSR when any group is sparse.
    """

    #: whether the model was fitted with feature names (so sklearn warns at every array it gets); None:
    #: not yet looked up (the model may be fitted after the pipeline is built, as the workloads do)
    _quiet_names: bool | None = None

    def __init__(
        self,
        features: Mapping[str, Any],
        model: Any,
        *,
        task: str = "auto",
        max_workers: int = 4,
        dense: bool = False,
    ) -> None:
        if not features:
            raise DawnError("the pipeline has no feature groups", "pass features={'name': fn, ...}")
        if isinstance(model, type):
            raise DawnError(
                f"model is the class {model.__name__}, not a fitted estimator",
                f"pass an instance fitted on your data, e.g. {model.__name__}(...).fit(X, y)",
            )
        if not hasattr(model, "predict"):
            raise DawnError(f"model {type(model).__name__} has no predict()", "pass a fitted estimator")
        self.features = dict(features)
        self._fns = {name: _group_fn(name, g) for name, g in self.features.items()}
        self.model = model
        if task == "auto":
            # a classifier without predict_proba (LinearSVC) is still a classifier: optimize() then
            # says a cascade needs probabilities, instead of ranking its hard labels as a regression
            is_clf = hasattr(model, "predict_proba") or hasattr(model, "classes_")
            is_clf = is_clf or getattr(model, "_estimator_type", None) == "classifier"
            task = "classification" if is_clf else "regression"
        if task not in ("classification", "regression"):
            raise DawnError(f"unknown task {task!r}", "use 'classification' or 'regression'")
        self.task = task
        self.max_workers = max_workers
        self.dense = dense
        #: names the model input's columns get, as a DataFrame (set by from_sklearn when its later
        #: steps were fitted on the union's pandas output); None: the model takes the stacked array
        self.model_columns: list[str] | None = None
        self._pool: ThreadPoolExecutor | None = None

    # -- construction from scikit-learn ---------------------------------------------------------
    @classmethod
    def from_sklearn(cls, pipe: Any, **kwargs: Any) -> Pipeline:
        """Build from a fitted sklearn ``Pipeline`` whose first step is a ``FeatureUnion`` or
        ``ColumnTransformer``; each of its transformers becomes a group (scaled by its
        ``transformer_weights`` entry), the later steps the model, and the model input is dense
        when the ColumnTransformer's was."""
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import FeatureUnion
        from sklearn.pipeline import Pipeline as SkPipeline

        if not isinstance(pipe, SkPipeline) or len(pipe.steps) < 2:
            raise DawnError(
                "from_sklearn needs a fitted sklearn Pipeline with a feature step and a model",
                "build it as Pipeline([('features', FeatureUnion([...])), ('model', clf)]) and fit it",
            )
        union = pipe.steps[0][1]
        groups: dict[str, Any] = {}
        weights = getattr(union, "transformer_weights", None) or {}
        if isinstance(union, FeatureUnion):
            for name, trans in union.transformer_list:
                if trans not in ("drop", None):
                    groups[name] = trans if weights.get(name) is None else _Weighted(trans, weights[name])
        elif isinstance(union, ColumnTransformer):
            if not hasattr(union, "transformers_"):
                raise DawnError("the ColumnTransformer is not fitted", "fit the sklearn pipeline first")
            fitted_names = getattr(union, "feature_names_in_", None)
            for name, trans, cols in union.transformers_:
                if trans == "drop" or (name == "remainder" and trans == "drop"):
                    continue
                cols = _named_columns(cols, fitted_names)
                if _selects_nothing(cols):  # sklearn skipped it (left unfitted): no features
                    continue
                groups[name] = _ColumnGroup(trans, cols, weights.get(name))
            # sklearn densified the stacked output (sparse_threshold); the model was fitted on that
            kwargs.setdefault("dense", not getattr(union, "sparse_output_", False))
        else:
            raise DawnError(
                f"the first step is a {type(union).__name__}",
                "make the first step a FeatureUnion or ColumnTransformer so its parts become groups",
            )
        rest = pipe.steps[1:]
        model = rest[0][1] if len(rest) == 1 else SkPipeline(rest)
        out = cls(groups, model, **kwargs)
        # later steps fitted on the union's DataFrame output (set_output(transform="pandas")) may
        # select its columns by name: they are given a DataFrame with those names, as in sklearn
        if len(rest) > 1 and getattr(rest[0][1], "feature_names_in_", None) is not None:
            out.model_columns = [str(c) for c in union.get_feature_names_out()]
        return out

    # -- execution --------------------------------------------------------------------------------
    @property
    def group_names(self) -> list[str]:
        return list(self.features)

    def _executor(self) -> ThreadPoolExecutor:
        # created on first use, once, even when several serving threads arrive together
        with _POOL_LOCK:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="willump")
            return self._pool

    def compute(self, X: Any, groups: Sequence[str] | None = None) -> dict[str, Block]:
        """Compute the named groups on ``X``; remote groups are issued first and run concurrently."""
        names = list(self.features) if groups is None else list(groups)
        n = n_rows(X)
        futures: dict[str, Future[Any]] = {}
        issued = time.monotonic()
        calls: dict[str, LookupCall] = {}
        for name in names:
            group = self.features[name]
            if is_remote(group):
                if hasattr(group, "timed_out"):  # a group with a deadline gets a handle on its call
                    calls[name] = LookupCall()
                    with_call: Callable[..., Any] = self._fns[name]
                    futures[name] = self._executor().submit(with_call, X, calls[name])
                else:
                    futures[name] = self._executor().submit(self._fns[name], X)
        out: dict[str, Block] = {}
        try:
            for name in names:
                if name not in futures:
                    out[name] = self._block(name, _run_group(name, self._fns[name], X), n)
            for name, fut in futures.items():
                out[name] = self._block(name, self._remote_result(name, fut, X, issued, calls.get(name)), n)
        except BaseException:
            # the call failed: lookups still pending serve no one, so none of them counts failures
            for name, fut in futures.items():
                if name not in out and (call := calls.get(name)) is not None and call.abandon():
                    fut.cancel()
            raise
        return out

    def fix_widths(self, blocks: Mapping[str, Block]) -> None:
        """Remember each group's number of columns (``optimize`` calls it with the blocks it measured
        and certified on): a group that later returns another number is refused."""
        self._widths = {name: int(b.shape[1]) for name, b in blocks.items()}

    def _block(self, name: str, raw: Any, n: int) -> Block:
        """A group's output as a block of ``n`` rows (:func:`as_block`), unless it has another number
        of columns than when the plan was made (:meth:`fix_widths`): a group whose code, or fitted
        vocabulary, changed since."""
        block = as_block(raw, name, n)
        want = self.__dict__.get("_widths", {}).get(name)  # absent before optimize (and in old plans)
        if want is not None and block.shape[0] and block.shape[1] != want:
            raise DawnError(
                f"feature group {name!r} returned {block.shape[1]} columns, where it returned {want} "
                "when the plan was made",
                "if the group or the model changed since optimize() (new code, a refitted vocabulary), "
                "optimise again",
            )
        return block

    def _remote_result(
        self, name: str, fut: Future[Any], X: Any, issued: float, call: LookupCall | None
    ) -> Any:
        """A remote group's block, waiting at most the group's ``timeout`` from when it was issued
        (time queued behind other calls' hung lookups included); then the group's own policy."""
        group = self.features[name]
        limit = getattr(group, "timeout", None)
        if limit is None or call is None:
            return _run_group(name, fut.result)
        done, _ = wait([fut], timeout=max(0.0, issued + limit - time.monotonic()))
        if done or not call.abandon():  # finished, or finishing: its answer stands
            return _run_group(name, fut.result)
        fut.cancel()  # a lookup still queued never runs
        return _run_group(name, group.timed_out, X)

    def assemble(self, blocks: Mapping[str, Block]) -> Block:
        """The model input: all groups' blocks in pipeline order."""
        # plans pickled before ``dense`` existed lack it: they stacked to CSR
        return hstack([blocks[name] for name in self.features], dense=getattr(self, "dense", False))

    def transform(self, X: Any) -> Block:
        """All feature groups on ``X``, stacked in pipeline order."""
        return self.assemble(self.compute(X))

    def call_model(self, method: str, feats: Block) -> Any:
        """``model.<method>(feats)``, without sklearn's warning that ``feats`` has no feature names
        when the model was fitted on a DataFrame (the names are checked once, by
        :meth:`check_feature_names`)."""
        columns = getattr(self, "model_columns", None)  # absent from plans saved before it
        if columns is not None:
            dense = feats.toarray() if hasattr(feats, "toarray") else np.asarray(feats)
            feats = pd.DataFrame(dense, columns=columns)
        quiet = self._quiet_names
        if quiet is None:
            quiet = self._quiet_names = hasattr(self.model, "feature_names_in_") and columns is None
        try:
            if not quiet:
                return getattr(self.model, method)(feats)
            with _no_feature_names_warning():
                return getattr(self.model, method)(feats)
        except NotFittedError as exc:
            self._quiet_names = None  # looked up again once the model is fitted
            raise DawnError(
                f"model {type(self.model).__name__} is not fitted",
                "fit it first (model.fit(X, y) on the groups' output), then call the pipeline",
            ) from exc

    def check_feature_names(self, X: Any) -> None:
        """A :class:`DawnError` unless the column names of the groups that return DataFrames, computed
        on the rows ``X`` (one is enough), match the model's ``feature_names_in_`` at their positions."""
        fitted = getattr(self.model, "feature_names_in_", None)
        self._quiet_names = fitted is not None
        if fitted is None:
            return
        expected = [str(c) for c in fitted]
        pos = 0
        for name in self.features:
            raw = _run_group(name, self._fns[name], X)
            # an array block has no names to check; a ColumnTransformer part is in the order sklearn
            # stacked it in, and a union's parts are named with its prefix ("num__a") in the model
            sk_part = isinstance(self.features[name], _Weighted | _ColumnGroup)
            cols = None if sk_part else getattr(raw, "columns", None)
            for i, col in enumerate([] if cols is None else cols):
                if pos + i >= len(expected) or expected[pos + i] not in (str(col), f"{name}__{col}"):
                    want = repr(expected[pos + i]) if pos + i < len(expected) else "no column"
                    raise DawnError(
                        f"feature group {name!r} returns column {str(col)!r} at model input position "
                        f"{pos + i}, where the model was fitted on {want} (model.feature_names_in_)",
                        "return the columns, and order the groups, as the model was fitted on them",
                    )
            pos += as_block(raw, name, n_rows(X)).shape[1]
        if pos != len(expected):
            raise DawnError(
                f"the feature groups return {pos} columns, but the model was fitted on {len(expected)} "
                "(model.feature_names_in_)",
                "make the groups return exactly the columns the model was fitted on",
            )

    def predict(self, X: Any) -> np.ndarray:
        """The unoptimised pipeline's predictions."""
        if n_rows(X) == 0:  # estimators reject a zero-row input; an empty batch has empty answers
            return self._empty(proba=False)
        return np.asarray(self.call_model("predict", self.transform(X)))

    def _empty(self, *, proba: bool) -> np.ndarray:
        classes = getattr(self.model, "classes_", None)
        if proba:
            return np.empty((0, 0 if classes is None else len(classes)))
        dtype = np.asarray(classes).dtype if classes is not None and self.task == "classification" else float
        return np.empty(0, dtype=dtype)

    def predict_proba(self, X: Any) -> np.ndarray:
        """The unoptimised pipeline's class probabilities."""
        if not hasattr(self.model, "predict_proba"):
            raise DawnError(f"model {type(self.model).__name__} has no predict_proba()", "use predict()")
        if n_rows(X) == 0:
            return self._empty(proba=True)
        return np.asarray(self.call_model("predict_proba", self.transform(X)))

    def score(self, X: Any) -> np.ndarray:
        """A ranking score per row: the predicted value (regression) or P(last class) (classification)."""
        if self.task == "regression":
            return np.asarray(self.call_model("predict", self.transform(X)), dtype=float).ravel()
        return np.asarray(self.call_model("predict_proba", self.transform(X)))[:, -1]

    def code_digests(self) -> dict[str, str]:
        """:func:`code_digest` of each group that is a plain Python function."""
        return {g: d for g, d in ((g, code_digest(f)) for g, f in self.features.items()) if d is not None}

    def remote_failures(self) -> dict[str, int]:
        """Rows served NaN features so far per remote group (groups built with ``on_error="nan"``)."""
        return {g: int(f.failures) for g, f in self.features.items() if hasattr(f, "failures")}

    def close(self) -> None:
        """Stop the worker threads that run remote groups; a later call starts new ones. Call it
        when no other thread is computing features with this pipeline."""
        with _POOL_LOCK:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_pool"] = None  # threads do not pickle; a new pool is made on first use
        return state

    def __repr__(self) -> str:
        return f"Pipeline(features={self.group_names}, model={type(self.model).__name__}, task={self.task!r})"


class _Weighted:
    """A FeatureUnion part as a group: its fitted transformer's output times its weight."""

    def __init__(self, transformer: Any, weight: float) -> None:
        self.transformer = transformer
        self.weight = weight

    def __call__(self, X: Any) -> Any:
        return self.transformer.transform(X) * self.weight  # sparse, dense and DataFrame alike


def _named_columns(cols: Any, names: Any) -> Any:
    """A ColumnTransformer part's column selection as sklearn reads it on a DataFrame: by name when
    the transformer was fitted on one (``names``), so that a served frame's column order does not
    matter; positions (integers, masks, slices) become the names they stood for at fit time."""
    if names is None:  # fitted on an array: positions stay positions (a pandas mask as an array)
        return np.asarray(cols) if hasattr(cols, "dtype") and hasattr(cols, "index") else cols
    names = np.asarray(names, dtype=object)
    if isinstance(cols, slice):
        if isinstance(cols.start, str) or isinstance(cols.stop, str):  # a label slice includes its end
            index = pd.Index(names)
            return list(names[index.slice_indexer(cols.start, cols.stop, cols.step)])
        return list(names[cols])
    if isinstance(cols, str):
        return cols
    if isinstance(cols, int | np.integer):
        return names[int(cols)]
    arr = np.asarray(cols)
    return list(names[arr]) if arr.dtype.kind in "biu" else list(cols)


def _selects_nothing(cols: Any) -> bool:
    if isinstance(cols, str | int | np.integer):
        return False
    if isinstance(cols, slice):
        return False  # (a positional slice of an array: its width is known only at the first call)
    arr = np.asarray(cols)
    return arr.size == 0 or (arr.dtype.kind == "b" and not arr.any())


class _ColumnGroup:
    """A ColumnTransformer part as a group: select its columns, then apply its fitted transformer
    (and its weight, if it has one)."""

    def __init__(self, transformer: Any, columns: Any, weight: float | None = None) -> None:
        self.transformer = transformer
        self.columns = columns
        self.weight = weight

    def __call__(self, X: Any) -> Any:
        out = self._unweighted(X)
        # getattr: groups pickled before weights were applied lack the attribute
        weight = getattr(self, "weight", None)
        return out if weight is None else out * weight

    def _unweighted(self, X: Any) -> Any:
        if hasattr(X, "iloc"):
            cols = self.columns
            sub = (
                X.iloc[:, cols] if isinstance(cols, slice) or np.asarray(cols).dtype.kind in "ib" else X[cols]
            )
        else:
            sub = np.asarray(X)[:, self.columns]
        if self.transformer == "passthrough":
            return sub
        return self.transformer.transform(sub)
