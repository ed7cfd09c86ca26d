"""Embedding I/O round trips, vocabulary intersection, quantisation and Procrustes."""

from __future__ import annotations

import numpy as np
import pytest

from dawn.core.errors import DawnError
from dawn.stability import (
    Embedding,
    align_pair,
    compress_pair,
    find_clip,
    load_embedding,
    procrustes_align,
    quantize,
    save_embedding,
    shared_vocabulary,
)


@pytest.fixture
def emb():
    rng = np.random.default_rng(0)
    return Embedding([f"w{i}" for i in range(40)], rng.normal(size=(40, 6)).astype(np.float32))


@pytest.mark.parametrize(
    "name,fmt",
    [("e.txt", None), ("e.bin", None), ("e.npy", None), ("e.npz", None), ("e.glove", "glove-text")],
)
def test_round_trip_every_format(tmp_path, emb, name, fmt):
    path = save_embedding(emb, tmp_path / name, format=fmt)
    kw = {"vocab": tmp_path / "e.vocab"} if name.endswith(".npy") else {}
    back = load_embedding(path, format=fmt, **kw)
    assert back.words == emb.words
    np.testing.assert_allclose(back.vectors, emb.vectors, rtol=1e-6)
    assert back.vectors.dtype == np.float32


def test_npy_is_memory_mapped(tmp_path, emb):
    save_embedding(emb, tmp_path / "e.npy")
    back = load_embedding(tmp_path / "e.npy", vocab=tmp_path / "e.vocab")
    assert isinstance(back.vectors, np.memmap)


def test_keyed_vectors_round_trip(tmp_path, emb):
    kv = emb.to_keyed_vectors()
    kv.save(str(tmp_path / "e.kv"))
    back = load_embedding(tmp_path / "e.kv")
    assert back.words == emb.words
    np.testing.assert_array_equal(back.vectors, emb.vectors)


def test_truncated_binary_and_text_raise(tmp_path, emb):
    path = save_embedding(emb, tmp_path / "e.bin")
    data = path.read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(DawnError, match="truncated"):
        load_embedding(tmp_path / "cut.bin")
    (tmp_path / "cut.txt").write_text("3 4\na 1 2 3 4\nb 1 2\n")
    with pytest.raises(DawnError, match="numbers where 4"):
        load_embedding(tmp_path / "cut.txt")
    with pytest.raises(DawnError, match="does not exist"):
        load_embedding(tmp_path / "missing.txt")


def test_shared_vocabulary_by_frequency_not_file_order(emb):
    other = Embedding(list(reversed(emb.words[:30])), emb.vectors[:30][::-1])
    assert shared_vocabulary(emb, other, top_n=3) == ["w0", "w1", "w2"]
    freq = {"w29": 100, "w5": 50, "w39": 1000, "w7": 10}
    assert shared_vocabulary(emb, other, frequencies=freq) == ["w29", "w5", "w7"]
    X, Y, words = align_pair(emb, other, top_n=5)
    np.testing.assert_array_equal(X, Y)
    with pytest.raises(DawnError, match="share no words"):
        shared_vocabulary(emb, Embedding(["zz"], np.zeros((1, 6), np.float32)))


def test_check_finite(emb):
    emb.vectors[4, 1] = np.inf
    with pytest.raises(DawnError, match="w4"):
        emb.check_finite()


def test_quantize_levels_and_determinism():
    X = np.random.default_rng(1).normal(size=(500, 10)).astype(np.float32)
    for bits in (1, 2, 4):
        r = find_clip(X, bits)
        assert 0 < r <= np.abs(X).max()
        Q = quantize(X, bits, r)
        assert len(np.unique(Q)) <= 2**bits
        np.testing.assert_array_equal(Q, quantize(X, bits, r))
    np.testing.assert_array_equal(quantize(X, 32, 1.0), X)
    errs = [np.linalg.norm(quantize(X, b, find_clip(X, b)) - X) for b in (1, 2, 4, 8, 16)]
    assert all(a > b for a, b in zip(errs, errs[1:], strict=False))
    with pytest.raises(DawnError, match="precision"):
        quantize(X, 3, 1.0)


def test_golden_section_finds_grid_minimum():
    X = np.random.default_rng(2).normal(size=(400, 5))
    r = find_clip(X, 2)
    grid = np.linspace(0.01, np.abs(X).max(), 400)
    best = grid[np.argmin([np.linalg.norm(quantize(X, 2, g) - X) for g in grid])]
    assert np.linalg.norm(quantize(X, 2, r) - X) <= np.linalg.norm(quantize(X, 2, best) - X) * 1.001


def test_procrustes_recovers_rotation_and_pair_shares_clip():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 6))
    Q = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    np.testing.assert_allclose(procrustes_align(X @ Q, X), X, atol=1e-5)
    Xq, Yq, clip = compress_pair(X, X @ Q, 4)
    np.testing.assert_allclose(Xq, Yq, atol=1e-5)
    step = 2 * clip / (2**4 - 1)
    levels = (np.asarray(Yq, np.float64) + clip) / step  # Y~ reuses X's clip: on the same grid
    np.testing.assert_allclose(levels, np.rint(levels), atol=1e-3)
    with pytest.raises(DawnError, match="equal shapes"):
        procrustes_align(X[:, :5], X)
