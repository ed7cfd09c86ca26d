"""The harness on the real digits workload: compliance, determinism, resume, Closed rules."""

from __future__ import annotations

import json

import pytest

from dawn.core.errors import DawnError
from dawn.mlperf.benchmark import get
from dawn.mlperf.check import check_log
from dawn.mlperf.harness import run_seed, run_suite
from dawn.mlperf.score import read_run, score_folder

# digits ships inside scikit-learn, so these tests fetch nothing and need no `data` marker


@pytest.fixture(scope="module")
def digits_suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits")
    return out, run_suite(get("digits"), out, seed=0)


def test_digits_suite_runs_required_runs_all_compliant(digits_suite):
    out, m = digits_suite
    b = get("digits")
    assert len(m["runs"]) == b.runs == 5
    assert all(r["check_ok"] for r in m["runs"].values()), [r["violations"] for r in m["runs"].values()]
    assert all(r["status"] == "success" for r in m["runs"].values())
    # the quality target was reached at the logged epoch, within the limit, from distinct seeds
    for r in m["runs"].values():
        assert r["curve"][-1]["value"] >= b.target and r["epochs"] <= b.max_epochs
        assert all(c["value"] < b.target for c in r["curve"][:-1])
    seeds = [read_run(p).seed for p in sorted(out.glob("result_*.txt"))]
    assert len(set(seeds)) == 5 and seeds[0] == run_seed(0, 0)
    sc = score_folder(out)
    assert sc.score is not None and sc.rcp is not None and sc.rcp.message == "RCP found"


def test_samples_to_target_identical_on_rerun(digits_suite, tmp_path):
    _, first = digits_suite
    again = run_suite(get("digits"), tmp_path, runs=2, seed=0, check=False)
    for i in ("0", "1"):
        assert again["runs"][i]["samples"] == first["runs"][i]["samples"]
        assert [c["value"] for c in again["runs"][i]["curve"]] == [
            c["value"] for c in first["runs"][i]["curve"]
        ]


def test_resume_keeps_completed_runs_and_reruns_killed_one(digits_suite, tmp_path):
    _, first = digits_suite
    out = tmp_path / "r"
    run_suite(get("digits"), out, runs=2, seed=0, check=False)
    kept = (out / "result_0.txt").read_bytes()
    # simulate a run killed mid-epoch: run 1's log cut after an epoch_start, result not yet renamed
    log1 = (out / "result_1.txt").read_text().splitlines()
    cut = max(i for i, ln in enumerate(log1) if '"epoch_start"' in ln)
    (out / ".result_1.txt.partial").write_text("\n".join(log1[: cut + 1]) + "\n")
    (out / "result_1.txt").unlink()
    m = json.loads((out / "manifest.json").read_text())
    del m["runs"]["1"]
    (out / "manifest.json").write_text(json.dumps(m))
    m2 = run_suite(get("digits"), out, runs=3, seed=0)
    assert (out / "result_0.txt").read_bytes() == kept  # completed result untouched
    assert m2["runs"]["1"]["samples"] == first["runs"]["1"]["samples"]
    aborted = list((out / "aborted").glob("result_1_*.txt"))
    assert len(aborted) == 1 and m2["aborted"] == ["aborted/result_1_0.txt"]
    r = read_run(aborted[0])
    assert r.status == "aborted"
    res = check_log(aborted[0])  # closed properly: one run_stop, fails only on the target
    assert not any("run_stop" in v for v in res.violations)
    assert not list(out.glob(".*.partial"))


def test_closed_division_and_configuration_guards(tmp_path):
    with pytest.raises(DawnError, match="Closed division may not change hidden_size"):
        run_suite(get("digits"), tmp_path / "a", runs=1, hparams={"hidden_size": 128})
    run_suite(get("digits"), tmp_path / "b", runs=1, seed=0, check=False)
    with pytest.raises(DawnError, match="another configuration"):
        run_suite(get("digits"), tmp_path / "b", runs=1, seed=1)
    m = run_suite(get("digits"), tmp_path / "c", runs=1, division="open", hparams={"hidden_size": 32})
    assert m["runs"]["0"]["check_ok"]


@pytest.mark.distributed
@pytest.mark.slow
def test_torchrun_two_ranks_write_one_log_per_run(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    torchrun = Path(sys.executable).parent / "torchrun"
    out = tmp_path / "tr"
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "dawn", "mlperf", "run", "digits",
           "--runs", "2", "--out", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    logs = sorted(out.glob("result_*.txt"))
    assert [p.name for p in logs] == ["result_0.txt", "result_1.txt"]
    for p in logs:
        assert check_log(p).ok
        assert p.read_text().count('"key": "run_start"') == 1  # rank 1 wrote nothing
    m = json.loads((out / "manifest.json").read_text())
    single = run_suite(get("digits"), tmp_path / "single", runs=2, seed=0, check=False)
    assert [m["runs"][i]["samples"] for i in "01"] == [single["runs"][i]["samples"] for i in "01"]
