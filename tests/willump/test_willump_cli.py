import json

import pytest

from dawn.cli import main


def test_willump_help_lists_verbs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["willump", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "bench" in out and "explain" in out and "optimize" in out


def test_bad_input_exits_2_with_one_line(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["willump", "explain", "--load", str(tmp_path / "nope")]) == 2
    assert main(["willump", "bench", "--workloads", "toxic", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("dawn: error:") for line in err)
    blocker = tmp_path / "file"
    blocker.write_text("")
    for argv, msg in (
        (["willump", "explain", "--load", ""], "empty path"),
        (["willump", "bench", "--workloads", "credit,,price", "--out", str(tmp_path)], "empty name"),
        (["willump", "bench", "--workloads", "credit", "--out", str(blocker / "sub")], "cannot write"),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and msg in err[0]
    for seed in ("-1", "1.5", str(2**32)):  # refused by the parser, before any data is loaded
        with pytest.raises(SystemExit) as info:
            main(["willump", "bench", "--seed", seed])
        assert info.value.code == 2
    assert "--seed" in capsys.readouterr().err


@pytest.mark.data
def test_optimize_save_and_explain_real_workload(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "credit.willump"
    assert main(["willump", "optimize", "--workload", "credit", "--quick", "--save", str(path)]) == 0
    capsys.readouterr()
    assert main(["willump", "explain", "--load", str(path), "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert set(plan["groups"]) == {"application", "bureau", "state_agg", "title_agg", "purpose_agg"}
    assert plan["max_loss"] == 0.005 and plan["n_cal"] > 1000


def test_optimize_honours_format_json(tmp_path, monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import dawn.cli.willump as cli_willump
    from dawn.willump import Pipeline, optimize

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    y = (X[:, 0] > 0).astype(int)
    pipe = Pipeline({"a": lambda Z: Z[:, :2], "b": lambda Z: Z[:, 2:]}, LogisticRegression().fit(X, y))
    opt = optimize(pipe, X, y, measure=False)
    monkeypatch.setattr(cli_willump, "_optimise", lambda args: opt)  # no workload to load
    path = tmp_path / "plan.willump"
    argv = ["willump", "optimize", "--workload", "credit", "--save", str(path), "--format", "json"]
    assert main(argv) == 0

    def no_constant(name: str) -> None:
        raise AssertionError(f"not strict JSON: {name}")

    plan = json.loads(capsys.readouterr().out, parse_constant=no_constant)
    assert plan["saved"] == str(path) and set(plan["groups"]) == {"a", "b"} and path.is_file()


def test_explain_workload_takes_the_optimize_options() -> None:
    from dawn.cli import build_parser

    args = build_parser().parse_args(
        ["willump", "explain", "--workload", "credit", "--max-loss", "0.01", "--risk", "disagreement"]
    )
    assert (args.max_loss, args.risk, args.confidence, args.mode) == (0.01, "disagreement", 0.95, "bounded")
