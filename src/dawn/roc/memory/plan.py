"""Transfer plans, their exact simulation, and the eviction policies: Belady, LRU and copy-everything.

A :class:`Plan` says, before each operator, which tensors leave the device (written back first if
they exist nowhere else and are still needed) and which are copied in. :func:`simulate` replays a plan
against a capacity, refuses any step that would exceed it or run an operator with a missing input, and
counts transferred bytes exactly. The public Roc code copies every input in and every output out
around every operator (:func:`naive_plan`); Belady's next-use rule (evict the tensor needed farthest
in the future) is optimal for uniform sizes and near-optimal here; LRU is the usual cache baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dawn.core.errors import DawnError
from dawn.roc.memory.ops import OpSequence

__all__ = ["Step", "Plan", "simulate", "naive_plan", "belady_plan", "lru_plan"]


@dataclass
class Step:
    """Before one operator: tensors evicted (``writeback`` ones copied to the host first), then loaded."""

    evict: list[str] = field(default_factory=list)
    writeback: list[str] = field(default_factory=list)
    load: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """Per-operator steps plus the final write-back of results; ``policy`` names who made it."""

    steps: list[Step]
    final_writeback: list[str]
    policy: str = ""


@dataclass(frozen=True)
class SimResult:
    """Exact bytes moved host->device (``h2d``) and device->host (``d2h``) and the peak device bytes."""

    h2d: int
    d2h: int
    peak: int

    @property
    def total(self) -> int:
        return self.h2d + self.d2h


def simulate(seq: OpSequence, plan: Plan, capacity: int) -> SimResult:
    """Replay ``plan``; raise ``DawnError`` if it ever exceeds ``capacity`` or breaks a dependency."""
    resident: set[str] = set()
    host = {t for t, s in seq.tensors.items() if s.on_host}
    h2d = d2h = peak = 0
    for i, (op, st) in enumerate(zip(seq.ops, plan.steps, strict=True)):
        for t in st.writeback:
            if t not in resident:
                raise DawnError(
                    f"plan writes back {t} at op {i} but it is not on the device", "fix the planner"
                )
            if t not in host:
                d2h += seq.tensors[t].nbytes
                host.add(t)
        for t in st.evict:
            if t not in resident:
                raise DawnError(f"plan evicts {t} at op {i} but it is not resident", "fix the planner")
            nxt = seq.next_use(t, i - 1)
            if nxt is not None and t not in host:
                raise DawnError(f"plan drops the only copy of {t} at op {i}", "write it back before evicting")
            resident.discard(t)
        for t in st.load:
            if t not in host:
                raise DawnError(f"plan loads {t} at op {i} but the host has no copy", "fix the planner")
            if t not in resident:
                h2d += seq.tensors[t].nbytes
                resident.add(t)
        missing = set(op.inputs) - resident
        if missing:
            raise DawnError(f"op {op.name} runs without {sorted(missing)} on the device", "fix the planner")
        resident |= set(op.outputs)
        host -= set(op.outputs)  # a freshly written tensor is only on the device
        used = seq.size(resident)
        if used > capacity:
            raise DawnError(
                f"plan needs {used} bytes at op {op.name}, capacity is {capacity}", "fix the planner"
            )
        peak = max(peak, used)
    for t in plan.final_writeback:
        if t not in host:
            d2h += seq.tensors[t].nbytes
            host.add(t)
    unsaved = [t for t, s in seq.tensors.items() if s.result and t not in host]
    if unsaved:
        raise DawnError(f"results {unsaved} never reach the host", "fix the planner")
    return SimResult(h2d, d2h, peak)


def naive_plan(seq: OpSequence) -> Plan:
    """What the public Roc code does: copy inputs in before every op, outputs out after it, keep nothing."""
    steps: list[Step] = []
    prev: set[str] = set()
    for i, op in enumerate(seq.ops):
        live = [t for t in sorted(prev) if seq.next_use(t, i - 1) is not None]
        steps.append(Step(evict=sorted(prev), writeback=live, load=list(dict.fromkeys(op.inputs))))
        prev = set(op.inputs) | set(op.outputs)
    return Plan(
        steps, sorted(t for t in prev if seq.tensors[t].result) + _pending_results(seq, steps), "naive"
    )


def _pending_results(seq: OpSequence, steps: list[Step]) -> list[str]:
    written = {t for s in steps for t in s.writeback}
    return sorted(t for t, s in seq.tensors.items() if s.result and t not in written)


def _evicting_plan(
    seq: OpSequence, capacity: int, score: Callable[[str, int, dict[str, int]], float], name: str
) -> Plan:
    if capacity < seq.min_capacity:
        raise DawnError(
            f"device capacity {capacity} bytes is below the largest operator's footprint {seq.min_capacity}",
            "raise the capacity or split the graph into more partitions",
        )
    resident: set[str] = set()
    dirty: set[str] = set()  # on the device only
    last: dict[str, int] = {}
    steps: list[Step] = []
    for i, op in enumerate(seq.ops):
        st = Step()
        need = seq.needs(i)
        for t in sorted(resident - need):  # dead tensors leave for free
            if seq.next_use(t, i - 1) is None:
                st.evict.append(t)
                resident.discard(t)
                dirty.discard(t)
        while seq.size(resident | need) > capacity:
            victim = max(resident - need, key=lambda t: (score(t, i, last), t))
            if victim in dirty:
                st.writeback.append(victim)
                dirty.discard(victim)
            st.evict.append(victim)
            resident.discard(victim)
        st.load = sorted(set(op.inputs) - resident)
        resident |= need
        dirty |= set(op.outputs)
        for t in need:
            last[t] = i
        steps.append(st)
    return Plan(steps, sorted(t for t in dirty if seq.tensors[t].result), name)


def belady_plan(seq: OpSequence, capacity: int) -> Plan:
    """Evict the tensor whose next use is farthest away (Belady's MIN)."""

    def farthest(t: str, i: int, last: dict[str, int]) -> float:
        nxt = seq.next_use(t, i - 1)
        return float("inf") if nxt is None else float(nxt)

    return _evicting_plan(seq, capacity, farthest, "belady")


def lru_plan(seq: OpSequence, capacity: int) -> Plan:
    """Evict the least recently used tensor."""
    return _evicting_plan(seq, capacity, lambda t, i, last: -float(last.get(t, -1)), "lru")
