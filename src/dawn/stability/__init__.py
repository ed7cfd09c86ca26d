"""dawn.stability: downstream instability of word embeddings (Leszczynski et al., MLSys 2020).

Measures that predict how much retraining embeddings on a newer corpus changes downstream predictions
(eigenspace instability, k-NN, semantic displacement, PIP loss, eigenspace overlap), compression by
uniform quantisation, selection of dimension and precision under a memory budget, and the analysis of
the paper's results. Paper: https://arxiv.org/abs/2003.04983.
"""

from dawn.stability.anchors import Anchors
from dawn.stability.compress import BITS, compress_pair, find_clip, procrustes_align, quantize
from dawn.stability.embedding import Embedding, align_pair, load_embedding, save_embedding, shared_vocabulary
from dawn.stability.measures import (
    MEASURES,
    PAPER_MEASURES,
    Pair,
    compute_measures,
    get_measure,
    register_measure,
)
from dawn.stability.selection import oracle_gap, select, selection_error

__all__ = [
    "Anchors",
    "BITS",
    "Embedding",
    "MEASURES",
    "PAPER_MEASURES",
    "Pair",
    "align_pair",
    "compress_pair",
    "compute_measures",
    "find_clip",
    "get_measure",
    "load_embedding",
    "oracle_gap",
    "procrustes_align",
    "quantize",
    "register_measure",
    "save_embedding",
    "select",
    "selection_error",
    "shared_vocabulary",
]
