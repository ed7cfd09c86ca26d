"""Plain-text rendering of ``OptimizedPipeline.explain()``."""

from __future__ import annotations

from typing import Any


def _no_bound() -> str:
    """How the heuristics mode accepts a plan, in place of a certified bound."""
    from dawn.willump.heuristics import TOLERANCE

    return f"accepted by the original's {TOLERANCE:g} accuracy rule (no bound)"


def _certified(plan: dict[str, Any], bound: float) -> str:
    """The guarantee of a cascade: certified risk and the bound at its threshold, or the original's rule."""
    if plan["mode"] == "willump":
        return _no_bound()
    return (
        f"certified <= {plan.get('max_loss')} at confidence {plan.get('confidence')} "
        f"(upper bound at this threshold alone {bound:.4f})"
    )


def _speedup(label: str, value: Any) -> str:
    """``label 1.23x``, or nothing when the figure is unknown (NaN)."""
    return "" if value is None or value != value else f"{label} {value:.2f}x"


def _precision(t: dict[str, Any]) -> str:
    """The top-K filter's precision guarantee, or the original's bootstrap rule (no bound)."""
    b = t["precision_bound"]
    if b is None or b != b:
        return "kept by the original's bootstrap rule (no bound)"
    return f"precision bound {b:.3f}"


def format_plan(plan: dict[str, Any]) -> str:
    """The plan as a few readable lines: groups, cascade, top-K."""
    if plan["mode"] == "willump":  # the original's rules: max_loss and confidence play no part
        goal = "the original's heuristics (no max_loss, no bound)"
    else:
        goal = f"max_loss {plan['max_loss']} ({plan.get('risk')}) at confidence {plan['confidence']}"
    lines = [
        f"mode {plan['mode']}, task {plan['task']}, {goal}; small models learn the "
        f"{plan.get('small_target', 'full model')} on {plan['n_fit']} rows; "
        f"selection {plan.get('n_sel', 0)} rows, certification {plan['n_cal']} rows"
    ]
    per_call = plan.get("cost_per_call", {})

    def fixed(name: str) -> str:  # a batch call's fixed part (plans saved before it was measured: -)
        return f"{per_call[name]['fixed_s'] * 1e6:>10.1f}" if name in per_call else f"{'-':>10}"

    lines.append(f"{'group':<14} {'batch us/row':>12} {'us/call':>10} {'single us':>10} {'importance':>11}")
    for g, d in plan["groups"].items():
        lines.append(f"{g:<14} {d['cost_batch_s'] * 1e6:>12.2f} {fixed(g)} {d['cost_single_s'] * 1e6:>10.1f} "
                     f"{d['importance']:>8.4f}±{d['importance_std']:.3f}")  # fmt: skip
    lines.append(
        f"{'(model)':<14} {plan['model_cost_batch_s'] * 1e6:>12.2f} {fixed('model')} "
        f"{plan['model_cost_single_s'] * 1e6:>10.1f}"
    )
    if plan.get("batch_rows") and plan["mode"] != "willump":  # the heuristics cost rows alone
        lines.append(f"batch plans are costed for calls of {plan['batch_rows']} rows (us/call: fixed part)")
    for name, d in plan.get("joint_costs", {}).items():
        if "+" in name:  # sets of groups timed together (remote lookups overlap local work)
            batch, single = d["cost_batch_s"] * 1e6, d["cost_single_s"] * 1e6
            lines.append(f"{name + ' (jointly)':<14} {batch:>12.2f} {'':>10} {single:>10.1f}")
    c = plan.get("cascade")
    if c is None:
        if plan.get("dropped_cascade"):  # certified, then timed slower than the full pipeline
            why = "the certified cascade measured slower than the full pipeline, dropped"
        elif len(plan.get("groups", {})) < 2:
            why = "one feature group: nothing to cascade on"
        else:
            why = "no candidate paid off"
        lines.append(f"cascade: none ({why}; the full pipeline answers every row)")
    else:
        # the heuristics' plans report their disagreement with the full model, whatever risk was asked
        risk = "disagreement" if plan["mode"] == "willump" else plan.get("risk")
        lines.append(
            f"cascade: cheap {c['cheap_groups']} -> {c['small_model']}, threshold {c['threshold']:.4f}, "
            f"answers {c['accept_rate']:.1%} early; {risk} {c['risk']:.4f} on calibration rows, "
            f"{_certified(plan, c['bound'])}; "
            f"expected speedup batch {c['expected_speedup_batch']:.2f}x, "
            f"single {c['expected_speedup_single']:.2f}x"
        )
        if plan.get("cascade_choice"):
            lines.append(f"         candidate choice: {plan['cascade_choice']}")
        if "measured_speedup_batch" in plan:
            lines.append(
                f"         measured batch speedup on calibration rows {plan['measured_speedup_batch']:.2f}x"
            )
    cs = plan.get("cascade_single")
    if cs is None:
        dropped = " (measured slower, dropped)" if plan.get("dropped_cascade_single") else ""
        lines.append(f"single-row (predict_one): full pipeline{dropped}")
    else:
        guarantee = _certified(plan, cs["bound"])
        median = _speedup(", median", cs.get("expected_p50_speedup_single"))
        lines.append(
            f"single-row (predict_one): cheap {cs['cheap_groups']}, threshold {cs['threshold']:.4f}, "
            f"answers {cs['accept_rate']:.1%} early, {guarantee}, "
            f"expected speedup mean {cs['expected_speedup_single']:.2f}x{median} "
            f"(plan chosen for the {plan.get('single_row_objective', 'mean')}); "
            f"small model scored by {cs.get('single_row_scorer', 'predict_proba')}"
        )
        if "measured_speedup_single" in plan:
            measured = plan["measured_speedup_single"]
            lines.append(f"         measured single-row speedup on calibration rows {measured:.2f}x")
    t = plan.get("topk")
    if t is None:
        dropped = " (measured slower, dropped)" if plan.get("dropped_topk") else ""
        lines.append(f"top-K: none{dropped} (full pipeline scores every row)")
    else:
        lines.append(
            f"top-K: cheap {t['cheap_groups']} -> {t['small_model']}, keeps {t['retain_fraction']:.2%} of "
            f"{t['n_query']} rows for K={t['k']}; {_precision(t)}; "
            f"expected speedup {t['expected_speedup']:.2f}x"
        )
        if "measured_topk_speedup" in plan:
            lines.append(
                f"       measured top-K speedup on calibration rows {plan['measured_topk_speedup']:.2f}x"
            )
    for use, r in (plan.get("serving") or {}).items():
        if r["rows"] and r["calibration_share"] is not None:  # the early share against calibration
            flag = "; SHIFT SUSPECTED: recalibrate" if r["shift_suspected"] else ""
            after = r.get("rows_after_stop", 0)  # absent from plans saved before it was counted
            stopped = (
                f" (early answers stopped: the full pipeline has served {after} rows since)"
                if r["stopped"]
                else ""
            )
            lines.append(
                f"served ({use}): {r['rows']} rows, {r['early_share']:.1%} early against "
                f"{r['calibration_share']:.1%} on calibration{flag}{stopped}"
            )
    for group, failed in (plan.get("remote_failures") or {}).items():
        if failed:
            lines.append(
                f"remote group {group!r}: {failed} rows served NaN features (lookups failed or timed out)"
            )
    lines.append(f"optimised in {plan.get('optimize_seconds', float('nan')):.1f} s")
    return "\n".join(lines)
