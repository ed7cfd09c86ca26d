"""The harness: owns the clock, runs the required runs, resumes after interruption.

MLPerf Training's timing rules (Mattson et al., MLSys 2020, Sec. 3.4): caches are cleared, model
creation and data loading are initialisation (``init_start``..``init_stop``, excluded), and the
score is the uninterrupted span ``run_start``..``run_stop``. Here the harness, not the workload, logs
those lines, logs one distinct integer seed per run from one call site (as the seed checker wants),
stops a run at the target or at the benchmark's epoch limit, and writes each result atomically: a
run logs into ``.result_<i>.txt.partial`` and is renamed to ``result_<i>.txt`` only when complete.
A partial log found on restart is closed with ``run_stop`` status ``aborted``, moved to
``aborted/``, and that run is repeated with the same seed.
"""

from __future__ import annotations

import gc
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dawn.core.errors import DawnError
from dawn.core.io import atomic_write_json, ensure_writable_dir
from dawn.core.logging import get_logger
from dawn.mlperf.benchmark import Benchmark
from dawn.mlperf.mllog import RunLogger
from dawn.mlperf.workload import RunSession, Workload, load_workload

log = get_logger(__name__)
MANIFEST = "manifest.json"


def run_seed(seed: int, index: int) -> int:
    """The seed of run ``index``: distinct per run, identical on every rerun with the same ``seed``."""
    import numpy as np

    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


@dataclass
class RunRecord:
    """Bookkeeping of one finished run (also recoverable from its log)."""

    index: int
    seed: int
    status: str
    epochs: float | None
    samples: int | None
    minutes: float
    wall_s: float
    harness_s: float  # harness time inside the timed region (logging, bookkeeping)
    curve: list[dict[str, float]] = field(default_factory=list)
    check_ok: bool | None = None
    violations: list[str] = field(default_factory=list)
    check_s: float = 0.0  # the compliance check's own time (off the critical path when a helper runs it)
    init_s: float = 0.0  # the workload's init() (the rules' initialisation, not harness time)
    clear_s: float = 0.0  # the rules' cache clearing (workload.clear_cache and a garbage collection)
    outside_s: float = 0.0  # harness time of this run outside its timed region (main process)


def overhead_pct(record: dict[str, Any], of: str = "timed") -> float:
    """One run's harness time in the benchmark's process, in and around its timed region (log lines,
    waits for the previous run's check and filing, bookkeeping), as a percentage of the run's
    timed region (``of="timed"``, the stricter measure) or of its whole wall time (``of="run"``:
    cache clearing, initialisation, timed region and harness time). The check itself runs in the
    post-run helper while the next run initialises."""
    harness = record["harness_s"] + record.get("outside_s", 0.0)
    if of == "timed":
        return 100 * harness / max(record["wall_s"], 1e-9)
    if of == "run":
        whole = record["wall_s"] + record.get("init_s", 0.0) + record.get("clear_s", 0.0)
        return 100 * harness / max(whole + record.get("outside_s", 0.0), 1e-9)
    raise ValueError(f"of must be 'timed' or 'run', not {of!r}")


