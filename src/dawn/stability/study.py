"""The paper's study rerun offline: two real corpus snapshots, word2vec CBOW, real downstream labels.

Leszczynski et al. (MLSys 2020, sections 3 and 5) train embeddings on Wikipedia 2017 and 2018 over a
grid of dimensions and precisions, measure downstream instability (DI) on sentiment tasks, and
correlate each embedding distance measure with DI. Here the snapshots are the Linux kernel
documentation of Debian's ``linux-doc-6.1`` and ``linux-doc-6.12`` (the same corpus, two releases apart),
the embeddings are gensim CBOW (one worker, fixed seed, deterministic word hashing), the anchors are the
largest dimension at full precision, and the tasks are VADER's labelled sentences (MR and others).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dawn.core.logging import get_logger
from dawn.core.progress import track
from dawn.stability.anchors import Anchors
from dawn.stability.compress import compress_pair
from dawn.stability.downstream import downstream_instability, load_task
from dawn.stability.embedding import Embedding, shared_vocabulary
from dawn.stability.measures import MEASURES, Pair

__all__ = ["StudyConfig", "QUICK", "TINY", "FULL", "run_study", "train_cbow"]

log = get_logger(__name__)


@dataclass(frozen=True)
class StudyConfig:
    """One study grid. The anchors are the largest dimension at 32 bits."""

    corpora: tuple[str, str] = ("linux-doc-6.1", "linux-doc-6.12")
    dims: tuple[int, ...] = (25, 50, 100, 200)
    bits: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    seeds: tuple[int, ...] = (1234, 1235, 1236)
    epochs: int = 5
    window: int = 5
    min_count: int = 5
    top_n: int = 10000
    tasks: tuple[str, ...] = ("mr", "amazon", "kernel-topic")
    doc_fraction: int = 1  # keep documents whose path hash % doc_fraction == 0 (1 = all)
    measures: tuple[str, ...] = field(default_factory=lambda: tuple(MEASURES))


#: CI grid: three dimensions x four precisions, one seed (under three minutes on 2 cores).
QUICK = StudyConfig(dims=(25, 50, 100), bits=(1, 2, 4, 32), seeds=(1234,), epochs=2)
#: Seconds-scale grid on an eighth of the documents, for ``dawn reproduce --quick``.
TINY = StudyConfig(
    dims=(10, 25, 50),
    bits=(1, 2, 4, 32),
    seeds=(1234,),
    epochs=2,
    doc_fraction=8,
    top_n=3000,
    tasks=("mr", "kernel-topic"),
)
#: The paper's protocol at kernel-documentation scale: all six precisions, three seeds (CBOW epochs kept
#: at two so the grid runs in well under an hour on 2 cores).
FULL = StudyConfig(dims=(25, 50, 100, 200), epochs=2)


def _word_hash(s: str) -> int:
    # gensim seeds each word's initial vector with hash(word + seed); Python's str hash is salted per
    # process, so use a fixed hash to make runs reproducible across processes.
    return zlib.crc32(s.encode("utf-8"))


def train_cbow(
    sentences: Sequence[list[str]], dim: int, *, seed: int, epochs: int, window: int = 5, min_count: int = 5
) -> Embedding:
    """Deterministic word2vec CBOW (one worker) as an :class:`Embedding`, words by decreasing count."""
    from gensim.models import Word2Vec

    model = Word2Vec(
        sentences,
        vector_size=dim,
        window=window,
        min_count=min_count,
        sg=0,
        workers=1,
        seed=seed,
        epochs=epochs,
        hashfxn=_word_hash,
    )
    return Embedding.from_keyed_vectors(model.wv)


def _snapshot_sentences(name: str, doc_fraction: int) -> list[list[str]]:
    from dawn import data
    from dawn.data.text import Corpus

    corpus = data.load(name)
    if doc_fraction > 1:
        docs = {k: v for k, v in corpus.documents.items() if zlib.crc32(k.encode()) % doc_fraction == 0}
        corpus = Corpus(corpus.name, docs)
    return list(corpus.sentences())


def run_study(config: StudyConfig = QUICK, *, threads: int | None = 1) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Train, compress, measure and evaluate every configuration; return the per-pair table and timings.

    The table has one row per (seed, dim, bits) with ``memory``, every measure, and for each task
    ``di_<task>`` (percent) and ``acc_<task>`` (mean test accuracy of the two models, percent).
    ``threads`` caps BLAS threads (default one, like the single gensim worker: the many small products
    here lose more to thread synchronisation than they gain, badly so on a shared machine).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads, user_api="blas"):
        return _run_study(config)


def _run_study(config: StudyConfig) -> tuple[pd.DataFrame, dict[str, Any]]:
    t0, c0 = time.perf_counter(), time.process_time()
    sents = [_snapshot_sentences(c, config.doc_fraction) for c in config.corpora]
    tasks = [load_task(t, seed=0) for t in config.tasks]
    info: dict[str, Any] = {"config": asdict(config), "corpus_sentences": [len(s) for s in sents]}
    rows = []
    train_s = 0.0
    for seed in config.seeds:
        t1 = time.perf_counter()
        embs = {
            d: (
                train_cbow(
                    sents[0],
                    d,
                    seed=seed,
                    epochs=config.epochs,
                    window=config.window,
                    min_count=config.min_count,
                ),
                train_cbow(
                    sents[1],
                    d,
                    seed=seed,
                    epochs=config.epochs,
                    window=config.window,
                    min_count=config.min_count,
                ),
            )
            for d in track(config.dims, description=f"training CBOW (seed {seed})")
        }
        train_s += time.perf_counter() - t1
        a_top, t_top = embs[max(config.dims)]
        # all shared words, most frequent (in snapshot 1) first: the downstream models see all of them,
        # the measures the top n (the paper's top 10k)
        words = shared_vocabulary(a_top, t_top)
        top = words[: config.top_n]
        anchors = Anchors(a_top.rows(top), t_top.rows(top)).fit()
        averaging = [t.averaging_matrix(words) for t in tasks]
        for d in config.dims:
            for b in config.bits:
                X, Y, _ = compress_pair(embs[d][0].rows(words), embs[d][1].rows(words), b)
                pair = Pair(X[: config.top_n], Y[: config.top_n], anchors=anchors)
                row: dict[str, Any] = {"seed": seed, "dim": d, "bits": b, "memory": d * b}
                row.update({m: MEASURES[m](pair) for m in config.measures})
                for task, avg in zip(tasks, averaging, strict=True):
                    r = downstream_instability(X, Y, avg, task)
                    row[f"di_{task.name.replace('-', '_')}"] = r["di"]
                    row[f"acc_{task.name.replace('-', '_')}"] = (r["acc_1"] + r["acc_2"]) / 2
                rows.append(row)
        info.setdefault("n_words", []).append(len(words))
        info.setdefault("vocab_sizes", []).append([len(a_top), len(t_top)])
        coverage = [float(np.mean(np.asarray(avg.sum(axis=1)).ravel() > 0)) for avg in averaging]
        info["sentence_coverage"] = dict(zip(config.tasks, coverage, strict=True))
    info["seconds"] = {
        "total": time.perf_counter() - t0,
        "training": train_s,
        "cpu": time.process_time() - c0,
    }
    return pd.DataFrame(rows), info


def summarize(df: pd.DataFrame) -> dict[str, Any]:
    """The issue's checks on a study table: per-task slopes, correlations, selection errors."""
    from dawn.stability.analysis import analyze, memory_slope, tasks_in

    res = analyze(df)
    res["slope_per_task"] = {t: memory_slope([df], [t]) for t in tasks_in(df)}
    return res
