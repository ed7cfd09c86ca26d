"""System description, submission package, and the ``dawn mlperf`` command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dawn.cli import main
from dawn.core.io import atomic_write_json
from dawn.mlperf.official import BERT
from dawn.mlperf.package import check_package, export_package
from dawn.mlperf.rcp import RCPSet, official_rcp_path
from dawn.mlperf.synthetic import write_folder
from dawn.mlperf.system import REQUIRED_FIELDS, check_system_desc, describe_system

FIXTURE = Path(__file__).parent / "fixtures" / "minimal_closed_bert_5.0.0.log"  # from the paper sheet


@pytest.mark.parametrize("ruleset", ["4.1.0", "5.0.0", "6.1.0"])
def test_system_description_valid_under_official_checker(tmp_path, ruleset):
    desc = describe_system()
    assert set(REQUIRED_FIELDS) <= set(desc) and len(REQUIRED_FIELDS) == 33
    atomic_write_json(tmp_path / "s.json", desc)
    assert check_system_desc(tmp_path / "s.json", ruleset) == (True, [])
    del desc["cooling"]
    desc["status"] = "available"
    atomic_write_json(tmp_path / "bad.json", desc)
    ok, problems = check_system_desc(tmp_path / "bad.json", ruleset)
    assert not ok and "missing field cooling" in problems


def _bert_results(tmp_path: Path, n: int = 10) -> Path:
    rng = np.random.default_rng(0)
    mean = RCPSet.load(official_rcp_path("bert", "5.0.0")).check(448, [1.0] * 10).rcp_mean
    epochs = [float(x) for x in np.round(mean * rng.normal(1.0, 0.01, n))]
    return write_folder(
        tmp_path / "bert", BERT, [float(x) for x in rng.uniform(10, 20, n)], epochs, [True] * n, bs=448
    )


def test_official_package_checker_accepts_exported_bert_package(tmp_path):
    org = export_package(tmp_path / "pkg", {"bert": _bert_results(tmp_path)})
    assert (org / "systems").is_dir() and (org / "benchmarks" / "bert" / "implementations").is_dir()
    ok, errors, _ = check_package(org, "5.0.0")
    assert ok, errors
    assert not list(org.rglob("scaling.json"))  # the official checker ran on a copy


def test_package_with_too_few_results_rejected(tmp_path):
    org = export_package(tmp_path / "pkg", {"bert": _bert_results(tmp_path, 9)})
    ok, errors, _ = check_package(org, "5.0.0")
    assert not ok and any("found 9, expected 10" in e for e in errors)


def test_cli_check_score_and_errors(tmp_path, capsys):
    assert main(["mlperf", "check", str(FIXTURE), "--ruleset", "5.0.0"]) == 0
    assert "PASS" in capsys.readouterr().out
    bad = tmp_path / "result_0.txt"
    bad.write_text("\n".join(FIXTURE.read_text().splitlines()[:-1]) + "\n")
    assert main(["mlperf", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "'run_stop' but found 0" in out
    assert main(["mlperf", "check", str(tmp_path / "missing.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such" in err
    # a folder with too few runs: one line, exit 2, nothing deleted
    assert main(["mlperf", "score", str(tmp_path)]) == 2
    assert "requires 10" in capsys.readouterr().err and bad.exists()


def test_cli_score_compare_official_and_rcp_json(tmp_path, capsys):
    d = _bert_results(tmp_path)
    assert main(["mlperf", "score", str(d), "--compare-official", "--format", "json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["score"] == pytest.approx(res["official"]["score"], abs=1e-9, rel=0)
    out = tmp_path / "rcps.json"
    assert main(["mlperf", "rcp", str(d), "--out", str(out)]) == 0
    raw = json.loads(out.read_text())
    assert next(iter(raw.values()))["BS"] == 448 and len(next(iter(raw.values()))["Epochs to converge"]) == 10


def test_report_html_has_curves_distribution_and_rcp_band(tmp_path, capsys):
    d = _bert_results(tmp_path)
    assert main(["mlperf", "report", str(d), "--out", str(tmp_path / "rep")]) == 0
    html = (tmp_path / "rep" / "index.html").read_text()
    for caption in ("Convergence curve of every run", "Time-to-train distribution", "against the RCP"):
        assert caption in html
    assert html.count("data:image/png;base64") >= 3


def test_package_of_own_benchmark_checked_by_its_own_rules(tmp_path):
    from dawn.mlperf.benchmark import get

    b = get("digits")
    mean = RCPSet.load(b.rcp_file).records[0].mean
    good = write_folder(tmp_path / "ok", b, [0.01 * (i + 1) for i in range(5)], [round(mean)] * 5, [True] * 5)
    ok, errors, warnings = check_package(export_package(tmp_path / "p1", {b.name: good}))
    assert ok, errors
    assert any("Skipping benchmark: dawn_digits" in w for w in warnings)  # the official tool cannot
    short = write_folder(tmp_path / "short", b, [0.01, 0.02, 0.03], [round(mean)] * 3, [True, False, False])
    ok, errors, _ = check_package(export_package(tmp_path / "p2", {b.name: short}))
    assert not ok and any("expected 5" in e for e in errors) and any("do not comply" in e for e in errors)
