"""A working folder that one process uses at a time: an agent's ``--workdir``, or ``track``'s and ``bisect``'s.

It holds worktree slots, attempts' outputs and the registry of running
process groups; two processes sharing one would check revisions out under
each other's benchmarks and kill each other's groups as leftovers. So a
process first takes :func:`exclusive` hold of the folder: an ``flock`` on
``perfsheriff.lock`` in it, which the kernel releases however the holder
ends (SIGKILL included), so a lock is never stale. The holder writes its pid
in the file, and a second process is refused with one line naming it.

Holding the folder, a process cleans up after a predecessor that was killed
mid-benchmark with :func:`perfsheriff.runner.process.reap_groups` (normally
the supervisor has already killed the group; not when it died too).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from perfsheriff.errors import InputError

LOCK_FILE = "perfsheriff.lock"


@contextlib.contextmanager
def exclusive(workdir: Path) -> Iterator[None]:
    """Hold ``workdir`` (created if missing) for this process; InputError naming the holder when another has it."""
    workdir.mkdir(parents=True, exist_ok=True)
    with (workdir / LOCK_FILE).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip()  # empty for the moment between the holder's lock and its write
            holder = f"another perfsheriff process (pid {pid})" if pid.isdigit() else "another perfsheriff process"
            raise InputError(
                f"{holder} is using this folder; wait for it to end, or give each its own --workdir",
                source=str(workdir),
            ) from None
        try:
            handle.truncate(0)
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