def run_once(
    workload: Workload,
    log_path: str | os.PathLike[str] | None,
    *,
    seed: int,
    division: str = "closed",
    org: str = "dawn",
    platform: str = "cpu",
    extra: dict[str, Any] | None = None,
    before_clock: Callable[[], Any] | None = None,
    tail: list[Any] | None = None,
) -> RunRecord:
    """One timed run of ``workload``, logged to ``log_path`` (``None``: in memory only).

    ``before_clock`` is called after initialisation, just before ``run_start``: the harness waits
    there for the previous run's post-run work, so none of it overlaps this run's timed region. With
    a ``tail`` list, a run that ends normally leaves the log lines not yet written in it (see
    :meth:`RunLogger.detach`) for the caller to append, and the log file is only created here if
    lines are written before the end (a run longer than the logger's flush interval): the caller
    creates it beforehand if it must exist during the run (:func:`run_suite` does, so that a killed
    run is found on resume). Otherwise the log is complete on return.
    Returns the record with ``status`` ``"success"`` (target reached) or ``"aborted"`` (limit reached).
    """
    b = workload.benchmark
    if division not in ("closed", "open"):
        raise DawnError(f"unknown division {division!r}", "use --division closed or --division open")
    if division == "closed" and (bad := b.closed_violations(workload.hparams)):
        raise DawnError(
            f"Closed division may not change {', '.join(bad)} of {b.name}",
            "restore the reference values or run with --division open",
        )
    ml = RunLogger(log_path, defer_open=tail is not None)
    try:
        t_clear = time.perf_counter()
        workload.clear_cache()
        gc.collect()  # the rules' cache clearing
        clear_s = time.perf_counter() - t_clear
        ml.event("cache_clear", True)
        ml.start("init_start")
        accumulation = int(workload.hparams.get("gradient_accumulation_steps", 1))
        submission = [
            ("submission_benchmark", b.name),
            ("submission_division", division),
            ("submission_org", org),
            ("submission_platform", platform),
            ("submission_status", "research"),
            ("seed", int(seed)),
            ("gradient_accumulation_steps", accumulation),
            *((k, v) for k, v in workload.hparams.items() if k != "gradient_accumulation_steps"),
            *{**b.extra_keys, **(extra or {})}.items(),
        ]
        # one call site for all of them, the seed's included (the seed checker keys on file:lineno)
        ml.events(submission)
        t_init = time.perf_counter()
        workload.init(seed)
        init_s = time.perf_counter() - t_init
        sizes = [("train_samples", int(workload.train_samples)), ("eval_samples", int(workload.eval_samples))]
        ml.events(sizes)
        ml.end("init_stop")
        if before_clock is not None:
            before_clock()
        # the timed region: from the run_start timestamp to the run_stop timestamp, as the official
        # summarizer measures it; harness time inside it is what distorts the score
        t_run = time.perf_counter()
        ms_start = int(time.time() * 1e3)
        ml.start("run_start", time_ms=ms_start)
        session = RunSession(ml, b, int(workload.train_samples))
        session.overhead_s = time.perf_counter() - t_run
        try:
            workload.train(session)
        except BaseException:
            ml.end("run_stop", metadata={"status": "aborted"})
            raise
        status = "success" if session.done else "aborted"
        t = time.perf_counter()
        ms_stop = int(time.time() * 1e3)
        ml.end("run_stop", metadata={"status": status}, time_ms=ms_stop)
        wall = time.perf_counter() - t_run
        harness = time.perf_counter() - t + session.overhead_s
        if tail is not None:
            tail.extend(ml.detach())
    finally:
        ml.close()
    last = session.curve[-1] if session.curve else None
    return RunRecord(
        index=-1,
        seed=int(seed),
        status=status,
        epochs=last.epoch if (last and status == "success") else None,
        samples=last.samples if (last and status == "success") else None,
        minutes=(ms_stop - ms_start) / 60000.0,
        wall_s=wall,
        harness_s=harness,
        curve=[dict(vars(p)) for p in session.curve],  # asdict's deep copy costs ~30 us a point
        init_s=init_s,
        clear_s=clear_s,
    )


def _close_partial(partial: Path, aborted_dir: Path, index: int) -> Path:
    """Append ``run_stop`` (aborted) to a killed run's log and move it out of the result set."""
    from dawn.mlperf.mllog import encode_records

    ts = int(partial.stat().st_mtime * 1e3)
    text = partial.read_text(encoding="latin-1")
    if '"key": "run_stop"' not in text:
        # the official encoder, so the closing line is byte-compatible with the rest of the file
        meta = {"status": "aborted", "reason": "killed; closed by dawn on resume"}
        (line,) = encode_records("", [(ts, "INTERVAL_END", "run_stop", None, meta)])
        if text and not text.endswith("\n"):
            text += "\n"  # a line cut mid-write stays broken but does not swallow ours
        text += line + "\n"
    aborted_dir.mkdir(exist_ok=True)
    n = len(list(aborted_dir.glob(f"result_{index}_*.txt")))
    dest = aborted_dir / f"result_{index}_{n}.txt"
    from dawn.core.io import atomic_write_text

    atomic_write_text(dest, text)
    partial.unlink()
    return dest


