"""Run one shell command in its own process group, with a hard timeout that kills the whole group.

Benchmarks spawn compilers, servers and test runners; killing only the shell
would leave them running, holding the machine (and skewing the next
measurement) until some 5-hour CI limit. So each command starts a new session
(``start_new_session=True``), which makes its process group id its pid, and
every ending signals that group: on timeout SIGTERM, then SIGKILL after a
grace period; after a normal exit SIGKILL to whatever the command left running
in the background.

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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SHELL = "/bin/sh"


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
) -> Execution:
    """Run ``command`` with ``/bin/sh -c`` in ``cwd``; stdout and stderr go to the given files.

    Raises OSError when the command cannot be started at all (missing
    directory, no memory, disk full): the machine's fault, not the code's.
    """
    with stdout.open("wb") as out, stderr.open("wb") as err:
        started = time.monotonic()
        process = subprocess.Popen(
            [SHELL, "-c", command],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        returncode: int | None = None
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _terminate(process, grace)
        finally:
            _signal_group(process.pid, signal.SIGKILL)  # stragglers; also on KeyboardInterrupt
            process.wait()
    return Execution(returncode, stdout, stderr, time.monotonic() - started)


def _terminate(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the group, give it ``grace`` seconds to clean up, then SIGKILL it."""
    _signal_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    # Children may ignore SIGTERM even when the shell is gone: the group gets SIGKILL regardless.
    _signal_group(process.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    """Signal a process group; a group that has already gone is fine.

    The id stays reserved while any member lives (POSIX never reuses the id
    of an existing process group), so this cannot reach an unrelated process.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


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
