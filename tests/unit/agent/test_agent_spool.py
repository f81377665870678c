"""The spool keeps undelivered uploads whole, in order, and sets aside what the server refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from perfsheriff.agent.spool import Spool, SpooledUpload, _write_atomically
from perfsheriff.client import JobRef, RunUpload
from perfsheriff.errors import InputError
from perfsheriff.model import Configuration, RunStatus

NOW = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
RESULT = json.dumps({"format": "perfsheriff", "version": 1, "results": [{"name": "a", "unit": "ms", "samples": [1]}]})


def item(job_id: int, status: RunStatus = RunStatus.OK) -> SpooledUpload:
    ref = JobRef(job_id, f"lease-{job_id}")
    upload = RunUpload(
        project="demo",
        revision="a" * 40,
        machine="bench-1",
        configuration=Configuration.of({"threads": "4"}),
        format="perfsheriff" if status is RunStatus.OK else None,
        files=(("result.json", RESULT),) if status is RunStatus.OK else (),
        environment=(("cpu_model", "Test CPU"),),
        status=status,
        error=None if status is RunStatus.OK else "command exited with status 1",
        log_tail="" if status is RunStatus.OK else "Traceback...\nValueError: boom",
        job=ref,
    )
    return SpooledUpload(ref.idempotency_key, upload)


def test_an_item_comes_back_exactly_as_it_was_put(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    for original in (item(1), item(2, RunStatus.FAILED), item(3, RunStatus.TIMEOUT)):
        path = spool.put(original, NOW)
        assert spool.load(path) == original
        spool.remove(path)
    assert spool.pending() == []


def test_items_are_listed_oldest_first_across_removals(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    paths = [spool.put(item(n), NOW) for n in range(1, 13)]  # past 9 and 10: names must sort as numbers
    assert spool.pending() == paths
    spool.remove(paths[0])
    spool.remove(paths[5])
    later = spool.put(item(99), NOW)
    assert spool.pending() == [*paths[1:5], *paths[6:], later]
    assert [spool.load(p).upload.job for p in spool.pending()][-1] == JobRef(99, "lease-99")


def test_a_record_names_its_version_key_and_time(tmp_path: Path) -> None:
    path = Spool(tmp_path / "spool").put(item(4), NOW)
    record = json.loads(path.read_text())
    assert record["version"] == 1
    assert record["idempotency_key"] == "job-4-lease-4"
    assert record["spooled_at"] == "2026-11-29T23:00:00+00:00"
    assert record["body"]["job"] == {"id": 4, "lease": "lease-4"}


def test_leftovers_of_an_interrupted_write_are_not_items_and_are_cleaned_up(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    kept = spool.put(item(1), NOW)
    half_written = spool.root / ".tmp-0123456789abcdef"
    half_written.write_text('{"version": 1, "idempotency_key": "job-2-')
    assert spool.pending() == [kept]
    assert spool.discard_temporary() == [half_written]
    assert sorted(p.name for p in spool.root.iterdir()) == [kept.name]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()  # os.replace of a file onto a directory fails after the data was written
    (target / "inside").write_text("untouched")
    with pytest.raises(OSError, match="directory"):
        _write_atomically(target, b"new content")
    assert [p.name for p in tmp_path.iterdir()] == ["target"]
    assert (target / "inside").read_text() == "untouched"


def test_a_rejected_item_moves_aside_unchanged_with_its_reason(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    first, second = spool.put(item(1), NOW), spool.put(item(2), NOW)
    original = first.read_bytes()
    moved = spool.reject(first, "job 1 is already done (HTTP 409 conflict)")
    assert spool.pending() == [second]
    assert moved == spool.root / "rejected" / first.name
    assert moved.read_bytes() == original
    assert moved.with_name(moved.name + ".reason").read_text() == "job 1 is already done (HTTP 409 conflict)\n"
    assert spool.put(item(3), NOW).name.startswith("0000000003-")  # a new item sorts after the pending one


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot read the spooled upload"),
        (json.dumps({"version": 7, "idempotency_key": "k", "body": {}}), "not a spool record of version 1"),
        (json.dumps({"version": 1, "body": {}}), "no idempotency_key"),
        (
            json.dumps({"version": 1, "idempotency_key": "k", "body": {"revision": "abc"}}),
            "'project': Field required",
        ),
    ],
)
def test_an_unreadable_item_is_an_input_error_naming_the_file(tmp_path: Path, content: str, message: str) -> None:
    spool = Spool(tmp_path / "spool")
    path = spool.put(item(1), NOW)
    path.write_text(content)
    with pytest.raises(InputError, match=message) as caught:
        spool.load(path)
    assert caught.value.source == str(path)


def test_an_empty_or_missing_spool_has_nothing_pending(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "never-created")
    assert spool.pending() == []
    assert spool.discard_temporary() == []
