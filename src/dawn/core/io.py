"""Atomic file writes: results appear whole or not at all."""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from dawn.core.errors import DawnError


def ensure_writable_dir(
    path: str | os.PathLike[str], what: str = "output directory", *, option: str = "--out"
) -> Path:
    """Create ``path`` if needed and check that files can be written in it.

    Raises :class:`DawnError` naming the directory and the fix (another directory, given with the
    command-line ``option``), so a long job fails before it starts rather than after it has computed
    everything.
    """
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=p, prefix=".dawn-write-test-"):
            pass
    except OSError as exc:
        raise DawnError(
            f"cannot write to {what} {str(p)!r} ({exc.strerror or exc})",
            f"choose a writable directory with {option}",
        ) from None
    return p


def _umask() -> int:
    """The process's umask, read without changing it where the system shows it (Linux): setting it
    to read it would change it for every thread meanwhile."""
    with (
        contextlib.suppress(OSError, ValueError, StopIteration),
        open("/proc/self/status", encoding="ascii") as fh,
    ):
        return int(next(line for line in fh if line.startswith("Umask:")).split()[1], 8)
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds.

    A file that exists keeps its permission bits, and a symbolic link stays a link: the file it points
    to is replaced (a ``current.willump`` link to a versioned file, a report kept private with 0600).
    """
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode_bits = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:  # a new file: as any other file the process creates
        mode_bits = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode_bits)  # mkstemp creates 0600 files
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _remove_stale_temporaries(target)


STALE_TEMPORARY_S = 24 * 3600.0


def _remove_stale_temporaries(target: Path) -> None:
    """Remove temporary files of earlier writes of ``target`` that a killed process left behind (a
    SIGKILL skips the cleanup above). Only those a day old: another process may be writing now."""
    cutoff = time.time() - STALE_TEMPORARY_S
    # exactly the names mkstemp gives (8 random letters, digits or _), not another file's
    ours = re.compile(re.escape(f".{target.name}.") + r"[a-z0-9_]{8}" + re.escape(".tmp"))
    try:
        entries = [e for e in os.scandir(target.parent) if ours.fullmatch(e.name)]
    except OSError:  # the directory cannot be listed: nothing to tidy
        return
    for e in entries:
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to remove
            if e.stat(follow_symlinks=False).st_mtime < cutoff and e.is_file(follow_symlinks=False):
                os.unlink(e.path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically; NaN and infinities become ``null``."""
    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n")


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, paths and non-finite floats into plain JSON values."""
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj
