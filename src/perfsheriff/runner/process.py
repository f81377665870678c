"""Run one shell command in its own process group, with a hard timeout that kills the whole group.

Benchmarks spawn compilers, servers and test runners; killing only the shell
would leave them running, holding the machine (and skewing the next
measurement) until some 5-hour CI limit. So each command starts a new session,
which makes its process group id its pid, and every ending signals that group: on timeout SIGTERM, then SIGKILL after a
grace period; after a normal exit SIGKILL to whatever the command left running
in the background.

The group outlives neither the command's end nor its runner: a small
supervisor process (:mod:`perfsheriff.supervision`) starts the command, tells
the runner its group, and kills that group when the runner's process ends in
any way, SIGKILL included. Each group is also
recorded in a registry folder while it runs (a file named after its id,
holding its leader's start time), so that the next runner on this machine
can kill what a crashed predecessor left (:func:`reap_groups`), without ever
signalling a group that merely reuses the id.

Output goes to files, not pipes: a grandchild that escapes the group and keeps
a pipe open would otherwise block the read forever, and files need no reader
thread however much a benchmark prints.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from perfsheriff.supervision import signal_group, supervised

SHELL = "/bin/sh"
_PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class Execution:
    """How one command ended: its exit status (``None`` when it timed out) and where its output is."""

    returncode: int | None
    stdout: Path
    stderr: Path
    duration_s: float

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def run_shell(
    command: str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    grace: float,
    stdout: Path,
    stderr: Path,
    registry: Path | None = None,
    wrapper: Sequence[str] = (),
) -> Execution:
    """Run ``command`` with ``/bin/sh -c`` in ``cwd``; stdout and stderr go to the given files.

    The process group is recorded in folder ``registry`` while it runs (see
    :func:`reap_groups`). ``wrapper`` is a command line put before the shell
    (a sandbox such as ``unshare ...``); it runs inside the supervised group.
    Raises OSError when the command cannot be started at all (missing
    directory, no memory, disk full): the machine's fault, not the code's.
    """
    returncode: int | None = None
    record: Path | None = None
    with stdout.open("wb") as out, stderr.open("wb") as err:
        started = time.monotonic()
        try:
            with supervised(
                [*wrapper, SHELL, "-c", command],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            ) as child:
                record = _register(registry, child.pgid)
                try:
                    returncode = child.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    _terminate(child.process, child.pgid, grace)
        finally:
            if record is not None:  # the group is gone: leaving the block killed what was left of it
                record.unlink(missing_ok=True)
    return Execution(returncode, stdout, stderr, time.monotonic() - started)


def reap_groups(registry: Path) -> list[int]:
    """Kill the process groups recorded in ``registry`` that are still running; return their ids.

    A record is left only by a runner that died before its command ended.
    A group is killed only when it is provably the recorded one: its leader
    still runs with the recorded start time, or the leader is gone but
    members remain (an id stays reserved while its group has members, so
    it cannot have been reused). Where start times cannot be read (no
    ``/proc``), a group whose leader runs is left alone. Every record is
    removed.
    """
    if not registry.is_dir():
        return []
    killed = []
    for record in sorted(registry.iterdir()):
        if not record.name.isdigit():
            continue
        pgid = int(record.name)
        try:
            recorded = record.read_text().strip()
        except OSError:
            recorded = ""
        if _exists(pgid, group=True) and (
            not _exists(pgid, group=False) or (recorded and _start_time(pgid) == recorded)
        ):
            signal_group(pgid, signal.SIGKILL)
            killed.append(pgid)
        record.unlink(missing_ok=True)
    return killed


def _register(registry: Path | None, pid: int | None) -> Path | None:
    """Record the group led by ``pid`` (with its start time) in ``registry``."""
    if registry is None or pid is None:
        return None
    registry.mkdir(parents=True, exist_ok=True)
    record = registry / str(pid)
    record.write_text(_start_time(pid) or "")
    return record


def _exists(pid: int, *, group: bool) -> bool:
    """Whether process ``pid`` (or with ``group``, process group ``pid``) exists."""
    try:
        (os.killpg if group else os.kill)(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (``/proc/<pid>/stat``), or None."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # the command name may hold spaces and parentheses
    return fields[19] if len(fields) > 19 else None


def _terminate(process: subprocess.Popen[bytes], pgid: int | None, grace: float) -> None:
    """SIGTERM the command's group, give it ``grace`` seconds to clean up, then SIGKILL it."""
    if pgid is None:
        return
    signal_group(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    # Children may ignore SIGTERM even when the shell is gone: the group gets SIGKILL regardless.
    signal_group(pgid, signal.SIGKILL)


def tail(path: Path, lines: int = 20, limit: int = 4000) -> str:
    """The last ``lines`` lines of a log file (at most ``limit`` characters), for messages and the run record."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 4 * limit))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    kept = "\n".join(text.rstrip().splitlines()[-lines:])
    return kept[-limit:]
