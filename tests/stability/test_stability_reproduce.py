"""The ``dawn reproduce`` section for stability, quick mode."""

from __future__ import annotations

import pytest

from dawn.reproduce import ReproduceContext


@pytest.mark.slow
@pytest.mark.data
def test_reproduce_quick(tmp_path):
    from dawn.stability.reproduce import run

    section = run(ReproduceContext(quick=True, seed=0, out_dir=tmp_path))
    assert section.status == "ok"
    names = [h.name for h in section.headlines]
    slope = section.headlines[names.index("DI slope per doubling of memory (MC+CBOW, 5 tasks)")]
    assert slope.ours == pytest.approx(-1.37, abs=0.005)
    assert section.figures and (tmp_path / "study.csv").is_file()
