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
    assert set(e) >= FIELDS and FIELDS - {"workload"} <= set(e["heuristics"])
    assert e["batch_speedup"] > 0 and 0 <= e["topk_precision"] <= 1
    assert e["metric_name"] == "accuracy" and 0.5 < e["metric_full"] < 1
    # The certified cascade (if any) keeps the test accuracy within a whisker of the full model's.
    assert e["metric_full"] - e["metric_optimized"] <= 0.02
    assert "credit" in format_table(entries)
