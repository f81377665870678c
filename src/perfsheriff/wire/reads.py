"""The answers of the API's reads: projects, revisions, series and their data, alerts, comparisons, summaries.

Alerts appear in three shapes, each as the view that shows it has always
written it: a stored alert (``/alerts``), an alert on a series' graph (with its
bisection's probes as branch positions) and an alert in a summary (with its
severity and culprit).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from perfsheriff.model import Direction
from perfsheriff.wire.values import Answer, Timestamp

# The vocabularies of the core's enums (stats.compare, stats.gate, triage), written out: importing the
# statistics would load numpy and scipy on every agent, which reads none of these.

AlertKind = Literal["regression", "improvement", "drift"]
Verdict = Literal["regression", "improvement", "no_change", "inconclusive", "insufficient_data"]
DataProblem = Literal["too_few_samples", "non_positive_values"]
RuleKind = Literal["regression", "improvement", "suite"]
TriageState = Literal[
    "untriaged", "investigating", "acknowledged", "invalid", "wontfix", "downstream", "reassigned", "fixed", "backedout"
]


def _absent_when_none(value: object) -> bool:
    return value is None


class Project(Answer):
    name: str
    repository: str = Field(description="its URL or path, without credentials")
    branches: list[str]


class ProjectList(Answer):
    projects: list[Project]


class Revision(Answer):
    position: int = Field(description="its place along the branch's first-parent history")
    sha: str
    first_parent: bool = Field(description="false: a commit a merge brought in, measured only in a roll-up")
    author: str
    time: Timestamp
    subject: str


class RevisionPage(Answer):
    project: str
    branch: str
    revisions: list[Revision]


class Series(Answer):
    id: str
    project: str
    branch: str
    benchmark: str
    suite: str
    metric: str
    unit: str
    direction: Direction
    machine_class: str
    configuration: str
    n_revisions: int | None = Field(description="revisions with data; null: not counted")


class SeriesList(Answer):
    series: list[Series]


class SeriesPoints(Answer):
    """One list per column, a point per revision shown (a non-finite value is null)."""

    position: list[int]
    revision: list[str]
    author: list[str]
    subject: list[str]
    median: list[float | None]
    min: list[float | None]
    max: list[float | None]
    n: list[int]


class Probe(Answer):
    commit: str
    position: int | None
    verdict: str
    n_samples: int


class CulpritAt(Answer):
    commit: str
    position: int | None


class GraphAlert(Answer):
    """An alert on a series' graph: its suspect range as branch positions and what bisecting it did."""

    id: int
    kind: AlertKind
    relative_change: float
    confidence: float
    summary_id: int | None
    last_good_position: int
    first_bad_position: int
    probes: list[Probe]
    culprits: list[CulpritAt]
    created_by: str | None = Field(description="who made it by hand; null: perfsheriff found it")


class SetupChange(Answer):
    from_: str | None = Field(alias="from")
    to: str


class MachineChange(Answer):
    position: int
    machine: str
    kind: Literal["new machine", "upgrade"]
    changed: dict[str, SetupChange]


class GenerationFactor(Answer):
    """A recorded upgrade of the series' machine class, and the series' factor new/old across it."""

    generation: str
    previous: str
    ordinal: int
    starts_at: str = Field(description="runs of the class recorded at or after it belong to this generation")
    baseline_revisions_asked: int
    baseline_revisions_measured: int
    boundary_position: int | None = Field(description="the first branch position after the old generation's last")
    state: Literal["applied", "too uncertain", "pending"]
    factor: float | None
    low: float | None
    high: float | None
    more_revisions: int | None = Field(description="too uncertain: about how many more baseline revisions")
    reason: str | None


class SeriesData(Answer):
    series: Series
    total_points: int
    downsampled: bool
    points: SeriesPoints
    alerts: list[GraphAlert]
    machine_changes: list[MachineChange]
    rescaled: bool = Field(
        description="values before a machine upgrade are multiplied by its factor (the newest generation's units)"
    )
    generations: list[GenerationFactor]


class Alert(Answer):
    id: int
    series_id: str
    benchmark: str
    metric: str
    unit: str
    machine_class: str
    configuration: str
    branch: str
    kind: AlertKind
    relative_change: float
    confidence: float
    last_good: str
    first_bad: str
    last_good_position: int
    first_bad_position: int
    details: dict[str, Any]
    created_at: Timestamp
    confirmation: Literal["confirming", "confirmed", "not-reproduced", "unconfirmed"] | None = Field(
        description="null: never re-measured (uploaded results)"
    )
    created_by: str | None = Field(description="who made it by hand; null: perfsheriff found it")


class AlertList(Answer):
    alerts: list[Alert]


class RescaledSide(Answer):
    """The machine generation that measured a side, its factor (95 % interval) into the newest's units, or null."""

    generation: str
    factor: float | None
    low: float | None
    high: float | None


