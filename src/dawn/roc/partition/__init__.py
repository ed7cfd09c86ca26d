"""Graph partitioners: Roc's learned cost-model ranges; equal-vertex, equal-edge and METIS baselines."""

from dawn.roc.partition.base import Partition, boundary_rows, locality_order, permute_csr
from dawn.roc.partition.baselines import equal_edges, equal_vertices, metis, split_prefix
from dawn.roc.partition.cost_model import NonNegativeRidge, range_boundary, range_features, vertex_features
from dawn.roc.partition.learned import LearnedPartitioner, balance
from dawn.roc.partition.profile import PartitionProfiler, local_graph, time_interleaved

__all__ = [
    "Partition",
    "boundary_rows",
    "locality_order",
    "permute_csr",
    "equal_edges",
    "equal_vertices",
    "metis",
    "split_prefix",
    "NonNegativeRidge",
    "vertex_features",
    "range_boundary",
    "range_features",
    "LearnedPartitioner",
    "balance",
    "PartitionProfiler",
    "local_graph",
    "time_interleaved",
]