def _distributed() -> Any:
    """``torch.distributed`` if a process group is initialised (e.g. under ``torchrun``), else None."""
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def _load_manifest(mpath: Path, config: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """Completed runs and aborted logs recorded in ``mpath``; refuses another configuration's folder."""
    if not mpath.exists():
        return {}
    try:
        old = json.loads(mpath.read_text())
    except json.JSONDecodeError:
        raise DawnError(f"corrupt {mpath}", "delete it to start the result folder afresh") from None
    if {k: old.get(k) for k in config} != json.loads(json.dumps(config)):
        raise DawnError(
            f"{out_dir} holds runs of another configuration ({old.get('benchmark')}, "
            f"{old.get('division')}, seed {old.get('seed')})",
            "choose another --out or the same benchmark, division, seed and hyperparameters",
        )
    return {"runs": old.get("runs", {}), "aborted": old.get("aborted", [])}


def run_suite(
    benchmark: Benchmark,
    out: str | os.PathLike[str],
    *,
    runs: int | None = None,
    seed: int = 0,
    division: str = "closed",
    hparams: dict[str, Any] | None = None,
    workload: Workload | None = None,
    check: bool = True,
) -> dict[str, Any]:
    """Run the required runs of ``benchmark`` into ``out`` (resumable); return the manifest.

    Completed runs (``result_<i>.txt`` with a manifest entry) are kept; a killed run is logged as
    aborted and repeated. Each finished log is checked with the official compliance checker. Under
    ``torchrun`` (an initialised process group) every rank runs the same runs; rank 0 alone writes
    logs, results and the manifest, and the ranks meet at a barrier after each run.
    """
    from dawn.mlperf.postrun import PostRunWorker, finish_run

    dist = _distributed()
    rank0 = dist is None or dist.get_rank() == 0
    out_dir = Path(out)
    n = runs or benchmark.runs
    wl = workload or load_workload(benchmark, hparams)
    config = {"benchmark": benchmark.name, "division": division, "seed": seed, "hparams": wl.hparams}
    mpath = out_dir / MANIFEST
    manifest: dict[str, Any] = {**config, "runs": {}, "aborted": []}
    todo: list[int] = []
    if rank0:  # under torchrun only rank 0 touches files; the other ranks train and stay silent
        ensure_writable_dir(out_dir)
        manifest.update(_load_manifest(mpath, config, out_dir))
        for i in range(n):
            partial = out_dir / f".result_{i}.txt.partial"
            if partial.exists():
                dest = _close_partial(partial, out_dir / "aborted", i)
                manifest["aborted"].append(str(dest.relative_to(out_dir)))
                log.warning("run %d was interrupted; logged as aborted in %s and repeated", i, dest)
            if not ((out_dir / f"result_{i}.txt").exists() and str(i) in manifest["runs"]):
                todo.append(i)
    if dist is not None:
        box = [todo]
        dist.broadcast_object_list(box, src=0)  # every rank runs the same runs with the same seeds
        todo = box[0]
    # checking and filing run i happen in a helper process while run i+1 initialises (postrun.py)
    worker = PostRunWorker() if (rank0 and check and todo) else None

    def apply(done: dict[int, dict[str, Any]]) -> None:
        for index, fields in done.items():
            manifest["runs"][str(index)].update(fields)

    def settle() -> None:
        if worker is not None:
            apply(worker.wait())

    seeds = {i: run_seed(seed, i) for i in todo}  # numpy's SeedSequence costs ~0.5 ms a call
    t_loop = time.perf_counter()
    teardown = 0.0
    if rank0 and todo:
        # each run's log exists before its clock starts (a killed run is found on resume); whoever
        # files run i creates run i+1's, off this process (see RunLogger's defer_open)
        open(out_dir / f".result_{todo[0]}.txt.partial", "w").close()  # noqa: SIM115
    # paths as strings ahead of the loop: between two runs even pathlib's joins run with cold caches
    partials = [str(out_dir / f".result_{i}.txt.partial") for i in todo] + [None]
    finals = [str(out_dir / f"result_{i}.txt") for i in todo]
    manifest_path = str(mpath)
    t_mark = time.perf_counter()
    try:
        for k, i in enumerate(todo):
            run_log = partials[k]
            tail: list[Any] = []  # the log's last lines, appended by whoever files the run
            rec = run_once(
                wl,
                run_log if rank0 else None,
                seed=seeds[i],
                division=division,
                before_clock=settle,
                tail=tail,
            )
            rec.index = i
            if rank0:
                # this run's harness time outside its timed region, from the end of the previous
                # run's to the end of this run's: handing the previous run over, log lines before
                # and after the clock, the wait for the previous run's post-run work (the
                # workload's init and the rules' cache clearing are not harness time)
                now = time.perf_counter()
                rec.outside_s = now - t_mark - rec.wall_s - rec.init_s - rec.clear_s
                t_mark = now
                record = dict(vars(rec))
                manifest["runs"][str(i)] = record
                job = {"index": i, "partial": run_log, "final": finals[k], "tail": tail, "record": record}
                job.update(manifest_path=manifest_path, next_partial=partials[k + 1])
                if worker is not None:
                    worker.submit(job, manifest)
                else:
                    finish_run(job, manifest, check=check)
                log.info(
                    "%s run %d: %s in %.2f s (%s epochs)",
                    benchmark.name,
                    i,
                    rec.status,
                    rec.wall_s,
                    rec.epochs,
                )
            if dist is not None:
                dist.barrier()
    finally:
        if worker is not None:
            t_close = time.perf_counter()
            apply(worker.close())
            teardown = time.perf_counter() - t_close
    if rank0 and todo:
        # everything the harness did around the timed regions in this invocation: the loop's wall
        # time less the timed regions, the workloads' init() and the rules' cache clearing; the
        # helper's start-up (when not hidden behind the first init) and the final wait are one-time
        runs_now = [manifest["runs"][str(i)] for i in todo]
        loop_s = time.perf_counter() - t_loop
        ready = worker.ready_wait_s if worker is not None else 0.0
        outside = loop_s - sum(r["wall_s"] + r["init_s"] + r["clear_s"] for r in runs_now)
        manifest["session"] = {
            "runs": list(todo),
            "loop_s": loop_s,
            "timed_s": sum(r["wall_s"] for r in runs_now),
            "harness_in_clock_s": sum(r["harness_s"] for r in runs_now),
            "harness_outside_clock_s": max(outside - ready - teardown, 0.0),
            "helper_start_wait_s": ready,
            "final_wait_s": teardown,
        }
    if not rank0:
        return manifest
    if not todo:
        atomic_write_json(mpath, manifest)  # aborted logs found, or nothing new: record that
    # else the last run's filing wrote it; "session" describes this invocation and is not kept
    return manifest
