"""Run the official compliance checker in-process, with the benchmark's own rules.

The official tool (``python -m mlperf_logging.compliance_checker``) prints multi-line messages to the
root logger and keeps a module-level queue of rule files between calls (a hidden state: a crash
mid-check leaves files queued for the next log). :func:`check_log` clears that queue around every
call, picks the rule tree (ours for our benchmark names, the official one for official names), and
turns each violation into one line.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dawn.core.errors import DawnError

TOKEN = ":::MLLOG "
#: Rulesets ``dawn mlperf check --ruleset`` offers (the installed package ships more).
RULESETS = ("4.1.0", "5.0.0", "6.1.0")


@dataclass
class CheckResult:
    """Outcome of checking one log: ``ok`` and one line per violation."""

    path: Path
    ok: bool
    benchmark: str | None
    ruleset: str
    config: str
    violations: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        head = f"{self.path}: {'PASS' if self.ok else 'FAIL'} ({self.benchmark or '?'}, {self.config})"
        return [head] + [f"{self.path}: {v}" for v in self.violations]


def installed_rulesets() -> list[str]:
    """Training rulesets the installed ``mlperf_logging`` ships, oldest first."""
    from mlperf_logging.compliance_checker import mlp_compliance

    root = Path(mlp_compliance.__file__).parent
    found = [p.name.removeprefix("training_") for p in root.glob("training_*.*.*") if "_warn" not in p.name]
    return sorted(found, key=lambda r: tuple(int(x) for x in r.split(".")))


def official_ruleset_for(benchmark: str, ruleset: str | None = None) -> str | None:
    """The ruleset to check an official benchmark against: ``ruleset`` if it knows the name, else the
    newest installed one that does; ``None`` if no installed ruleset knows it."""
    from mlperf_logging.benchmark_meta import get_allowed_benchmarks

    candidates = [ruleset] if ruleset else list(reversed(installed_rulesets()))
    for r in candidates:
        try:
            if benchmark in get_allowed_benchmarks("training", r):
                return r
        except ValueError:
            continue
    return None


_RECORD_ERRORS = (json.JSONDecodeError, KeyError, TypeError, ValueError)


def _record(raw: str) -> Any:
    """The JSON record of a ``:::MLLOG`` line with a numeric ``time_ms`` (raises one of
    ``_RECORD_ERRORS`` otherwise, as the official parser rejects it)."""
    rec = json.loads(raw[raw.index(TOKEN) + len(TOKEN) :])
    float(rec["time_ms"])
    return rec


def scan_log(path: str | os.PathLike[str]) -> tuple[dict[str, object], list[str]]:
    """One pass over a log: the first value of each key, and one line per ``:::MLLOG`` line the
    official parser would reject (it then fails the whole file)."""
    header: dict[str, object] = {}
    errors = []
    with open(path, encoding="latin-1") as fh:
        for lineno, raw in enumerate(fh, 1):
            if TOKEN not in raw:
                continue
            try:
                rec = _record(raw)
                header.setdefault(rec["key"], rec["value"])
                rec["metadata"]  # noqa: B018 - the official parser needs it
            except _RECORD_ERRORS as exc:
                errors.append(f"line {lineno}: not a valid :::MLLOG record ({type(exc).__name__}: {exc})")
    return header, errors


def first_value(path: str | os.PathLike[str], key: str) -> object:
    """``read_header(path).get(key)``, reading only as far as the first valid record of ``key``."""
    with open(path, encoding="latin-1") as fh:
        for raw in fh:
            if key not in raw or TOKEN not in raw:
                continue
            try:
                rec = _record(raw)
                if rec["key"] == key:
                    return rec["value"]
            except _RECORD_ERRORS:
                continue
    return None


def read_header(path: str | os.PathLike[str]) -> dict[str, object]:
    """The first value of each key in a log (``submission_benchmark``, ``submission_division``, ...)."""
    return scan_log(path)[0]


_RULE_CACHE: dict[tuple[str, float], object] = {}


class _CachedYaml:
    """Stands in for the ``yaml`` module inside the official checker: the same ``BaseLoader``
    semantics (every scalar a string), parsed with libyaml when available and memoised per file and
    mtime. The checker re-parses every rule file for every log, which dominated checking time."""

    def __init__(self) -> None:
        import yaml

        self._yaml = yaml
        self.BaseLoader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)

    def load(self, stream: Any, Loader: object = None) -> object:  # noqa: N803 - the yaml API
        name = getattr(stream, "name", None)
        if not isinstance(name, str):
            return self._yaml.load(stream, Loader=self.BaseLoader)
        key = (os.path.abspath(name), os.path.getmtime(name))
        if key not in _RULE_CACHE:
            _RULE_CACHE[key] = self._yaml.load(stream, Loader=self.BaseLoader)
        import copy

        return copy.deepcopy(_RULE_CACHE[key])


_CODE_CACHE: dict[tuple[str, str], Any] = {}


def _compiled(source: Any, mode: str) -> Any:
    if not isinstance(source, str):
        return source
    key = (source, mode)
    code = _CODE_CACHE.get(key)
    if code is None:
        code = _CODE_CACHE[key] = compile(source, "<rule>", mode)
    return code


def _cached_eval(source: Any, *args: Any) -> Any:
    """``eval`` for the official checker's rule expressions, compiling each distinct one once (the
    checker evaluates the same CHECK strings on every log line)."""
    return eval(_compiled(source, "eval"), *args)


def _cached_exec(source: Any, *args: Any) -> None:
    exec(_compiled(source, "exec"), *args)


class _StripTokenRe:
    """The ``re`` module as the official log parsers see it, with one pattern answered directly.

    Every ``mlp_parser.ruleset_*`` module strips a line's prefix with
    ``re.sub(".*:::MLLOG ", ":::MLLOG ", line)``. The leading ``.*`` makes the engine retry from every
    position after the match, which is quadratic in the line length: ~60 us a line, 90% of checking
    a short log. For a line without a newline before its end the result is exactly the text from the
    last token on (``.*`` is greedy and cannot cross a newline, and nothing after the last token can
    match again), which this computes with ``str.rfind``; any other call goes to :mod:`re` unchanged.
    """

    _pattern = ".*" + TOKEN

    def __getattr__(self, name: str) -> Any:
        import re

        return getattr(re, name)

    def sub(self, pattern: Any, repl: Any, string: Any, count: int = 0, flags: int = 0) -> Any:
        import re

        if (
            pattern == self._pattern
            and repl == TOKEN
            and not count
            and not flags
            and isinstance(string, str)
            and "\n" not in string[:-1]
        ):
            i = string.rfind(TOKEN)
            return string if i < 0 else string[i:]
        return re.sub(pattern, repl, string, count=count, flags=flags)


@functools.cache
def _parser_modules() -> list[Any]:
    """The official per-ruleset parser modules (looked up once)."""
    import importlib

    from mlperf_logging.compliance_checker import mlp_parser

    names = [n for n in dir(mlp_parser) if n.startswith("parse_file_")]
    return [importlib.import_module(getattr(mlp_parser, n).__module__) for n in names]


@contextlib.contextmanager
def _quiet_official(cache: bool = True) -> Iterator[None]:
    """Silence the official checker's root-logger output, reset its module-level queue, and let it
    read rule files through :class:`_CachedYaml`, compile rule expressions once and strip line
    prefixes without its quadratic regex (:class:`_StripTokenRe`)."""
    from mlperf_logging.compliance_checker import mlp_compliance

    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    mlp_compliance.enqueued_configs.clear()
    real_yaml = mlp_compliance.yaml
    if cache:
        mlp_compliance.yaml = _CachedYaml()
        # module globals shadow the builtins the checker calls; semantics are unchanged
        mlp_compliance.eval = _cached_eval
        mlp_compliance.exec = _cached_exec
        parsers = _parser_modules()
        for module in parsers:
            module.re = _StripTokenRe()
    try:
        yield
    finally:
        if cache:
            import re

            for module in parsers:
                module.re = re
        mlp_compliance.yaml = real_yaml
        for name in ("eval", "exec"):
            mlp_compliance.__dict__.pop(name, None)
        mlp_compliance.enqueued_configs.clear()
        logging.disable(previous)


def _one_line(message: str) -> str:
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    if not lines:
        return message
    extra = [ln for ln in lines[1:] if ln.startswith("failed test") or ln.startswith(":::MLLOG")]
    head = lines[0]
    if head.startswith("failed test"):
        return head
    return head + (f" ({extra[-1]})" if extra and extra[-1].startswith("failed test") else "")


def warm_up() -> None:
    """Import the official checker and parse the shipped rule files once, so the first run's check
    does not carry one-time start-up costs."""
    from mlperf_logging.compliance_checker import mlp_compliance  # noqa: F401

    from dawn.mlperf.benchmark import RULES_DIR

    cached = _CachedYaml()
    for p in RULES_DIR.glob("*.yaml"):
        with open(p) as fh:
            cached.load(fh)


def check_log(
    path: str | os.PathLike[str],
    *,
    ruleset: str | None = None,
    config: str | None = None,
    strict: bool = True,
) -> CheckResult:
    """Check one log with the official compliance checker.

    Parameters
    ----------
    path : path-like
        The ``:::MLLOG`` file.
    ruleset : str, optional
        Training ruleset (e.g. ``"5.0.0"``) for official benchmark names; default: the newest
        installed ruleset that knows the benchmark.
    config : str, optional
        A rule file to use instead (``--config`` of the official tool).
    strict : bool, default=True
        Treat the official checker's warnings (e.g. an EXACTLY_ONE key repeated with the same value)
        as violations.
    """
    from mlperf_logging.compliance_checker import mlp_compliance

    p = Path(path)
    if not p.is_file():
        raise DawnError(f"no such log file: {p}", "pass an existing :::MLLOG file or a result folder")
    if ruleset is not None and ruleset not in installed_rulesets():
        raise DawnError(f"unknown ruleset {ruleset!r}", f"choose one of {', '.join(installed_rulesets())}")
    # the benchmark name picks the rules; the full line-by-line scan runs only when the log fails,
    # to say which lines the official parser rejected (it only says that some line did)
    bench_value = first_value(p, "submission_benchmark")
    bench = str(bench_value) if bench_value is not None else None
    violations: list[str] = []
    if config is None:
        from dawn.mlperf.benchmark import BENCHMARKS

        if bench in BENCHMARKS and not BENCHMARKS[bench].official:
            config = str(BENCHMARKS[bench].rules)
            ruleset = ruleset or "5.0.0"  # only selects the parser, identical across 4.1-6.1
        else:
            chosen = official_ruleset_for(bench, ruleset) if bench else None
            if bench and chosen is None:
                from mlperf_logging.benchmark_meta import get_allowed_benchmarks

                where = f"ruleset {ruleset}" if ruleset else "any installed ruleset"
                known = get_allowed_benchmarks("training", ruleset or installed_rulesets()[-1])
                msg = f"benchmark {bench!r} is neither a dawn benchmark nor in {where}"
                msg += f" (known: {', '.join(known)})"
                return CheckResult(p, False, bench, ruleset or "", "-", [msg])
            ruleset = chosen or ruleset or installed_rulesets()[-1]
            config = f"training_{ruleset}/common.yaml"
    ruleset = ruleset or "5.0.0"
    checker = mlp_compliance.make_checker("training", ruleset, quiet=False, werror=strict)
    with _quiet_official():
        try:
            checker.check_file(str(p), config)
        except Exception as exc:  # noqa: BLE001 - the official checker crashes on some inputs; report it
            violations.append(f"official checker failed: {type(exc).__name__}: {' '.join(str(exc).split())}")
    messages = [*checker.warnings.values(), *checker.overwritable.values(), *checker.not_overwritable]
    violations += [_one_line(m) for m in messages]
    if violations:
        violations = scan_log(p)[1] + violations
    ok = not violations
    shown = config if config.startswith("training_") else f"dawn rules {Path(config).name}"
    return CheckResult(p, ok, bench, ruleset, shown, violations)


def result_logs(target: str | os.PathLike[str]) -> list[Path]:
    """The logs under ``target``: the file itself, or every ``result_*.txt`` below a folder."""
    p = Path(target)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise DawnError(f"no such file or folder: {p}", "pass a log file or a result folder")
    logs = sorted(p.rglob("result_*.txt"))
    if not logs:
        raise DawnError(f"no result_*.txt logs under {p}", "run `dawn mlperf run BENCH --out DIR` first")
    return logs
