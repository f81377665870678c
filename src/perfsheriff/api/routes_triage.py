"""Triage over HTTP: the summaries and queues (read), and sheriffs' decisions, notes, reassignments and
hand-made alerts.

Every write needs the sheriff role; the journal records the token's name (or
``token <id>`` for an unnamed one) as who did it. A move the state table
forbids is a 422 naming the allowed targets; a summary someone else changed
meanwhile (``from_state`` no longer true) is a 409.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request

from perfsheriff.api.auth import require
from perfsheriff.api.schemas import IdPath, api_router
from perfsheriff.roles import Role
from perfsheriff.service.access.tokens import TokenInfo
from perfsheriff.service.sheriffing import handmade, summaries
from perfsheriff.service.sheriffing import triage as triage_service
from perfsheriff.service.views import catalog
from perfsheriff.wire import (
    AlertCreate,
    AlertMade,
    NoteAdded,
    NoteBody,
    ReassignBody,
    SummaryDetail,
    SummaryList,
    TransitionBody,
)

router = api_router()
Reader = Annotated[TokenInfo | None, Depends(require(Role.READ))]
Sheriff = Annotated[TokenInfo | None, Depends(require(Role.SHERIFF))]


def _who(token: TokenInfo | None) -> str:
    """The journal's author: the token's name, else its id (a sheriff route always has a token)."""
    if token is None:
        return "anonymous"
    return token.name.strip() or f"token {token.id}"


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/summaries", response_model=SummaryList, summary="List alert summaries: a sheriffs' queue, or filtered")
def list_summaries(
    request: Request,
    _token: Reader,
    queue: Literal["code", "perf"] | None = None,
    state: Annotated[str | None, Query(max_length=20)] = None,
    project: Annotated[str | None, Query(max_length=200)] = None,
    branch: Annotated[str | None, Query(max_length=255)] = None,
    benchmark: Annotated[str | None, Query(max_length=200, description="a substring of a benchmark name")] = None,
    machine: Annotated[str | None, Query(max_length=200, description="a machine class")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> Any:
    """With ``queue``: that queue's open summaries, most severe first; else every summary, newest first."""
    with request.app.state.engine.connect() as conn:
        found = summaries.list_summaries(
            conn,
            queue=queue,
            state=state,
            project=project,
            branch=branch,
            benchmark=benchmark,
            machine=machine,
            limit=limit,
        )
    return {"summaries": found}


@router.get(
    "/summaries/{summary_id}",
    response_model=SummaryDetail,
    summary="One summary: alerts, culprit, journal, related and downstream",
)
def summary(summary_id: IdPath, request: Request, _token: Reader) -> Any:
    with request.app.state.engine.connect() as conn:
        return summaries.summary_detail(conn, summary_id)


@router.post(
    "/summaries/{summary_id}/transition",
    response_model=SummaryDetail,
    summary="Change a summary's state (and owner, bug link)",
)
def transition(summary_id: IdPath, body: TransitionBody, request: Request, token: Sheriff) -> Any:
    engine = request.app.state.engine
    triage_service.transition(
        engine,
        summary_id,
        body.state,
        who=_who(token),
        text=body.note,
        owner=body.owner,
        bug_url=body.bug_url,
        from_state=body.from_state,
        now=_now(),
    )
    with engine.connect() as conn:
        return summaries.summary_detail(conn, summary_id)


@router.post(
    "/summaries/{summary_id}/notes",
    status_code=201,
    response_model=NoteAdded,
    summary="Add a note to a summary's journal",
)
def add_note(summary_id: IdPath, body: NoteBody, request: Request, token: Sheriff) -> Any:
    note_id = triage_service.add_note(request.app.state.engine, summary_id, who=_who(token), text=body.text, now=_now())
    return {"id": note_id, "summary_id": summary_id}


@router.post(
    "/alerts/{alert_id}/reassign",
    response_model=SummaryDetail,
    summary="Move an alert to another summary of its branch",
)
def reassign(alert_id: IdPath, body: ReassignBody, request: Request, token: Sheriff) -> Any:
    engine = request.app.state.engine
    triage_service.reassign_alert(engine, alert_id, body.summary_id, who=_who(token), text=body.note, now=_now())
    with engine.connect() as conn:
        return summaries.summary_detail(conn, body.summary_id)


@router.post(
    "/alerts",
    status_code=201,
    response_model=AlertMade,
    summary="Make an alert by hand for a change the detector did not report",
)
def create_alert(body: AlertCreate, request: Request, token: Sheriff) -> Any:
    """The change is measured from the stored data; the alert joins or forms a summary, journaled as the token's."""
    engine = request.app.state.engine
    asked = handmade.Request(body.series_id, body.revision, body.previous, body.kind, body.note)
    created = handmade.create_alert(engine, asked, who=_who(token), now=_now())
    with engine.connect() as conn:
        return {
            "alert": catalog.alert(conn, created.alert_id),
            "summary": summaries.summary_detail(conn, created.summary_id),
        }
