"""Merge-gate rules: ``--fail-on 'regression>100%,suite>2%'`` parsed, and checked against a comparison.

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
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from perfsheriff.errors import InputError
from perfsheriff.stats.compare import ComparisonVerdict
from perfsheriff.stats.suite import SuiteEntry, SuiteSummary

#: What the documentation recommends for a per-change gate, and what ``regression`` alone means.
RECOMMENDED = "regression>100%"
DEFAULT_LIMIT = 1.0
_RULE = re.compile(r"(?P<kind>[A-Za-z_-]+)\s*(?P<op>[<>=!]*)\s*(?P<limit>[^%\s]*)\s*(?P<percent>%?)")
# Changes are compared with limits to this many decimals: a ratio of exactly 1.05 is not "above 5 %".
_DECIMALS = 9
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")


class RuleKind(enum.StrEnum):
    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    SUITE = "suite"


@dataclass(frozen=True, slots=True)
class Rule:
    """``kind>limit``; ``limit`` is a fraction (0.1 for 10 %), ``text`` the rule as written."""

    kind: RuleKind
    limit: float
    text: str

    def __post_init__(self) -> None:
        if not (math.isfinite(self.limit) and self.limit >= 0):
            raise InputError(f'rule "{self.text}": the limit must be a finite percentage >= 0')


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule that fired: on ``entries[index]`` (series rules) or ``suites[index]`` (``suite`` rules).

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
        earlier = next((r for r in rules if r.kind is rule.kind), None)
        if earlier is not None:
            raise InputError(f'rule "{part}": {rule.kind} is already limited by "{earlier.text}"')
        rules.append(rule)
    return tuple(rules)


def _parse_rule(text: str) -> Rule:
    kinds = ", ".join(k.value for k in RuleKind)
    example = f"KIND>N% with KIND one of {kinds}, e.g. {RECOMMENDED}"
    match = _RULE.fullmatch(text)
    if match is None:
        raise InputError(f'rule "{text}": expected {example}')
    kind = match["kind"].lower()
    if kind not in {k.value for k in RuleKind}:
        raise InputError(f'rule "{text}": unknown kind "{match["kind"]}"; expected one of {kinds}')
    if not match["op"] and not match["limit"] and not match["percent"]:
        return Rule(RuleKind(kind), DEFAULT_LIMIT, text)
    if match["op"] != ">":
        raise InputError(f'rule "{text}": expected {kind}>N% (only ">" is supported)')
    if not _NUMBER.fullmatch(match["limit"]):
        raise InputError(f'rule "{text}": the limit must be a number of percent, e.g. {kind}>10%')
    if not match["percent"]:
        raise InputError(f'rule "{text}": write the limit as a percentage, e.g. {kind}>{match["limit"]}%')
    return Rule(RuleKind(kind), float(match["limit"]) / 100, text)


def evaluate(
    rules: Sequence[Rule], entries: Sequence[SuiteEntry], suites: Sequence[SuiteSummary] = ()
) -> tuple[Firing, ...]:
    """Every (rule, series or suite) pair where the rule fires, in rule order, then entry order."""
    fired: list[Firing] = []
    for rule in rules:
        if rule.kind is RuleKind.SUITE:
            for i, suite in enumerate(suites):
                change = suite.relative_change
                if (
                    suite.verdict is ComparisonVerdict.REGRESSION
                    and change is not None
                    and _exceeds(change, rule.limit)
                ):
                    fired.append(Firing(rule, i, change))
            continue
        wanted = ComparisonVerdict.REGRESSION if rule.kind is RuleKind.REGRESSION else ComparisonVerdict.IMPROVEMENT
        for i, entry in enumerate(entries):
            factor = entry.worse_factor
            if entry.comparison.verdict is not wanted or factor is None:
                continue
            change = factor - 1 if wanted is ComparisonVerdict.REGRESSION else 1 / factor - 1
            if _exceeds(change, rule.limit):
                fired.append(Firing(rule, i, change))
    return tuple(fired)


def _exceeds(change: float, limit: float) -> bool:
    """``change > limit``, where a change that equals the limit up to rounding (1.05 / 1 - 1) does not count."""
    return round(change, _DECIMALS) > round(limit, _DECIMALS)
