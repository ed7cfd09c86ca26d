"""The dataset registry: each entry is a small recipe from a pinned source to a typed object.

A :class:`Dataset` names its artifacts (pinned, checksummed downloads), a loader that turns the cached
files into the object users work with (a pandas DataFrame, a PyG ``Data``, a :class:`~dawn.data.text.Corpus`,
arrays, a gensim ``KeyedVectors``), and a ``describe`` that computes the facts ``dawn data info`` prints
from the real files.
"""

from __future__ import annotations

import difflib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dawn.core.errors import DawnError
from dawn.data.sources import Artifact, fetch

_REGISTRY: dict[str, Dataset] = {}


@dataclass(frozen=True)
class Dataset:
    """A registered dataset.

    Parameters
    ----------
    name : str
        Registry key, lower-case with hyphens (``"cora"``, ``"linux-doc-6.1"``).
    summary : str
        One line: what it is and how big.
    returns : str
        The type :meth:`load` returns.
    loader : callable
        ``loader(paths, **kwargs)`` with the fetched artifacts' local paths, in order.
    artifacts : tuple of Artifact
        Pinned downloads; empty for data inside an installed package or bundled with dawn.
    source : str
        Where it comes from, for people.
    license : str
        The licence of the data itself.
    requires : tuple of (module, extra)
        Importable modules the loader needs and the dawn extra that installs them.
    describe : callable, optional
        ``describe(obj) -> dict`` of facts computed from the loaded object.
    """

    name: str
    summary: str
    returns: str
    loader: Callable[..., Any]
    artifacts: tuple[Artifact, ...] = ()
    source: str = ""
    license: str = ""
    requires: tuple[tuple[str, str], ...] = ()
    describe: Callable[[Any], dict[str, Any]] | None = None
    tags: tuple[str, ...] = field(default=())

    @property
    def download_bytes_hint(self) -> str:
        return ", ".join(a.filename for a in self.artifacts) or "none (installed or bundled)"

    def is_cached(self) -> bool:
        return all(a.is_cached() for a in self.artifacts)

    def check_requirements(self) -> None:
        for module, extra in self.requires:
            if importlib.util.find_spec(module) is None:
                raise DawnError(
                    f"dataset {self.name!r} needs the Python module {module!r}",
                    f"install it with `pip install 'dawn[{extra}]'`",
                )

    def fetch(self) -> list[Path]:
        """Download (once) and verify every artifact; return their local paths."""
        return [fetch(a) for a in self.artifacts]

    def load(self, **kwargs: Any) -> Any:
        """Fetch if needed, then parse into the documented type."""
        self.check_requirements()
        return self.loader(self.fetch(), **kwargs)


def register(dataset: Dataset) -> Dataset:
    """Add ``dataset`` to the registry (names are unique)."""
    if dataset.name in _REGISTRY:
        raise ValueError(f"dataset {dataset.name!r} is registered twice")
    _REGISTRY[dataset.name] = dataset
    return dataset


def get(name: str) -> Dataset:
    """The registered dataset called ``name``; a :class:`DawnError` with suggestions otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise DawnError(
            f"unknown dataset {name!r}", f"{hint}run `dawn data list` to see the registered names"
        ) from None


def names() -> list[str]:
    """Registered dataset names, sorted."""
    return sorted(_REGISTRY)


def load(name: str, **kwargs: Any) -> Any:
    """Load the dataset called ``name`` (fetching it once); see ``dawn data list``."""
    return get(name).load(**kwargs)


def info(name: str) -> dict[str, Any]:
    """Facts about a dataset, computed from its real files (fetches and loads it)."""
    ds = get(name)
    obj = ds.load()
    facts = ds.describe(obj) if ds.describe else {}
    return {
        "name": ds.name,
        "summary": ds.summary,
        "returns": ds.returns,
        "source": ds.source,
        "license": ds.license,
        "artifacts": [
            {"file": a.filename, "version": a.version, "sha256": a.sha256, "cached_at": str(a.path)}
            for a in ds.artifacts
        ],
        **facts,
    }
