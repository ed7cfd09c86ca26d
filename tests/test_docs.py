"""The user guides in ``docs/`` run as written: every ```python block of a guide, in order, in one
namespace per guide (blocks fenced as ```python no-run are shown, not run: they need a server or
minutes of data)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
_BLOCK = re.compile(r"^```python( no-run)?[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def blocks(path: Path) -> list[str]:
    """The guide's runnable python blocks, in order."""
    return [code for skip, code in _BLOCK.findall(path.read_text()) if not skip]


def test_every_guide_has_runnable_examples() -> None:
    guides = sorted(DOCS.glob("*.md"))
    assert guides, "docs/ has no guides"
    for guide in guides:
        assert blocks(guide), f"{guide.name} has no runnable python block"


@pytest.mark.parametrize("guide", sorted(DOCS.glob("*.md")), ids=lambda p: p.stem)
def test_guide_examples_run(guide: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    namespace: dict[str, object] = {"__name__": f"docs_{guide.stem}"}
    for i, code in enumerate(blocks(guide)):
        try:
            # dont_inherit: a guide runs as its reader would, without this file's __future__ imports
            exec(compile(code, f"{guide.name}[block {i + 1}]", "exec", dont_inherit=True), namespace)
        except Exception as exc:  # name the block, so the guide is easy to fix
            raise AssertionError(f"{guide.name}, python block {i + 1} failed: {exc!r}") from exc
