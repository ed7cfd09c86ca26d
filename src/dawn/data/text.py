"""Text: two snapshots of the Linux kernel documentation, the GCIDE dictionary, and labelled sentences.

The kernel documentation in Debian's ``linux-doc-6.1`` and ``linux-doc-6.12`` is a real corpus that
changed between releases, the closest offline analogue of the Wikipedia 2017 vs 2018 dumps used by
the embedding-instability paper. The labelled sentences are VADER's human-rated ground truth
(Hutto & Gilbert, ICWSM 2014), including the MR movie-review snippets (Pang & Lee, 2005).
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dawn.data._artifacts import DICT_GCIDE, LINUX_DOC_6_1, LINUX_DOC_6_12, VADER
from dawn.data.registry import Dataset, register
from dawn.data.sources import extract, read_member

_TOKEN = re.compile(r"[A-Za-z]+")


def tokenize(text: str) -> list[str]:
    """Lower-cased alphabetic tokens: the tokenisation every corpus count in dawn uses."""
    return [t.lower() for t in _TOKEN.findall(text)]


@dataclass
class Corpus:
    """Named documents of raw text.

    Attributes
    ----------
    name : str
    documents : dict of str to str
        Document id (e.g. a path inside the kernel tree) to its text.
    """

    name: str
    documents: dict[str, str]

    def tokens(self) -> Iterator[str]:
        """Every token in document order."""
        for text in self.documents.values():
            yield from tokenize(text)

    def sentences(self, max_len: int = 1000) -> Iterator[list[str]]:
        """Token lists for word2vec: one per paragraph, cut to ``max_len`` (gensim truncates at 10,000)."""
        for text in self.documents.values():
            for para in re.split(r"\n\s*\n", text):
                toks = tokenize(para)
                for i in range(0, len(toks), max_len):
                    if toks[i : i + max_len]:
                        yield toks[i : i + max_len]

    @property
    def n_tokens(self) -> int:
        return sum(len(_TOKEN.findall(t)) for t in self.documents.values())


def _load_linux_doc(paths: list[Path], *, version: str) -> Corpus:
    (deb,) = paths
    prefix = f"usr/share/doc/linux-doc-{version}/Documentation"
    root = extract(deb, prefix, f"linux-doc-{version}") / prefix
    docs = {}
    for p in sorted(root.rglob("*")):
        if p.name.endswith((".rst.gz", ".txt.gz")):
            docs[str(p.relative_to(root))[:-3]] = gzip.decompress(p.read_bytes()).decode("utf-8", "replace")
    return Corpus(f"linux-doc-{version}", docs)


def _load_gcide(paths: list[Path]) -> Corpus:
    (deb,) = paths
    text = gzip.decompress(read_member(deb, "usr/share/dictd/gcide.dict.dz")).decode("utf-8", "replace")
    return Corpus("gcide", {"gcide.dict": text})


def _describe_corpus(c: Corpus) -> dict[str, Any]:
    return {"documents": len(c.documents), "alphabetic_tokens": c.n_tokens}


for _version, _art, _tokens in (("6.1", LINUX_DOC_6_1, "3.80M"), ("6.12", LINUX_DOC_6_12, "4.18M")):
    register(
        Dataset(
            f"linux-doc-{_version}",
            f"Linux {_version} kernel Documentation/ (.rst/.txt): {_tokens} alphabetic tokens",
            loader=lambda paths, _v=_version: _load_linux_doc(paths, version=_v),
            artifacts=(_art,),
            returns="dawn.data.text.Corpus",
            describe=_describe_corpus,
            source=f"Debian package {_art.name} {_art.version}",
            license="GPL-2.0",
            tags=("stability",),
        )
    )
register(
    Dataset(
        "gcide",
        "GNU Collaborative International Dictionary of English: 5.4M tokens of general English",
        loader=_load_gcide,
        artifacts=(DICT_GCIDE,),
        returns="dawn.data.text.Corpus",
        describe=_describe_corpus,
        source=f"Debian package dict-gcide {DICT_GCIDE.version}",
        license="GPL-3.0+",
        tags=("stability",),
    )
)


# --- labelled sentences --------------------------------------------------------------------------

_VADER_SETS = {
    "vader-mr": (
        "movieReviewSnippets",
        "MR movie-review sentences (Pang & Lee) with human sentiment: 10,605",
    ),
    "vader-tweets": ("tweets", "tweets with human sentiment ratings: 4,200"),
    "vader-amazon": ("amazonReviewSnippets", "Amazon product-review sentences with human sentiment: 3,708"),
    "vader-nyt": ("nytEditorialSnippets", "New York Times editorial sentences with human sentiment: 5,190"),
}


def _load_vader(paths: list[Path], *, stem: str) -> Any:
    """DataFrame with ``id``, ``sentiment`` (mean human rating, -4..4), ``text``, ``label`` (1 if > 0)."""
    import pandas as pd

    (sdist,) = paths
    inner = read_member(sdist, "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(inner)) as t:
        fh = t.extractfile(f"hutto_ICWSM_2014/{stem}_GroundTruth.txt")
        assert fh is not None
        raw = fh.read().decode("latin-1")
    rows = []
    for line in raw.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[1].strip():
            rows.append((parts[0].strip(), float(parts[1]), "\t".join(parts[2:]).strip()))
    df = pd.DataFrame(rows, columns=["id", "sentiment", "text"])
    df["label"] = (df["sentiment"] > 0).astype("int64")
    return df


def _describe_sentences(df: Any) -> dict[str, Any]:
    return {
        "rows": len(df),
        "positive": int((df["sentiment"] > 0).sum()),
        "negative": int((df["sentiment"] < 0).sum()),
        "columns": list(df.columns),
    }


for _name, (_stem, _summary) in _VADER_SETS.items():
    register(
        Dataset(
            _name,
            _summary,
            loader=lambda paths, _s=_stem: _load_vader(paths, stem=_s),
            artifacts=(VADER,),
            returns="pandas.DataFrame",
            describe=_describe_sentences,
            source="PyPI vaderSentiment==3.3.2 sdist, additional_resources/hutto_ICWSM_2014.tar.gz",
            license="MIT",
            tags=("willump", "stability", "assertions"),
        )
    )
