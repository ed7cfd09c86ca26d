"""``dawn reproduce``: every system's headline experiment, one report.

Each system registers its experiment by providing a module ``dawn.<system>.reproduce`` with a
function ``run(ctx: ReproduceContext) -> Section``. This module only orchestrates: it imports each
system's experiment lazily, runs it, and writes ``report.json`` and ``index.html``. A system without
that module gets a section that says "not implemented yet"; an experiment that raises gets a
"failed: ..." section and the command exits non-zero after the report is written.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path

from dawn.core.errors import DawnError
from dawn.core.io import ensure_writable_dir
from dawn.core.logging import get_logger
from dawn.core.report import Report, Section
from dawn.core.seeding import seed_everything

log = get_logger(__name__)

#: system -> (section title, the paper it reproduces)
SYSTEMS: dict[str, tuple[str, str]] = {
    "willump": ("Willump: faster feature-bound inference", "Kraft et al., Willump, MLSys 2020"),
    "assertions": (
        "Model assertions: monitoring and active learning",
        "Kang et al., Model Assertions, MLSys 2020",
    ),
    "stability": ("Downstream instability of word embeddings", "Leszczynski et al., MLSys 2020"),
    "roc": ("Roc: distributed full-graph GNN training", "Jia et al., Roc, MLSys 2020"),
    "mlperf": ("MLPerf Training harness", "Mattson et al., MLPerf Training Benchmark, MLSys 2020"),
}


@dataclass(frozen=True)
class ReproduceContext:
    """What an experiment gets: the mode, the seed, and a directory of its own for extra files."""

    quick: bool
    seed: int
    out_dir: Path


def system_implemented(system: str) -> bool:
    """Whether ``dawn.<system>.reproduce`` exists (without importing the system)."""
    try:
        return importlib.util.find_spec(f"dawn.{system}.reproduce") is not None
    except ModuleNotFoundError:  # the system package itself does not exist yet
        return False


def run_system(system: str, ctx: ReproduceContext) -> Section:
    """Run one system's headline experiment and return its section (never raises)."""
    title, paper = SYSTEMS[system]
    if not system_implemented(system):
        return Section(title, status="not implemented yet", summary=f"Reproduces {paper}.")
    t0 = time.perf_counter()
    try:
        seed_everything(ctx.seed)
        module = importlib.import_module(f"dawn.{system}.reproduce")
        section: Section = module.run(ctx)
    except Exception as exc:  # a failed experiment must not cost the other sections
        log.exception("%s experiment failed", system)
        msg = exc.one_line() if isinstance(exc, DawnError) else f"{type(exc).__name__}: {exc}"
        return Section(title, status=f"failed: {' '.join(msg.split())}", summary=f"Reproduces {paper}.")
    section.data.setdefault("seconds", round(time.perf_counter() - t0, 1))
    return section


def reproduce(
    out: str | Path = "report", *, quick: bool = False, seed: int = 0, systems: list[str] | None = None
) -> tuple[Report, Path]:
    """Run the selected systems' experiments and write the report; return it and the HTML path."""
    chosen = systems or list(SYSTEMS)
    unknown = [s for s in chosen if s not in SYSTEMS]
    if unknown:
        raise DawnError(f"unknown system(s) {', '.join(unknown)}", f"choose from {', '.join(SYSTEMS)}")
    out_dir = ensure_writable_dir(out)  # fail before minutes of work, not after
    report = Report(title=f"dawn reproduce ({'quick' if quick else 'full'})", seed=seed)
    from dawn.core.progress import track

    for system in track(chosen, description="reproducing"):
        log.info("running %s", system)
        ctx = ReproduceContext(quick=quick, seed=seed, out_dir=out_dir / system)
        report.sections.append(run_system(system, ctx))
    _, html_path = report.write(out_dir)
    return report, html_path
