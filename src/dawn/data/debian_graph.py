"""The Debian package dependency graph: a larger real graph for GNN training (63k vertices, 294k edges).

Vertices are the binary packages of Debian 12 ``main`` (amd64); a directed edge ``a -> b`` means ``a``
Depends, Pre-Depends, Recommends or Suggests ``b`` (every alternative of an ``|`` counts). The label
is the package's Section; features are the words of its short Description, its debtags and its
Installed-Size. Debian's archive moves, so the graph is snapshotted once into a small compressed file
shipped with dawn (:func:`build_snapshot` re-creates it from apt's index; its date and the index's
sha256 are stored inside).
"""

from __future__ import annotations

import collections
import datetime as _dt
import hashlib
import re
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from dawn.core.errors import DawnError
from dawn.core.io import atomic_write
from dawn.data.graphs import describe_graph, to_pyg
from dawn.data.registry import Dataset, register
from dawn.data.sources import sha256_file

SNAPSHOT = "debian_graph.npz"
SNAPSHOT_SHA256 = "841e9ff5a93e99a5b6b15c44390cae07adf5f80b04d97b12caff596ff980b1de"
_DEP_FIELDS = ("Depends", "Pre-Depends", "Recommends", "Suggests")
_N_WORDS, _N_TAGS = 256, 127


def _parse_packages(text: str) -> list[dict[str, str]]:
    stanzas = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Package" in fields:
            stanzas.append(fields)
    return stanzas


def build_snapshot(packages_index: Path, out: Path) -> Path:
    """Build the snapshot file from an apt ``Packages`` index (plain or ``.lz4``)."""
    if not packages_index.is_file():
        raise DawnError(f"no apt index at {packages_index}", "run `apt-get update` as root first")
    raw = subprocess.run(
        ["/usr/lib/apt/apt-helper", "cat-file", str(packages_index)], capture_output=True, check=True
    ).stdout
    stanzas = _parse_packages(raw.decode("utf-8", "replace"))
    names = sorted({s["Package"] for s in stanzas})
    index = {n: i for i, n in enumerate(names)}
    by_name = {s["Package"]: s for s in stanzas}
    edges = set()
    for s in by_name.values():
        src = index[s["Package"]]
        for fld in _DEP_FIELDS:
            for alt in re.split(r"[,|]", s.get(fld, "")):
                dep = alt.strip().split(" ")[0].split(":")[0]
                if dep in index and index[dep] != src:
                    edges.add((src, index[dep]))
    sections = sorted({by_name[n].get("Section", "unknown") for n in names})
    labels = np.array([sections.index(by_name[n].get("Section", "unknown")) for n in names], np.int16)
    words_per = [
        set(re.findall(r"[a-z][a-z0-9+]+", by_name[n].get("Description", "").lower())) for n in names
    ]
    tags_per = [{t.strip() for t in by_name[n].get("Tag", "").split(",") if t.strip()} for n in names]
    word_df = collections.Counter(w for ws in words_per for w in ws)
    tag_df = collections.Counter(t for ts in tags_per for t in ts)
    vocab = [w for w, _ in word_df.most_common(_N_WORDS)] + [t for t, _ in tag_df.most_common(_N_TAGS)]
    col = {v: j for j, v in enumerate(vocab)}
    rows, cols = [], []
    for i, (ws, ts) in enumerate(zip(words_per, tags_per, strict=True)):
        for tok in ws | ts:
            j = col.get(tok)
            if j is not None:
                rows.append(i)
                cols.append(j)
    size = np.array([int(by_name[n].get("Installed-Size", "0") or 0) for n in names], np.float32)
    e = np.array(sorted(edges), np.int32)
    with atomic_write(out, "wb") as fh:
        np.savez_compressed(
            fh,
            edges=e,
            labels=labels,
            feat_rows=np.array(rows, np.int32),
            feat_cols=np.array(cols, np.int16),
            installed_size_kb=size,
            names=np.array(names),
            sections=np.array(sections),
            vocab=np.array(vocab),
            index_sha256=np.array(hashlib.sha256(raw).hexdigest()),
            date=np.array(_dt.date.today().isoformat()),
        )
    return out


def load_debian_graph(paths: list[Path], *, split_seed: int = 0) -> Any:
    """The snapshot as a PyG ``Data``: 60/20/20 random split drawn with ``split_seed``."""
    ref = resources.files("dawn.data") / "snapshots" / SNAPSHOT
    with resources.as_file(ref) as p:
        if not p.is_file():
            raise DawnError(f"the bundled snapshot {SNAPSHOT} is missing", "reinstall dawn")
        if sha256_file(p) != SNAPSHOT_SHA256:
            raise DawnError(f"the bundled snapshot {p} fails its checksum", "reinstall dawn")
        z = np.load(p)
        n = len(z["names"])
        x = np.zeros((n, len(z["vocab"]) + 1), np.float32)
        x[z["feat_rows"], z["feat_cols"].astype(np.int64)] = 1.0
        x[:, -1] = np.log1p(z["installed_size_kb"]) / 10.0
        y = z["labels"].astype(np.int64)
        rng = np.random.default_rng(split_seed)
        perm = rng.permutation(n)
        masks = []
        for lo, hi in ((0, 0.6), (0.6, 0.8), (0.8, 1.0)):
            m = np.zeros(n, bool)
            m[perm[int(lo * n) : int(hi * n)]] = True
            masks.append(m)
        return to_pyg(
            x,
            z["edges"].astype(np.int64),
            y,
            tuple(masks),
            source_directed_edges=len(z["edges"]),
            snapshot=f"{z['date']} (apt index sha256 {str(z['index_sha256'])[:12]}…)",
        )


register(
    Dataset(
        "debian-graph",
        "Debian 12 package dependency graph: 63k packages, 299k dependency edges, 58 sections",
        loader=load_debian_graph,
        returns="torch_geometric.data.Data",
        describe=describe_graph,
        source="apt's index of Debian 12 main amd64, snapshotted into dawn/data/snapshots/debian_graph.npz",
        license="metadata of Debian packages (DFSG)",
        tags=("roc", "mlperf"),
    )
)
