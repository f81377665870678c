"""Compare two revisions across every series measured at both (never across configurations).

Besides one comparison per series, a comparison carries the weighted suite
summary of each group of series that may be summarised together (one metric
on one machine class and configuration: averaging a platform that regressed
with one that improved would hide both), the same summary for each benchmark
tag within each group, and the merge-gate rules that fired.

Across a machine upgrade, a revision measured by an older generation is compared in the newest one's units
(its samples times the factor, said in the row's ``across_generations``); while that factor is pending or too
uncertain the series is not compared, and why is listed (a raw comparison would report the machines' step).
A merge gate with such a series is refused: it must not pass on what it could not judge.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa

from perfsheriff.errors import InputError, NotFoundError
from perfsheriff.model import Direction
from perfsheriff.service.generations.factors import RevisionSamples, revision_samples
from perfsheriff.stats.compare import CompareSettings, Comparison, compare
from perfsheriff.stats.gate import Firing, Rule, RuleKind, evaluate
from perfsheriff.stats.suite import SuiteEntry, SuiteSummary, TagSummary, summarize_suite, summarize_tags
from perfsheriff.store import generations as generation_store
from perfsheriff.store import queries, revisions, seriesinfo
from perfsheriff.store.series_rows import SeriesRow


@dataclass(frozen=True, slots=True)
class SeriesComparison:
    """One series compared; ``weight`` and ``tags`` are its benchmark's, for suite summaries."""

    series: SeriesRow
    comparison: Comparison
    weight: float = 1.0
    tags: tuple[str, ...] = ()
    across: dict[str, Any] | None = None  # base or head rescaled into the newest machine generation's units

    @property
    def entry(self) -> SuiteEntry:
        return SuiteEntry(self.comparison, Direction(self.series.direction), self.weight, frozenset(self.tags))


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """The weighted suite summary of the series of one metric on one machine class and configuration."""

    metric: str
    machine_class: str
    configuration: str
    summary: SuiteSummary


@dataclass(frozen=True, slots=True)
class TagGroupSummary:
    """The weighted suite summary of the series of one group (as :class:`GroupSummary`) that carry ``tag``."""

    metric: str
    machine_class: str
    configuration: str
    tag: str
    summary: SuiteSummary


@dataclass(frozen=True, slots=True)
class RevisionComparison:
    """``fired``: the rules that fired; a ``Firing.index`` points into ``rows`` or, for suite rules, ``suites``
    (untagged) or ``tag_suites`` (``TAG:suite``)."""

    base: str
    head: str
    rows: list[SeriesComparison]
    suites: list[GroupSummary] = field(default_factory=list)
    rules: tuple[Rule, ...] = ()
    fired: tuple[Firing, ...] = ()
    tag_suites: list[TagGroupSummary] = field(default_factory=list)
    not_compared: list[tuple[SeriesRow, str]] = field(default_factory=list)  # and why: across a machine upgrade

    def as_json(self) -> dict[str, Any]:
        """Plain JSON values, as the API, ``compare --json`` and the dashboard's compare page show them:
        each series with its weight, tags and comparison, the suite summaries (overall and per tag), the
        rules and what fired."""
        rows = [
            {
                "series": r.series.id,
                "benchmark": r.series.benchmark,
                "metric": r.series.metric,
                "unit": r.series.unit,
                "machine_class": r.series.machine_class,
                "configuration": r.series.configuration,
                "weight": r.weight,
                "tags": list(r.tags),
            }
            | _plain_fields(r.comparison)
            | ({"across_generations": r.across} if r.across is not None else {})
            for r in self.rows
        ]
        suites = [
            {"metric": g.metric, "machine_class": g.machine_class, "configuration": g.configuration}
            | _plain_fields(g.summary)
            for g in self.suites
        ]
        tag_suites = [
            {"tag": g.tag, "metric": g.metric, "machine_class": g.machine_class, "configuration": g.configuration}
            | _plain_fields(g.summary)
            for g in self.tag_suites
        ]
        rules = [r.text for r in self.rules]
        return {
            "base": self.base,
            "head": self.head,
            "series": rows,
            "suites": suites,
            "tag_suites": tag_suites,
            "rules": rules,
            "fired": [self._fired_json(f) for f in self.fired],
            "not_compared": [
                {
                    "series": row.id,
                    "benchmark": row.benchmark,
                    "metric": row.metric,
                    "machine_class": row.machine_class,
                    "configuration": row.configuration,
                    "reason": reason,
                }
                for row, reason in self.not_compared
            ],
        }

    def _fired_json(self, firing: Firing) -> dict[str, Any]:
        """What fired, on what: ``series`` (an id), ``suite`` or ``tag_suite`` (an index); ``tag`` for tagged rules."""
        rule = firing.rule
        out: dict[str, Any] = {"rule": rule.text, "kind": rule.kind.value, "change": firing.change}
        if rule.kind is not RuleKind.SUITE:
            out["series"] = self.rows[firing.index].series.id
        elif rule.tag is None:
            out["suite"] = firing.index
        else:
            out["tag_suite"] = firing.index
        return out | ({"tag": rule.tag} if rule.tag is not None else {})


