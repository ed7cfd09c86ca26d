"""The ``dawn roc`` command line: training, partitioning and bad input, through ``dawn.cli.main``."""

import json

import pytest

from dawn.cli import main


@pytest.mark.data
def test_train_single_process_json(capsys):
    assert main(["roc", "train", "--dataset", "cora", "--epochs", "3", "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["world_size"] == 1 and 0 <= res["test_acc"] <= 1 and res["config"]["model"] == "gcn"


@pytest.mark.data
def test_partition_reports_boundaries_and_rejects_too_many_parts(capsys):
    assert (
        main(
            [
                "roc",
                "partition",
                "--dataset",
                "cora",
                "--partitions",
                "2",
                "--partitioner",
                "edges",
                "--format",
                "json",
            ]
        )
        == 0
    )
    res = json.loads(capsys.readouterr().out)
    assert sum(res["vertices"]) == 2708 and len(res["boundary_rows"]) == 2
    assert main(["roc", "partition", "--dataset", "cora", "--partitions", "9999"]) == 2
    assert "9999 partitions" in capsys.readouterr().err


def test_bad_input_exits_2_with_one_line(capsys):
    assert main(["roc", "train", "--dataset", "no-such-graph", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "unknown dataset" in err and len(err.strip().splitlines()) == 1
    assert main(["roc", "train", "--partitions", "0"]) == 2
