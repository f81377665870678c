"""Reading result files from disk, for ``ingest`` and ``upload`` alike: bounded, regular files only, nothing outside.

A result path is a file, or a folder whose ``*.json`` files form one result
(Criterion's tree). What is read:

- regular files only: a FIFO would block the read forever, and a device never ends;
- inside a folder, what symbolic links lead to within it, never out of it
  (a link out, say to ``/proc/self/pagemap`` or ``~/.ssh``, is refused by
  name), and no linked folder is entered;
- at most ``limit`` bytes in all: checked from the files' sizes before
  anything is read, and again while reading, since a size can lie (files
  under ``/proc`` say 0 and never end; a file may still be growing);
- at most :data:`MAX_MEMBERS` files in a folder.

Every refusal is an InputError naming the file, which the CLI prints as
one line. Agent-side code: this module imports nothing but errors, so that
both the client (``upload``) and the ingest service use it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from perfsheriff.errors import InputError

MAX_MEMBERS = 10_000
_CHUNK = 1 << 20
_SUFFIXES = (".json",)
LIMIT_SETTING = "setting PERFSHERIFF_MAX_RESULT_BYTES"


@dataclass(frozen=True, slots=True)
class ResultBytes:
    """The bytes of one result file, or of each ``*.json`` file of a result folder (names relative, ``/``-separated)."""

    source: str
    files: tuple[tuple[str, bytes], ...]
    tree: bool


def read_result_bytes(path: Path, limit: int, *, limit_name: str = LIMIT_SETTING) -> ResultBytes:
    """Read a result file or folder under the rules of the module docstring; ``limit_name`` says how to raise it."""
    source = str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError("no such file", source=source) from None
    except OSError as err:
        raise InputError(f"cannot read it: {err.strerror or err}", source=source) from None
    if stat.S_ISDIR(info.st_mode):
        members = _members(path)
        if not members:
            raise InputError("the directory holds no *.json result files", source=source)
        _check_size(source, sum(size for _, _, size in members), limit, limit_name)
        budget = [limit]
        files = tuple((name, _read(member, budget, limit_name)) for name, member, _ in members)
        return ResultBytes(source, files, tree=True)
    _check_regular(path, info.st_mode)
    _check_size(source, info.st_size, limit, limit_name)
    return ResultBytes(source, ((path.name, _read(path, [limit], limit_name)),), tree=False)


def _members(root: Path) -> list[tuple[str, Path, int]]:
    """The folder's result files, sorted by name, with their sizes; refuses links out and special files."""
    inside = root.resolve()
    found = []
    for folder, _, names in os.walk(root, followlinks=False):
        for name in names:
            if not name.endswith(_SUFFIXES):
                continue
            member = Path(folder, name)
            if member.is_symlink():
                target = member.resolve()
                if not target.is_relative_to(inside):
                    raise InputError(f"a symbolic link out of the folder (to {target}) is not read", source=str(member))
            try:
                info = member.stat()
            except OSError as err:
                raise InputError(f"cannot read it: {err.strerror or err}", source=str(member)) from None
            _check_regular(member, info.st_mode)
            found.append((member.relative_to(root).as_posix(), member, info.st_size))
            if len(found) > MAX_MEMBERS:
                raise InputError(f"more than {MAX_MEMBERS:,} *.json files in one result", source=str(root))
    return sorted(found)


def _check_regular(path: Path, mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise InputError("not a regular file (a FIFO, a device or a socket is not read)", source=str(path))


def _check_size(source: str, size: int, limit: int, limit_name: str) -> None:
    if size > limit:
        raise InputError(
            f"{size:,} bytes is more than the limit of {limit:,} bytes for a result file ({limit_name})",
            source=source,
        )


def _read(path: Path, budget: list[int], limit_name: str) -> bytes:
    """Read ``path`` in chunks, taking its bytes from the shared ``budget``; refuse it past the budget."""
    chunks = []
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(min(_CHUNK, budget[0] + 1)):
                budget[0] -= len(chunk)
                if budget[0] < 0:
                    raise InputError(
                        f"more bytes than its size said, past the limit for a result file ({limit_name})",
                        source=str(path),
                    )
                chunks.append(chunk)
    except OSError as err:
        raise InputError(f"cannot read it: {err.strerror or err}", source=str(path)) from None
    return b"".join(chunks)
