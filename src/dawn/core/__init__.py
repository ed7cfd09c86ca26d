"""Shared core: errors, seeding, progress, logging, timing, atomic I/O, environment, reports.

The core imports no system package; every system imports it.
"""

from dawn.core.errors import DawnError
from dawn.core.io import (
    atomic_write,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    ensure_writable_dir,
)
from dawn.core.logging import get_logger, setup_logging
from dawn.core.progress import progress_enabled, set_progress, track
from dawn.core.seeding import seed_everything
from dawn.core.timing import Timing, compare, time_call

__all__ = [
    "DawnError",
    "Timing",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "compare",
    "ensure_writable_dir",
    "get_logger",
    "progress_enabled",
    "seed_everything",
    "set_progress",
    "setup_logging",
    "time_call",
    "track",
]
