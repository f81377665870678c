"""Reads: projects, revisions, series and their data, alerts, comparisons, sheriffing figures (summaries:
``routes_triage``)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from perfsheriff.api.auth import require
from perfsheriff.api.errors import ApiError
from perfsheriff.api.schemas import IdPath, api_router
from perfsheriff.model import MAX_POSITION
from perfsheriff.roles import Role
from perfsheriff.service.access.tokens import TokenInfo
from perfsheriff.service.analysis import compare as compare_service
from perfsheriff.service.queue import budget_status
from perfsheriff.service.sheriffing import stats as stats_service
from perfsheriff.service.views import catalog, dashboard
from perfsheriff.stats import gate
from perfsheriff.wire import Alert as AlertAnswer
from perfsheriff.wire import (
    AlertList,
    BudgetStatus,
    Comparison,
    ProjectList,
    RevisionPage,
    SeriesData,
    SeriesList,
    SheriffingStats,
)

router = api_router()
Reader = Annotated[TokenInfo | None, Depends(require(Role.READ))]
Limit = Annotated[int, Query(ge=1, le=10_000)]


@router.get("/projects", response_model=ProjectList, summary="List projects and their branches")
def projects(request: Request, _token: Reader) -> Any:
    with request.app.state.engine.connect() as conn:
        return {"projects": catalog.projects(conn)}


@router.get("/projects/{project}/revisions", response_model=RevisionPage, summary="Revisions of a branch, newest first")
def revisions(
    project: str,
    request: Request,
    _token: Reader,
    branch: str | None = None,
    limit: Limit = 100,
    before: Annotated[int | None, Query(ge=0, le=MAX_POSITION, description="only positions below this one")] = None,
) -> Any:
    with request.app.state.engine.connect() as conn:
        return catalog.revisions(conn, project, branch, limit=limit, before=before)


@router.get("/series", response_model=SeriesList, summary="List series, filtered")
def list_series(
    request: Request,
    _token: Reader,
    project: str | None = None,
    branch: str | None = None,
    benchmark: Annotated[str | None, Query(description="a substring of the benchmark name")] = None,
    machine_class: str | None = None,
    metric: str | None = None,
    limit: Limit = 1000,
) -> Any:
    with request.app.state.engine.connect() as conn:
        rows = catalog.list_series(
            conn, project=project, branch=branch, benchmark=benchmark, machine=machine_class, metric=metric, limit=limit
        )
    return {"series": [dataclasses.asdict(row) for row in rows]}


@router.get(
    "/series/{series_id}", response_model=SeriesData, summary="The data of one series, downsampled for long ranges"
)
def series_data(
    series_id: str,
    request: Request,
    _token: Reader,
    max_points: Annotated[int, Query(ge=4, le=100_000)] = 2000,
    start: Annotated[int | None, Query(ge=0, le=MAX_POSITION, description="first branch position")] = None,
    end: Annotated[int | None, Query(ge=0, le=MAX_POSITION, description="last branch position")] = None,
    raw: Annotated[bool, Query(description="values as measured, not rescaled across a machine upgrade")] = False,
) -> Any:
    """Per revision: median, min and max of its samples, with the commit's sha, author and subject, and the
    series' alerts. Longer ranges keep each bucket's extremes (the same view the dashboard's graphs draw).
    Across a recorded machine upgrade the old generation's values are in the newest one's units once the
    series' factor is known (``rescaled``, ``generations``); ``raw`` gives them as measured."""
    with request.app.state.engine.connect() as conn:
        return dashboard.series_view(conn, series_id, max_points=max_points, start=start, end=end, raw=raw)


@router.get("/alerts", response_model=AlertList, summary="List alerts")
def alerts(
    request: Request,
    _token: Reader,
    benchmark: str | None = None,
    kind: Annotated[str | None, Query(pattern="^(regression|improvement|drift)$")] = None,
    limit: Limit = 500,
) -> Any:
    with request.app.state.engine.connect() as conn:
        found = catalog.alerts(conn, benchmark=benchmark, kind=kind, limit=limit)
    return {"alerts": found}


@router.get("/alerts/{alert_id}", response_model=AlertAnswer, summary="One alert")
def alert(alert_id: IdPath, request: Request, _token: Reader) -> Any:
    with request.app.state.engine.connect() as conn:
        return catalog.alert(conn, alert_id)


@router.get("/compare", response_model=Comparison, summary="Compare two revisions on every series measured at both")
def compare(
    request: Request,
    _token: Reader,
    base: Annotated[str, Query(min_length=1, max_length=255)],
    head: Annotated[str, Query(min_length=1, max_length=255)],
    fail_on: Annotated[
        str | None,
        Query(
            max_length=200,
            description="merge-gate rules, as `perfsheriff compare --fail-on` takes them: the answer's `fired` "
            "lists those that fire",
        ),
    ] = None,
) -> Any:
    rules = gate.parse_rules(fail_on, where="fail_on") if fail_on is not None else ()
    with request.app.state.engine.connect() as conn:
        result = compare_service.compare_revisions(conn, base, head, rules=rules)
    if not result.rows and result.base == result.head:
        raise ApiError(422, "base and head are the same revision", field="head")
    return result.as_json()


_MOMENT = Query(max_length=40, description="a number of days before now (30d), or an ISO date or time (UTC)")


@router.get("/stats", response_model=SheriffingStats, summary="How well the sheriffing works, per project")
def stats(
    request: Request,
    _token: Reader,
    since: Annotated[str, _MOMENT] = "30d",
    until: Annotated[str | None, _MOMENT] = None,
    project: Annotated[str | None, Query(max_length=200)] = None,
) -> Any:
    """Alerts raised by kind, not reproduced, triage states, precision, median times to triage and to a
    culprit, runs spent, notifications and the benchmarks with the most invalid alerts (``docs/triage.md``)."""
    with request.app.state.engine.connect() as conn:
        return stats_service.sheriffing_stats(conn, since=since, until=until, project=project, now=datetime.now(UTC))


@router.get("/status", response_model=BudgetStatus, summary="The machine-time budget per machine class")
def status(request: Request, _token: Reader) -> Any:
    """Per machine class: the run budget, what automation claimed in the last day, the queue by reason, and
    which jobs wait for the budget and until when (``docs/configuration.md``, *One machine-time budget*)."""
    with request.app.state.engine.connect() as conn:
        found = budget_status.budget_status(conn, request.app.state.settings.run_budgets, now=datetime.now(UTC))
    return {"classes": budget_status.as_json(found)}
