"""Downstream (the same culprit on another branch) and related summaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from perfsheriff.errors import InputError
from perfsheriff.triage import (
    Culprit,
    CulpritMatch,
    MatchKind,
    Related,
    RelatedReason,
    SummaryFacts,
    SuspectRange,
    Upstream,
    find_related,
    find_upstream,
)

T0 = datetime(2024, 5, 1, tzinfo=UTC)
ORIGINAL = Culprit("1" * 40, patch_id="9" * 40)
PICKED = Culprit("2" * 40, patch_id="9" * 40)  # the same diff, cherry-picked
OTHER = Culprit("3" * 40, patch_id="8" * 40)
MERGE = Culprit("4" * 40)  # a merge commit has no patch id


def facts(
    summary_id: int,
    branch: str = "main",
    *culprits: Culprit,
    good: int = 10,
    bad: int = 12,
    hours: float = 0.0,
    benchmarks: tuple[str, ...] = ("parse",),
    upstream: int | None = None,
) -> SummaryFacts:
    start = T0 + timedelta(hours=hours)
    return SummaryFacts(
        summary_id,
        branch,
        SuspectRange(good, bad),
        (start, start + timedelta(hours=1)),
        frozenset(benchmarks),
        frozenset({"linux"}),
        culprits,
        upstream,
    )


def test_the_same_sha_on_another_branch_is_downstream() -> None:
    earlier = [facts(1, "autoland", ORIGINAL), facts(2, "main", OTHER)]
    assert find_upstream(facts(5, "central", ORIGINAL), earlier) == Upstream(
        1, (CulpritMatch(ORIGINAL.sha, ORIGINAL.sha, 1, MatchKind.SHA),)
    )


def test_a_cherry_pick_is_recognised_by_its_patch_id() -> None:
    upstream = find_upstream(facts(5, "release", PICKED), [facts(1, "main", ORIGINAL)])
    assert upstream is not None
    assert upstream.summary_id == 1
    assert upstream.matches == (CulpritMatch(PICKED.sha, ORIGINAL.sha, 1, MatchKind.PATCH_ID),)


def test_a_sha_match_beats_an_earlier_patch_id_match() -> None:
    earlier = [facts(1, "beta", PICKED), facts(3, "main", ORIGINAL)]
    upstream = find_upstream(facts(7, "release", ORIGINAL), earlier)
    assert upstream is not None
    assert upstream.matches[0].by is MatchKind.SHA
    assert upstream.summary_id == 3


def test_an_original_that_is_itself_downstream_leads_to_its_upstream() -> None:
    earlier = [facts(4, "central", ORIGINAL, upstream=1)]  # summary 1 itself is closed and not passed
    assert find_upstream(facts(9, "release", ORIGINAL), earlier) == Upstream(
        1, (CulpritMatch(ORIGINAL.sha, ORIGINAL.sha, 4, MatchKind.SHA),)
    )


def test_not_downstream_without_culprits_on_the_same_branch_or_with_a_new_culprit() -> None:
    assert find_upstream(facts(5, "central"), [facts(1, "autoland", ORIGINAL)]) is None
    assert find_upstream(facts(5, "main", ORIGINAL), [facts(1, "main", ORIGINAL)]) is None
    assert find_upstream(facts(5, "central", ORIGINAL, OTHER), [facts(1, "autoland", ORIGINAL)]) is None
    # Two merges never match by a (missing) patch id.
    assert find_upstream(facts(5, "central", MERGE), [facts(1, "autoland", Culprit("5" * 40))]) is None


def test_related_summaries_share_a_culprit_or_a_benchmark_nearby() -> None:
    new = facts(10, "main", OTHER, good=20, bad=22, hours=48)
    others = [
        facts(1, "main", good=24, bad=25, hours=50),  # 2 pushes between the ranges: nearby
        facts(2, "main", good=25, bad=26, hours=50),  # 3 pushes between: not
        facts(3, "release", hours=48 + 24.5),  # landed 23.5 h after the new range ended: nearby
        facts(4, "release", hours=48 + 26),  # 25 h after: not
        facts(5, "release", OTHER, hours=400, benchmarks=("render",)),  # same culprit, whatever else
        facts(6, "main", good=19, bad=21, hours=48, benchmarks=("render",)),  # overlap but no common benchmark
        new,
    ]
    assert find_related(new, others) == (
        Related(1, (RelatedReason.NEARBY,), ("parse",)),
        Related(3, (RelatedReason.NEARBY,), ("parse",)),
        Related(5, (RelatedReason.SAME_CULPRIT,), ()),
    )
    wide = find_related(new, others, nearby_pushes=3, nearby_time=timedelta(hours=30))
    assert [r.summary_id for r in wide] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Culprit("abc"),
        lambda: Culprit("1" * 40, patch_id="not hex"),
        lambda: Culprit("1" * 40, patch_id=""),
        lambda: SummaryFacts(1, "main", SuspectRange(0, 1), (T0, T0 - timedelta(1)), frozenset()),
        lambda: SummaryFacts(1, "main", SuspectRange(0, 1), (datetime(2024, 1, 1), T0), frozenset()),
        lambda: find_related(facts(1), [], nearby_pushes=-1),
    ],
)
def test_bad_input(make: object) -> None:
    with pytest.raises(InputError):
        make()  # type: ignore[operator]
