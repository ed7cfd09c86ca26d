"""The ``dawn stability`` verbs end to end on small files, and their one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dawn.cli import main
from dawn.data.paper_results import stability_results_dir
from dawn.stability import Embedding, save_embedding

RESULTS = stability_results_dir()  # bundled with dawn


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    words = [f"w{i}" for i in range(n)]
    base = rng.normal(size=(n, 12))
    out = {}
    for name, d, noise in (
        ("a8", 8, 0.0),
        ("b8", 8, 0.4),
        ("a4", 4, 0.0),
        ("b4", 4, 0.4),
        ("ea", 12, 0.0),
        ("eb", 12, 0.2),
    ):
        m = base[:, :d] + noise * rng.normal(size=(n, d))
        out[name] = save_embedding(Embedding(words, m.astype(np.float32)), tmp_path / f"{name}.txt")
    return out


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_compare_with_anchors(files, capsys):
    rc = main(
        [
            "stability",
            "compare",
            str(files["a8"]),
            str(files["b8"]),
            "--anchors",
            str(files["ea"]),
            str(files["eb"]),
            "--queries",
            "50",
            "--format",
            "json",
        ]
    )
    assert rc == 0
    res = _json(capsys)
    assert res["n_words"] == 120
    assert set(res["measures"]) == {"eis", "knn", "sem_disp", "pip", "eo"}
    assert all(v > 0 for v in res["measures"].values())
    main(["stability", "compare", str(files["a8"]), str(files["a8"]), "--measure", "pip", "--format", "json"])
    assert _json(capsys)["measures"]["pip"] == pytest.approx(0, abs=1e-6)


def test_compress_sweep_select(files, tmp_path, capsys):
    out = tmp_path / "c"
    assert (
        main(
            [
                "stability",
                "compress",
                str(files["a8"]),
                str(files["b8"]),
                "--bits",
                "2",
                "--out",
                str(out),
                "--format",
                "json",
            ]
        )
        == 0
    )
    res = _json(capsys)
    q = np.load(res["files"][0])
    assert len(np.unique(q)) <= 4
    sw = tmp_path / "s"
    assert (
        main(
            [
                "stability",
                "sweep",
                "--pair",
                str(files["a4"]),
                str(files["b4"]),
                "--pair",
                str(files["a8"]),
                str(files["b8"]),
                "--anchors",
                str(files["ea"]),
                str(files["eb"]),
                "--bits",
                "1",
                "4",
                "32",
                "--out",
                str(sw),
                "--format",
                "json",
            ]
        )
        == 0
    )
    capsys.readouterr()
    df = pd.read_csv(sw / "sweep.csv")
    assert len(df) == 6 and {"eis", "knn", "memory"} <= set(df.columns)
    assert main(["stability", "select", str(sw / "sweep.csv"), "--budget", "40", "--format", "json"]) == 0
    choice = _json(capsys)
    assert choice["memory"] <= 40
    assert choice["eis"] == pytest.approx(df[df["memory"] <= 40]["eis"].min())


def test_analyze_json(capsys):
    f = RESULTS / "w2v_cbow_optimal_no_emb_norm_top_10000.csv"
    assert main(["stability", "analyze", str(f), "--format", "json"]) == 0
    res = _json(capsys)["tables"]["w2v_cbow"]
    assert res["spearman"]["eis"]["di_mr"] == pytest.approx(0.86, abs=0.005)
    assert max(r["abs_diff"] for r in res["vs_paper"]) <= 0.0055


def test_errors_are_one_line_exit_2(files, tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3\nx 1 2 3\ny nan 1 2\n")
    assert main(["stability", "compare", str(files["a8"]), str(bad)]) == 2
    assert "NaN" in capsys.readouterr().err
    other = save_embedding(Embedding(["zz", "yy"], np.ones((2, 8), np.float32)), tmp_path / "o.txt")
    assert main(["stability", "compare", str(files["a8"]), str(other)]) == 2
    assert "share no words" in capsys.readouterr().err
    assert main(["stability", "compare", str(files["a8"]), str(files["b4"]), "--measure", "sem_disp"]) == 2
    assert "equal dimensions" in capsys.readouterr().err
    cut = tmp_path / "cut.bin"
    full = save_embedding(Embedding(["a", "b"], np.ones((2, 8), np.float32)), tmp_path / "full.bin")
    cut.write_bytes(full.read_bytes()[:-10])
    assert main(["stability", "compare", str(full), str(cut)]) == 2
    err = capsys.readouterr().err
    assert "truncated" in err and "Traceback" not in err
    (tmp_path / "r.csv").write_text("dim,bits\n1,2\n")
    assert main(["stability", "analyze", str(tmp_path / "r.csv")]) == 2
    assert "lacks column" in capsys.readouterr().err
