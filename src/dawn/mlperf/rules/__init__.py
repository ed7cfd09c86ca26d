"""Rule files for the official compliance checker, one tree per benchmark.

``common.yaml`` is the entry point (``--config``); after the ``submission_division`` line it enqueues
``{division}_common.yaml``, which enqueues ``{division}_{benchmark}.yaml``. The rules use the official
YAML format (``mlperf_logging.compliance_checker``: KEY/REQ/CHECK/POST/ATLEAST_ONE_CHECK); the
per-benchmark files are rendered from :class:`dawn.mlperf.benchmark.Benchmark` by :func:`render`, so
the definition and its rules cannot drift apart. Each file's BEGIN block finds this directory by
importing this package, so the tree also works from the official command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dawn.mlperf.benchmark import Benchmark

RULES_DIR = Path(__file__).parent

_BEGIN = """- BEGIN:
    CODE: >
        s['rules_dir'] = __import__('os').path.dirname(
            __import__('dawn.mlperf.rules', fromlist=['_']).__file__)
"""


def render(benchmark: Benchmark, division: str) -> str:
    """The ``{division}_{name}.yaml`` rule file of ``benchmark``.

    Closed pins every non-tunable hyperparameter to its reference value and requires the tunable ones
    once; both divisions require at least one evaluation at or above the quality target.
    """
    lines = [
        f"# Rules of benchmark {benchmark.name} ({division} division); rendered by dawn.mlperf.rules.render",
        "",
    ]
    if division == "closed":
        for key, ref in benchmark.hyperparameters.items():
            lines += ["- KEY:", f"    NAME:  {key}", "    REQ:   EXACTLY_ONE"]
            if key not in benchmark.closed_tunable:
                lines.append(f"    CHECK: \" v['value'] == {ref!r} \"")
            lines.append("")
    op = ">=" if benchmark.higher_is_better else "<="
    lines += [
        "- KEY:",
        "    NAME:  eval_accuracy",
        "    REQ:   AT_LEAST_ONE",
        "    CHECK:",
        "        - \"'epoch_num' in v['metadata']\"",
        f"    ATLEAST_ONE_CHECK: \"v['value'] {op} {benchmark.target!r}\"",
        "",
    ]
    return "\n".join(lines)


def render_division_common(division: str, names: list[str]) -> str:
    """``{division}_common.yaml``: the benchmark name must be registered; enqueue its rules."""
    extra = ""
    if division == "closed":
        extra = """
- KEY:
    NAME: gradient_accumulation_steps
    REQ: EXACTLY_ONE
    CHECK: " v['value'] > 0 "
"""
    return f"""# {division} division rules of dawn.mlperf benchmarks; rendered by dawn.mlperf.rules
{_BEGIN}
- KEY:
    NAME:  submission_benchmark
    REQ:   EXACTLY_ONE
    CHECK: " v['value'] in {sorted(names)!r} "
    POST: >
        enqueue_config(__import__('os').path.join(
            s['rules_dir'], '{division}_' + v['value'] + '.yaml'))
{extra}"""


def write_all(directory: Path = RULES_DIR) -> list[Path]:
    """Render every registered benchmark's rules into ``directory`` (used to refresh the shipped files)."""
    from dawn.core.io import atomic_write_text
    from dawn.mlperf.benchmark import BENCHMARKS

    ours = [b for b in BENCHMARKS.values() if not b.official]
    out = []
    for division in ("closed", "open"):
        out.append(
            atomic_write_text(
                directory / f"{division}_common.yaml",
                render_division_common(division, [b.name for b in ours]),
            )
        )
        for b in ours:
            out.append(atomic_write_text(directory / f"{division}_{b.name}.yaml", render(b, division)))
    return out
