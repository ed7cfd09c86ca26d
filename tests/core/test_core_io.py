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
