"""The post-run helper: checks and files runs off the critical path, and degrades to in-process work."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from dawn.mlperf.benchmark import get
from dawn.mlperf.harness import run_once
from dawn.mlperf.postrun import PostRunWorker
from dawn.mlperf.workload import load_workload


def _finished_run(tmp_path, index=0):
    """One real digits run whose log tail is left for the filer, as the harness leaves it."""
    wl = load_workload(get("digits"))
    partial = tmp_path / f".result_{index}.txt.partial"
    partial.write_text("")  # run_suite creates each run's log before the run (run_once defers it)
    tail: list = []
    rec = run_once(wl, partial, seed=index + 1, tail=tail)
    rec.index = index
    job = {"index": index, "partial": str(partial), "final": str(tmp_path / f"result_{index}.txt")}
    job.update(tail=tail, record=dict(vars(rec)), manifest_path=str(tmp_path / "manifest.json"))
    return job, {"benchmark": "dawn_digits", "runs": {}, "aborted": []}


def test_helper_checks_appends_the_tail_renames_and_writes_the_manifest(tmp_path):
    job, manifest = _finished_run(tmp_path)
    assert '"run_stop"' not in (tmp_path / ".result_0.txt.partial").read_text()  # the tail is pending
    worker = PostRunWorker()
    worker.submit(job, manifest)
    done = worker.close()
    assert done[0]["check_ok"] is True and done[0]["violations"] == [] and done[0]["check_s"] > 0
    assert worker.ready_wait_s >= 0 and not (tmp_path / ".result_0.txt.partial").exists()
    log = (tmp_path / "result_0.txt").read_text().splitlines()
    assert '"key": "run_stop"' in log[-1] and '"key": "cache_clear"' in log[0]
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk["runs"]["0"]["check_ok"] is True and on_disk["runs"]["0"]["seed"] == 1


def test_filing_a_run_creates_the_next_runs_log_before_its_clock(tmp_path):
    job, manifest = _finished_run(tmp_path)
    job["next_partial"] = str(tmp_path / ".result_1.txt.partial")
    worker = PostRunWorker()
    worker.submit(job, manifest)
    worker.wait()  # what the harness does just before run 1's run_start
    assert (tmp_path / ".result_1.txt.partial").read_text() == "" and (tmp_path / "result_0.txt").exists()
    worker.close()


def test_a_dead_helper_leaves_the_work_to_this_process(tmp_path):
    job, manifest = _finished_run(tmp_path)
    worker = PostRunWorker()
    worker.wait()  # started and ready
    worker._proc.kill()
    worker._proc.wait()
    worker.submit(job, manifest)
    done = worker.close()
    assert done[0]["check_ok"] is True
    assert '"key": "run_stop"' in (tmp_path / "result_0.txt").read_text().splitlines()[-1]
    assert json.loads((tmp_path / "manifest.json").read_text())["runs"]["0"]["check_ok"] is True


def test_a_script_without_a_main_guard_can_run_a_suite(tmp_path):
    # a multiprocessing "spawn" helper would re-run such a script in the child; ours is `python -m`
    script = tmp_path / "bench_me.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from dawn.mlperf.benchmark import get
            from dawn.mlperf.harness import run_suite
            m = run_suite(get("digits"), {str(tmp_path / "out")!r}, runs=2, seed=0)
            print(sorted(r["check_ok"] for r in m["runs"].values()))
            """
        )
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[True, True]"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "manifest.json",
        "result_0.txt",
        "result_1.txt",
    ]
