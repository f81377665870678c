"""The dashboard's pages: each parses its query, calls one read view of ``perfsheriff.service``, renders a template.

Pages: ``/`` (overview), ``/series/{id}`` and ``/graph?series=a,b`` (graphs,
their data at ``/series/{id}/data``), ``/revision/{sha}``, ``/summaries`` and
``/summaries/{id}`` (with the sheriff's triage forms), ``/compare``, ``/stats`` (how well the sheriffing
works), ``/login``.
Templates autoescape everything; data for scripts is embedded with ``|tojson``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

import jinja2
import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from perfsheriff.errors import InputError, PerfsheriffError
from perfsheriff.model import MAX_ID, MAX_POSITION, storable_text
from perfsheriff.service.access.tokens import TokenInfo, authenticate
from perfsheriff.service.sheriffing import stats, summaries, triage
from perfsheriff.service.views import dashboard
from perfsheriff.web import session
from perfsheriff.wire import status_of

HERE = Path(__file__).resolve().parent
templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every template, whatever its name: commit messages and notes are never markup
    undefined=jinja2.StrictUndefined,
)


async def _refuse_unstorable_parameters(request: Request) -> None:
    """No path or query parameter may hold a NUL character (PostgreSQL cannot compare it): a 422, as in the API."""
    for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
        if isinstance(value, str) and not storable_text(value):
            raise InputError("must not contain NUL characters", where=name).about(name)


router = APIRouter(include_in_schema=False, dependencies=[Depends(_refuse_unstorable_parameters)])
SummaryId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
MAX_FORM_FIELDS = 50
Loader = Callable[[sa.Connection], dict[str, Any]]
#: Defence in depth beside escaping: only this site's scripts run, no page frames the dashboard (clickjacking).
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def render(
    request: Request, name: str, context: dict[str, Any], status: int = 200, user: TokenInfo | None = None
) -> Response:
    user = user or session.current_user(request)
    base = {"user": user, "sheriff": session.is_sheriff(user), "csrf": session.csrf_token(request), "path": request.url}
    html = templates.get_template(name).render(base | context)
    return session.finish(request, HTMLResponse(html, status_code=status, headers=_HEADERS))


def page(request: Request, name: str, load: Loader) -> Response:
    """Render ``name`` with what ``load`` reads; a user's error becomes an error page with its status."""
    user = session.current_user(request)
    if not session.may_read(request, user):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    try:
        with request.app.state.engine.connect() as conn:
            context = load(conn)
    except PerfsheriffError as error:
        return render(request, "error.html", {"message": str(error)}, status=status_of(error), user=user)
    return render(request, name, context, user=user)


@router.get("/")
def overview(request: Request) -> Response:
    budgets = request.app.state.settings.run_budgets
    return page(request, "overview.html", lambda conn: dashboard.overview(conn, budgets=budgets))


@router.get("/series/{series_id}")
def series_page(series_id: str, request: Request) -> Response:
    return page(request, "graph.html", lambda conn: {"series_ids": [series_id]})


@router.get("/graph")
def graph_page(request: Request, series: Annotated[str, Query(max_length=2000)] = "") -> Response:
    ids = [s.strip() for s in series.split(",") if s.strip()][:12]
    return page(request, "graph.html", lambda conn: {"series_ids": ids})


@router.get("/series/{series_id}/data")
def series_json(
    series_id: str,
    request: Request,
    max_points: Annotated[int, Query(ge=4, le=100_000)] = dashboard.DEFAULT_POINTS,
    start: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None,
    end: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None,
) -> Response:
    """The graph's data: ``GET /api/v1/series/{id}`` plus author, subject and alerts, for a session's reader."""
    if not session.may_read(request, session.current_user(request)):
        return JSONResponse({"error": {"status": 401, "message": "log in first"}}, status_code=401)
    try:
        with request.app.state.engine.connect() as conn:
            return JSONResponse(dashboard.series_view(conn, series_id, max_points=max_points, start=start, end=end))
    except PerfsheriffError as error:
        status = status_of(error)
        return JSONResponse({"error": {"status": status, "message": str(error)}}, status_code=status)


@router.get("/revision/{sha}")
def revision_page(sha: str, request: Request) -> Response:
    return page(request, "revision.html", lambda conn: {"revision": dashboard.revision_view(conn, sha)})


@router.get("/summaries")
def summaries_page(
    request: Request,
    queue: Annotated[str | None, Query(pattern="^(code|perf)?$")] = None,  # "" is the form's "any"
    state: str | None = None,
    branch: str | None = None,
    benchmark: str | None = None,
    machine: str | None = None,
) -> Response:
    filters = {"queue": queue, "state": state, "branch": branch, "benchmark": benchmark, "machine": machine}
    given = {k: (v or None) for k, v in filters.items()}

    def load(conn: sa.Connection) -> dict[str, Any]:
        found = summaries.list_summaries(conn, **given, limit=500)
        choices = {"states": dashboard.triage_states(), "machines": dashboard.machine_classes(conn)}
        return {"summaries": found, "filters": {k: v or "" for k, v in given.items()}} | choices

    return page(request, "summaries.html", load)


@router.get("/summaries/{summary_id}")
def summary_page(summary_id: SummaryId, request: Request) -> Response:
    def load(conn: sa.Connection) -> dict[str, Any]:
        detail = summaries.summary_detail(conn, summary_id)
        targets = dashboard.allowed_targets(detail["state"])
        series_ids = list(dict.fromkeys(a["series_id"] for a in detail["alerts"]))[:6]
        return {"summary": detail, "targets": targets, "series_ids": series_ids}

    return page(request, "summary.html", load)


