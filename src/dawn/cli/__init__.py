"""The ``dawn`` command line: ``dawn <group> <verb>``, one module per command group.

Each group module defines ``register(subparsers)``, which adds its parser and sets ``func`` on each
verb. Errors caused by input or environment (:class:`~dawn.core.errors.DawnError`, missing files,
permissions) print one line and exit with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from dawn import __version__

#: Command groups in ``--help`` order. A system's group appears once its module exists.
GROUPS = ("data", "env", "reproduce", "willump", "assertions", "stability", "roc", "mlperf")


def seed_value(text: str) -> int:
    """``--seed``: a whole number from 0 to 2**32 - 1 (what numpy's seeding takes)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..4294967295")
    return value


def add_common_options(parser: argparse.ArgumentParser, *, out: str | None = None) -> None:
    """The options every job verb takes: ``--seed``, ``--out``, ``--format``, ``-q``/``-v``."""
    parser.add_argument("--seed", type=seed_value, default=0, help="random seed (default: 0)")
    if out is not None:
        parser.add_argument("--out", default=out, help=f"output directory (default: {out})")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dawn",
        description="Stanford DAWN MLSys 2020 systems as a toolkit: "
        "willump, assertions, stability, roc, mlperf.",
    )
    parser.add_argument("--version", action="version", version=f"dawn {__version__}")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="less output, no progress bars")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more output (debug logs)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="group", metavar="<group>")
    for group in GROUPS:
        name = f"dawn.cli.{group}"
        if importlib.util.find_spec(name) is not None:  # a system's group appears once it exists
            importlib.import_module(name).register(sub)
    for verb in _verb_parsers(parser):
        _add_output_options(verb)
    return parser


def _verb_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers that end a command line (``dawn willump bench``, ``dawn reproduce``), found by
    walking the subcommand tree."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [parser]
    children = dict.fromkeys(c for a in subs for c in a.choices.values())  # aliases share a parser
    return [leaf for child in children for leaf in _verb_parsers(child)]


def _add_output_options(verb: argparse.ArgumentParser) -> None:
    """``-q``/``-v``/``--debug`` after the verb as well as before the group (``dawn willump bench -q``).

    Their own destinations, added to the top-level ones in :func:`main`: argparse lets a subcommand's
    namespace overwrite its parent's, so sharing ``quiet`` would drop a ``-q`` given before the group.
    """
    opts = verb.add_argument_group("output")
    opts.add_argument("-q", "--quiet", dest="verb_quiet", action="count", default=0, help="less output")
    opts.add_argument("-v", "--verbose", dest="verb_verbose", action="count", default=0, help="more output")
    opts.add_argument("--debug", dest="verb_debug", action="store_true", help="show tracebacks")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dawn`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from dawn.core.logging import setup_logging
    from dawn.core.progress import set_progress

    args.quiet += getattr(args, "verb_quiet", 0)
    args.verbose += getattr(args, "verb_verbose", 0)
    args.debug = args.debug or getattr(args, "verb_debug", False)
    setup_logging(args.verbose - args.quiet)
    if args.quiet:
        set_progress(False)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if args.debug:
        return int(args.func(args) or 0)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("dawn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # one line, never a traceback: --debug shows it
        return _report_error(exc)


def _report_error(exc: BaseException) -> int:
    from dawn.core.errors import DawnError

    if isinstance(exc, DawnError):
        print(f"dawn: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    if isinstance(exc, FileNotFoundError):
        print(f"dawn: error: no such file: {exc.filename}; check the path", file=sys.stderr)
        return 2
    if isinstance(exc, PermissionError | IsADirectoryError | NotADirectoryError):
        print(
            f"dawn: error: cannot access {exc.filename} ({exc.strerror}); check the path and permissions",
            file=sys.stderr,
        )
        return 2
    if isinstance(exc, OSError | ValueError):
        msg = " ".join(str(exc).split()) or type(exc).__name__
        print(f"dawn: error: {msg}; rerun with --debug for details", file=sys.stderr)
        return 2
    msg = " ".join(str(exc).split())
    print(
        f"dawn: internal error: {type(exc).__name__}: {msg}; rerun with --debug and report it",
        file=sys.stderr,
    )
    return 1
