"""How ``perfsheriff compare`` shows a comparison to people: a Markdown PR comment, and the rules that fired.

It reads the API's answer (:class:`perfsheriff.wire.Comparison`), which a local
comparison is turned into as well: a table computed from a local database and
one fetched from a server (``--server``) are then shown by the same code.

The Markdown is meant to be posted as-is by a merge bot: the weighted suite
summary and the gate's outcome on top, the summary per benchmark tag below it
(when benchmarks have tags), then the series that moved (worst first), with
the unchanged ones folded away. Names come from benchmark output, so every
Markdown character in them is escaped: a ``|`` would break the table, a
backtick or ``@`` would start code or ping someone.
"""

from __future__ import annotations

import math
import re

from perfsheriff.model import format_value
from perfsheriff.stats.compare import ComparisonVerdict
from perfsheriff.stats.gate import RuleKind, parse_rules
from perfsheriff.wire import Comparison
from perfsheriff.wire.reads import FiredRule, SeriesComparison, SuiteComparison, TagSuiteComparison

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~@-])")
_MARKERS = {
    ComparisonVerdict.REGRESSION: "**(!) regression**",
    ComparisonVerdict.IMPROVEMENT: "**(+) improvement**",
    ComparisonVerdict.NO_CHANGE: "(=) no change",
    ComparisonVerdict.INCONCLUSIVE: "(?) inconclusive",
    ComparisonVerdict.INSUFFICIENT_DATA: "(?) insufficient data",
}
_ORDER = [
    ComparisonVerdict.REGRESSION,
    ComparisonVerdict.IMPROVEMENT,
    ComparisonVerdict.INCONCLUSIVE,
    ComparisonVerdict.INSUFFICIENT_DATA,
]


def escape(text: str) -> str:
    """``text`` safe in a Markdown table cell: one line, every Markdown character backslash-escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _CONTROL.sub(" ", text).strip())


def percent(change: float | None) -> str:
    return f"{change:+.1%}" if change is not None and math.isfinite(change) else "-"


def interval(low: float | None, high: float | None) -> str:
    """A ratio interval as changes, ``-`` when it is unbounded (too few samples)."""
    if not low or high is None or not math.isfinite(high):
        return "-"
    return f"{low - 1:+.1%}..{high - 1:+.1%}"


def group_name(group: SuiteComparison) -> str:
    place = f"{group.machine_class} ({group.configuration})" if group.configuration else group.machine_class
    return f"{group.metric} on {place}"


def series_name(s: SeriesComparison, *, with_place: bool = True) -> str:
    name = s.benchmark if s.metric == "time" else f"{s.benchmark} ({s.metric})"
    if not with_place:
        return name
    return f"{name} on {s.machine_class} ({s.configuration})" if s.configuration else f"{name} on {s.machine_class}"


def counts(summary: SuiteComparison) -> str:
    parts = [
        (summary.regressions, "regression", "regressions"),
        (summary.improvements, "improvement", "improvements"),
        (summary.no_change, "no change", "no change"),
        (summary.inconclusive, "inconclusive", "inconclusive"),
        (summary.insufficient_data, "insufficient data", "insufficient data"),
    ]
    said = ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in parts if n)
    return f"{summary.series} series: {said}" if said else f"{summary.series} series"


def suite_line(s: SuiteComparison) -> str:
    """One line for the terminal: the group's weighted suite summary (of one tag's series, for a tag's)."""
    verdict = s.verdict.replace("_", " ")
    left_out = f", {s.series - s.included} left out" if s.included < s.series else ""
    what = f"weighted suite of tag {s.tag}" if isinstance(s, TagSuiteComparison) else "weighted suite"
    return (
        f"{what}, {group_name(s)}: {percent(s.relative_change)} "
        f"[{interval(s.ci_low, s.ci_high)}], {verdict} ({counts(s)}{left_out})"
    )


def firing_lines(result: Comparison) -> list[str]:
    """One line per rule that fired and what it fired on, for standard error."""
    return [f"rule {f.rule} fired: {_subject(result, f)}: {_how(result, f)}" for f in result.fired]


def _fired_on(result: Comparison, firing: FiredRule) -> SeriesComparison | SuiteComparison:
    """The series or (``suite`` rules) the suite summary, overall or of a tag, a rule fired on."""
    if firing.suite is not None:
        return result.suites[firing.suite]
    if firing.tag_suite is not None:
        return result.tag_suites[firing.tag_suite]
    return next(row for row in result.series if row.series == firing.series)


def _subject(result: Comparison, firing: FiredRule) -> str:
    subject = _fired_on(result, firing)
    if isinstance(subject, TagSuiteComparison):
        return f"the weighted suite of tag {subject.tag}, {group_name(subject)}"
    if isinstance(subject, SuiteComparison):
        return f"the weighted suite of {group_name(subject)}"
    return series_name(subject)


def _how(result: Comparison, firing: FiredRule) -> str:
    """The change as displayed, and the factor the rule compared with its limit (they differ for improvements)."""
    shown = _fired_on(result, firing).relative_change
    limit = parse_rules(firing.rule)[0].limit
    way = "better" if firing.kind == RuleKind.IMPROVEMENT.value else "worse"
    return f"{percent(shown)} ({way} by a factor {1 + firing.change:.3f} > {1 + limit:.3f})"


