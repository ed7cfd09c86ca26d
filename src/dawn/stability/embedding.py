"""Word embeddings on disk and in memory: one reader for the formats people actually have.

Leszczynski et al., "Understanding the Downstream Instability of Word Embeddings", MLSys 2020, compare
pairs of embeddings over their shared vocabulary. The original code reads only text files, into Python
lists of float64, and takes "the top n words" to be the first n lines of a file. Here vectors are stored
as float32 (memory-mapped for ``.npy``), arithmetic is done in float64 by the measures, and "top n" can
follow an explicit frequency list.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dawn.core.errors import DawnError

__all__ = ["Embedding", "load_embedding", "save_embedding", "shared_vocabulary", "align_pair"]

FORMATS = ("w2v-text", "w2v-binary", "glove-text", "npy", "npz", "kv")


@dataclass
class Embedding:
    """A vocabulary and its vectors, row ``i`` belonging to ``words[i]``.

    Parameters
    ----------
    words : list of str
        The vocabulary, in file order (often, but not necessarily, by decreasing frequency).
    vectors : ndarray of shape (n_words, dim)
        float32 storage (possibly a read-only memory map); measures convert blocks to float64.
    """

    words: list[str]
    vectors: np.ndarray
    _index: dict[str, int] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2:
            raise DawnError(
                f"embedding vectors must be a 2-D matrix, got shape {self.vectors.shape}",
                "pass an array of shape (n_words, dim)",
            )
        if len(self.words) != self.vectors.shape[0]:
            raise DawnError(
                f"{len(self.words)} words but {self.vectors.shape[0]} vectors",
                "give exactly one vocabulary entry per row",
            )
        if self.vectors.dtype != np.float32 and not isinstance(self.vectors, np.memmap):
            self.vectors = np.asarray(self.vectors, dtype=np.float32)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    @property
    def index(self) -> dict[str, int]:
        """Word -> row (built once; the first occurrence wins if a file repeats a word)."""
        if self._index is None:
            idx: dict[str, int] = {}
            for i, w in enumerate(self.words):
                idx.setdefault(w, i)
            self._index = idx
        return self._index

    def rows(self, words: Sequence[str]) -> np.ndarray:
        """The float32 vectors of ``words`` (all must be present), in that order."""
        idx = self.index
        return np.asarray(self.vectors[[idx[w] for w in words]], dtype=np.float32)

    @classmethod
    def from_keyed_vectors(cls, kv: Any) -> Embedding:
        """Wrap a gensim ``KeyedVectors`` (no copy if it is already float32)."""
        return cls(list(kv.index_to_key), np.asarray(kv.vectors, dtype=np.float32))

    def to_keyed_vectors(self) -> Any:
        """This embedding as a gensim ``KeyedVectors``."""
        from gensim.models import KeyedVectors

        kv = KeyedVectors(self.dim)
        kv.add_vectors(self.words, np.asarray(self.vectors))
        return kv

    def check_finite(self, name: str = "embedding") -> None:
        """Raise :class:`DawnError` if any vector holds NaN or inf (checked in blocks)."""
        for start in range(0, len(self), 65536):
            block = np.asarray(self.vectors[start : start + 65536])
            if not np.isfinite(block).all():
                bad = start + int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
                raise DawnError(
                    f"{name} has a NaN or infinite value in the vector of {self.words[bad]!r} (row {bad})",
                    "fix or drop the non-finite vectors before comparing",
                )


def _detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return "npy"
    if suffix == ".npz":
        return "npz"
    if suffix in (".kv", ".model"):
        return "kv"
    if suffix == ".bin":
        return "w2v-binary"
    with open(path, "rb") as fh:
        head = fh.readline()
    try:
        first = head.decode("utf-8").split()
    except UnicodeDecodeError:
        return "w2v-binary"
    if len(first) == 2 and all(t.isdigit() for t in first):
        return "w2v-text"  # "n_words dim" header; binary files are told apart by .bin or decode errors
    return "glove-text"


def _read_text(path: Path, header: bool, limit: int | None) -> Embedding:
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim: int | None = None
    with open(path, encoding="utf-8", errors="replace") as fh:
        if header:
            first = fh.readline().split()
            if len(first) != 2:
                raise DawnError(
                    f"{path}: the first line is not a 'n_words dim' header", "use --format glove-text"
                )
            dim = int(first[1])
        for lineno, line in enumerate(fh, start=2 if header else 1):
            parts = line.rstrip("\n").rstrip(" ").split(" ")
            if len(parts) < 2:
                continue
            if dim is None:
                dim = len(parts) - 1
            # words may contain spaces in some dumps, so only too few fields is an error
            if len(parts) < dim + 1:
                raise DawnError(
                    f"{path}:{lineno}: {len(parts) - 1} numbers where {dim} were expected",
                    "the file is truncated or not an embedding text file",
                )
            words.append(" ".join(parts[:-dim]))
            try:
                rows.append(np.array(parts[-dim:], dtype=np.float32))
            except ValueError:
                raise DawnError(
                    f"{path}:{lineno}: a vector value is not a number", "check the file"
                ) from None
            if limit is not None and len(words) >= limit:
                break
    if not words or dim is None:
        raise DawnError(f"{path} holds no vectors", "check the path and the format")
    return Embedding(words, np.vstack(rows))


def _read_w2v_binary(path: Path, limit: int | None) -> Embedding:
    with open(path, "rb") as fh:
        header = fh.readline().split()
        if len(header) != 2:
            raise DawnError(f"{path}: no 'n_words dim' header", "is this a word2vec binary file?")
        n, dim = int(header[0]), int(header[1])
        if limit is not None:
            n = min(n, limit)
        words: list[str] = []
        out = np.empty((n, dim), dtype=np.float32)
        nbytes = 4 * dim
        for i in range(n):
            chars = bytearray()
            while True:
                c = fh.read(1)
                if not c:
                    raise DawnError(
                        f"{path} is truncated: expected {n} vectors, found {i}",
                        "re-download or re-export the file",
                    )
                if c == b" ":
                    break
                if c != b"\n":
                    chars.extend(c)
            words.append(chars.decode("utf-8", errors="replace"))
            buf = fh.read(nbytes)
            if len(buf) != nbytes:
                raise DawnError(
                    f"{path} is truncated in the vector of word {i} ({words[-1]!r})",
                    "re-download or re-export the file",
                )
            out[i] = np.frombuffer(buf, dtype="<f4")
    return Embedding(words, out)


def _read_vocab(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        # a vocab file may carry counts ("word 1234"): the word is the first field
        return [line.rstrip("\n").split(" ")[0] for line in fh if line.strip()]


def load_embedding(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    vocab: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    mmap: bool = True,
) -> Embedding:
    """Read an embedding file.

    Parameters
    ----------
    path : path-like
        word2vec text (``n dim`` header) or binary (``.bin``), GloVe text (no header), gensim
        ``KeyedVectors`` (``.kv``), or ``.npy`` / ``.npz`` (then ``vocab`` or, for ``.npz``, a ``words``
        array gives the words).
    format : {"w2v-text", "w2v-binary", "glove-text", "npy", "npz", "kv"}, optional
        Detected from the suffix and first line when omitted.
    vocab : path-like, optional
        One word per line (first field), for ``.npy`` / ``.npz``.
    limit : int, optional
        Read only the first ``limit`` vectors (text and binary formats).
    mmap : bool, default=True
        Memory-map ``.npy`` float32 files instead of reading them.
    """
    p = Path(path)
    if not p.is_file():
        raise DawnError(f"embedding file {str(p)!r} does not exist", "check the path")
    fmt = format or _detect_format(p)
    if fmt not in FORMATS:
        raise DawnError(f"unknown embedding format {fmt!r}", f"choose one of {', '.join(FORMATS)}")
    if fmt == "w2v-text":
        emb = _read_text(p, header=True, limit=limit)
    elif fmt == "glove-text":
        emb = _read_text(p, header=False, limit=limit)
    elif fmt == "w2v-binary":
        emb = _read_w2v_binary(p, limit)
    elif fmt == "kv":
        from gensim.models import KeyedVectors

        emb = Embedding.from_keyed_vectors(KeyedVectors.load(str(p)))
    else:
        if fmt == "npy":
            try:
                arr = np.load(p, mmap_mode="r" if mmap else None)
            except ValueError as exc:
                raise DawnError(
                    f"{p} is not a readable .npy file ({exc})", "re-export it with numpy.save"
                ) from None
            words_arr = None
        else:
            with np.load(p, allow_pickle=False) as z:
                key = "vectors" if "vectors" in z else z.files[0]
                arr = z[key]
                words_arr = z["words"].tolist() if "words" in z else None
        if vocab is not None:
            words = _read_vocab(Path(vocab))
        elif words_arr is not None:
            words = [str(w) for w in words_arr]
        else:
            raise DawnError(f"{p} has no vocabulary", "pass a vocab file (one word per line) with --vocab")
        if arr.dtype != np.float32:
            arr = np.asarray(arr, dtype=np.float32)
        if limit is not None:
            arr, words = arr[:limit], words[:limit]
        emb = Embedding(words, arr)
    return emb


def save_embedding(emb: Embedding, path: str | os.PathLike[str], *, format: str | None = None) -> Path:
    """Write ``emb`` atomically; the format follows the suffix (``.npy`` also writes ``.vocab``)."""
    from dawn.core.io import atomic_write, atomic_write_text

    p = Path(path)
    fmt = format or {".npy": "npy", ".npz": "npz", ".bin": "w2v-binary"}.get(p.suffix.lower(), "w2v-text")
    vec = np.asarray(emb.vectors, dtype=np.float32)
    if fmt == "npy":
        with atomic_write(p, "wb") as fh:
            np.save(fh, vec)
        atomic_write_text(p.with_suffix(".vocab"), "".join(w + "\n" for w in emb.words))
    elif fmt == "npz":
        with atomic_write(p, "wb") as fh:
            np.savez(fh, vectors=vec, words=np.array(emb.words))
    elif fmt == "w2v-binary":
        with atomic_write(p, "wb") as fh:
            fh.write(f"{len(emb)} {emb.dim}\n".encode())
            for w, v in zip(emb.words, vec, strict=True):
                fh.write(w.encode("utf-8") + b" " + v.astype("<f4").tobytes() + b"\n")
    elif fmt in ("w2v-text", "glove-text"):
        with atomic_write(p, "w", encoding="utf-8") as fh:
            if fmt == "w2v-text":
                fh.write(f"{len(emb)} {emb.dim}\n")
            for w, v in zip(emb.words, vec, strict=True):
                fh.write(w + " " + " ".join(f"{x:.7g}" for x in v) + "\n")
    else:
        raise DawnError(f"cannot write format {fmt!r}", "use .npy, .npz, .bin or a text suffix")
    return p


def shared_vocabulary(
    a: Embedding,
    b: Embedding,
    *,
    top_n: int | None = None,
    frequencies: Mapping[str, int] | Iterable[str] | None = None,
) -> list[str]:
    """Words present in both embeddings, most frequent first, cut to ``top_n``.

    Parameters
    ----------
    frequencies : mapping word -> count, or an iterable of words in decreasing frequency, optional
        Defines "top n". Without it, the order of ``a``'s file is used (the original code's assumption
        that files are sorted by frequency, which word2vec and GloVe outputs satisfy).
    """
    in_b = b.index
    if frequencies is None:
        shared = [w for w in dict.fromkeys(a.words) if w in in_b]
    else:
        if isinstance(frequencies, Mapping):
            ranked = sorted(frequencies, key=lambda w: (-frequencies[w], w))
        else:
            ranked = list(frequencies)
        in_a = a.index
        shared = [w for w in dict.fromkeys(ranked) if w in in_a and w in in_b]
    if not shared:
        raise DawnError(
            "the two embeddings share no words",
            "check that both files embed the same language and tokenisation",
        )
    return shared[:top_n] if top_n is not None else shared


def align_pair(
    a: Embedding, b: Embedding, words: Sequence[str] | None = None, *, top_n: int | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Row-aligned float32 matrices of ``a`` and ``b`` over ``words`` (default: their shared top n)."""
    ws = list(words) if words is not None else shared_vocabulary(a, b, top_n=top_n)
    return a.rows(ws), b.rows(ws), ws
