"""Logging and compliance checking against the official mlperf_logging tools."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from dawn.core.errors import DawnError
from dawn.mlperf import check, rules
from dawn.mlperf.benchmark import BENCHMARKS
from dawn.mlperf.mllog import RunLogger
from dawn.mlperf.official import BERT, FLUX1
from dawn.mlperf.synthetic import write_log

FIXTURE = Path(__file__).parent / "fixtures" / "minimal_closed_bert_5.0.0.log"  # from the paper sheet


def _emit(logger, off):
    # both loggers are called from this same line, so the recorded call site is identical
    for lg in (logger, off):
        lg.event("eval_accuracy", 0.5, metadata={"epoch_num": 3}, time_ms=123)


def test_runlogger_lines_are_byte_identical_to_official_mllogger():
    from mlperf_logging.mllog import mllog

    buf = io.StringIO()
    lg = logging.getLogger("dawn-test-official-mllog")
    lg.propagate = False
    lg.setLevel(logging.INFO)
    lg.handlers[:] = [logging.StreamHandler(buf)]
    ours = RunLogger(None, enabled=True)
    _emit(ours, mllog.MLLogger(logger=lg))
    assert ours.lines[0] == buf.getvalue().strip()


def test_exactly_one_key_refused_twice_and_nonzero_rank_silent(tmp_path, monkeypatch):
    ml = RunLogger(tmp_path / "a.txt", enabled=True)
    ml.end("run_stop", metadata={"status": "success"})
    with pytest.raises(DawnError, match="logged twice"):
        ml.end("run_stop", metadata={"status": "success"})
    ml.close()
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    quiet = RunLogger(tmp_path / "b.txt")
    quiet.event("cache_clear", True)
    quiet.close()
    assert not quiet.enabled and quiet.lines == []


def test_fixture_passes_and_each_removed_line_fails(tmp_path):
    assert check.check_log(FIXTURE, ruleset="5.0.0").ok
    lines = FIXTURE.read_text().splitlines()
    for i in (
        0,
        1,
        3,
        17,
        18,
        22,
        24,
    ):  # cache_clear, init_start, division, init_stop, run_start, eval, run_stop
        p = tmp_path / f"minus{i}.log"
        p.write_text("\n".join(lines[:i] + lines[i + 1 :]) + "\n")
        res = check.check_log(p, ruleset="5.0.0")
        assert not res.ok, i
        assert all("\n" not in v for v in res.violations)


@pytest.mark.parametrize(("bench", "ruleset"), [(BERT, "4.1.0"), (BERT, "5.0.0"), (FLUX1, "6.1.0")])
def test_our_logger_emits_official_logs_that_pass(tmp_path, bench, ruleset):
    p = write_log(tmp_path / "log.txt", bench, minutes=20, conv_epoch=2_800_000)
    res = check.check_log(p, ruleset=ruleset)
    assert res.ok, res.violations
    assert res.config == f"training_{ruleset}/common.yaml"
    missed = write_log(tmp_path / "missed.txt", bench, minutes=20, conv_epoch=2_800_000, converged=False)
    assert not check.check_log(missed, ruleset=ruleset).ok


def test_bad_inputs_each_one_line(tmp_path):
    lines = FIXTURE.read_text().splitlines()
    cases = {
        "broken_json": lines[:5] + [lines[5][:-3]] + lines[6:],
        "dup_exactly_one": lines + [lines[-1]],
        "missing_run_stop": lines[:-1],
    }
    expected = {
        "broken_json": "not a valid :::MLLOG",
        "dup_exactly_one": "'run_stop' but found 2",
        "missing_run_stop": "'run_stop' but found 0",
    }
    for name, body in cases.items():
        p = tmp_path / f"{name}.log"
        p.write_text("\n".join(body) + "\n")
        res = check.check_log(p)
        assert not res.ok
        assert any(expected[name] in v for v in res.violations), res.violations
        assert all("\n" not in v for v in res.violations)
    from mlperf_logging.compliance_checker import mlp_compliance

    assert mlp_compliance.enqueued_configs == []  # no hidden state left behind


def test_ruleset_that_lacks_the_benchmark_is_one_line():
    res = check.check_log(FIXTURE, ruleset="6.1.0")
    assert not res.ok and len(res.violations) == 1 and "6.1.0" in res.violations[0]


def test_shipped_rule_files_match_benchmark_definitions(tmp_path):
    rules.write_all(tmp_path)
    for p in tmp_path.glob("*.yaml"):
        assert p.read_text() == (rules.RULES_DIR / p.name).read_text(), p.name


def test_closed_rules_reject_changed_fixed_hyperparameter(tmp_path):
    b = BENCHMARKS["dawn_digits"]
    ok = write_log(tmp_path / "ok.txt", b, minutes=0.1, conv_epoch=10)
    assert check.check_log(ok).ok
    bad = write_log(tmp_path / "bad.txt", b, minutes=0.1, conv_epoch=10, hparams={"hidden_size": 128})
    res = check.check_log(bad)
    assert not res.ok and any("hidden_size" in v for v in res.violations)
    slow = write_log(tmp_path / "slow.txt", b, minutes=0.1, conv_epoch=10, converged=False)
    assert not check.check_log(slow).ok  # never reached the target


def test_official_cli_accepts_our_rule_tree(tmp_path):
    """The rule tree also works from the official command line via --config."""
    import subprocess
    import sys

    b = BENCHMARKS["dawn_digits"]
    p = write_log(tmp_path / "ok.txt", b, minutes=0.1, conv_epoch=10)
    cmd = [
        sys.executable,
        "-m",
        "mlperf_logging.compliance_checker",
        "--ruleset",
        "5.0.0",
        str(p),
        "--config",
        str(b.rules),
        "--log_output",
        str(tmp_path / "cc.log"),
    ]
    assert subprocess.run(cmd, capture_output=True, cwd=tmp_path, timeout=120).returncode == 0
    bad = write_log(tmp_path / "bad.txt", b, minutes=0.1, conv_epoch=10, converged=False)
    cmd[5] = str(bad)
    assert subprocess.run(cmd, capture_output=True, cwd=tmp_path, timeout=120).returncode == 1


def test_lines_written_behind_keep_call_timestamps_and_reach_the_file(tmp_path):
    path = tmp_path / "run.txt"
    ml = RunLogger(path, enabled=True, flush_every_s=3600)
    ml.end("init_stop")
    ml.start("run_start", time_ms=1000)
    ml.start("epoch_start", metadata={"epoch_num": 1}, time_ms=1500)
    ml.end("epoch_stop", metadata={"epoch_num": 1}, time_ms=2500)
    assert path.read_text() == ""  # the lines wait: no encoding or I/O inside the timed region
    ml.end("run_stop", metadata={"status": "success"}, time_ms=3000)
    ml.close()
    on_disk = path.read_text().splitlines()
    assert on_disk == ml.lines and len(on_disk) == 5
    assert [json.loads(x.split(":::MLLOG ")[1])["time_ms"] for x in on_disk[1:]] == [1000, 1500, 2500, 3000]


def test_detached_tail_appended_elsewhere_gives_the_same_file(tmp_path):
    from dawn.mlperf.mllog import append_records

    def log(ml):
        ml.end("init_stop", time_ms=900)
        ml.start("run_start", time_ms=1000)
        ml.end("epoch_stop", metadata={"epoch_num": 1}, time_ms=2500)  # flush_every_s=0: written
        ml.flush_every_s = 3600  # run_stop stays pending
        ml.end("run_stop", metadata={"status": "success"}, time_ms=3000)

    whole = RunLogger(tmp_path / "a.txt", enabled=True, flush_every_s=0)
    log(whole)
    whole.close()
    split = RunLogger(tmp_path / "b.txt", enabled=True, flush_every_s=0)
    log(split)
    tail = split.detach()
    assert [r[2] for r in tail] == ["run_stop"] and (tmp_path / "b.txt").read_text().count("\n") == 3
    append_records(tmp_path / "b.txt", "", tail)
    a, b = (tmp_path / "a.txt").read_text(), (tmp_path / "b.txt").read_text()
    assert a.replace("a.txt", "") == b.replace("b.txt", "") and a.count("\n") == 4


def test_flush_every_zero_writes_at_every_interval_end(tmp_path):
    path = tmp_path / "run.txt"
    ml = RunLogger(path, enabled=True, flush_every_s=0)
    ml.start("run_start")
    ml.start("epoch_start", metadata={"epoch_num": 1})
    ml.end("epoch_stop", metadata={"epoch_num": 1})
    assert path.read_text().count("\n") == 3
    ml.close()


def test_fast_prefix_strip_equals_the_official_regex_on_every_shape_of_line():
    import random
    import re

    from dawn.mlperf.check import _StripTokenRe

    fast, token, pattern = _StripTokenRe(), ":::MLLOG ", ".*:::MLLOG "
    rng = random.Random(0)
    pieces = ["", "x", " ", token, ":::MLLOG", "\n", "\r", "{}", "é", "GPU0 "]
    lines = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 8))) for _ in range(3000)]
    lines += [ln + "\n" for ln in lines[:500]] + [p.read_text() for p in FIXTURE.parent.glob("*.log")]
    for line in lines:
        assert fast.sub(pattern, token, line) == re.sub(pattern, token, line), repr(line)
    assert fast.sub("a+", "b", "caaat") == "cbt"  # any other call is plain re


def test_deferred_logger_creates_its_file_only_when_it_writes(tmp_path):
    path = tmp_path / "sub" / "run.txt"
    handed = RunLogger(path, enabled=True, defer_open=True, flush_every_s=3600)
    handed.start("run_start")
    assert [r[2] for r in handed.detach()] == ["run_start"] and not path.exists()  # caller appends it
    written = RunLogger(path, enabled=True, defer_open=True, flush_every_s=0)
    assert not path.exists()
    written.start("run_start")
    written.end("run_stop", metadata={"status": "success"})  # an interval end drains: file created
    assert path.read_text().count("\n") == 2
    written.close()
    empty = RunLogger(tmp_path / "empty.txt", enabled=True, defer_open=True)
    empty.close()
    assert (tmp_path / "empty.txt").read_text() == ""


def test_bulk_events_give_the_lines_of_single_events_from_one_call_site(monkeypatch):
    import dawn.mlperf.mllog as mllog_module

    monkeypatch.setattr(mllog_module.time, "time", lambda: 1234.5678)
    items = [("submission_org", "dawn"), ("seed", 7), ("opt_base_learning_rate", 0.1)]
    one, bulk = RunLogger(None, enabled=True), RunLogger(None, enabled=True)
    for key, value in items:
        one.event(key, value)
    bulk.events(items)

    def parsed(lines):
        return [json.loads(x.split(":::MLLOG ")[1]) for x in lines]

    ones, bulks = parsed(one.lines), parsed(bulk.lines)
    assert len({b["metadata"]["lineno"] for b in bulks}) == 1  # one call site, as the seed checker wants
    for o, b in zip(ones, bulks, strict=True):
        o["metadata"].pop("lineno"), b["metadata"].pop("lineno")
        assert o == b
    with pytest.raises(DawnError, match="submission_org"):
        bulk.events([("submission_org", "again")])
