"""Merge-gate rules: the --fail-on parser, and when a rule fires."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsheriff.errors import InputError
from perfsheriff.model import Direction
from perfsheriff.stats.compare import Comparison, ComparisonVerdict
from perfsheriff.stats.gate import RECOMMENDED, Firing, Rule, RuleKind, evaluate, parse_rules
from perfsheriff.stats.suite import SuiteEntry, summarize_suite, summarize_tags

LOWER = Direction.LOWER_IS_BETTER
HIGHER = Direction.HIGHER_IS_BETTER


def entry(ratio: float, verdict: ComparisonVerdict, direction: Direction = LOWER, *tags: str) -> SuiteEntry:
    comparison = Comparison(verdict, 10, 10, ratio=ratio, ci_low=ratio / 1.01, ci_high=ratio * 1.01)
    return SuiteEntry(comparison, direction, tags=frozenset(tags))


# --- parsing -------------------------------------------------------------------------------------


def test_rules_parse_as_fractions_and_keep_their_text() -> None:
    assert parse_rules("regression>10%") == (Rule(RuleKind.REGRESSION, 0.10, "regression>10%"),)
    assert parse_rules(" Regression > 100 % , improvement>5%,suite>2.5%") == (
        Rule(RuleKind.REGRESSION, 1.0, "Regression > 100 %"),
        Rule(RuleKind.IMPROVEMENT, 0.05, "improvement>5%"),
        Rule(RuleKind.SUITE, 0.025, "suite>2.5%"),
    )
    assert parse_rules(RECOMMENDED)[0].limit == 1.0
    assert parse_rules("regression>0%")[0].limit == 0.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "give at least one rule, e.g. regression>100%"),
        (" , ", "give at least one rule"),
        ("regresion>10%", 'rule "regresion>10%": unknown kind "regresion"; expected one of regression, improvement'),
        ("regression>=10%", 'rule "regression>=10%": expected regression>N% (only ">" is supported)'),
        ("regression<10%", 'rule "regression<10%": expected regression>N%'),
        ("regression 10%", 'rule "regression 10%": expected regression>N%'),
        ("regression>10", 'rule "regression>10": write the limit as a percentage, e.g. regression>10%'),
        ("regression>", 'rule "regression>": the limit must be a number of percent'),
        ("regression>-5%", 'rule "regression>-5%": the limit must be a number of percent'),
        ("regression>ten%", 'rule "regression>ten%": the limit must be a number of percent'),
        ("10%", 'rule "10%": expected KIND>N% with KIND one of regression, improvement, suite'),
        ("regression>10%%", 'rule "regression>10%%": expected KIND>N%'),
        ("regression>10%,,suite>1%", "has an empty rule"),
        ("regression>10%,regression>5%", 'rule "regression>5%": regression is already limited by "regression>10%"'),
        ("io:suite>1%, io : suite>2%", 'rule "io : suite>2%": io:suite is already limited by "io:suite>1%"'),
        ("real world:suite>2%", 'rule "real world:suite>2%": a tag before ":" is ASCII letters, digits, "-", "_"'),
        (":suite>2%", 'rule ":suite>2%": a tag before ":" is ASCII letters'),
        ("a:b:suite>2%", 'rule "a:b:suite>2%": one tag per rule'),
        ("io:", 'rule "io:": expected KIND>N%'),
        ("io:sweet>1%", 'rule "io:sweet>1%": unknown kind "sweet"'),
    ],
)
def test_bad_rules_are_named_in_the_error(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_rules(text)
    assert message in str(caught.value)


kinds = st.sampled_from(RuleKind)
limits = st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False, allow_infinity=False)
spaces = st.sampled_from(["", " ", "  "])


@given(chosen=st.lists(st.tuples(kinds, limits, spaces, spaces), min_size=1, max_size=3, unique_by=lambda t: t[0]))
def test_written_rules_parse_back(chosen: list[tuple[RuleKind, object, str, str]]) -> None:
    texts = [f"{kind.value}{a}>{b}{limit}%" for kind, limit, a, b in chosen]
    rules = parse_rules(",".join(texts))
    assert [r.kind for r in rules] == [kind for kind, *_ in chosen]
    assert [r.text for r in rules] == texts
    for rule, (_, limit, _, _) in zip(rules, chosen, strict=True):
        assert math.isclose(rule.limit, float(str(limit)) / 100)


@given(text=st.text(max_size=40))
def test_any_text_parses_or_fails_with_an_input_error(text: str) -> None:
    try:
        rules = parse_rules(text)
    except InputError as err:
        message = str(err)
    else:
        assert rules
        assert all(r.limit >= 0 for r in rules)
        return
    assert "rule" in message


# --- firing --------------------------------------------------------------------------------------


def test_a_regression_rule_fires_on_decided_regressions_above_its_limit() -> None:
    rows = [
        entry(1.5, ComparisonVerdict.REGRESSION),
        entry(1.05, ComparisonVerdict.REGRESSION),
        entry(3.0, ComparisonVerdict.INCONCLUSIVE),  # noise alone never fails a gate
        entry(0.5, ComparisonVerdict.IMPROVEMENT),
    ]
    fired = evaluate(parse_rules("regression>10%"), rows)
    assert [(f.index, round(f.change, 6)) for f in fired] == [(0, 0.5)]


def test_limits_are_factors_so_higher_is_better_series_are_judged_alike() -> None:
    rows = [entry(1 / 2.5, ComparisonVerdict.REGRESSION, HIGHER), entry(2.5, ComparisonVerdict.IMPROVEMENT, HIGHER)]
    fired = evaluate(parse_rules("regression>100%,improvement>100%"), rows)
    assert [(f.rule.kind, f.index, round(f.change, 6)) for f in fired] == [
        (RuleKind.REGRESSION, 0, 1.5),
        (RuleKind.IMPROVEMENT, 1, 1.5),
    ]
    halved = evaluate(parse_rules("improvement>99%"), [entry(0.5, ComparisonVerdict.IMPROVEMENT)])
    assert [round(f.change, 6) for f in halved] == [1.0]  # a time that halves is 100 % better


def test_the_limit_itself_does_not_fire() -> None:
    assert evaluate(parse_rules("regression>50%"), [entry(1.5, ComparisonVerdict.REGRESSION)]) == ()


def test_a_suite_rule_fires_on_a_regressed_suite_above_its_limit() -> None:
    worse = summarize_suite([entry(1.05, ComparisonVerdict.REGRESSION)] * 3)
    better = summarize_suite([entry(0.95, ComparisonVerdict.IMPROVEMENT)] * 3)
    fired = evaluate(parse_rules("suite>2%"), [], [better, worse])
    assert fired == (Firing(parse_rules("suite>2%")[0], 1, pytest.approx(0.05)),)
    assert evaluate(parse_rules("suite>5%"), [], [worse]) == ()


def test_no_rules_fire_nothing() -> None:
    assert evaluate((), [entry(10.0, ComparisonVerdict.REGRESSION)]) == ()


def test_a_kind_alone_is_the_generous_default() -> None:
    (rule,) = parse_rules("regression")
    assert rule.kind is RuleKind.REGRESSION
    assert rule.limit == 1.0
    assert parse_rules("suite")[0].limit == 1.0


# --- tags ----------------------------------------------------------------------------------------


def test_a_rule_may_name_a_tag_beside_the_untagged_rule_of_its_kind() -> None:
    assert parse_rules("regression>100%, real-world:regression>2%,Micro.v2:suite") == (
        Rule(RuleKind.REGRESSION, 1.0, "regression>100%"),
        Rule(RuleKind.REGRESSION, 0.02, "real-world:regression>2%", "real-world"),
        Rule(RuleKind.SUITE, 1.0, "Micro.v2:suite", "Micro.v2"),
    )
    assert parse_rules(" io : Suite > 2 %")[0] == Rule(RuleKind.SUITE, 0.02, "io : Suite > 2 %", "io")


def test_a_tagged_series_rule_looks_only_at_the_series_with_the_tag() -> None:
    rows = [
        entry(1.5, ComparisonVerdict.REGRESSION, LOWER, "micro"),
        entry(1.5, ComparisonVerdict.REGRESSION, LOWER, "real-world", "io"),
        entry(0.4, ComparisonVerdict.IMPROVEMENT, LOWER, "real-world"),
    ]
    fired = evaluate(parse_rules("real-world:regression>10%,micro:improvement>10%,real-world:improvement"), rows)
    assert [(f.rule.text, f.index) for f in fired] == [
        ("real-world:regression>10%", 1),
        ("real-world:improvement", 2),
    ]


def test_a_tagged_suite_rule_fires_on_its_tags_summary_only() -> None:
    rows = [entry(1.05, ComparisonVerdict.REGRESSION, LOWER, "real-world")] * 3 + [
        entry(0.9, ComparisonVerdict.IMPROVEMENT, LOWER, "micro")
    ] * 3
    tags = summarize_tags(rows)
    assert [t.tag for t in tags] == ["micro", "real-world"]
    overall = summarize_suite(rows)
    assert overall.verdict is not ComparisonVerdict.REGRESSION  # the micro speed-ups hide the slowdown
    rules = parse_rules("suite>2%,real-world:suite>2%,micro:suite>0%")
    fired = evaluate(rules, rows, [overall], tags)
    assert fired == (Firing(rules[1], 1, pytest.approx(0.05)),)


def test_an_unknown_tag_is_an_error_naming_the_rule_and_the_known_tags() -> None:
    rows = [entry(1.0, ComparisonVerdict.NO_CHANGE, LOWER, "real-world", "micro")]
    with pytest.raises(InputError) as caught:
        evaluate(parse_rules("regression,realworld:suite>2%"), rows, [summarize_suite(rows)], summarize_tags(rows))
    assert str(caught.value) == (
        'rule "realworld:suite>2%": no compared series carries the tag "realworld"; known tags: micro, real-world'
    )
    untagged = [entry(1.0, ComparisonVerdict.NO_CHANGE)]
    with pytest.raises(InputError, match="no compared benchmark has tags"):
        evaluate(parse_rules("micro:regression"), untagged)
    assert evaluate(parse_rules("micro:regression"), []) == ()  # nothing compared: the caller decides


@given(
    chosen=st.lists(
        st.tuples(st.sampled_from(["real-world", "micro", "a.b_c-1"]), kinds, limits),
        min_size=1,
        max_size=4,
        unique_by=lambda t: (t[0], t[1]),
    )
)
def test_written_tagged_rules_parse_back(chosen: list[tuple[str, RuleKind, object]]) -> None:
    texts = [f"{tag}:{kind.value}>{limit}%" for tag, kind, limit in chosen]
    rules = parse_rules(",".join(texts))
    assert [(r.tag, r.kind) for r in rules] == [(tag, kind) for tag, kind, _ in chosen]
    for rule, (_, _, limit) in zip(rules, chosen, strict=True):
        assert math.isclose(rule.limit, float(str(limit)) / 100)