def _plain_fields(value: Comparison | SuiteSummary) -> dict[str, Any]:
    """A dataclass's fields as JSON values: an enum's value, a non-finite float as None."""
    return {key: _plain(item) for key, item in dataclasses.asdict(value).items()}


def _plain(item: object) -> object:
    if isinstance(item, enum.Enum):
        return item.value
    if isinstance(item, float) and not math.isfinite(item):
        return None
    return item


#: ``NAME``, then any of ``~N`` (N first parents back), ``^`` / ``^N`` (the N-th parent), as git reads them.
_EXPRESSION = re.compile(r"(?P<name>[^~^\s]+)(?P<moves>(?:[~^][0-9]{0,9})*)")
_MOVE = re.compile(r"([~^])([0-9]{0,9})")
_HEX = re.compile(r"[0-9a-f]{4,40}")
#: The most parents a ``~N`` walks: a compare page is not a history browser.
MAX_STEPS = 10_000


def resolve_stored_revision(conn: sa.Connection, rev: str) -> tuple[int, str]:
    """A stored commit named as people name it: a full or abbreviated sha (at least 4 hex digits), a branch
    (its tip), a tag, ``HEAD`` (the tip, when one branch is tracked), each followed by any ``~N`` or ``^N``.

    Names are read from what is stored (branch tips, tags, each commit's parents): no git repository is
    needed, so the dashboard and the API take what people type, as the CLI's ``--repo`` does with git.
    """
    text = rev.strip()
    parsed = _EXPRESSION.fullmatch(text)
    if parsed is None:
        raise InputError(f"expected a commit sha, a branch or a tag, optionally with ~N or ^N, got {rev!r}")
    sha = _named(conn, parsed["name"], rev)
    for kind, digits in _MOVE.findall(parsed["moves"]):
        count = int(digits) if digits else 1
        if kind == "~" and count > MAX_STEPS:
            raise InputError(f"{rev!r}: at most ~{MAX_STEPS}")
        steps, which = (count, 0) if kind == "~" else ((1, count - 1) if count else (0, 0))
        for _ in range(steps):
            parents = revisions.parents_of(conn, sha)
            if parents is None or which >= len(parents):
                raise NotFoundError(f"{rev!r}: {sha[:12]} has no such parent stored (import more history)")
            sha = parents[which]
    return _stored(conn, sha, rev)


def _named(conn: sa.Connection, name: str, rev: str) -> str:
    """The full sha ``name`` stands for: a tag, a branch's tip, ``HEAD``, or a stored sha's prefix."""
    tags, tips = revisions.shas_named(conn, name)
    if name == "HEAD" and not tips:
        tips = revisions.all_branch_tips(conn)
        if len(tips) > 1:
            raise InputError(f"{rev!r}: HEAD is ambiguous with {len(tips)} branches tracked; name a branch")
    candidates = set(tags) | set(tips)
    if len(candidates) > 1:
        raise InputError(f"{rev!r}: {name!r} names {len(candidates)} different commits (tags or branches)")
    if candidates:
        return candidates.pop()
    if _HEX.fullmatch(name.lower()):
        return _stored(conn, name.lower(), rev)[1]
    raise NotFoundError(f"no branch, tag or stored revision named {name!r}")


