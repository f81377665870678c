"""Grouping alerts into summaries: overlap on one branch, shared culprits, incremental and order-free."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsheriff.errors import InputError
from perfsheriff.triage import Alert, AlertKind, OpenSummary, SuspectRange, group, partition

X = "a" * 40
Y = "b" * 40


def alert(
    alert_id: int,
    good: int,
    bad: int,
    *,
    branch: str = "main",
    benchmark: str = "parse",
    machine: str = "linux",
    kind: AlertKind = AlertKind.REGRESSION,
    culprit: str | None = None,
) -> Alert:
    return Alert(alert_id, branch, benchmark, machine, "", SuspectRange(good, bad), kind, 0.1, 0.99, culprit=culprit)


def test_overlapping_ranges_form_one_summary_across_benchmarks_machines_and_kinds() -> None:
    alerts = [
        alert(1, 10, 14, benchmark="parse", machine="linux"),
        alert(2, 12, 13, benchmark="render", machine="mac"),
        alert(3, 13, 20, benchmark="startup", kind=AlertKind.IMPROVEMENT),
        alert(4, 20, 22),  # touches 3's end but shares no push with it
    ]
    grouping = group([], alerts)
    assert [(n.alert_ids, n.suspect) for n in grouping.created] == [
        ((1, 2, 3), SuspectRange(10, 20)),
        ((4,), SuspectRange(20, 22)),
    ]
    assert grouping.joins == {}
    assert grouping.merges == {}


def test_branches_and_drift_alerts_group_apart() -> None:
    alerts = [
        alert(1, 0, 5),
        alert(2, 0, 5, branch="release"),
        alert(3, 0, 50, kind=AlertKind.DRIFT),
        alert(4, 40, 60, kind=AlertKind.DRIFT, benchmark="render"),
    ]
    assert partition(alerts) == ((1,), (2,), (3, 4))
    drift = [n for n in group([], alerts).created if n.drift]
    assert [n.alert_ids for n in drift] == [(3, 4)]


def test_a_new_alert_joins_the_summary_its_range_overlaps_and_widens_it() -> None:
    summary = OpenSummary(7, "main", SuspectRange(10, 14))
    grouping = group([summary], [alert(1, 12, 18), alert(2, 30, 31)])
    assert grouping.joins == {1: 7}
    assert grouping.updated == (OpenSummary(7, "main", SuspectRange(10, 18)),)
    assert [n.alert_ids for n in grouping.created] == [(2,)]


def test_an_alert_bridging_two_summaries_merges_them_into_the_older() -> None:
    summaries = [OpenSummary(9, "main", SuspectRange(15, 20)), OpenSummary(4, "main", SuspectRange(0, 10))]
    grouping = group(summaries, [alert(1, 8, 17)])
    assert grouping.merges == {9: 4}
    assert grouping.joins == {1: 4}
    assert grouping.updated == (OpenSummary(4, "main", SuspectRange(0, 20)),)
    assert grouping.created == ()


def test_alerts_sharing_a_culprit_join_its_summary_even_without_overlap() -> None:
    summary = OpenSummary(3, "main", SuspectRange(10, 11), culprits=frozenset({X}))
    grouping = group([summary], [alert(1, 40, 45, culprit=X), alert(2, 40, 45, culprit=Y, branch="release")])
    assert grouping.joins == {1: 3}
    assert [n.culprits for n in grouping.created] == [frozenset({Y})]


def test_a_culprit_found_later_merges_two_existing_summaries() -> None:
    summaries = [
        OpenSummary(1, "main", SuspectRange(0, 3), culprits=frozenset({X})),
        OpenSummary(2, "main", SuspectRange(8, 9), culprits=frozenset({X, Y})),
        OpenSummary(5, "main", SuspectRange(30, 40), culprits=frozenset({Y})),
    ]
    grouping = group(summaries, [])
    assert grouping.merges == {2: 1, 5: 1}
    assert grouping.updated == (OpenSummary(1, "main", SuspectRange(0, 40), frozenset({X, Y})),)


def test_a_summary_whose_range_and_culprits_stay_is_not_reported_as_updated() -> None:
    summary = OpenSummary(1, "main", SuspectRange(0, 10), culprits=frozenset({X}))
    grouping = group([summary], [alert(5, 2, 4, culprit=X)])
    assert grouping.joins == {5: 1}
    assert grouping.updated == ()


@pytest.mark.parametrize(
    "make",
    [
        lambda: SuspectRange(5, 5),
        lambda: SuspectRange(-1, 3),
        lambda: alert(1, 0, 1, culprit="abc123"),
        lambda: alert(1, 0, 1, kind="slower"),  # type: ignore[arg-type]
        lambda: alert(1, 0, 1, branch=""),
        lambda: Alert(1, "main", "b", "m", "", SuspectRange(0, 1), AlertKind.REGRESSION, float("nan"), 0.5),
        lambda: Alert(1, "main", "b", "m", "", SuspectRange(0, 1), AlertKind.REGRESSION, 0.1, 1.5),
        lambda: Alert(1, "main", "b", "m", "", SuspectRange(0, 1), AlertKind.REGRESSION, 0.1, 0.5, weight=-1),
        lambda: OpenSummary(1, "main", SuspectRange(0, 1), culprits=frozenset({"HEAD"})),
        lambda: group([], [alert(1, 0, 1), alert(1, 2, 3)]),
        lambda: group([OpenSummary(1, "main", SuspectRange(0, 1))] * 2, []),
    ],
)
def test_bad_input_is_an_input_error(make: object) -> None:
    with pytest.raises(InputError):
        make()  # type: ignore[operator]


def test_range_arithmetic() -> None:
    a, b = SuspectRange(0, 5), SuspectRange(5, 9)
    assert not a.overlaps(b)
    assert a.gap(b) == 0
    assert a.hull(b) == SuspectRange(0, 9)
    assert SuspectRange(0, 2).gap(SuspectRange(4, 6)) == 2
    assert SuspectRange(0, 6).overlaps(SuspectRange(5, 9))


# -- properties ----------------------------------------------------------------


@st.composite
def alert_sets(draw: st.DrawFn) -> list[Alert]:
    """Alerts on two branches with short ranges in a small window, so overlaps and chains are common."""
    n = draw(st.integers(0, 14))
    alerts = []
    for i in range(n):
        good = draw(st.integers(0, 25))
        bad = good + draw(st.integers(1, 5))
        alerts.append(
            alert(
                i,
                good,
                bad,
                branch=draw(st.sampled_from(["main", "release"])),
                kind=draw(st.sampled_from(list(AlertKind))),
                culprit=draw(st.sampled_from([None, None, None, X, Y])),
            )
        )
    return alerts


def _lane(a: Alert) -> tuple[str, bool]:
    return a.branch, a.drift


def reference_partition(alerts: list[Alert]) -> tuple[tuple[int, ...], ...]:
    """The definition, naively: merge any two groups of a lane whose hulls overlap or culprits meet, until none."""
    groups = [({a.id}, _lane(a), a.suspect, {a.culprit} - {None}) for a in alerts]
    merged = True
    while merged:
        merged = False
        for (i, g), (j, h) in itertools.combinations(enumerate(groups), 2):
            if g[1] == h[1] and (g[2].overlaps(h[2]) or g[3] & h[3]):
                groups[i] = (g[0] | h[0], g[1], g[2].hull(h[2]), g[3] | h[3])
                del groups[j]
                merged = True
                break
    return tuple(sorted(tuple(sorted(g[0])) for g in groups))


def incremental_partition(batches: list[list[Alert]]) -> tuple[tuple[int, ...], ...]:
    """Feed batches through ``group`` the way the service does, keeping summaries and members."""
    summaries: dict[int, OpenSummary] = {}
    members: dict[int, set[int]] = {}
    next_id = itertools.count(100)
    for batch in batches:
        outcome = group(summaries.values(), batch)
        for absorbed, survivor in outcome.merges.items():
            members[survivor] |= members.pop(absorbed)
            del summaries[absorbed]
        for alert_id, summary_id in outcome.joins.items():
            members[summary_id].add(alert_id)
        for summary in outcome.updated:
            summaries[summary.id] = summary
        for new in outcome.created:
            sid = next(next_id)
            summaries[sid] = OpenSummary(sid, new.branch, new.suspect, new.culprits, new.drift)
            members[sid] = set(new.alert_ids)
    return tuple(sorted(tuple(sorted(m)) for m in members.values()))


@settings(max_examples=300)
@given(alert_sets(), st.randoms(use_true_random=False))
def test_order_and_batching_of_arrival_do_not_change_the_partition(alerts: list[Alert], rnd: random.Random) -> None:
    expected = partition(alerts)
    assert expected == reference_partition(alerts)
    shuffled = alerts[:]
    rnd.shuffle(shuffled)
    cuts = sorted(rnd.sample(range(1, len(shuffled)), k=rnd.randint(0, max(0, len(shuffled) - 1))))
    batches = [shuffled[i:j] for i, j in itertools.pairwise([0, *cuts, len(shuffled)])]
    assert incremental_partition(batches) == expected


@settings(max_examples=300)
@given(alert_sets())
def test_overlap_on_a_branch_always_groups_and_branches_never_mix(alerts: list[Alert]) -> None:
    summary_of = {alert_id: i for i, ids in enumerate(partition(alerts)) for alert_id in ids}
    for a, b in itertools.combinations(alerts, 2):
        together = summary_of[a.id] == summary_of[b.id]
        if _lane(a) == _lane(b) and (a.suspect.overlaps(b.suspect) or (a.culprit and a.culprit == b.culprit)):
            assert together
        if a.branch != b.branch:
            assert not together


@settings(max_examples=200)
@given(alert_sets())
def test_summaries_of_a_lane_neither_overlap_nor_share_a_culprit(alerts: list[Alert]) -> None:
    created = group([], alerts).created
    for s, t in itertools.combinations(created, 2):
        if (s.branch, s.drift) == (t.branch, t.drift):
            assert not s.suspect.overlaps(t.suspect)
            assert not s.culprits & t.culprits
