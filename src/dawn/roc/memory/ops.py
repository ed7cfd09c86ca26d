"""The operator sequence of one forward and backward pass, with exact tensor sizes.

Roc's memory manager (Jia et al., MLSys 2020, section 5) treats device memory as a cache over host
memory and plans, over the ordered forward and backward operators, which tensors stay on the device.
:func:`gcn_sequence` writes that sequence for an L-layer GCN (``Z = H W``, ``P = A Z``, ``H' = relu(P)``,
the loss, then the backward operators), optionally with real callables so a plan can be executed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["TensorSpec", "Op", "OpSequence", "gcn_sequence", "tile_nnz"]


@dataclass(frozen=True)
class TensorSpec:
    """A tensor of the pass: its bytes, whether it starts in host memory, whether it is a result.

    ``result`` tensors (weight gradients) must end in host memory.
    """

    name: str
    nbytes: int
    on_host: bool = False
    result: bool = False


@dataclass(frozen=True)
class Op:
    """One operator: the tensors it reads and writes (all must be on the device while it runs)."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @property
    def kind(self) -> str:
        """``matmul``, ``spmm``, ``relu``, ``loss``, ``relubwd``, ``spmmT``, ``wgrad`` or ``dgrad``."""
        return self.name.split("_")[0]


@dataclass
class OpSequence:
    """Ordered operators over named tensors, with use positions precomputed."""

    tensors: dict[str, TensorSpec]
    ops: list[Op]
    uses: dict[str, list[int]] = field(init=False)

    def __post_init__(self) -> None:
        self.uses = {t: [] for t in self.tensors}
        produced: set[str] = {t for t, s in self.tensors.items() if s.on_host}
        for i, op in enumerate(self.ops):
            for t in op.inputs:
                if t not in produced:
                    raise ValueError(f"op {op.name} reads {t} before it exists")
                self.uses[t].append(i)
            for t in op.outputs:
                produced.add(t)
                self.uses[t].append(i)
        m = len(self.ops)
        for t, s in self.tensors.items():
            if s.result:
                self.uses[t].append(m)  # results are "used" by the final write-back

    def size(self, names: Any) -> int:
        return sum(self.tensors[t].nbytes for t in names)

    def next_use(self, t: str, i: int) -> int | None:
        """First use of ``t`` strictly after op ``i`` (``len(ops)`` for a result's write-back)."""
        for u in self.uses[t]:
            if u > i:
                return u
        return None

    def needs(self, i: int) -> set[str]:
        return set(self.ops[i].inputs) | set(self.ops[i].outputs)

    @property
    def working_set(self) -> int:
        """Bytes of every tensor of the pass (what must fit if nothing is ever evicted)."""
        return self.size(self.tensors)

    @property
    def min_capacity(self) -> int:
        """The largest single operator's footprint: no plan fits in less."""
        return max(self.size(self.needs(i)) for i in range(len(self.ops)))