def _stored(conn: sa.Connection, sha: str, rev: str) -> tuple[int, str]:
    found = queries.revisions_by_prefix(conn, sha)
    if not found:
        raise NotFoundError(f"no stored revision {rev!r}: ingest results for it first")
    if len({full for _, full in found}) > 1:
        raise InputError(f"revision {rev!r} is ambiguous: give more digits")
    return found[0]


def compare_revisions(
    conn: sa.Connection,
    base: str,
    head: str,
    settings: CompareSettings | None = None,
    rules: Sequence[Rule] = (),
) -> RevisionComparison:
    """Compare the samples of ``head`` with those of ``base`` for every series that has both.

    With ``rules`` (a merge gate), a comparison with no series in common is an
    error: a gate must not pass because nothing was measured. So is a tagged
    rule whose tag no compared series carries (a misspelt tag would pass too).
    """
    base_id, base_sha = resolve_stored_revision(conn, base)
    head_id, head_sha = resolve_stored_revision(conn, head)
    base_samples = queries.samples_at_revision(conn, base_id)
    head_samples = queries.samples_at_revision(conn, head_id)
    common = base_samples.keys() & head_samples.keys()
    if rules and not common:
        raise InputError(
            f"no series was measured at both {base_sha[:12]} and {head_sha[:12]}: the gate has nothing to judge"
        )
    rows = queries.list_series(conn, ids=common, count_revisions=False)
    facts = seriesinfo.weights_and_tags(conn, [row.id for row in rows])
    compared, refused = [], []
    upgraded = {c for c in {row.machine_class for row in rows} if _older_generation(conn, c, (base_id, head_id))}
    for row in rows:
        samples, across = (base_samples[row.id], head_samples[row.id]), None
        if row.machine_class in upgraded:
            found = revision_samples(conn, row.id, row.machine_class, (base_id, head_id))
            sides = (found or {}).get(base_id), (found or {}).get(head_id)
            why = next((side for side in sides if isinstance(side, str)), None)
            if why is not None:
                refused.append((row, why))
                continue
            if all(isinstance(side, RevisionSamples) for side in sides):
                base_side, head_side = cast("tuple[RevisionSamples, RevisionSamples]", sides)
                samples = (base_side.values, head_side.values)
                if base_side.factor is not None or head_side.factor is not None:
                    across = {"units": base_side.newest, "base": base_side.as_json(), "head": head_side.as_json()}
        comparison = compare(samples[0], samples[1], Direction(row.direction), settings)
        compared.append(SeriesComparison(row, comparison, *facts.get(row.id, (1.0, ())), across=across))
    if refused and (rules or not compared):
        row, why = refused[0]
        raise InputError(
            f"{row.benchmark} {row.metric} on {row.machine_class} cannot be compared across its machine upgrade: "
            f"{why}" + (f" (and {len(refused) - 1} more series)" if len(refused) > 1 else "")
        )
    suites, tag_suites = _group_summaries(compared, settings)
    fired = evaluate(
        rules,
        [r.entry for r in compared],
        [g.summary for g in suites],
        [TagSummary(g.tag, g.summary) for g in tag_suites],
    )
    return RevisionComparison(base_sha, head_sha, compared, suites, tuple(rules), fired, tag_suites, refused)


def _older_generation(conn: sa.Connection, machine_class: str, revision_ids: tuple[int, int]) -> bool:
    """Whether a generation of the class older than its newest measured either revision (else the samples
    are in the newest one's units as they are, and the series need not be read whole for factors)."""
    found = generation_store.generations(conn, machine_class)
    return bool(found) and generation_store.measured_before(conn, machine_class, revision_ids, found[-1]["starts_at"])


def _group_summaries(
    rows: list[SeriesComparison], settings: CompareSettings | None
) -> tuple[list[GroupSummary], list[TagGroupSummary]]:
    """Each group's summary, and its summary per tag (by group, then tag)."""
    groups: dict[tuple[str, str, str], list[SeriesComparison]] = {}
    for row in rows:
        groups.setdefault((row.series.metric, row.series.machine_class, row.series.configuration), []).append(row)
    suites, tag_suites = [], []
    for key, members in sorted(groups.items()):
        entries = [r.entry for r in members]
        suites.append(GroupSummary(*key, summarize_suite(entries, settings)))
        tag_suites += [TagGroupSummary(*key, t.tag, t.summary) for t in summarize_tags(entries, settings)]
    return suites, tag_suites
