"""How ``perfsheriff compare`` shows a comparison to people: a Markdown PR comment, and the rules that fired.

The Markdown is meant to be posted as-is by a merge bot: the weighted suite
summary and the gate's outcome on top, then the series that moved (worst
first), with the unchanged ones folded away. Names come from benchmark
output, so every Markdown character in them is escaped: a ``|`` would break
the table, a backtick or ``@`` would start code or ping someone.
"""

from __future__ import annotations

import math
import re

from perfsheriff.model import format_value
from perfsheriff.service.analysis.compare import GroupSummary, RevisionComparison, SeriesComparison
from perfsheriff.stats.compare import Comparison, ComparisonVerdict
from perfsheriff.stats.gate import Firing, RuleKind
from perfsheriff.stats.suite import SuiteSummary

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


def group_name(group: GroupSummary) -> str:
    place = f"{group.machine_class} ({group.configuration})" if group.configuration else group.machine_class
    return f"{group.metric} on {place}"


def series_name(row: SeriesComparison, *, with_place: bool = True) -> str:
    s = row.series
    name = s.benchmark if s.metric == "time" else f"{s.benchmark} ({s.metric})"
    if not with_place:
        return name
    return f"{name} on {s.machine_class} ({s.configuration})" if s.configuration else f"{name} on {s.machine_class}"


def counts(summary: SuiteSummary) -> str:
    parts = [
        (summary.regressions, "regression", "regressions"),
        (summary.improvements, "improvement", "improvements"),
        (summary.no_change, "no change", "no change"),
        (summary.inconclusive, "inconclusive", "inconclusive"),
        (summary.insufficient_data, "insufficient data", "insufficient data"),
    ]
    said = ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in parts if n)
    return f"{summary.series} series: {said}" if said else f"{summary.series} series"


def suite_line(group: GroupSummary) -> str:
    """One line for the terminal: the group's weighted suite summary."""
    s = group.summary
    verdict = s.verdict.value.replace("_", " ")
    left_out = f", {s.series - s.included} left out" if s.included < s.series else ""
    return (
        f"weighted suite, {group_name(group)}: {percent(s.relative_change)} "
        f"[{interval(s.ci_low, s.ci_high)}], {verdict} ({counts(s)}{left_out})"
    )


def firing_lines(result: RevisionComparison) -> list[str]:
    """One line per rule that fired and what it fired on, for standard error."""
    return [f"rule {f.rule.text} fired: {_subject(result, f)}: {_how(result, f)}" for f in result.fired]


def _subject(result: RevisionComparison, firing: Firing) -> str:
    if firing.rule.kind is RuleKind.SUITE:
        return f"the weighted suite of {group_name(result.suites[firing.index])}"
    return series_name(result.rows[firing.index])


def _how(result: RevisionComparison, firing: Firing) -> str:
    """The change as displayed, and the factor the rule compared with its limit (they differ for improvements)."""
    if firing.rule.kind is RuleKind.SUITE:
        shown = result.suites[firing.index].summary.relative_change
    else:
        shown = result.rows[firing.index].comparison.relative_change
    way = "better" if firing.rule.kind is RuleKind.IMPROVEMENT else "worse"
    return f"{percent(shown)} ({way} by a factor {1 + firing.change:.3f} > {1 + firing.rule.limit:.3f})"


def markdown(result: RevisionComparison) -> str:
    """The comparison as a Markdown PR comment: suite summary and gate outcome, then the series."""
    lines = [f"### perfsheriff: `{result.head[:12]}` against `{result.base[:12]}`", ""]
    if result.rules:
        said = ", ".join(f"`{r.text}`" for r in result.rules)
        outcome = "**Gate failed**" if result.fired else "**Gate passed**"
        lines += [f"{outcome} (rules: {said}).", ""]
    lines += [
        "| weighted suite | change | 95% interval | verdict | series |",
        "|---|---:|---|---|---|",
    ]
    for group in result.suites:
        s = group.summary
        left_out = f" ({s.series - s.included} left out: too few samples)" if s.included < s.series else ""
        cells = [escape(group_name(group)), percent(s.relative_change), interval(s.ci_low, s.ci_high)]
        lines.append(f"| {' | '.join(cells)} | {_MARKERS[s.verdict]} | {counts(s)}{left_out} |")
    lines += [
        "",
        "The suite change is the weighted geometric mean of head/base over the series of one metric, "
        "machine and configuration, oriented so that + is worse.",
        "",
    ]
    if result.fired:
        lines += ["**Rules that fired:**", ""]
        lines += [f"- `{f.rule.text}`: {escape(_subject(result, f))}: {_how(result, f)}" for f in result.fired]
        lines.append("")
    lines += _series_tables(result)
    return "\n".join(lines)


def _series_tables(result: RevisionComparison) -> list[str]:
    with_place = len({(r.series.machine_class, r.series.configuration) for r in result.rows}) > 1
    fired = {f.index for f in result.fired if f.rule.kind is not RuleKind.SUITE}
    rows = [(r, i in fired) for i, r in enumerate(result.rows)]
    moved = sorted(
        (pair for pair in rows if pair[0].comparison.verdict is not ComparisonVerdict.NO_CHANGE),
        key=lambda pair: (_ORDER.index(pair[0].comparison.verdict), -abs(math.log(pair[0].comparison.ratio or 1.0))),
    )
    same = [pair for pair in rows if pair[0].comparison.verdict is ComparisonVerdict.NO_CHANGE]
    lines: list[str] = []
    if moved:
        lines += _table(moved, with_place)
    if same:
        lines += ["", f"<details><summary>{len(same)} series with no change</summary>", ""]
        lines += [*_table(same, with_place), "", "</details>"]
    if not result.rows:
        lines.append("No series was measured at both revisions.")
    return [*lines, ""]


def _table(rows: list[tuple[SeriesComparison, bool]], with_place: bool) -> list[str]:
    lines = [
        "| series | base | head | change | 95% interval | verdict |",
        "|---|---:|---:|---:|---|---|",
    ]
    for row, fired in rows:
        c = row.comparison
        cells = [
            escape(series_name(row, with_place=with_place)),
            _median(c.median_base, row.series.unit),
            _median(c.median_head, row.series.unit),
            percent(c.relative_change),
            interval(c.ci_low, c.ci_high),
            _verdict(c) + (" (fails the gate)" if fired else ""),
        ]
        lines.append(f"| {' | '.join(cells)} |")
    return lines


def _median(value: float | None, unit: str) -> str:
    return escape(format_value(value, unit)) if value is not None else "-"


def _verdict(c: Comparison) -> str:
    more = f" (~{c.runs_needed} more runs)" if c.runs_needed else ""
    return _MARKERS[c.verdict] + more
