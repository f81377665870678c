"""The wire's models: their vocabularies are the core's and the services', times keep their text."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from perfsheriff import wire
from perfsheriff.alerts import AlertKind
from perfsheriff.errors import (
    ConflictError,
    FormatError,
    GitError,
    InputError,
    NotFoundError,
    PerfsheriffError,
    StoreError,
)
from perfsheriff.model import JobReason, JobState
from perfsheriff.roles import Role
from perfsheriff.stats.compare import ComparisonVerdict, DataProblem
from perfsheriff.stats.gate import RuleKind
from perfsheriff.triage.states import State
from perfsheriff.wire import queue, reads


@pytest.mark.parametrize(
    ("written", "source"),
    [
        (reads.AlertKind, AlertKind),
        (reads.Verdict, ComparisonVerdict),
        (reads.DataProblem, DataProblem),
        (reads.RuleKind, RuleKind),
        (reads.TriageState, State),
        (queue.JobState, JobState),
        (queue.Role, Role),
        (queue.Job.model_fields["reason"].annotation, JobReason),
    ],
)
def test_each_vocabulary_written_out_is_its_enums(written: Any, source: type[enum.Enum]) -> None:
    assert set(get_args(written)) == {member.value for member in source}


@pytest.mark.parametrize(
    "text", ["2026-01-02T03:04:05+00:00", "2026-01-02T03:04:05.123456+00:00", "2026-01-02T03:04:05-07:00"]
)
def test_a_time_is_written_back_as_the_service_wrote_it(text: str) -> None:
    renewed = wire.LeaseRenewed.model_validate({"lease_expires_at": text})
    assert isinstance(renewed.lease_expires_at, datetime)
    assert renewed.model_dump_json() == f'{{"lease_expires_at":"{text}"}}'


def test_an_answer_ignores_fields_it_does_not_know_and_a_body_refuses_them() -> None:
    health = wire.Health.model_validate({"status": "ok", "database": "ok", "version": "9", "uptime": 3})
    assert health == wire.Health(status="ok", database="ok", version="9")
    with pytest.raises(ValidationError, match="Extra inputs"):
        wire.ClaimRequest.model_validate({"machine": "box", "lease": 3})
    with pytest.raises(ValidationError, match="NUL"):
        wire.NoteBody.model_validate({"text": "a\x00b"})


def test_absent_fields_stay_absent() -> None:
    culprit = {"sha": "ab12", "confidence": None}
    assert reads.Culprit.model_validate(culprit).model_dump(mode="json") == culprit
    fired = {"rule": "regression > 5%", "kind": "regression", "change": 0.07, "series": "00ff"}
    assert reads.FiredRule.model_validate(fired).model_dump(mode="json") == fired
    change = {"from": None, "to": "x86_64"}
    assert reads.SetupChange.model_validate(change).model_dump(mode="json") == change


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFoundError("no revision"), 404),
        (ConflictError("done already"), 409),
        (StoreError("cannot reach the database"), 503),
        (InputError("bad", where="x"), 422),
        (FormatError("bad file"), 422),
        (GitError("not a repository"), 400),
    ],
)
def test_one_map_gives_each_error_its_status(error: PerfsheriffError, status: int) -> None:
    assert wire.status_of(error) == status
    body = wire.envelope(status, str(error), wire.field_of(error)).model_dump()
    assert body["error"]["status"] == status
    assert body["error"]["code"] == wire.errors.CODES[status]


def test_an_upload_result_reads_what_the_server_wrote() -> None:
    text = '{"run_id":7,"duplicate":false,"format":"bmf","series":2,"samples":10,"job_id":null}'
    result = wire.UploadResult.model_validate_json(text)
    assert (result.run_id, result.duplicate, result.job_id) == (7, False, None)
    assert result.model_dump_json() == text
