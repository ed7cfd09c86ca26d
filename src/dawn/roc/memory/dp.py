"""The exact dynamic program over the operator chain (Roc's memory manager, Jia et al., MLSys 2020, sec. 5).

State after operator ``i``: which live tensors are on the device, and which of those also have a host
copy. Before operator ``i+1`` the planner keeps any subset of the resident tensors that, together with
the operator's inputs and outputs, fits the capacity; evicting a device-only tensor that is still needed
costs a write-back, and every missing input costs a load. Dynamic programming over (operator, state)
gives the minimum transfer volume exactly. The state space grows exponentially with the number of live
tensors, so the program refuses chains beyond ``max_states`` (use :func:`~dawn.roc.memory.plan.belady_plan`
for those). :func:`brute_force_cost` enumerates every decision sequence instead, as an independent check.
"""

from __future__ import annotations

import itertools

from dawn.core.errors import DawnError
from dawn.roc.memory.ops import OpSequence
from dawn.roc.memory.plan import Plan, Step

__all__ = ["dp_plan", "brute_force_cost"]

State = tuple[frozenset[str], frozenset[str]]  # (resident, device-only among resident)


def _transitions(seq: OpSequence, i: int, state: State, capacity: int):
    """Yield ``(cost, next_state, step)`` for every legal choice before and through operator ``i``."""
    resident, dirty = state
    need = seq.needs(i)
    op = seq.ops[i]
    live = [t for t in sorted(resident - need) if seq.next_use(t, i - 1) is not None]
    # tensors that died at the previous op were dropped from the state; the step must still free them
    prev = seq.needs(i - 1) if i > 0 else set()
    dead = sorted(t for t in prev - need if seq.next_use(t, i - 1) is None)
    load = sorted(set(op.inputs) - resident)
    load_cost = seq.size(load)
    base = seq.size(need)
    for r in range(len(live) + 1):
        for keep in itertools.combinations(live, r):
            if base + seq.size(keep) > capacity:
                continue
            evicted = [t for t in live if t not in keep]
            wb = [t for t in evicted if t in dirty]
            cost = load_cost + seq.size(wb)
            after = set(keep) | need
            new_dirty = (dirty & after) | set(op.outputs)
            # drop tensors with no use after this op now; it never costs anything
            after_live = frozenset(t for t in after if seq.next_use(t, i) is not None)
            yield cost, (after_live, frozenset(new_dirty & after_live)), Step(evicted + dead, wb, load)


def dp_plan(seq: OpSequence, capacity: int, *, max_states: int = 200_000) -> Plan:
    """The minimum-transfer plan under ``capacity`` (exact); raises if the state space is too large."""
    if capacity < seq.min_capacity:
        raise DawnError(
            f"device capacity {capacity} bytes is below the largest operator's footprint {seq.min_capacity}",
            "raise the capacity or split the graph into more partitions",
        )
    start: State = (frozenset(), frozenset())
    layers: list[dict[State, tuple[int, State | None, Step | None]]] = [{start: (0, None, None)}]
    for i in range(len(seq.ops)):
        nxt: dict[State, tuple[int, State | None, Step | None]] = {}
        for state, (cost, _, _) in layers[-1].items():
            for c, s2, step in _transitions(seq, i, state, capacity):
                if s2 not in nxt or cost + c < nxt[s2][0]:
                    nxt[s2] = (cost + c, state, step)
        if len(nxt) > max_states:
            raise DawnError(
                f"exact memory plan needs {len(nxt)} states at op {i} (limit {max_states})",
                "use the belady policy for sequences this large",
            )
        layers.append(nxt)
    # final write-back of device-only results
    best_state, best_cost = None, None
    for state, (cost, _, _) in layers[-1].items():
        total = cost + seq.size(t for t in state[1] if seq.tensors[t].result)
        if best_cost is None or total < best_cost:
            best_state, best_cost = state, total
    assert best_state is not None
    steps: list[Step] = []
    state = best_state
    for i in range(len(seq.ops), 0, -1):
        _, prev, step = layers[i][state]
        assert step is not None and prev is not None
        steps.append(step)
        state = prev
    steps.reverse()
    final = sorted(t for t in best_state[1] if seq.tensors[t].result)
    plan = Plan(steps, final, "dp")
    plan.cost = best_cost  # type: ignore[attr-defined]
    return plan


def brute_force_cost(seq: OpSequence, capacity: int) -> int:
    """Minimum transfer bytes by exhaustive search over every decision sequence (tiny chains only)."""

    def go(i: int, state: State) -> int:
        if i == len(seq.ops):
            return seq.size(t for t in state[1] if seq.tensors[t].result)
        best = None
        for c, s2, _ in _transitions(seq, i, state, capacity):
            v = c + go(i + 1, s2)
            best = v if best is None or v < best else best
        if best is None:
            raise DawnError("no feasible plan", "raise the capacity")
        return best

    return go(0, (frozenset(), frozenset()))
