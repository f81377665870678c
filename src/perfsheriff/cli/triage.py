"""Commands of the sheriffs: ``triage SUMMARY``, ``alert create`` and the queues behind ``alerts --queue``."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from perfsheriff.alerts import AlertKind
from perfsheriff.cli.context import DbOption, JsonOption, console, open_store, plain, unmarked, user_errors
from perfsheriff.errors import InputError
from perfsheriff.service.sheriffing import handmade, summaries
from perfsheriff.service.sheriffing import triage as triage_service
from perfsheriff.service.views import catalog

AsOption = Annotated[str | None, typer.Option("--as", help="Who you are, for the journal (default: $USER).")]
alert_app = typer.Typer(help="Alerts made by hand: a change the detector did not report.", no_args_is_help=True)


def _colour(alert: dict[str, Any]) -> str:
    return "red" if alert["kind"] == AlertKind.REGRESSION else "green"


def _alert_line(alert: dict[str, Any]) -> str:
    place = alert["machine_class"] + (f" ({alert['configuration']})" if alert["configuration"] else "")
    colour = _colour(alert)
    culprit = f", culprit {alert['culprit'][:10]}" if alert["culprit"] else ""
    made = f", created by {alert['created_by']}" if alert.get("created_by") else ""
    return (
        f"{alert['id']}: [{colour}]{alert['kind']} {alert['relative_change']:+.1%}[/] {plain(alert['benchmark'])} "
        f"on {plain(place)}{plain(culprit)}{plain(made)}"
    )


def _culprit_line(summary: dict[str, Any]) -> str:
    culprit = summary["culprit"]
    if culprit is None:
        return "-"
    who = f" by {culprit['author']}" if culprit.get("author") else ""
    subject = f' "{culprit["subject"]}"' if culprit.get("subject") else ""
    sure = f" ({culprit['confidence']:.2f})" if culprit.get("confidence") is not None else ""
    return f"{culprit['sha'][:10]}{subject}{who}{sure}"


def _range(summary: dict[str, Any]) -> str:
    good, bad = summary["last_good"] or "?", summary["first_bad"] or "?"
    return f"{good[:10]}..{bad[:10]}"


def _user() -> str:
    """$USER (or LOGNAME, or the account's name): who a note is from when --as is not given."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no variable set and no passwd entry, as in some containers
        return "unknown user"


def print_queue(
    db: str | None, which: str, *, as_json: bool, benchmark: str | None = None, machine: str | None = None
) -> None:
    """``perfsheriff alerts --queue code|perf``: the summaries of that queue with their alerts."""
    with user_errors():
        if which not in ("code", "perf"):
            raise InputError(f"unknown queue {which!r}; expected code or perf", where="--queue")
        with open_store(db) as engine, engine.connect() as conn:
            found = summaries.queue(conn, which, benchmark=benchmark, machine=machine)
    if as_json:
        console.print_json(json.dumps(found))
        return
    count = f"{len(found)} summar{'y' if len(found) == 1 else 'ies'}"
    console.print(f"[bold]{which} queue[/]: {count}, most severe first", highlight=False)
    for s in found:
        culprit = f"  culprit {plain(_culprit_line(s))}" if s["culprit"] else ""
        console.print(
            f"[bold]#{s['id']}[/]  {s['state']}  severity {s['severity']:.3f}  {plain(s['branch'])}  "
            f"{_range(s)}{culprit}",
            highlight=False,
            soft_wrap=True,
        )
        for alert in s["alerts"]:
            console.print("    " + _alert_line(alert), highlight=False, soft_wrap=True)


def print_summary(detail: dict[str, Any]) -> None:
    queue = f", {detail['queue']} queue" if detail["queue"] else ""
    console.print(
        f"[bold]summary {detail['id']}[/] · {plain(detail['project'])}/{plain(detail['branch'])} · "
        f"[bold]{detail['state']}[/]"
        f"{queue} · severity {detail['severity']:.3f}",
        highlight=False,
    )
    console.print(
        unmarked(f"suspect range {_range(detail)}; culprit {_culprit_line(detail)}"),
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    extras = [
        f"owner {detail['owner']}" if detail["owner"] else "",
        f"bug {detail['bug_url']}" if detail["bug_url"] else "",
        f"downstream of summary {detail['upstream_summary_id']}" if detail["upstream_summary_id"] else "",
        f"downstream here: {', '.join(map(str, detail['downstream']))}" if detail["downstream"] else "",
        "related: " + ", ".join(f"{r['summary_id']} ({'/'.join(r['reasons'])})" for r in detail["related"])
        if detail["related"]
        else "",
    ]
    if any(extras):
        console.print(unmarked("; ".join(e for e in extras if e)), highlight=False, markup=False, soft_wrap=True)
    for alert in detail["alerts"]:
        console.print("  " + _alert_line(alert), highlight=False, soft_wrap=True)
    console.print("[bold]journal[/]")
    for note in detail["notes"]:
        change = f"{note['from_state']} -> {note['to_state']}" if note["kind"] == "transition" else note["kind"]
        line = f"  {note['when'][:16]} {note['who']} [{change}] {note['text']}"
        console.print(unmarked(line), highlight=False, markup=False, soft_wrap=True)


def triage(
    summary_id: Annotated[int, typer.Argument(help="The summary (see `perfsheriff alerts --queue code|perf`).")],
    state: Annotated[str | None, typer.Option(help="Move it to this state: investigating, acknowledged, ...")] = None,
    note: Annotated[str | None, typer.Option(help="Why (with --state), or a note to add to its journal.")] = None,
    owner: Annotated[str | None, typer.Option(help="Who looks after it ('' clears).")] = None,
    bug: Annotated[str | None, typer.Option(help="The bug that tracks it, an http(s) URL ('' clears).")] = None,
    who: AsOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show an alert summary (alerts, culprit, journal) and change its state, owner or bug link."""
    with user_errors(), open_store(db) as engine:
        author = who or _user()
        now = datetime.now(UTC)
        if state is not None:
            triage_service.transition(
                engine, summary_id, state, who=author, text=note or "", owner=owner, bug_url=bug, now=now
            )
        else:
            if owner is not None or bug is not None:
                triage_service.assign(engine, summary_id, who=author, owner=owner, bug_url=bug, now=now)
            if note is not None:
                triage_service.add_note(engine, summary_id, who=author, text=note, now=now)
        with engine.connect() as conn:
            detail = summaries.summary_detail(conn, summary_id)
    if as_json:
        console.print_json(json.dumps(detail))
    else:
        print_summary(detail)


@alert_app.command("create")
def alert_create(
    series_id: Annotated[
        str, typer.Argument(metavar="SERIES", help="The series (`perfsheriff series`), or a unique prefix of its id.")
    ],
    revision: Annotated[
        str, typer.Option(help="The first revision of the new level: a revision with data in the series.")
    ],
    previous: Annotated[
        str | None,
        typer.Option(help="The last revision of the old level (default: the measured one before --revision)."),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="regression or improvement: what you saw (default: what the data shows; else an error)."),
    ] = None,
    note: Annotated[str, typer.Option(help="What you saw, for the summary's journal.")] = "",
    who: AsOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make an alert by hand for a change the detector did not report; perfsheriff measures it from the data."""
    with user_errors(), open_store(db) as engine:
        author = who or _user()
        asked = handmade.Request(series_id, revision, previous, kind, note)
        created = handmade.create_alert(engine, asked, who=author, now=datetime.now(UTC))
        with engine.connect() as conn:
            alert = catalog.alert(conn, created.alert_id)
            detail = summaries.summary_detail(conn, created.summary_id)
    if as_json:
        console.print_json(json.dumps({"alert": alert, "summary": detail}))
        return
    line = (
        f"alert {alert['id']} created by {alert['created_by']}: {alert['kind']} {alert['relative_change']:+.1%} "
        f"of {alert['benchmark']} on {alert['machine_class']}, {alert['last_good'][:10]}..{alert['first_bad'][:10]}, "
        f"in summary {detail['id']}"
    )
    console.print(unmarked(line), highlight=False, markup=False, soft_wrap=True)
    print_summary(detail)


def register(app: typer.Typer) -> None:
    app.command()(triage)
    app.add_typer(alert_app, name="alert")
