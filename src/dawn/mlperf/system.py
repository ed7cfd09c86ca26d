"""System description: this machine in the official MLPerf JSON, valid under ``system_desc_checker``.

The rules ask every submission to describe its system in 33 fields (Mattson et al., MLSys 2020,
Sec. 4: "Submission, review and reporting"). :func:`describe_system` fills them from
:func:`dawn.core.env.collect_environment`; fields a program cannot know (cooling, interconnect
topology) are ``"N/A"`` or left for the submitter to override.
"""

from __future__ import annotations

import os
import platform
from typing import Any

#: The fields ``mlperf_logging.system_desc_checker`` requires, in its order.
REQUIRED_FIELDS = (
    "submitter",
    "division",
    "status",
    "system_name",
    "number_of_nodes",
    "host_processors_per_node",
    "host_processor_model_name",
    "host_processor_core_count",
    "host_processor_vcpu_count",
    "host_processor_frequency",
    "host_processor_caches",
    "host_processor_interconnect",
    "host_memory_capacity",
    "host_storage_type",
    "host_storage_capacity",
    "host_networking",
    "host_networking_topology",
    "host_memory_configuration",
    "accelerators_per_node",
    "accelerator_model_name",
    "accelerator_host_interconnect",
    "accelerator_frequency",
    "accelerator_on-chip_memories",
    "accelerator_memory_configuration",
    "accelerator_memory_capacity",
    "accelerator_interconnect",
    "accelerator_interconnect_topology",
    "cooling",
    "hw_notes",
    "framework",
    "other_software_stack",
    "operating_system",
    "sw_notes",
)
STATUS = "Research, Development, or Internal (RDI)"


def describe_system(
    *,
    submitter: str = "dawn",
    division: str = "closed",
    system_name: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The official system-description dict for the machine this runs on."""
    from dawn.core.env import collect_environment

    env = collect_environment()
    accs = env.get("accelerators") or []
    mem = env.get("memory_bytes")
    pkgs = env.get("packages") or {}
    torch_v = pkgs.get("torch", "unknown")
    ncpu = os.cpu_count() or 1
    desc: dict[str, Any] = {
        "submitter": submitter,
        "division": division,
        "status": STATUS,
        "system_name": system_name or f"{platform.node() or 'host'}_cpu{ncpu}",
        "number_of_nodes": "1",
        "host_processors_per_node": "1",
        "host_processor_model_name": env.get("cpu") or platform.processor() or "unknown",
        "host_processor_core_count": str(ncpu),
        "host_processor_vcpu_count": str(ncpu),
        "host_processor_frequency": "N/A",
        "host_processor_caches": "N/A",
        "host_processor_interconnect": "N/A",
        "host_memory_capacity": f"{mem / 2**30:.0f} GB" if mem else "unknown",
        "host_storage_type": "N/A",
        "host_storage_capacity": "N/A",
        "host_networking": "N/A",
        "host_networking_topology": "N/A",
        "host_memory_configuration": "N/A",
        "accelerators_per_node": str(len(accs)),
        "accelerator_model_name": ", ".join(a.get("name", "?") for a in accs) if accs else "N/A (CPU only)",
        "accelerator_host_interconnect": "N/A",
        "accelerator_frequency": "N/A",
        "accelerator_on-chip_memories": "N/A",
        "accelerator_memory_configuration": "N/A",
        "accelerator_memory_capacity": "N/A",
        "accelerator_interconnect": "N/A",
        "accelerator_interconnect_topology": "N/A",
        "cooling": "N/A",
        "hw_notes": "",
        "framework": f"PyTorch {torch_v}",
        "other_software_stack": ", ".join(f"{k} {v}" for k, v in sorted(pkgs.items()) if k != "torch"),
        "operating_system": env.get("os") or platform.platform(),
        "sw_notes": f"Python {env.get('python')}; dawn.mlperf harness",
    }
    desc.update(overrides or {})
    return desc


def check_system_desc(path: str | os.PathLike[str], ruleset: str = "5.0.0") -> tuple[bool, list[str]]:
    """Run the official ``system_desc_checker`` on a JSON file; (valid, one line per problem)."""
    import json
    import logging

    from mlperf_logging.system_desc_checker import system_desc_checker

    problems: list[str] = []
    try:
        with open(path) as fh:
            contents = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        return False, [f"cannot read {path}: {exc}"]
    problems += [f"missing field {f}" for f in REQUIRED_FIELDS if f not in contents]
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        valid, *_ = system_desc_checker.check_system_desc(str(path), "training", ruleset)
    finally:
        logging.disable(previous)
    if not valid and not problems:
        problems.append(f"status must be one of the official availability options, e.g. {STATUS!r}")
    return bool(valid), problems
