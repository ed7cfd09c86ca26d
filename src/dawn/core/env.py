"""What machine and software a result came from: for ``dawn env``, report stamps and system descriptions."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import socket
import sys
from typing import Any

#: Distributions whose versions are worth stating beside a result.
TRACKED_PACKAGES = (
    "dawn",
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "torch",
    "torch-geometric",
    "pymetis",
    "lightgbm",
    "xgboost",
    "redis",
    "gensim",
    "opencv-python-headless",
    "mlperf-logging",
    "matplotlib",
)


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution, ``None`` when absent."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_bytes() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:  # psutil missing or unsupported platform: report unknown, never fail
        return None


def accelerators() -> list[dict[str, Any]]:
    """GPUs visible to torch (empty on CPU-only machines); never imports torch if it is not installed."""
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    out = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        out.append({"name": props.name, "memory_bytes": int(props.total_memory)})
    return out


def collect_environment(include_accelerators: bool = True) -> dict[str, Any]:
    """Host, OS, CPU, memory, accelerators, Python and package versions, and the current UTC time."""
    return {
        "date_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": socket.gethostname(),
        "os": f"{platform.system()} {platform.release()}",
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
        "accelerators": accelerators() if include_accelerators else [],
        "packages": package_versions(),
    }


def format_environment(env: dict[str, Any]) -> str:
    """Human-readable lines for ``dawn env``."""
    mem = env.get("memory_bytes")
    lines = [
        f"date (UTC)   {env['date_utc']}",
        f"host         {env['host']}",
        f"os           {env['os']}",
        f"python       {env['python']}",
        f"cpu          {env['cpu']} ({env['cpu_count']} logical cores)",
        f"memory       {mem / 2**30:.1f} GiB" if mem else "memory       unknown",
    ]
    accs = env.get("accelerators") or []
    lines.append("accelerators " + (", ".join(a["name"] for a in accs) if accs else "none (CPU only)"))
    lines.append("packages")
    for name, ver in env["packages"].items():
        lines.append(f"  {name:<24} {ver or 'not installed'}")
    return "\n".join(lines)
