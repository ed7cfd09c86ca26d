"""Progress bars that appear only where a person is watching.

Bars are shown on an interactive terminal, on rank 0 only, unless turned off with ``set_progress(False)``
(the CLI's ``-q``) or ``DAWN_PROGRESS=0``; ``DAWN_PROGRESS=1`` forces them on.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_override: bool | None = None


def set_progress(enabled: bool | None) -> None:
    """Force progress display on (``True``) or off (``False``); ``None`` restores auto-detection."""
    global _override
    _override = enabled


def progress_enabled() -> bool:
    """Whether progress bars are shown now."""
    if _override is not None:
        return _override
    env = os.environ.get("DAWN_PROGRESS")
    if env is not None:
        return env not in ("0", "false", "no", "")
    return sys.stderr.isatty() and os.environ.get("RANK", "0") == "0"


def track(sequence: Iterable[T], description: str = "working", total: int | None = None) -> Iterator[T]:
    """Iterate over ``sequence`` with a rich progress bar when :func:`progress_enabled`."""
    if not progress_enabled():
        yield from sequence
        return
    from rich.progress import track as rich_track

    yield from rich_track(sequence, description=description, total=total, transient=True)
