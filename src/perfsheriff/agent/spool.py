"""The agent's spool: finished results that could not be uploaded yet, kept on disk until they are.

A result measured for an hour must survive the server being down and the
agent being restarted, so each one is a JSON file under ``<workdir>/spool/``
holding the request body and its idempotency key: sent again later, it is
stored exactly once however many times an earlier try reached the server.

Files are written whole or not at all (a temporary file, flushed and synced,
then renamed with :func:`os.replace`), so a crash never leaves half a result
to upload. Names start with a sequence number, which makes "oldest first" an
order of names. An item the server refuses (4xx: the job was done by another
agent, the body is invalid) or that cannot be read is moved to
``spool/rejected/`` with a ``.reason`` file beside it, to inspect by hand;
nothing is retried forever, nothing is deleted unread.

Record format, version history (bump ``VERSION`` for every change; readers
accept every version listed)::

    1  {"version": 1, "idempotency_key": str, "spooled_at": ISO 8601 time, "body": RunUpload.payload()}
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from perfsheriff.client import RunUpload
from perfsheriff.errors import InputError

VERSION = 1
_SUPPORTED_VERSIONS = (1,)
_ITEM = re.compile(r"(?P<seq>\d{10})-[0-9a-f]{16}\.json")
_TEMPORARY_PREFIX = ".tmp-"


@dataclass(frozen=True, slots=True)
class SpooledUpload:
    """One upload waiting for the server: the body and the key that makes resending it safe."""

    idempotency_key: str
    upload: RunUpload


class Spool:
    """The pending uploads in folder ``root`` (one agent per folder; the agent holds its workdir's lock)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.rejected = root / "rejected"

    def put(self, item: SpooledUpload, now: datetime) -> Path:
        """Keep ``item`` durably, after every item already pending; return its file."""
        self.root.mkdir(parents=True, exist_ok=True)
        pending = self.pending()
        seq = _sequence(pending[-1]) + 1 if pending else 1
        key_digest = hashlib.sha256(item.idempotency_key.encode()).hexdigest()[:16]
        record = {
            "version": VERSION,
            "idempotency_key": item.idempotency_key,
            "spooled_at": now.isoformat(),
            "body": item.upload.payload(),
        }
        target = self.root / f"{seq:010d}-{key_digest}.json"
        _write_atomically(target, json.dumps(record, ensure_ascii=False, indent=1).encode())
        return target

    def pending(self) -> list[Path]:
        """The items waiting, oldest first (temporary files of an interrupted write are not items)."""
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if _ITEM.fullmatch(p.name) and p.is_file())

    def load(self, path: Path) -> SpooledUpload:
        """Read an item; one that is unreadable or not a spool record raises InputError (reject it)."""
        try:
            record = json.loads(path.read_bytes())
        except (OSError, ValueError) as err:
            raise InputError(f"cannot read the spooled upload: {err}", source=str(path)) from None
        if not isinstance(record, dict) or record.get("version") not in _SUPPORTED_VERSIONS:
            raise InputError(
                f"not a spool record of version {', '.join(map(str, _SUPPORTED_VERSIONS))}", source=str(path)
            )
        key = record.get("idempotency_key")
        if not isinstance(key, str) or not key:
            raise InputError("the record has no idempotency_key", source=str(path))
        try:
            upload = RunUpload.from_payload(record.get("body"))
        except InputError as err:
            raise err.located(str(path)) from None
        return SpooledUpload(key, upload)

    def remove(self, path: Path) -> None:
        """Forget an item the server has stored."""
        path.unlink(missing_ok=True)

    def reject(self, path: Path, reason: str) -> Path:
        """Set an item aside in ``rejected/`` with ``reason`` in a ``.reason`` file beside it; return its new path.

        The reason is written first: a crash between the two steps leaves the
        item pending (tried again, harmlessly), never a rejected item without
        its reason.
        """
        self.rejected.mkdir(parents=True, exist_ok=True)
        target = self.rejected / path.name
        _write_atomically(target.with_name(target.name + ".reason"), (reason.rstrip() + "\n").encode())
        os.replace(path, target)
        _sync_directory(self.rejected)
        _sync_directory(self.root)
        return target

    def discard_temporary(self) -> list[Path]:
        """Delete what writes interrupted by a crash left behind; return what was deleted."""
        if not self.root.is_dir():
            return []
        stale = sorted(p for p in self.root.iterdir() if p.name.startswith(_TEMPORARY_PREFIX))
        for path in stale:
            path.unlink(missing_ok=True)
        return stale


def _sequence(path: Path) -> int:
    match = _ITEM.fullmatch(path.name)
    assert match is not None, "pending() lists spool items only"
    return int(match["seq"])


def _write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` so that readers see the old file or the whole new one, even after a crash."""
    temporary = target.with_name(f"{_TEMPORARY_PREFIX}{uuid.uuid4().hex}")
    try:
        with temporary.open("xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_directory(target.parent)


def _sync_directory(path: Path) -> None:
    """Make a rename in ``path`` durable (a no-op where directories cannot be opened, as on Windows)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
