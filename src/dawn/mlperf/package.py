"""Submission packages: the official layout, checked in-process by the official ``package_checker``.

Layout (MLPerf Training submission rules): ``<org>/systems/<system>.json``,
``<org>/benchmarks/<benchmark>/implementations/<impl>/`` (the code), and
``<org>/results/<system>/<benchmark>/result_<i>.txt``. The official checker validates system JSONs,
the exact number of result files, each file's compliance (one failure tolerated), unique seeds and
the RCPs. It logs instead of returning a verdict and writes ``scaling.json`` into the package; here it
runs on a temporary copy and its ERROR lines become the one-line problems.
"""

from __future__ import annotations

import inspect
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from dawn.core.errors import DawnError
from dawn.core.io import atomic_write_json, atomic_write_text


def export_package(
    out: str | os.PathLike[str],
    results: dict[str, str | os.PathLike[str]],
    *,
    org: str = "dawn",
    system: dict[str, Any] | None = None,
    implementation: str = "dawn-pytorch",
    sources: dict[str, list[Path]] | None = None,
) -> Path:
    """Lay out a package under ``out/<org>`` from result folders ``{benchmark: folder}``.

    Only ``result_*.txt`` files are copied (manifests, aborted runs and partial logs stay behind).
    Returns the organisation folder.
    """
    from dawn.mlperf.system import describe_system

    root = Path(out) / org
    desc = system or describe_system(submitter=org)
    sysname = desc["system_name"]
    atomic_write_json(root / "systems" / f"{sysname}.json", desc)
    for bench, folder in results.items():
        logs = sorted(Path(folder).glob("result_*.txt"))
        if not logs:
            raise DawnError(
                f"no result_*.txt in {folder}", f"run `dawn mlperf run {bench} --out {folder}` first"
            )
        dest = root / "results" / sysname / bench
        dest.mkdir(parents=True, exist_ok=True)
        for p in logs:
            atomic_write_text(dest / p.name, p.read_text(encoding="latin-1"))
        impl = root / "benchmarks" / bench / "implementations" / implementation
        impl.mkdir(parents=True, exist_ok=True)
        for src in (sources or {}).get(bench) or _default_sources(bench):
            atomic_write_text(impl / Path(src).name, Path(src).read_text())
        atomic_write_text(
            impl / "README.md", f"# {bench}\n\nRun with `dawn mlperf run {bench}`; logs by dawn.mlperf.\n"
        )
    return root


def _default_sources(bench: str) -> list[Path]:
    import importlib

    from dawn.mlperf import harness
    from dawn.mlperf.benchmark import BENCHMARKS

    files = [Path(inspect.getfile(harness))]
    b = BENCHMARKS.get(bench) or BENCHMARKS.get(f"dawn_{bench}")
    if b is not None and b.workload:
        files.append(Path(inspect.getfile(importlib.import_module(b.workload.partition(":")[0]))))
    return files


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = " ".join(record.getMessage().split())
        if record.levelno >= logging.ERROR:
            self.errors.append(msg)
        elif record.levelno >= logging.WARNING:
            self.warnings.append(msg)


def check_package(
    org_folder: str | os.PathLike[str], ruleset: str = "5.0.0", *, rcp_bypass: bool = False
) -> tuple[bool, list[str], list[str]]:
    """Run the official package checker on a copy of ``org_folder``; (accepted, errors, warnings)."""
    import contextlib
    import io

    from mlperf_logging.compliance_checker import mlp_compliance
    from mlperf_logging.package_checker import package_checker

    src = Path(org_folder)
    if not (src / "systems").is_dir() or not (src / "results").is_dir():
        raise DawnError(
            f"{src} is not a submission package (needs systems/ and results/)",
            "create one with `dawn mlperf package`",
        )
    handler = _Collect()
    root = logging.getLogger()
    old_level, old_disable = root.level, logging.root.manager.disable
    with tempfile.TemporaryDirectory(prefix="dawn-package-") as tmp:
        copy = Path(tmp) / src.name
        shutil.copytree(src, copy)
        saved = root.handlers[:]
        root.handlers[:] = [handler]  # the official checker logs to the root logger; keep it off the console
        root.setLevel(logging.INFO)
        logging.disable(logging.NOTSET)
        mlp_compliance.enqueued_configs.clear()
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                systems_ok = package_checker.check_systems(str(copy), "training", ruleset)
                results_ok = package_checker.check_training_result_files(
                    str(copy), "training", ruleset, True, False, rcp_bypass, False, False
                )
        finally:
            root.handlers[:] = saved
            root.setLevel(old_level)
            logging.disable(old_disable)
            mlp_compliance.enqueued_configs.clear()
    errors = [e.replace(str(copy), str(src)) for e in handler.errors]
    if not systems_ok and not errors:
        errors.append("system description checker failed")
    ours = _check_own_benchmarks(src)
    return (
        bool(systems_ok and results_ok and not ours),
        errors + ours,
        [w.replace(str(copy), str(src)) for w in handler.warnings],
    )


def _check_own_benchmarks(org: Path) -> list[str]:
    """The package checker's rules for benchmarks it does not know (it skips them): the exact number
    of result files, compliance with the benchmark's own rules (one failure tolerated), one distinct
    seed per run and call site, and the RCP check."""
    from dawn.mlperf.benchmark import BENCHMARKS
    from dawn.mlperf.check import check_log
    from dawn.mlperf.score import read_run, score_folder

    errors = []
    for folder in sorted((org / "results").glob("*/*")):
        b = BENCHMARKS.get(folder.name)
        if b is None or b.official or not folder.is_dir():
            continue
        logs = sorted(folder.glob("result_*.txt"))
        if len(logs) != b.runs:
            errors.append(f"{folder}: found {len(logs)} result files, expected {b.runs}")
        failed = [p.name for p in logs if not check_log(p).ok]
        if len(failed) > 1:
            errors.append(f"{folder}: {len(failed)} files do not comply ({', '.join(failed)})")
        seeds = [read_run(p).seed for p in logs]
        if None in seeds or len(set(seeds)) != len(seeds):
            errors.append(f"{folder}: every run must log its own distinct seed")
        sc = score_folder(folder, required_runs=b.runs)
        if sc.rcp is not None and not sc.rcp.passed:
            errors.append(f"{folder}: RCP test failed: {sc.rcp.message}")
    return errors
