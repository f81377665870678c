"""What a run's numbers depend on besides the code: CPU, kernel, OS, Python, machine.

Recorded with every run so that a shift in a series can be told apart from a
machine upgrade (mypy's story in STORIES.md) and noise can be shown per machine.
"""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
# Keys naming the CPU in /proc/cpuinfo: x86 and most others, then older ARM and MIPS kernels.
_CPU_KEYS = ("model name", "cpu model", "Hardware", "Processor")


def describe_environment(machine: str | None = None) -> dict[str, str]:
    """The environment of runs on this machine; ``machine`` defaults to the host name."""
    return {
        "machine": machine or socket.gethostname(),
        "cpu_model": _cpu_model(),
        "cpu_count": str(os.cpu_count() or 0),
        "arch": platform.machine(),
        "kernel": platform.release(),
        "os": _os_name(),
        "python": platform.python_version(),
    }


def cpu_model_from_cpuinfo(text: str) -> str | None:
    """The CPU's name in ``/proc/cpuinfo`` text, or ``None`` when no known key carries one."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in _CPU_KEYS and value.strip():
            found.setdefault(key.strip(), value.strip())
    return next((found[key] for key in _CPU_KEYS if key in found), None)


def _cpu_model() -> str:
    try:
        model = cpu_model_from_cpuinfo(CPUINFO.read_text(errors="replace"))
    except OSError:  # not Linux, or /proc not mounted
        model = None
    return model or platform.processor() or platform.machine() or "unknown"


def _os_name() -> str:
    """``Linux (Debian GNU/Linux 12 (bookworm))``: the kernel's system name plus the distribution, if known."""
    system = platform.system() or "unknown"
    try:
        pretty = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except OSError:
        pretty = ""
    if not pretty and system == "Darwin":
        pretty = f"macOS {platform.mac_ver()[0]}"
    return f"{system} ({pretty})" if pretty else system
