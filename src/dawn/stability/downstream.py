"""Downstream tasks with real labels and the downstream instability (DI) between two embeddings.

Leszczynski et al. (MLSys 2020, section 2) define DI as the percentage of test predictions that differ
between two downstream models sharing data, hyperparameters and seed and differing only in the
embedding. Their sentiment models average frozen word vectors into a linear layer; here the linear
model is deterministic (closed-form ridge classification by default, the least-squares model that
motivates EIS; or L2-regularised logistic regression), so DI reflects the embedding change alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dawn.core.errors import DawnError

__all__ = ["Task", "load_task", "TASKS", "downstream_instability"]

#: Task name -> dawn.data dataset with ``text`` and binary ``label`` columns.
TASKS = {
    "mr": "vader-mr",
    "amazon": "vader-amazon",
    "nyt": "vader-nyt",
    "tweets": "vader-tweets",
    "kernel-topic": "linux-doc-6.1",
}

#: Top-level kernel Documentation directories used as the labels of the ``kernel-topic`` task.
KERNEL_TOPICS = ("devicetree", "admin-guide", "networking", "driver-api", "userspace-api", "filesystems")


@dataclass
class Task:
    """Tokenised sentences with labels and a fixed train/test split."""

    name: str
    tokens: list[list[str]]
    labels: np.ndarray
    train: np.ndarray
    test: np.ndarray

    def averaging_matrix(self, words: Sequence[str]) -> Any:
        """Sparse (n_sentences x n_words) matrix whose product with vectors averages in-vocabulary tokens."""
        from scipy.sparse import csr_matrix

        index = {w: i for i, w in enumerate(words)}
        rows, cols, vals = [], [], []
        for r, toks in enumerate(self.tokens):
            ids = [index[t] for t in toks if t in index]
            for c in ids:
                rows.append(r)
                cols.append(c)
                vals.append(1.0 / len(ids))
        return csr_matrix((vals, (rows, cols)), shape=(len(self.tokens), len(words)))


def load_task(name: str, *, seed: int = 0, test_fraction: float = 0.3) -> Task:
    """A labelled sentence set from ``dawn.data`` with a seeded stratification-free split."""
    from dawn import data

    if name not in TASKS:
        raise DawnError(f"unknown downstream task {name!r}", f"choose from {', '.join(TASKS)}")
    if name == "kernel-topic":
        tokens, labels = _kernel_topic(seed)
    else:
        df = data.load(TASKS[name])
        tokens = [data.tokenize(t) for t in df["text"]]
        labels = df["label"].to_numpy(np.int64)
    perm = np.random.default_rng(seed).permutation(len(labels))
    n_test = int(round(test_fraction * len(labels)))
    return Task(name, tokens, labels, np.sort(perm[n_test:]), np.sort(perm[:n_test]))


def _kernel_topic(
    seed: int, per_class: int = 1000, min_tokens: int = 10
) -> tuple[list[list[str]], np.ndarray]:
    """Paragraphs of the 6.1 kernel documentation labelled by their top-level directory (6 classes).

    A real-label task in the corpora's own domain, where the embeddings carry the signal (the VADER
    sentiment sets share little vocabulary with kernel documentation).
    """
    import re

    from dawn import data

    corpus = data.load("linux-doc-6.1")
    by_topic: dict[str, list[list[str]]] = {t: [] for t in KERNEL_TOPICS}
    for path, text in corpus.documents.items():
        top = path.split("/")[0]
        if top in by_topic:
            by_topic[top].extend(
                t for p in re.split(r"\n\s*\n", text) if len(t := data.tokenize(p)) >= min_tokens
            )
    rng = np.random.default_rng(seed)
    tokens: list[list[str]] = []
    labels: list[int] = []
    for label, topic in enumerate(KERNEL_TOPICS):
        paras = by_topic[topic]
        for i in np.sort(rng.choice(len(paras), size=min(per_class, len(paras)), replace=False)):
            tokens.append(paras[i])
            labels.append(label)
    return tokens, np.asarray(labels, dtype=np.int64)


def _fit_predict(features: np.ndarray, task: Task, C: float, model_name: str) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression, RidgeClassifier
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(features[task.train])
    if model_name == "ridge":
        model: Any = RidgeClassifier(alpha=1.0 / C)
    elif model_name == "logistic":
        model = LogisticRegression(C=C, max_iter=2000)
    else:
        raise DawnError(f"unknown downstream model {model_name!r}", "use 'ridge' or 'logistic'")
    model.fit(scaler.transform(features[task.train]), task.labels[task.train])
    return np.asarray(model.predict(scaler.transform(features[task.test])))


def downstream_instability(
    X: np.ndarray, Y: np.ndarray, averaging: Any, task: Task, *, C: float = 1.0, model: str = "ridge"
) -> dict[str, float]:
    """DI (percent of differing test predictions) and both models' test accuracies (percent).

    Parameters
    ----------
    X, Y : ndarray of shape (n_words, d)
        The two embeddings over the words of ``averaging``'s columns.
    averaging : sparse matrix from :meth:`Task.averaging_matrix`
    model : {"ridge", "logistic"}, default="ridge"
    """
    fx = np.asarray(averaging @ np.asarray(X, dtype=np.float64))
    fy = np.asarray(averaging @ np.asarray(Y, dtype=np.float64))
    px, py = _fit_predict(fx, task, C, model), _fit_predict(fy, task, C, model)
    truth = task.labels[task.test]
    return {
        "di": 100.0 * float(np.mean(px != py)),
        "acc_1": 100.0 * float(np.mean(px == truth)),
        "acc_2": 100.0 * float(np.mean(py == truth)),
    }
