"""Benchmarks run code from commits: what they may see of the machine that runs them.

A benchmark is whatever the measured commit contains, so it must not learn
the agent's API token. Two layers:

- the environment: a benchmark gets only the variables of an allow-list
  (:func:`benchmark_environment`), plus those its configuration sets and
  those an operator names (``--pass-env``); never ``PERFSHERIFF_*``, cloud or
  CI credentials the agent happened to inherit;
- a sandbox (optional, ``--sandbox``): the benchmark runs in new user, mount
  and PID namespaces, where it sees a ``/proc`` of its own (not the agent's
  command line or environment) and the given paths (the token file, the
  spool) are masked. It keeps no capability, whoever runs the agent: with
  one (root's are kept by default by both tools) it could unmount the masks.
  ``unshare`` (util-linux, with ``setpriv`` to drop the capabilities) or
  ``bwrap`` (bubblewrap) does it; asking for one that this machine cannot
  provide is an error, said at start-up, never a silent run without it.
  ``bwrap`` also confines writes: the whole file system is read-only but for
  the folders given as writable (the agent's worktrees and outputs) and
  ``TMPDIR``, with a private ``/dev`` (no GPUs or other devices). Under
  ``unshare`` files, network and the user id are those of the agent: it
  protects the token, not the machine (for that, run the agent as a
  dedicated user on a dedicated machine).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from perfsheriff.errors import InputError

SANDBOXES = ("none", "unshare", "bwrap")

#: What a benchmark inherits from the agent's environment unless more is named.
PASSED_VARIABLES = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR", "TEMP", "TMP"}
)
PASSED_PREFIXES = ("LC_",)

# Masks each path before "--" (a folder with an empty tmpfs, a file with /dev/null), then runs what follows.
_MASK = (
    'while [ "$1" != -- ]; do '
    'if [ -d "$1" ]; then mount -t tmpfs -o size=64k,mode=000 none "$1"; else mount --bind /dev/null "$1"; fi '
    '|| exit 126; shift; done; shift; exec "$@"'
)
_PROBE_TIMEOUT_S = 20


def benchmark_environment(environ: Mapping[str, str], extra: Iterable[str] = ()) -> dict[str, str]:
    """The part of ``environ`` a benchmark may see: the allow-list, ``LC_*``, and the names in ``extra``."""
    named = set(extra)
    return {
        name: value
        for name, value in environ.items()
        if (name in PASSED_VARIABLES or name.startswith(PASSED_PREFIXES) or name in named)
        and not name.startswith("PERFSHERIFF_")
    }


def sandbox_wrapper(
    kind: str, masked: Sequence[Path], writable: Sequence[Path] = (), tmpdir: Path | None = None
) -> tuple[str, ...]:
    """The command line that runs a benchmark's shell in sandbox ``kind``, with ``masked`` paths hidden.

    ``()`` for ``none``. With ``bwrap``, ``writable`` folders and ``tmpdir``
    (the benchmark's ``TMPDIR``), which must exist, are the only places the
    benchmark may write; ``unshare`` does not confine writes. Checks that the
    tool exists and works here (one trial run): raises InputError saying why
    not, so that an agent asked for a sandbox never runs a benchmark without it.
    """
    if kind not in SANDBOXES:
        raise InputError(f"expected one of {', '.join(SANDBOXES)}, got {kind!r}", where="--sandbox")
    if kind == "none":
        return ()
    tool = shutil.which(kind)
    if tool is None:
        package = "bubblewrap" if kind == "bwrap" else "util-linux"
        raise InputError(f"{kind} is not installed (install {package}), or choose another sandbox", where="--sandbox")
    hidden = [str(path.absolute()) for path in masked if path.exists()]
    if kind == "unshare":
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise InputError("unshare needs setpriv (install util-linux), or choose another sandbox", where="--sandbox")
        # The masking shell keeps the namespace's capabilities (--keep-caps: an unprivileged user's shell would
        # lose them on exec and could not mount); the benchmark gets none, so it cannot unmount a mask.
        wrapper: tuple[str, ...] = (
            tool,
            "--map-current-user",
            "--keep-caps",
            "--mount",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "--propagation",
            "private",
            "/bin/sh",
            "-c",
            _MASK,
            "mask",
            *hidden,
            "--",
            setpriv,
            "--inh-caps=-all",
            "--ambient-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
        )
    else:
        wrapper = (tool, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc")
        for folder in [*writable, *([tmpdir] if tmpdir else [])]:
            wrapper += ("--bind", str(folder.absolute()), str(folder.absolute()))
        if tmpdir is not None:
            wrapper += ("--setenv", "TMPDIR", str(tmpdir.absolute()))
        wrapper += ("--unshare-pid", "--unshare-ipc", "--unshare-user-try", "--cap-drop", "ALL")
        for path in hidden:
            wrapper += ("--tmpfs", path) if Path(path).is_dir() else ("--ro-bind", "/dev/null", path)
        wrapper += ("--die-with-parent", "--")
    _probe(kind, wrapper)
    return wrapper


def _probe(kind: str, wrapper: tuple[str, ...]) -> None:
    """Run ``true`` in the sandbox once; a machine that forbids it (no user namespaces) fails here, clearly."""
    try:
        done = subprocess.run(
            [*wrapper, "/bin/sh", "-c", "true"],
            capture_output=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
            env=benchmark_environment(os.environ),
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise InputError(f"{kind} cannot run here: {err}", where="--sandbox") from None
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise InputError(
            f"{kind} cannot create a sandbox here: {reason[-1] if reason else f'exit status {done.returncode}'}",
            where="--sandbox",
        )