def _act(request: Request, fields: dict[str, str], summary_id: int, action: Callable[[str], object]) -> Response:
    """Check the form's CSRF value and the sheriff role, run ``action(who)``, and go back to the summary."""
    if not session.csrf_valid(request, fields.get(session.CSRF_FIELD)):
        return render(request, "error.html", {"message": "the form's CSRF token is missing or wrong"}, status=403)
    user = session.current_user(request)
    if user is None or not session.is_sheriff(user):
        return render(request, "error.html", {"message": "triage needs a sheriff's token: log in"}, status=403)
    try:
        action(session.who(user))
    except PerfsheriffError as error:
        return render(request, "error.html", {"message": str(error)}, status=status_of(error))
    return RedirectResponse(f"/summaries/{summary_id}", status_code=303)


async def form_fields(request: Request) -> dict[str, str]:
    """A URL-encoded form's fields (the last value of each); anything else has none."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    text = (await request.body()).decode("utf-8", "replace")
    try:
        parsed = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise InputError(f"a form has at most {MAX_FORM_FIELDS} fields") from None
    fields = {name: values[-1] for name, values in parsed.items()}
    for name, value in fields.items():
        if not storable_text(name) or not storable_text(value):
            raise InputError("must not contain NUL characters", where=name).about(name)
    return fields


Fields = Annotated[dict[str, str], Depends(form_fields)]


@router.post("/summaries/{summary_id}/state")
def summary_state(summary_id: SummaryId, request: Request, fields: Fields) -> Response:
    def act(who: str) -> object:
        engine = request.app.state.engine
        to_state, from_state = fields.get("to_state", ""), fields.get("from_state") or None
        text, now = fields.get("text", ""), datetime.now(UTC)
        return triage.transition(engine, summary_id, to_state, who=who, text=text, from_state=from_state, now=now)

    return _act(request, fields, summary_id, act)


@router.post("/summaries/{summary_id}/note")
def summary_note(summary_id: SummaryId, request: Request, fields: Fields) -> Response:
    def act(who: str) -> object:
        text = fields.get("text", "")
        return triage.add_note(request.app.state.engine, summary_id, who=who, text=text, now=datetime.now(UTC))

    return _act(request, fields, summary_id, act)


@router.post("/summaries/{summary_id}/assign")
def summary_assign(summary_id: SummaryId, request: Request, fields: Fields) -> Response:
    def act(who: str) -> None:
        owner, bug_url = fields.get("owner", ""), fields.get("bug_url", "")
        engine = request.app.state.engine
        triage.assign(engine, summary_id, who=who, owner=owner, bug_url=bug_url, now=datetime.now(UTC))

    return _act(request, fields, summary_id, act)


@router.get("/compare")
def compare_page(
    request: Request,
    base: Annotated[str, Query(max_length=255)] = "",
    head: Annotated[str, Query(max_length=255)] = "",
    show_all: Annotated[bool, Query(alias="all")] = False,
) -> Response:
    """Series with a change (or that cannot tell yet) first; those with no change only when asked: with
    thousands of series the ones that moved are what a merge request's author looks for."""

    def load(conn: sa.Connection) -> dict[str, Any]:
        result = dashboard.compare_view(conn, base, head) if base and head else None
        rows = [] if result is None else result["series"]
        shown = rows if show_all else [r for r in rows if r["verdict"] != "no_change"]
        return {"base": base, "head": head, "result": result, "rows": shown, "hidden": len(rows) - len(shown)}

    return page(request, "compare.html", load)


@router.get("/stats")
def stats_page(
    request: Request,
    since: Annotated[str, Query(max_length=40)] = "30d",
    until: Annotated[str, Query(max_length=40)] = "",  # "" is the form's "now"
    project: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    def load(conn: sa.Connection) -> dict[str, Any]:
        now = datetime.now(UTC)
        found = stats.sheriffing_stats(conn, since=since, until=until or None, project=project or None, now=now)
        return {"stats": found, "filters": {"since": since, "until": until, "project": project}}

    return page(request, "stats.html", load)


@router.get("/login")
def login_page(request: Request, next_path: Annotated[str, Query(alias="next")] = "/") -> Response:
    return render(request, "login.html", {"next": _local(next_path), "message": ""})


def _local(target: str) -> str:
    """Only paths of this site: a login link must not send the user elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.post("/login")
def login(request: Request, fields: Fields) -> Response:
    token, next_path = fields.get("token", ""), fields.get("next", "/")
    if not session.csrf_valid(request, fields.get(session.CSRF_FIELD)):
        return render(request, "error.html", {"message": "the form's CSRF token is missing or wrong"}, status=403)
    with request.app.state.engine.connect() as conn:
        user = authenticate(conn, token.strip(), datetime.now(UTC))
    if user is None:
        context = {"next": _local(next_path), "message": "that token is unknown, revoked or expired"}
        return render(request, "login.html", context, status=401)
    response = RedirectResponse(_local(next_path), status_code=303)
    session.log_in(request, response, user)
    return response


@router.post("/logout")
def logout(request: Request, fields: Fields) -> Response:
    if not session.csrf_valid(request, fields.get(session.CSRF_FIELD)):
        return render(request, "error.html", {"message": "the form's CSRF token is missing or wrong"}, status=403)
    response = RedirectResponse("/", status_code=303)
    session.log_out(request, response)
    return response


def mount(app: FastAPI) -> None:
    """Serve the dashboard from ``app``: its pages at ``/`` and its assets under ``/static``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
