"""Stands between a parent and its command: when the parent dies, the command's process group dies too.

:func:`perfsheriff.supervision.supervised` starts this file as a script,
``python -I -S supervisor.py REPORT WATCH COMMAND...``, in a session of its
own. It starts the command in a new session too (so the command leads a new
process group that all its children join), writes the command's pid, which
is the group's id, to the pipe ``REPORT`` and closes it, and waits for the
command. ``WATCH`` is the read end of a pipe whose only write end the parent
holds. The kernel closes that end when the parent exits for any reason,
SIGKILL and crashes included, and the read here then returns end-of-file:
the supervisor SIGKILLs the command's group, reaps the command and exits.
Without it, a benchmark of a killed agent would go on running (holding the
machine and skewing the next measurement) and could write its results where
a later run reads them, and a killed agent's ``git`` would go on writing a
worktree that the next agent checks out again.

Otherwise it is transparent: it ends as the command ended (its exit status,
or the same signal), and the parent signals the command's group itself (on a
timeout, say). Being outside that group, the supervisor survives those
signals and reaps the command, so no zombie is left to an ``init`` that may
not reap.

A pipe rather than ``PR_SET_PDEATHSIG``: the death signal reaches only the
child itself, not what it started (``git worktree add`` runs ``git reset
--hard``, which runs the smudge filters; ``git clone`` runs ``upload-pack``),
it fires when the *thread* that started the child ends, and it is
Linux-only; the pipe says "the parent process is gone" on every POSIX system. Processes that leave the
group (``setsid``) are out of its reach, as they are out of a timeout's.

Standard library only, and no import of perfsheriff: it runs with ``-I -S``
so that it starts in milliseconds. A command that cannot be started ends it
with status 127, with the reason on stderr, as a shell would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

_CANNOT_START = 127


def _watch(fd: int, pgid: int) -> None:
    """Block until every write end of the pipe is closed (the runner is gone), then kill the command's group."""
    with contextlib.suppress(OSError):
        while os.read(fd, 512):
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _spawn(argv: list[str]) -> int:
    """Start ``argv`` (a path and its arguments) in a new session; return its pid."""
    try:
        return os.posix_spawn(argv[0], argv, os.environ, setsid=True)
    except NotImplementedError:  # a C library without POSIX_SPAWN_SETSID: a new group is what matters
        return os.posix_spawn(argv[0], argv, os.environ, setpgroup=0)


def main(argv: list[str]) -> int:
    """Run ``argv[3:]`` under the watch of pipe ``argv[2]``, its pid told on ``argv[1]``; return its exit status."""
    if len(argv) < 4:
        print("usage: supervisor.py REPORT-FD WATCH-FD COMMAND [ARG...]", file=sys.stderr)
        return 2
    report, watch = int(argv[1]), int(argv[2])
    os.set_inheritable(watch, False)  # the command need not hold the pipes
    os.set_inheritable(report, False)
    try:
        pid = _spawn(argv[3:])
    except OSError as err:
        print(f"cannot start {argv[3]}: {err.strerror or err}", file=sys.stderr)
        return _CANNOT_START
    os.write(report, f"{pid}\n".encode())
    os.close(report)
    threading.Thread(target=_watch, args=(watch, pid), daemon=True).start()
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # end the same way, so the runner reports the command's signal
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