def gcn_sequence(n: int, nnz: int | list[int], dims: list[int], *, tiles: int = 1) -> OpSequence:
    """Forward+backward operators of a GCN with widths ``dims`` (``[in, hidden..., classes]``).

    With ``tiles > 1`` the vertices are cut into that many row blocks (Roc's partitions) and every
    row-wise operator runs per block; an aggregation block reads all blocks of its input, and a weight
    gradient accumulates over blocks. Tiling is what lets a graph larger than the device be trained:
    the largest operator then holds one block of the features, not all of them.

    Sizes are exact for float32 activations, int64 labels and a CSR adjacency with int64
    ``indptr``/``indices`` and float32 values: ``nnz`` is the number of entries of each block (a list), or
    a total spread evenly over blocks. Blocks have ``n // tiles`` rows, the first ``n % tiles`` one more.
    """
    f4 = 4
    L = len(dims) - 1
    if tiles < 1 or tiles > n:
        raise ValueError(f"tiles must be in 1..{n}")
    rows = [n // tiles + (1 if j < n % tiles else 0) for j in range(tiles)]
    if isinstance(nnz, int):
        nz = [nnz // tiles + (1 if j < nnz % tiles else 0) for j in range(tiles)]
    elif len(nnz) == tiles:
        nz = list(nnz)
    else:
        raise ValueError(f"nnz has {len(nnz)} entries for {tiles} tiles")
    T: dict[str, TensorSpec] = {}
    for j in range(tiles):
        T[f"X.{j}"] = TensorSpec(f"X.{j}", rows[j] * dims[0] * f4, on_host=True)
        T[f"A.{j}"] = TensorSpec(f"A.{j}", (rows[j] + 1) * 8 + nz[j] * 12, on_host=True)
        T[f"Y.{j}"] = TensorSpec(f"Y.{j}", rows[j] * 8, on_host=True)
    ops: list[Op] = []

    def act(base: str, width: int) -> list[str]:
        for j in range(tiles):
            T[f"{base}.{j}"] = TensorSpec(f"{base}.{j}", rows[j] * width * f4)
        return [f"{base}.{j}" for j in range(tiles)]

    def rowwise(kind: str, l: int, ins: list[tuple[str, ...]], outs: list[str]) -> None:
        for j in range(tiles):
            ops.append(Op(f"{kind}_{l}.{j}", ins[j], (outs[j],)))

    h = [f"X.{j}" for j in range(tiles)]
    for l in range(L):
        T[f"W{l}"] = TensorSpec(f"W{l}", dims[l] * dims[l + 1] * f4, on_host=True)
        z = act(f"Z{l}", dims[l + 1])
        rowwise("matmul", l, [(h[j], f"W{l}") for j in range(tiles)], z)
        p = act(f"P{l}", dims[l + 1])
        rowwise("spmm", l, [(f"A.{j}", *z) for j in range(tiles)], p)
        if l < L - 1:
            h = act(f"H{l + 1}", dims[l + 1])
            rowwise("relu", l, [(p[j],) for j in range(tiles)], h)
    g = act(f"GP{L - 1}", dims[L])
    rowwise("loss", L - 1, [(f"P{L - 1}.{j}", f"Y.{j}") for j in range(tiles)], g)
    for l in range(L - 1, -1, -1):
        if l < L - 1:
            gh = [f"GH{l + 1}.{j}" for j in range(tiles)]
            g = act(f"GP{l}", dims[l + 1])
            rowwise("relubwd", l, [(gh[j], f"H{l + 1}.{j}") for j in range(tiles)], g)
        gz = act(f"GZ{l}", dims[l + 1])
        # the normalised GCN adjacency is symmetric, so block j of A^T is block j of A
        rowwise("spmmT", l, [(f"A.{j}", *g) for j in range(tiles)], gz)
        gw = f"GW{l}"
        T[gw] = TensorSpec(gw, dims[l] * dims[l + 1] * f4, result=True)
        src = [f"X.{j}" for j in range(tiles)] if l == 0 else [f"H{l}.{j}" for j in range(tiles)]
        for j in range(tiles):  # accumulate the weight gradient block by block
            ops.append(Op(f"wgrad_{l}.{j}", (src[j], gz[j]) + ((gw,) if j else ()), (gw,)))
        if l > 0:
            gh = act(f"GH{l}", dims[l])
            rowwise("dgrad", l, [(gz[j], f"W{l}") for j in range(tiles)], gh)
    return OpSequence(T, ops)


def tile_nnz(indptr: Any, n: int, tiles: int) -> list[int]:
    """Entries per row block of a CSR with ``n`` rows cut as :func:`gcn_sequence` cuts it."""
    b = [0]
    for j in range(tiles):
        b.append(b[-1] + n // tiles + (1 if j < n % tiles else 0))
    return [int(indptr[b[j + 1]]) - int(indptr[b[j]]) for j in range(tiles)]