def markdown(result: Comparison) -> str:
    """The comparison as a Markdown PR comment: suite summary and gate outcome, then the series."""
    lines = [f"### perfsheriff: `{result.head[:12]}` against `{result.base[:12]}`", ""]
    if result.rules:
        said = ", ".join(f"`{r}`" for r in result.rules)
        outcome = "**Gate failed**" if result.fired else "**Gate passed**"
        lines += [f"{outcome} (rules: {said}).", ""]
    lines += [
        "| weighted suite | change | 95% interval | verdict | series |",
        "|---|---:|---|---|---|",
    ]
    lines += [_summary_row(escape(group_name(s)), s) for s in result.suites]
    if result.tag_suites:
        lines += ["", "| tag | weighted suite | change | 95% interval | verdict | series |"]
        lines.append("|---|---|---:|---|---|---|")
        lines += [_summary_row(f"{escape(s.tag)} | {escape(group_name(s))}", s) for s in result.tag_suites]
    per_tag = " (per tag: over the series whose benchmark carries the tag)" if result.tag_suites else ""
    lines += [
        "",
        "The suite change is the weighted geometric mean of head/base over the series of one metric, "
        f"machine and configuration{per_tag}, oriented so that + is worse.",
        "",
    ]
    if result.fired:
        lines += ["**Rules that fired:**", ""]
        lines += [f"- `{f.rule}`: {escape(_subject(result, f))}: {_how(result, f)}" for f in result.fired]
        lines.append("")
    notes = generation_lines(result)
    lines += [*(f"- {escape(note)}" for note in notes), ""] if notes else []
    lines += _series_tables(result)
    return "\n".join(lines)


def generation_lines(result: Comparison) -> list[str]:
    """A line per series compared across a machine upgrade (in which generation's units, by which factor), and
    per series not compared because the factor is not known."""
    lines = []
    for c in result.series:
        if c.across_generations is None:
            continue
        sides = []
        for name, side in (("base", c.across_generations.base), ("head", c.across_generations.head)):
            if side.factor is not None:
                where = f" [{side.low:.4f}, {side.high:.4f}]" if side.low is not None and side.high is not None else ""
                sides.append(f"{name} measured on {side.generation}, x{side.factor:.4f}{where}")
        lines.append(
            f"{c.benchmark} {c.metric} on {c.machine_class}: compared in the units of {c.across_generations.units} "
            f"({'; '.join(sides)})"
        )
    lines += [f"not compared: {n.benchmark} {n.metric} on {n.machine_class}: {n.reason}" for n in result.not_compared]
    return lines


def _summary_row(name: str, s: SuiteComparison) -> str:
    """A suite summary's Markdown row after its name cell(s): change, interval, verdict, series."""
    left_out = f" ({s.series - s.included} left out: too few samples)" if s.included < s.series else ""
    cells = [name, percent(s.relative_change), interval(s.ci_low, s.ci_high), _MARKERS[ComparisonVerdict(s.verdict)]]
    return f"| {' | '.join(cells)} | {counts(s)}{left_out} |"


def _series_tables(result: Comparison) -> list[str]:
    with_place = len({(r.machine_class, r.configuration) for r in result.series}) > 1
    fired = {f.series for f in result.fired if f.series is not None}
    rows = [(r, r.series in fired) for r in result.series]
    moved = sorted(
        (pair for pair in rows if pair[0].verdict != ComparisonVerdict.NO_CHANGE.value),
        key=lambda pair: (_ORDER.index(ComparisonVerdict(pair[0].verdict)), -abs(math.log(pair[0].ratio or 1.0))),
    )
    same = [pair for pair in rows if pair[0].verdict == ComparisonVerdict.NO_CHANGE.value]
    lines: list[str] = []
    if moved:
        lines += _table(moved, with_place)
    if same:
        lines += ["", f"<details><summary>{len(same)} series with no change</summary>", ""]
        lines += [*_table(same, with_place), "", "</details>"]
    if not result.series:
        lines.append("No series was measured at both revisions.")
    return [*lines, ""]


def _table(rows: list[tuple[SeriesComparison, bool]], with_place: bool) -> list[str]:
    lines = [
        "| series | base | head | change | 95% interval | verdict |",
        "|---|---:|---:|---:|---|---|",
    ]
    for c, fired in rows:
        cells = [
            escape(series_name(c, with_place=with_place)),
            _median(c.median_base, c.unit),
            _median(c.median_head, c.unit),
            percent(c.relative_change),
            interval(c.ci_low, c.ci_high),
            _verdict(c) + (" (fails the gate)" if fired else ""),
        ]
        lines.append(f"| {' | '.join(cells)} |")
    return lines


def _median(value: float | None, unit: str) -> str:
    return escape(format_value(value, unit)) if value is not None else "-"


def _verdict(c: SeriesComparison) -> str:
    more = f" (~{c.runs_needed} more runs)" if c.runs_needed else ""
    return _MARKERS[ComparisonVerdict(c.verdict)] + more