class AcrossGenerations(Answer):
    """A series compared across its machine class's upgrade, in the newest generation's units (``units``)."""

    units: str
    base: RescaledSide
    head: RescaledSide


class NotCompared(Answer):
    """A series measured at both revisions but not compared: across a machine upgrade whose factor is not known."""

    series: str
    benchmark: str
    metric: str
    machine_class: str
    configuration: str
    reason: str


class SeriesComparison(Answer):
    series: str
    benchmark: str
    metric: str
    unit: str
    machine_class: str
    configuration: str
    weight: float
    tags: list[str] = Field(default_factory=list, description="the benchmark's tags (absent before tags were shown)")
    verdict: Verdict
    n_base: int
    n_head: int
    median_base: float | None
    median_head: float | None
    ratio: float | None
    ci_low: float | None
    ci_high: float | None
    relative_change: float | None
    p_value: float | None
    noise: float | None
    runs_needed: int | None
    problem: DataProblem | None
    dropped: int
    across_generations: AcrossGenerations | None = Field(
        default=None, exclude_if=_absent_when_none, description="base or head measured by an older machine generation"
    )


class SuiteComparison(Answer):
    metric: str
    machine_class: str
    configuration: str
    verdict: Verdict
    series: int
    included: int
    weight: float
    regressions: int
    improvements: int
    no_change: int
    inconclusive: int
    insufficient_data: int
    ratio: float | None
    ci_low: float | None
    ci_high: float | None
    relative_change: float | None


class TagSuiteComparison(SuiteComparison):
    """The weighted suite summary of the series of one group that carry a benchmark tag."""

    tag: str


class FiredRule(Answer):
    """A merge-gate rule that fired: on a series, on a suite summary's index (``suite`` rules) or on a tag
    suite summary's index (``TAG:suite`` rules); ``tag`` names the tag of a tagged rule."""

    rule: str
    kind: RuleKind
    change: float
    suite: int | None = Field(default=None, exclude_if=_absent_when_none)
    series: str | None = Field(default=None, exclude_if=_absent_when_none)
    tag_suite: int | None = Field(default=None, exclude_if=_absent_when_none)
    tag: str | None = Field(default=None, exclude_if=_absent_when_none)


class Comparison(Answer):
    base: str
    head: str
    series: list[SeriesComparison]
    suites: list[SuiteComparison]
    tag_suites: list[TagSuiteComparison] = Field(
        default_factory=list, description="each suite's summary per benchmark tag, by suite, then tag"
    )
    rules: list[str]
    fired: list[FiredRule]
    not_compared: list[NotCompared] = Field(
        default_factory=list, description="across a machine upgrade whose factor is pending or too uncertain"
    )


class SummaryAlert(Answer):
    id: int
    series_id: str
    benchmark: str
    machine_class: str
    configuration: str
    kind: AlertKind
    relative_change: float
    confidence: float
    severity: float
    last_good: str
    first_bad: str
    last_good_position: int
    first_bad_position: int
    culprit: str | None
    culprit_confidence: float | None
    bisection: str | None = Field(
        description="how its range was bisected (the outcome, or failed when the benchmark could not serve it); "
        "null: not bisected, or not yet"
    )
    bisection_reason: str | None = Field(description="why the bisection named no culprit, or failed")
    created_at: Timestamp
    created_by: str | None


class Culprit(Answer):
    """The commit a summary blames; author, e-mail and subject when the commit is stored."""

    sha: str
    author: str | None = Field(default=None, exclude_if=_absent_when_none)
    author_email: str | None = Field(default=None, exclude_if=_absent_when_none)
    subject: str | None = Field(default=None, exclude_if=_absent_when_none)
    confidence: float | None


class Summary(Answer):
    id: int
    project: str
    branch: str
    state: TriageState
    queue: Literal["code", "perf"] | None
    severity: float
    owner: str | None
    bug_url: str | None
    drift: bool
    last_good: str | None
    first_bad: str | None
    last_good_position: int
    first_bad_position: int
    culprit: Culprit | None
    upstream_summary_id: int | None
    created_at: Timestamp
    updated_at: Timestamp
    alerts: list[SummaryAlert]


class SummaryList(Answer):
    summaries: list[Summary]


class Note(Answer):
    id: int
    who: str
    when: Timestamp
    kind: str
    from_state: str | None
    to_state: str | None
    text: str
    details: dict[str, Any]


class RelatedSummary(Answer):
    summary_id: int
    reasons: list[str]
    benchmarks: list[str]


class Delivery(Answer):
    """What a notification channel did about the summary's culprit, or why not."""

    channel: str
    outcome: str
    attempts: int
    reason: str | None
    when: Timestamp


class SummaryDetail(Summary):
    notes: list[Note]
    downstream: list[int]
    related: list[RelatedSummary]
    notifications: list[Delivery]


class NoteAdded(Answer):
    id: int
    summary_id: int


class AlertMade(Answer):
    alert: Alert
    summary: SummaryDetail
