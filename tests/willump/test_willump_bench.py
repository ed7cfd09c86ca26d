import json

import pytest

from dawn.willump.bench import format_table, run_bench

FIELDS = {
    "workload", "batch_speedup", "single_p50_speedup", "single_p99_ratio", "topk_speedup", "topk_precision",
    "metric_name", "metric_full", "metric_optimized", "bound",
}  # fmt: skip


@pytest.mark.data
def test_quick_bench_writes_the_issue_fields(tmp_path) -> None:
    entries = run_bench(tmp_path, quick=True, workloads=("credit",))
    doc = json.loads((tmp_path / "willump.json").read_text())
    assert doc["workloads"][0]["workload"] == "credit" and len(entries) == 1
    e = doc["workloads"][0]
    assert set(e) >= FIELDS and set(e["heuristics"]) >= FIELDS
    assert e["mode"] == "dawn" and e["heuristics"]["mode"] == "willump-heuristics"
    assert e["batch_speedup"] > 0 and 0 <= e["topk_precision"] <= 1
    assert e["metric_name"] == "accuracy" and 0.5 < e["metric_full"] < 1
    # The certified cascade (if any) keeps the test accuracy within a whisker of the full model's.
    assert e["metric_full"] - e["metric_optimized"] <= 0.02
    # the test split served once, its early answers counted against calibration
    served = e["serving"]
    assert served["rows"] == (e["topk_n"] if e["cascade"] is not None else 0)
    assert served["calibration_share"] == (
        None if e["cascade"] is None else pytest.approx(e["cascade"]["accept_rate"])
    )
    assert "credit" in format_table(entries)


def test_text_embed_is_skipped_with_a_note_without_the_embed_extra(tmp_path, monkeypatch) -> None:
    import dawn.willump.bench as bench

    monkeypatch.setattr(bench, "_embed_available", lambda: False)
    assert bench.run_bench(tmp_path, workloads=("text-embed",)) == []
    doc = json.loads((tmp_path / "willump.json").read_text())
    assert doc["workloads"] == [] and "dawn[embed]" in doc["skipped"][0]["note"]


def test_cached_embeddings_compute_once_then_read_from_disk(tmp_path, monkeypatch) -> None:
    import numpy as np

    from dawn.willump.workloads.text import cached_embeddings

    monkeypatch.setenv("DAWN_DATA_DIR", str(tmp_path))
    calls: list[int] = []

    def encoder(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return np.array([[len(t), t.count("a")] for t in texts], dtype=np.float32)

    texts = ["a cat", "banana", "dog"]
    first = cached_embeddings(encoder, texts)  # type: ignore[arg-type]
    again = cached_embeddings(encoder, texts)  # type: ignore[arg-type]
    np.testing.assert_array_equal(first, again)
    assert calls == [3]  # the second call read the cache
    cached_embeddings(encoder, [*texts, "aaa"])  # type: ignore[arg-type]
    assert calls == [3, 4]  # different sentences, a different cache entry
