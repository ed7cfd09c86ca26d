"""The reproduce mechanism: sections for implemented, missing and failing systems."""

import json
import sys
import types

from dawn import reproduce as rp
from dawn.core.report import Headline, Section


def test_missing_system_says_not_implemented(tmp_path, monkeypatch):
    monkeypatch.setattr(rp, "system_implemented", lambda s: False)
    report, html = rp.reproduce(tmp_path, quick=True, systems=["roc"])
    assert report.sections[0].status == "not implemented yet"
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["sections"][0]["status"] == "not implemented yet"
    assert html.name == "index.html"


def test_registered_experiment_runs_and_failure_is_contained(tmp_path, monkeypatch):
    ok = types.ModuleType("dawn.fake_ok.reproduce")
    ok.run = lambda ctx: Section("ok", headlines=[Headline("x", 2.0 if ctx.quick else 1.0, 1.5)])
    bad = types.ModuleType("dawn.fake_bad.reproduce")

    def boom(ctx):
        raise RuntimeError("broken experiment")

    bad.run = boom
    monkeypatch.setitem(sys.modules, "dawn.fake_ok.reproduce", ok)
    monkeypatch.setitem(sys.modules, "dawn.fake_bad.reproduce", bad)
    monkeypatch.setitem(rp.SYSTEMS, "fake_ok", ("OK system", "paper"))
    monkeypatch.setitem(rp.SYSTEMS, "fake_bad", ("Bad system", "paper"))
    monkeypatch.setattr(rp, "system_implemented", lambda s: True)
    report, _ = rp.reproduce(tmp_path, quick=True, systems=["fake_ok", "fake_bad"])
    assert report.sections[0].status == "ok" and report.sections[0].headlines[0].ours == 2.0
    assert report.sections[1].status == "failed: RuntimeError: broken experiment"
