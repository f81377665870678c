"""Write a static report: the alert list, open summaries, every alerted series' graph (SVG) and a table of series.

``write_report`` reads through the same service functions as the dashboard and
writes ``index.html`` (or ``index.md``) and ``graphs/<series>.svg`` under the
output folder; the files can be published as they are. Text from commits,
benchmark names and notes is escaped for the output format.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy.engine import Engine

from perfsheriff.report.svg import Mark, Span, line_chart
from perfsheriff.service.sheriffing import summaries
from perfsheriff.service.views import catalog, dashboard

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


class ReportFormat(enum.StrEnum):
    HTML = "html"
    MARKDOWN = "markdown"


@dataclass(frozen=True, slots=True)
class Written:
    """What a report run wrote: the index page and the graphs, all under ``out``."""

    out: Path
    index: Path
    graphs: tuple[Path, ...]


def _graph(conn: Any, series_id: str, points: int) -> tuple[str, dict[str, Any]]:
    view = dashboard.series_view(conn, series_id, max_points=points)
    p = view["points"]
    nan = math.nan
    spans = [
        Span(a["last_good_position"], a["first_bad_position"], a["kind"], f"alert {a['id']}: {a['kind']}")
        for a in view["alerts"]
    ]
    s = view["series"]
    generations = [g for g in view.get("generations", []) if g["boundary_position"] is not None]
    notes = [_generation_note(g) for g in generations]
    svg = line_chart(
        [float(x) for x in p["position"]],
        [nan if v is None else v for v in p["median"]],
        [nan if v is None else v for v in p["min"]],
        [nan if v is None else v for v in p["max"]],
        spans=spans,
        marks=[Mark(g["boundary_position"] - 0.5, note) for g, note in zip(generations, notes, strict=True)],
        title=f"{s['benchmark']} · {s['metric']} · {s['machine_class']}",
        unit=s["unit"],
    )
    latest = next((v for v in reversed(p["median"]) if v is not None), None)
    rescaled = f"values in the units of {generations[-1]['generation']}: " if view.get("rescaled") else ""
    generation_line = f"{rescaled}{'; '.join(notes)}" if notes else ""
    return svg, s | {"latest": latest, "alerts": len(view["alerts"]), "generations": generation_line}


def _generation_note(g: dict[str, Any]) -> str:
    """A machine upgrade as the graph's mark and the caption say it: where, and the factor or why none."""
    where = f"upgrade to {g['generation']} from position {g['boundary_position']}"
    if g["state"] == "applied":
        return f"{where}: x{g['factor']:.4f} [{g['low']:.4f}, {g['high']:.4f}]"
    return f"{where}: factor {g['state']} (values as measured): {g['reason']}"


def collect(engine: Engine, *, max_graphs: int, points: int) -> dict[str, Any]:
    """Everything the report shows, as plain values, with the SVG of each graphed series."""
    with engine.connect() as conn:
        alerts = list(reversed(catalog.alerts(conn, benchmark=None, kind=None, limit=1000)))
        found = summaries.list_summaries(conn, limit=200)
        alerted = list(dict.fromkeys(a["series_id"] for a in alerts))
        everything = [row.id for row in catalog.list_series(conn, limit=max_graphs)]
        chosen = list(dict.fromkeys(alerted + everything))[:max_graphs]
        graphs = {sid: _graph(conn, sid, points) for sid in chosen}
        overview = dashboard.overview(conn)
    return {"alerts": alerts, "summaries": found, "graphs": graphs, "overview": overview}


def _md(text: object) -> str:
    """Text safe in a Markdown table cell: no markup, no pipes, one line."""
    value = str(text if text is not None else "")
    for plain, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"), ("`", "\\`"), ("[", "\\[")):
        value = value.replace(plain, escaped)
    return " ".join(value.split())


def _markdown(data: dict[str, Any], generated: str) -> str:
    lines = ["# perfsheriff report", "", f"Generated {generated}.", "", "## Alerts", ""]
    lines += ["| Alert | Kind | Benchmark | Machine | Change | Suspect range |", "|---|---|---|---|---|---|"]
    for a in data["alerts"]:
        change = f"{a['relative_change']:+.1%}"
        span = f"{a['last_good'][:10]}..{a['first_bad'][:10]}"
        made = f" (created by {_md(a['created_by'])})" if a.get("created_by") else ""
        lines.append(
            f"| {a['id']}{made} | {a['kind']} | {_md(a['benchmark'])} | {_md(a['machine_class'])} | {change} | {span} |"
        )
    lines += ["", "## Summaries", "", "| Summary | State | Benchmarks | Culprit | Owner |", "|---|---|---|---|---|"]
    for s in data["summaries"]:
        benches = ", ".join(sorted({a["benchmark"] for a in s["alerts"]}))
        culprit = s["culprit"] or {}
        who = f"{culprit.get('sha', '')[:10]} {culprit.get('subject') or ''}".strip()
        lines.append(f"| {s['id']} | {s['state']} | {_md(benches)} | {_md(who)} | {_md(s['owner'] or '')} |")
    lines += ["", "## Series", ""]
    for sid, (_, info) in data["graphs"].items():
        latest = "" if info["latest"] is None else f"{info['latest']:.4g} {info['unit']}"
        lines += [f"### {_md(info['benchmark'])} · {_md(info['metric'])} · {_md(info['machine_class'])}", ""]
        lines += [
            f"![graph of {sid}](graphs/{sid}.svg)",
            "",
            f"Latest median: {_md(latest)}; alerts: {info['alerts']}",
            "",
        ]
        if info["generations"]:
            lines += [f"Machine generations: {_md(info['generations'])}", ""]
    return "\n".join(lines) + "\n"


def write_report(engine: Engine, out: Path, fmt: ReportFormat, *, now: datetime, max_graphs: int = 100) -> Written:
    """Write the report under ``out`` (created if missing); returns what was written."""
    data = collect(engine, max_graphs=max_graphs, points=800)
    graphs_dir = out / "graphs"
    graphs_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for sid, (svg, _) in data["graphs"].items():
        path = graphs_dir / f"{sid}.svg"
        path.write_text(svg, encoding="utf-8")
        written.append(path)
    generated = now.strftime("%Y-%m-%d %H:%M UTC")
    if fmt is ReportFormat.MARKDOWN:
        index = out / "index.md"
        index.write_text(_markdown(data, generated), encoding="utf-8")
    else:
        index = out / "index.html"
        html = _TEMPLATES.get_template("report.html").render(data | {"generated": generated})
        index.write_text(html, encoding="utf-8")
    return Written(out, index, tuple(written))
