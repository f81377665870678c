"""Child processes that die with this one: each command runs in a process group of its own, behind a supervisor.

A command started with :func:`supervised` leads a new process group that its
children join (git's helpers, a benchmark's compilers and servers). Leaving
the ``with`` block kills whatever is left of that group, on success, error
and ``KeyboardInterrupt`` alike; and if this process dies without leaving it
(SIGKILL, a crash, the OOM killer), the supervisor (``supervisor.py``, a
small process between this one and the command) kills the group as soon as
the kernel closes this process's end of a pipe. Either way nothing the
command started keeps running after us: not a benchmark that would skew the
next measurement, not a ``git`` that would go on writing a worktree the next
run checks out.

The supervisor is a Python process of its own (about 20 ms to start), so
commands that end in a millisecond or two and change nothing (git's queries)
are better run directly. Standard library only: ``gitrepo`` and the runner
both start their commands here.

    with supervised(["/usr/bin/git", "fetch"], env=env, stdout=PIPE, stderr=PIPE) as child:
        out, err = child.process.communicate()
    status = child.process.returncode  # the command's, as if it had been started directly
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

SUPERVISOR = Path(__file__).with_name("supervisor.py")

#: What a standard stream of the command may be: as for :class:`subprocess.Popen`.
Stream = int | IO[bytes] | None


@dataclass(frozen=True, slots=True)
class Supervised:
    """A command running behind its supervisor.

    ``process`` is the supervisor, which ends as the command ends (its exit
    status, or the same signal): wait on it, or talk to the command through
    its pipes, as if it were the command. ``pgid`` is the command's process
    group (its pid), or ``None`` when the command could not be started (the
    supervisor then exits with status 127 and says why on stderr).
    """

    process: subprocess.Popen[bytes]
    pgid: int | None


@contextlib.contextmanager
def supervised(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    stdin: Stream = None,
    stdout: Stream = None,
    stderr: Stream = None,
) -> Iterator[Supervised]:
    """Run ``argv`` (an absolute path first: no ``PATH`` lookup) in a new process group that dies with us.

    Leaving the block SIGKILLs what remains of the group and reaps the
    supervisor. Raises OSError when the supervisor cannot be started (a
    missing ``cwd``, no memory).
    """
    report_read, report_write = os.pipe()  # close-on-exec, like every descriptor not passed on
    watch_read, watch_write = os.pipe()
    try:
        with subprocess.Popen(
            [sys.executable, "-I", "-S", str(SUPERVISOR), str(report_write), str(watch_read), *argv],
            cwd=cwd,
            env=dict(env),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # a terminal's Ctrl-C reaches us, and we end the group ourselves
            pass_fds=(report_write, watch_read),
        ) as process:
            for fd in (report_write, watch_read):
                os.close(fd)
            report_write = watch_read = -1
            pgid: int | None = None
            try:
                pgid = _read_pid(report_read)
                yield Supervised(process, pgid)
            finally:
                if pgid is not None:
                    signal_group(pgid, signal.SIGKILL)  # stragglers; also on KeyboardInterrupt
                # Interrupted before the group was known, the supervisor kills it on seeing the pipe close.
                os.close(watch_write)
                watch_write = -1
                process.wait()
    finally:
        for fd in (report_read, report_write, watch_read, watch_write):
            if fd >= 0:
                os.close(fd)


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Signal a process group; a group that has already gone is fine.

    The id stays reserved while any member lives (POSIX never reuses the id
    of an existing process group), so this cannot reach an unrelated process.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _read_pid(fd: int) -> int | None:
    """The pid the supervisor reports on pipe ``fd`` (None when it could not start the command)."""
    data = b""
    while chunk := os.read(fd, 64):
        data += chunk
    return int(data) if data.strip() else None
