"""Willump (Kraft et al., MLSys 2020): faster feature-bound inference with certified cascades and top-K.

``Pipeline(features={...}, model=clf)`` declares named feature groups and the user's fitted model;
``optimize(pipeline, X_val, y_val, max_loss=..., confidence=..., risk=...)`` returns an
:class:`OptimizedPipeline` whose cascade's risk is at most ``max_loss`` with probability
``confidence``: its disagreement with the full model, its accuracy risk (rows it breaks), or its net
accuracy loss (``risk="net_loss"``: rows it breaks minus rows it fixes).

Example
-------
>>> pipe = Pipeline({"word": word_tfidf, "char": char_tfidf}, model=clf)    # doctest: +SKIP
>>> opt = optimize(pipe, X_val, y_val, max_loss=0.005, confidence=0.95,
...                risk="net_loss", top_k=100)                               # doctest: +SKIP
>>> opt.predict(X), opt.predict_one(x), opt.top_k(X, 100)                    # doctest: +SKIP
>>> print(format_plan(opt.explain())); opt.save("clf.willump")              # doctest: +SKIP

The bound holds for inputs drawn like the calibration rows; while serving, the share of rows answered
early is tested against calibration every 2,000 rows, and a shift warns or (``opt.set_shift_policy(
"full")``) hands the rows to the full pipeline; ``opt.serving_report()`` shows the counts
(:mod:`dawn.willump.serving`).

``mode="willump"`` applies the original's heuristics instead, for comparison; ``dawn willump bench``
runs the real-data workloads in :mod:`dawn.willump.workloads`.
"""

from dawn.willump.explain import format_plan
from dawn.willump.optimize import optimize
from dawn.willump.optimized import OptimizedPipeline
from dawn.willump.pipeline import Pipeline

__all__ = ["OptimizedPipeline", "Pipeline", "format_plan", "optimize"]
