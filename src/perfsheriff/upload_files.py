"""What ``perfsheriff upload`` sends: result files read as text, and the upload's idempotency key.

The files are read under the rules of local ingestion (:mod:`perfsheriff.resultfiles`); the key makes a
re-run CI step with the same files for the same target a no-op on the server. Agent-side code, like the
client: it imports the model and errors only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from perfsheriff.errors import InputError
from perfsheriff.model import Configuration
from perfsheriff.resultfiles import read_result_bytes


@dataclass(frozen=True, slots=True)
class ResultFiles:
    """The text of one result file, or of every ``*.json`` below a result directory (``tree``)."""

    source: str
    files: tuple[tuple[str, str], ...]
    tree: bool


#: The largest result (file, or directory of files) ``upload`` reads: the server's default request limit.
MAX_UPLOAD_BYTES = 64 * 1024 * 1024


def read_result_path(path: Path, limit: int = MAX_UPLOAD_BYTES) -> ResultFiles:
    """Read a result file, or a directory's ``*.json`` files (keys relative to it), as UTF-8 text.

    Under the same rules as local ingestion (:mod:`perfsheriff.resultfiles`:
    regular files only, no symbolic link out of a directory, at most
    ``limit`` bytes, checked before reading and enforced while reading).
    """
    read = read_result_bytes(path, limit, limit_name="--max-bytes")
    files = tuple((name, _text(name, data, path, read.tree)) for name, data in read.files)
    return ResultFiles(read.source, files, read.tree)


def _text(name: str, data: bytes, path: Path, tree: bool) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        source = str(path / name) if tree else str(path)
        raise InputError(f"not UTF-8 text (byte {err.start})", source=source) from None


def upload_key(
    *,
    project: str,
    branch: str | None,
    revision: str,
    machine: str,
    configuration: Configuration,
    files: tuple[tuple[str, str], ...],
) -> str:
    """The idempotency key of an upload: SHA-256 of where the results go and of each file's name and bytes.

    Re-running a CI step with the same files for the same target is then a
    no-op on the server, while any change to the files or the target is a new run.
    """
    digest = hashlib.sha256()
    target = [project, branch, revision, machine, [list(item) for item in configuration.items]]
    digest.update(json.dumps(target, ensure_ascii=False).encode())
    for name, text in sorted(files):
        digest.update(b"\0" + name.encode() + b"\0" + hashlib.sha256(text.encode()).digest())
    return f"upload-{digest.hexdigest()}"
