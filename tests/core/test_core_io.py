import json
import math
import os

import numpy as np
import pytest

from dawn.core.errors import DawnError
from dawn.core.io import atomic_write, atomic_write_json, ensure_writable_dir, to_jsonable


def test_atomic_write_leaves_old_file_when_block_fails(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as fh:
        fh.write("half-written")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temporary left behind


def test_atomic_write_json_converts_numpy_and_nonfinite(tmp_path):
    p = atomic_write_json(tmp_path / "x.json", {"a": np.float32(1.5), "b": np.arange(3), "c": math.nan})
    assert json.loads(p.read_text()) == {"a": 1.5, "b": [0, 1, 2], "c": None}
    assert oct(os.stat(p).st_mode & 0o777) != oct(0o600)  # readable like any other result file


def test_ensure_writable_dir_names_the_problem(tmp_path):
    with pytest.raises(DawnError, match="cannot write to output directory '/proc/x'"):
        ensure_writable_dir("/proc/x")
    assert ensure_writable_dir(tmp_path / "new" / "dir").is_dir()


def test_to_jsonable_nested():
    assert to_jsonable({1: (np.int64(2), [np.inf])}) == {"1": [2, [None]]}


def test_atomic_write_keeps_an_existing_files_mode_and_writes_through_a_link(tmp_path):
    """A file kept private (0600) stays private when rewritten; a link to a versioned file stays a
    link, and the file it points to gets the new content. A new file takes the umask's mode."""
    import os
    import stat

    private = tmp_path / "private.json"
    atomic_write_json(private, {"v": 1})
    assert stat.S_IMODE(private.stat().st_mode) == 0o666 & ~_current_umask()
    private.chmod(0o600)
    atomic_write_json(private, {"v": 2})
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    real = tmp_path / "plan-v1.json"
    real.write_text("{}")
    link = tmp_path / "current.json"
    link.symlink_to(real.name)
    atomic_write_json(link, {"v": 3})
    assert link.is_symlink() and os.readlink(link) == real.name
    assert '"v": 3' in real.read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def _current_umask() -> int:
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_a_write_removes_temporaries_a_killed_write_left_a_day_ago(tmp_path):
    import os
    import time

    target = tmp_path / "plan.willump"
    stale = tmp_path / ".plan.willump.abc12_89.tmp"  # what a SIGKILL mid-write leaves (mkstemp's 8)
    fresh = tmp_path / ".plan.willump.def45678.tmp"  # another process writing right now
    others = [
        tmp_path / ".other.json.xyz12345.tmp",  # another target's
        tmp_path / ".plan.willump.json.abcd1234.tmp",  # the target "plan.willump.json"'s
        tmp_path / ".plan.willump.mine.tmp",  # not a name mkstemp gives
    ]
    for p in (stale, fresh, *others):
        p.write_bytes(b"partial")
    day_ago = time.time() - 25 * 3600
    for p in (stale, *others):
        os.utime(p, (day_ago, day_ago))
    with atomic_write(target) as fh:
        fh.write("whole")
    assert target.read_text() == "whole"
    assert not stale.exists() and fresh.exists() and all(p.exists() for p in others)
