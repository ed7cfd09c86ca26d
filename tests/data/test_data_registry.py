"""Registry and cache behaviour, without the network."""

import pytest

from dawn import data
from dawn.core.errors import DawnError
from dawn.data.sources import Artifact, extract, fetch, sha256_file


def test_every_issue_dataset_is_registered():
    wanted = {
        "cora",
        "citeseer",
        "pubmed",
        "debian-graph",
        "linux-doc-6.1",
        "linux-doc-6.12",
        "gcide",
        "vader-mr",
        "vader-tweets",
        "vader-amazon",
        "vader-nyt",
        "credit-cards",
        "loans",
        "caravan",
        "diamonds",
        "movielens",
        "flights",
        "mnist",
        "digits",
        "vtest",
        "hog-people",
        "glove-6b-50d",
        "all-minilm-l6-v2",
    }
    assert wanted <= set(data.names())


def test_every_artifact_is_pinned():
    for name in data.names():
        for a in data.get(name).artifacts:
            assert len(a.sha256) == 64 and a.version and a.filename, name


def test_unknown_name_suggests_close_matches():
    with pytest.raises(DawnError, match="did you mean cora"):
        data.get("corra")


def test_cached_file_is_used_without_download(tmp_path, monkeypatch):
    monkeypatch.setenv("DAWN_DATA_DIR", str(tmp_path))
    payload = b"hello"
    import hashlib

    art = Artifact("pypi", "nonexistent-pkg", "0.0", "x.whl", hashlib.sha256(payload).hexdigest())
    art.path.parent.mkdir(parents=True)
    art.path.write_bytes(payload)
    assert fetch(art) == art.path  # no pip call: the file is there
    assert sha256_file(art.path) == art.sha256


def test_unreachable_source_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DAWN_DATA_DIR", str(tmp_path))
    # Point pip at a closed loopback port and nowhere else: this is what an offline machine sees.
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    art = Artifact("pypi", "six", "1.16.0", "six-1.16.0-py2.py3-none-any.whl", "0" * 64)
    with pytest.raises(DawnError) as err:
        fetch(art)
    msg = err.value.one_line()
    assert "could not download six==1.16.0 from PyPI" in msg and "place six-1.16.0" in msg
    assert "\n" not in msg
    assert not art.path.exists()


def test_extract_is_atomic_and_happens_once(tmp_path, monkeypatch):
    import zipfile

    monkeypatch.setenv("DAWN_DATA_DIR", str(tmp_path))
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("pkg/data/one.txt", "1")
        zf.writestr("pkg/other.txt", "2")
    root = extract(z, "pkg/data/", "key")
    assert (root / "pkg/data/one.txt").read_text() == "1"
    assert not (root / "pkg/other.txt").exists()
    z.unlink()  # a second call must not touch the archive again
    assert extract(z, "pkg/data/", "key") == root
    assert not [p for p in root.parent.iterdir() if p.name.startswith(".")]


def test_bundled_stability_results_are_complete():
    facts = data.info("stability-paper-results")
    assert [
        facts[f"{a}_optimal_no_emb_norm_top_10000.csv"] for a in ("mc", "w2v_cbow", "glove", "ft_sg")
    ] == [108] * 4
