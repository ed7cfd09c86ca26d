"""Logging for dawn: one ``dawn`` logger tree, rich output on a terminal, plain lines elsewhere."""

from __future__ import annotations

import logging
import os
import sys

_CONFIGURED = False


def get_logger(name: str) -> logging.Logger:
    """The logger for a dawn module (pass ``__name__``); children of the ``dawn`` logger."""
    return logging.getLogger(name if name.startswith("dawn") else f"dawn.{name}")


def setup_logging(verbosity: int = 0) -> None:
    """Configure the ``dawn`` logger: ``-1`` warnings only, ``0`` info, ``1`` or more debug.

    Under ``torch.distributed`` only rank 0 logs at info; other ranks log warnings and prefix ``[RANK r]``.
    """
    global _CONFIGURED
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    rank = int(os.environ.get("RANK", "0"))
    if rank != 0:
        level = max(level, logging.WARNING)
    root = logging.getLogger("dawn")
    root.setLevel(level)
    if _CONFIGURED:
        return
    handler: logging.Handler
    if sys.stderr.isatty():
        from rich.logging import RichHandler

        handler = RichHandler(show_path=False, rich_tracebacks=False)
        fmt = "%(message)s"
    else:
        handler = logging.StreamHandler(sys.stderr)
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    if rank != 0:
        fmt = f"[RANK {rank}] {fmt}"
    handler.setFormatter(logging.Formatter(fmt, datefmt="%H:%M:%S"))
    root.addHandler(handler)
    root.propagate = False
    _CONFIGURED = True
