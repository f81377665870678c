"""Merge-gate rules: ``--fail-on 'regression>100%,real-world:suite>2%'`` parsed, and checked against a comparison.

GHC's lesson: a gate that fails a merge on small regressions blocks innocent
authors and teaches everyone to ignore it. So the default is generous: a kind
named without a limit (``--fail-on regression``) means ``regression>100%``,
and drift is watched on ``main`` instead.

A rule is ``KIND>N%``, or ``KIND`` alone for ``KIND>100%``:

- ``regression>N%``: a series whose verdict is ``regression`` got worse by a
  factor above ``1 + N/100`` (for 10 %: a time times 1.1, a throughput divided by 1.1);
- ``improvement>N%``: a series whose verdict is ``improvement`` got better
  by such a factor (an unexpected speed-up may mean a test stopped running);
- ``suite>N%``: a group's weighted suite summary is a ``regression`` worse
  by such a factor.

Sizes are factors, symmetric on the log scale like every comparison here:
``improvement>100%`` fires when a time halves or a throughput doubles. A rule
fires only on a decided verdict, so noise alone never fails a gate.

A rule may name a benchmark tag first, ``TAG:KIND>N%`` (a tag is ASCII
letters, digits, ``-``, ``_`` and ``.``, compared case-sensitively):
``real-world:suite>2%`` fires on the weighted summary of the series that carry
``real-world`` (:func:`perfsheriff.stats.suite.summarize_tags`), and
``micro:regression>50%`` / ``micro:improvement>50%`` are the series rules
restricted to the series that carry ``micro``. Each (tag, kind) may be limited
once, beside the untagged rule of the same kind. A tag that no compared series
carries is an :class:`~perfsheriff.errors.InputError` naming the rule and the
tags that exist: a misspelt tag would otherwise pass every gate. A comparison
without any series says nothing about tags, and the caller decides what an
empty comparison means (the compare service refuses to gate one).
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from perfsheriff.errors import InputError
from perfsheriff.model import is_tag_name
from perfsheriff.stats.compare import ComparisonVerdict
from perfsheriff.stats.suite import SuiteEntry, SuiteSummary, TagSummary

#: What the documentation recommends for a per-change gate, and what ``regression`` alone means.
RECOMMENDED = "regression>100%"
DEFAULT_LIMIT = 1.0
_RULE = re.compile(r"(?P<kind>[A-Za-z_-]+)\s*(?P<op>[<>=!]*)\s*(?P<limit>[^%\s]*)\s*(?P<percent>%?)")
# Changes are compared with limits to this many decimals: a ratio of exactly 1.05 is not "above 5 %".
_DECIMALS = 9
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_TAG_SYNTAX = 'a tag before ":" is ASCII letters, digits, "-", "_" and ".", e.g. real-world:suite>2%'


class RuleKind(enum.StrEnum):
    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    SUITE = "suite"


@dataclass(frozen=True, slots=True)
class Rule:
    """``[tag:]kind>limit``; ``limit`` is a fraction (0.1 for 10 %), ``text`` the rule as written, ``tag`` the
    benchmark tag the rule is restricted to (``None``: every series, and the groups' overall summaries)."""

    kind: RuleKind
    limit: float
    text: str
    tag: str | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.limit) and self.limit >= 0):
            raise InputError(f'rule "{self.text}": the limit must be a finite percentage >= 0')
        if self.tag is not None and not is_tag_name(self.tag):
            raise InputError(f'rule "{self.text}": {_TAG_SYNTAX}')

    @property
    def name(self) -> str:
        """``kind`` or ``tag:kind``: what may be limited once."""
        return self.kind.value if self.tag is None else f"{self.tag}:{self.kind.value}"


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule that fired: on ``entries[index]`` (series rules), ``suites[index]`` (``suite`` rules) or
    ``tag_suites[index]`` (``TAG:suite`` rules).

    ``change`` is how much worse (``regression``, ``suite``) or better
    (``improvement``) it got, as a factor minus one.
    """

    rule: Rule
    index: int
    change: float


def parse_rules(text: str, where: str | None = None) -> tuple[Rule, ...]:
    """Rules from ``'regression>10%,improvement>5%'``; an InputError names the rule that is wrong.

    ``where`` (the option or query parameter the text came from) is named in the error too.
    """
    try:
        return _parse_rules(text)
    except InputError as err:
        raise InputError(err.reason, where=where) from None


def _parse_rules(text: str) -> tuple[Rule, ...]:
    parts = [part.strip() for part in text.split(",")]
    if not any(parts):
        raise InputError(f"give at least one rule, e.g. {RECOMMENDED}")
    rules: list[Rule] = []
    for part in parts:
        if not part:
            raise InputError(f'"{text.strip()}" has an empty rule: separate rules with single commas')
        rule = _parse_rule(part)
        earlier = next((r for r in rules if r.name == rule.name), None)
        if earlier is not None:
            raise InputError(f'rule "{part}": {rule.name} is already limited by "{earlier.text}"')
        rules.append(rule)
    return tuple(rules)


def _parse_rule(text: str) -> Rule:
    kinds = ", ".join(k.value for k in RuleKind)
    example = f"KIND>N% with KIND one of {kinds}, e.g. {RECOMMENDED}"
    tag, body = None, text
    if ":" in text:
        tag, body = (side.strip() for side in text.split(":", 1))
        if not is_tag_name(tag):
            raise InputError(f'rule "{text}": {_TAG_SYNTAX}')
        if ":" in body:
            raise InputError(f'rule "{text}": one tag per rule, e.g. real-world:suite>2%')
    match = _RULE.fullmatch(body)
    if match is None:
        raise InputError(f'rule "{text}": expected {example}')
    kind = match["kind"].lower()
    if kind not in {k.value for k in RuleKind}:
        raise InputError(f'rule "{text}": unknown kind "{match["kind"]}"; expected one of {kinds}')
    if not match["op"] and not match["limit"] and not match["percent"]:
        return Rule(RuleKind(kind), DEFAULT_LIMIT, text, tag)
    if match["op"] != ">":
        raise InputError(f'rule "{text}": expected {kind}>N% (only ">" is supported)')
    if not _NUMBER.fullmatch(match["limit"]):
        raise InputError(f'rule "{text}": the limit must be a number of percent, e.g. {kind}>10%')
    if not match["percent"]:
        raise InputError(f'rule "{text}": write the limit as a percentage, e.g. {kind}>{match["limit"]}%')
    return Rule(RuleKind(kind), float(match["limit"]) / 100, text, tag)


def evaluate(
    rules: Sequence[Rule],
    entries: Sequence[SuiteEntry],
    suites: Sequence[SuiteSummary] = (),
    tag_suites: Sequence[TagSummary] = (),
) -> tuple[Firing, ...]:
    """Every (rule, series or summary) pair where the rule fires, in rule order, then entry order.

    A tagged rule looks only at the entries carrying its tag, and (``suite``) at the ``tag_suites`` of its
    tag; one whose tag nothing here carries is an InputError, unless there is nothing here at all.
    """
    _check_tags(rules, entries, tag_suites, empty=not (entries or suites or tag_suites))
    fired: list[Firing] = []
    for rule in rules:
        if rule.kind is RuleKind.SUITE:
            summaries = (
                list(enumerate(suites))
                if rule.tag is None
                else [(i, t.summary) for i, t in enumerate(tag_suites) if t.tag == rule.tag]
            )
            fired += [
                Firing(rule, i, suite.relative_change)
                for i, suite in summaries
                if suite.verdict is ComparisonVerdict.REGRESSION
                and suite.relative_change is not None
                and _exceeds(suite.relative_change, rule.limit)
            ]
            continue
        wanted = ComparisonVerdict.REGRESSION if rule.kind is RuleKind.REGRESSION else ComparisonVerdict.IMPROVEMENT
        for i, entry in enumerate(entries):
            factor = entry.worse_factor
            if entry.comparison.verdict is not wanted or factor is None:
                continue
            if rule.tag is not None and rule.tag not in entry.tags:
                continue
            change = factor - 1 if wanted is ComparisonVerdict.REGRESSION else 1 / factor - 1
            if _exceeds(change, rule.limit):
                fired.append(Firing(rule, i, change))
    return tuple(fired)


def _check_tags(
    rules: Sequence[Rule], entries: Sequence[SuiteEntry], tag_suites: Sequence[TagSummary], *, empty: bool
) -> None:
    """An InputError for the first rule whose tag no entry or tag summary carries (none when ``empty``)."""
    if empty:
        return
    known = {tag for entry in entries for tag in entry.tags} | {t.tag for t in tag_suites}
    for rule in rules:
        if rule.tag is not None and rule.tag not in known:
            have = f"known tags: {', '.join(sorted(known))}" if known else "no compared benchmark has tags"
            raise InputError(f'rule "{rule.text}": no compared series carries the tag "{rule.tag}"; {have}')


def _exceeds(change: float, limit: float) -> bool:
    """``change > limit``, where a change that equals the limit up to rounding (1.05 / 1 - 1) does not count."""
    return round(change, _DECIMALS) > round(limit, _DECIMALS)
