"""What /proc says about processes (their group, their parents, whether they still run), for kill tests."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


def stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name: state, ppid, pgrp, …; OSError when gone."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def process_group(pid: int) -> int | None:
    """The process group of ``pid``, or None when it has gone."""
    try:
        return int(stat_fields(pid)[2])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not: a container's PID 1 may never reap it)."""
    try:
        return stat_fields(pid)[0] != "Z"
    except (OSError, IndexError):
        return False


def live_members(groups: set[int]) -> list[int]:
    """The running (non-zombie) processes of the given process groups."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = stat_fields(int(entry.name))
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[2]) in groups:
                found.append(int(entry.name))
    return found


def command_line(pid: int) -> str:
    """The command line of ``pid``, its arguments joined by spaces ("" when it has gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def ancestors(pid: int, until: int) -> list[int]:
    """``pid`` and its parents, nearest first, up to but not including ``until`` (or the first that has gone)."""
    found = []
    while pid not in (until, 0, 1):
        try:
            parent = int(stat_fields(pid)[1])
        except (OSError, ValueError, IndexError):
            break
        found.append(pid)
        pid = parent
    return found


def kill_with_supervisor(parent: subprocess.Popen[str] | subprocess.Popen[bytes], shell: int) -> int:
    """SIGKILL ``parent`` and the supervisor of its benchmark's ``shell``, which survives; return the shell's group.

    The supervisor is frozen first, so that it cannot kill the group when
    ``parent`` dies: what a machine that kills both leaves behind.
    """
    group = process_group(shell)
    assert group is not None
    supervisor = int(stat_fields(shell)[1])
    os.kill(supervisor, signal.SIGSTOP)
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    os.kill(supervisor, signal.SIGKILL)
    assert alive(shell)  # nothing took the benchmark down this time
    return group
