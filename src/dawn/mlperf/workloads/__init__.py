"""Reference workloads on real data (via :mod:`dawn.data`): digits (CI), MNIST, MovieLens NCF, Cora GCN."""
