"""The CLI shape: groups, one-line errors with exit 2, python -m dawn, the reproduce report."""

import json
import subprocess
import sys

import pytest

from dawn.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "dawn", *args], capture_output=True, text=True, timeout=300)


def test_python_m_dawn_help_lists_groups():
    proc = run("--help")
    assert proc.returncode == 0
    for group in ("data", "env", "reproduce"):
        assert group in proc.stdout


def test_unknown_dataset_is_one_line_exit_2():
    proc = run("data", "fetch", "no-such-dataset")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "unknown dataset 'no-such-dataset'" in proc.stderr and "Traceback" not in proc.stderr


def test_reproduce_to_unwritable_place_is_one_line_exit_2():
    proc = run("reproduce", "--out", "/proc/x", "--only", "willump")
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "cannot write to output directory '/proc/x'" in lines[0]


def test_debug_flag_shows_the_traceback():
    proc = run("--debug", "data", "info", "no-such-dataset")
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_output_options_work_after_the_verb_too():
    proc = run("data", "info", "no-such-dataset", "--debug")
    assert proc.returncode != 0 and "Traceback" in proc.stderr
    from dawn.cli import _verb_parsers, build_parser

    parser = build_parser()
    args = parser.parse_args(["-q", "data", "list", "-q", "-v"])
    assert (args.quiet, args.verb_quiet, args.verb_verbose) == (1, 1, 1)  # main adds them: one each side
    leaves = _verb_parsers(parser)
    assert len(leaves) > 20 and all(
        {"-q", "-v", "--debug"} <= set(p._option_string_actions) for p in leaves
    )  # every verb of every group


def test_env_json(capsys):
    assert main(["env", "--format", "json"]) == 0
    env = json.loads(capsys.readouterr().out)
    assert env["packages"]["torch"].startswith("2.13.0")


def test_data_list_json(capsys):
    assert main(["data", "list", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(r["name"] == "cora" for r in rows)


@pytest.mark.data
def test_data_info_cora(capsys):
    assert main(["data", "info", "cora", "--format", "json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["nodes"] == 2708 and facts["classes"] == 7 and facts["source_edge_lines"] == 5429
