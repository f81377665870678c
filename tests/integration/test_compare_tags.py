"""Per-tag suite summaries of a comparison and tagged gate rules, on benchmarks tagged as the project file tags them."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff import wire
from perfsheriff.cli import compare_report
from perfsheriff.errors import InputError
from perfsheriff.service.analysis.compare import RevisionComparison, compare_revisions
from perfsheriff.stats.gate import parse_rules
from perfsheriff.store import records
from perfsheriff.store import schema as t
from support.measured import Project


@pytest.fixture
def measured(engine: Engine, tmp_path: Path) -> tuple[Project, str, str]:
    """``parse`` (tags ``front`` and ``all``) 20 % slower at head; ``render`` (tag ``all``, weight 3) unchanged."""
    project = Project(engine, tmp_path / "project")
    (base,) = project.measure(1, parse=10.0, render=5.0)
    (head,) = project.measure(1, parse=12.0, render=5.0)
    tag(engine, {"parse": ("front", "all"), "render": ("all",)})
    return project, base, head


def tag(engine: Engine, tags: dict[str, tuple[str, ...]]) -> None:
    """What registering or tracking a project does with its ``[[benchmarks]]`` weights and tags."""
    with engine.begin() as conn:
        project_id = conn.execute(sa.select(t.projects.c.id)).scalar_one()
        records.configure_benchmarks(conn, project_id, {"parse": 1.0, "render": 3.0}, tags)


def compared(engine: Engine, base: str, head: str, rules: str | None = None) -> RevisionComparison:
    with engine.connect() as conn:
        return compare_revisions(conn, base, head, rules=parse_rules(rules) if rules else ())


def test_each_tag_is_summarised_beside_the_whole_suite(engine: Engine, measured: tuple[Project, str, str]) -> None:
    _, base, head = measured
    result = compared(engine, base, head)
    assert {r.series.benchmark: r.tags for r in result.rows} == {"parse": ("all", "front"), "render": ("all",)}
    (suite,) = result.suites
    assert [(g.tag, g.summary.series) for g in result.tag_suites] == [("all", 2), ("front", 1)]
    everything, front = result.tag_suites
    assert everything.summary == suite.summary  # a tag every series carries is the whole suite
    assert (everything.metric, everything.machine_class) == (suite.metric, suite.machine_class)
    assert front.summary.ratio == pytest.approx(1.2, rel=0.03)
    assert front.summary.ci_low is not None
    assert front.summary.ci_high is not None
    assert front.summary.ci_low < front.summary.ratio < front.summary.ci_high
    assert suite.summary.ratio == pytest.approx(1.2**0.25, rel=0.01)  # weights 1 and 3: render dilutes it
    shown = result.as_json()
    assert [(g["tag"], g["series"], g["verdict"]) for g in shown["tag_suites"]] == [
        ("all", 2, suite.summary.verdict.value),
        ("front", 1, "regression"),
    ]
    assert {s["benchmark"]: s["tags"] for s in shown["series"]} == {"parse": ["all", "front"], "render": ["all"]}


def test_tagged_rules_fire_on_their_tag_and_name_it(engine: Engine, measured: tuple[Project, str, str]) -> None:
    _, base, head = measured
    result = compared(engine, base, head, "suite>10%, front:suite>10%, all:regression>10%, all:suite>50%")
    parse = next(r.series.id for r in result.rows if r.series.benchmark == "parse")
    about_20 = pytest.approx(0.2, rel=0.1)
    assert result.as_json()["fired"] == [
        {"rule": "front:suite>10%", "kind": "suite", "change": about_20, "tag_suite": 1, "tag": "front"},
        {"rule": "all:regression>10%", "kind": "regression", "change": about_20, "series": parse, "tag": "all"},
    ]
    answer = wire.Comparison.model_validate(result.as_json())
    assert compare_report.firing_lines(answer)[0].startswith(
        "rule front:suite>10% fired: the weighted suite of tag front, time on box: +"
    )
    markdown = compare_report.markdown(answer)
    assert "| tag | weighted suite | change | 95% interval | verdict | series |" in markdown
    assert "| front | time on box | +" in markdown
    assert "- `front:suite>10%`: the weighted suite of tag front, time on box: +" in markdown


def test_an_unknown_tag_is_an_input_error_listing_the_known_ones(
    engine: Engine, measured: tuple[Project, str, str]
) -> None:
    _, base, head = measured
    with pytest.raises(
        InputError, match='rule "Front:suite>1%": no compared series carries the tag "Front"; known tags: all, front'
    ):
        compared(engine, base, head, "regression,Front:suite>1%")


def test_tags_follow_the_project_file(engine: Engine, measured: tuple[Project, str, str]) -> None:
    _, base, head = measured
    tag(engine, {"parse": (), "render": ("io",)})
    result = compared(engine, base, head)
    assert [(g.tag, g.summary.series) for g in result.tag_suites] == [("io", 1)]
    assert result.as_json()["fired"] == []
    tag(engine, {"parse": (), "render": ()})
    assert compared(engine, base, head).tag_suites == []
