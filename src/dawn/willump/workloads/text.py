"""*text*: sentiment of VADER sentences with word TF-IDF, character n-gram TF-IDF and sentence embeddings.

Stands in for the paper's Toxic and Product workloads (TF-IDF groups with a linear model): word
TF-IDF is cheap, character 2-5-gram TF-IDF is several times dearer, and the optional MiniLM sentence
embedding (``text-embed``) is dearer by orders of magnitude.
"""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any

import numpy as np

from dawn.willump.pipeline import Pipeline
from dawn.willump.workloads import Workload, split_indices


def _sentences(names: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
    import pandas as pd

    from dawn import data

    df = pd.concat([data.load(n)[["text", "label"]] for n in names], ignore_index=True)
    return [str(t) for t in df["text"]], df["label"].to_numpy()


class MiniLMEmbedding:
    """Sentence embeddings from the offline all-MiniLM-L6-v2 model (a feature group; loads lazily)."""

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                from dawn.core.errors import DawnError

                raise DawnError(
                    "sentence-transformers is not installed", "pip install 'dawn[embed]'"
                ) from exc
            from dawn import data

            self._model = SentenceTransformer(str(data.load("all-minilm-l6-v2")), device="cpu")
        return self._model

    def __call__(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._load().encode(list(texts), batch_size=self.batch_size))

    def __getstate__(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "_model": None}


def cached_embeddings(embed: MiniLMEmbedding, texts: list[str]) -> np.ndarray:
    """``embed(texts)``, memoised on disk under the dawn cache (build time only, never a timed path).

    Fitting the user's model and the small models needs the embeddings of thousands of training and
    validation sentences, ~30 ms each on two cores; caching them keeps repeated benchmark runs in
    minutes. Serving and every timed measurement call the encoder for real.
    """
    from dawn.core.io import atomic_write_bytes
    from dawn.data.sources import data_dir

    key = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:24]
    path = data_dir() / "willump" / f"minilm-{key}.npy"
    if path.is_file():
        try:
            return np.load(path)
        except (OSError, ValueError):
            pass  # a corrupt cache entry is recomputed and rewritten
    out = embed(texts)
    buf = io.BytesIO()
    np.save(buf, out)
    atomic_write_bytes(path, buf.getvalue())
    return out


def _build(*, embed: bool, quick: bool, seed: int) -> Workload:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    names = ("vader-mr",) if embed else ("vader-mr", "vader-tweets", "vader-amazon", "vader-nyt")
    texts, y = _sentences(names)
    if quick:
        keep = np.random.default_rng(seed).permutation(len(texts))[:4000]
        texts, y = [texts[i] for i in keep], y[keep]
    # text: 35% trains, 45% validates (a fifth selects, the rest certifies: the bound needs thousands
    # of rows), 20% tests. text-embed: a third of MR trains, 60% validates and a
    # 500-sentence test split is timed (the encoder costs tens of ms per sentence on two cores).
    tr, va, te = split_indices(len(texts), (0.33, 0.6) if embed else (0.35, 0.45), seed)
    if embed:
        te = te[:500]
    train = [texts[i] for i in tr]
    word = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(train)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True,
                           max_features=100_000).fit(train)  # fmt: skip
    groups: dict[str, Any] = {"word": word, "char": char}
    val = [texts[i] for i in va]
    blocks_train = blocks_val = None
    if embed:
        enc = MiniLMEmbedding()
        groups["embed"] = enc
        pipe = Pipeline(groups, LogisticRegression(C=4.0, max_iter=1000))
        blocks_train = {**pipe.compute(train, ["word", "char"]), "embed": cached_embeddings(enc, train)}
        blocks_val = {**pipe.compute(val, ["word", "char"]), "embed": cached_embeddings(enc, val)}
        pipe.model.fit(pipe.assemble(blocks_train), y[tr])
    else:
        pipe = Pipeline(groups, LogisticRegression(C=4.0, max_iter=500))
        pipe.model.fit(pipe.transform(train), y[tr])
    return Workload(
        "text-embed" if embed else "text",
        pipe,
        val, y[va],
        [texts[i] for i in te], y[te],
        "accuracy",
        f"VADER sentences ({', '.join(names)}), {len(texts)} rows; groups {list(groups)}; "
        "logistic regression",
        X_train=train, y_train=y[tr], blocks_train=blocks_train, blocks_val=blocks_val, topk=not embed,
    )  # fmt: skip


def build(*, quick: bool = False, seed: int = 0, redis_url: str | None = None) -> Workload:
    return _build(embed=False, quick=quick, seed=seed)


def build_embed(*, quick: bool = False, seed: int = 0, redis_url: str | None = None) -> Workload:
    return _build(embed=True, quick=quick, seed=seed)
