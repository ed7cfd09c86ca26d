"""Roc's memory manager: plan which tensors stay on the device under a capacity, and run the plan."""

from dawn.roc.memory.dp import brute_force_cost, dp_plan
from dawn.roc.memory.executor import GCNTensors, execute
from dawn.roc.memory.ops import Op, OpSequence, TensorSpec, gcn_sequence, tile_nnz
from dawn.roc.memory.plan import Plan, SimResult, Step, belady_plan, lru_plan, naive_plan, simulate

__all__ = [
    "brute_force_cost",
    "dp_plan",
    "GCNTensors",
    "execute",
    "Op",
    "OpSequence",
    "TensorSpec",
    "gcn_sequence",
    "tile_nnz",
    "Plan",
    "SimResult",
    "Step",
    "belady_plan",
    "lru_plan",
    "naive_plan",
    "simulate",
    "plan_for",
]


def plan_for(seq: OpSequence, capacity: int, policy: str = "auto") -> Plan:
    """A plan by policy name: ``dp``, ``belady``, ``lru``, ``naive``, or ``auto`` (exact DP when the
    chain is small enough, Belady otherwise)."""
    from dawn.core.errors import DawnError

    if policy == "dp":
        return dp_plan(seq, capacity)
    if policy == "belady":
        return belady_plan(seq, capacity)
    if policy == "lru":
        return lru_plan(seq, capacity)
    if policy == "naive":
        return naive_plan(seq)
    if policy == "auto":
        if len(seq.ops) <= 40:
            try:
                return dp_plan(seq, capacity, max_states=20_000)
            except DawnError:
                pass
        return belady_plan(seq, capacity)
    raise DawnError(f"unknown memory policy {policy!r}", "use dp, belady, lru, naive or auto")
