"""The suspect range as a DAG and git's best-bisection choice, against a brute-force reference."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsheriff.bisect import CommitGraph, SuspectRange
from perfsheriff.errors import InputError


def linear(n: int) -> SuspectRange:
    names = [f"c{i}" for i in range(1, n + 1)]
    return SuspectRange("c0", names[-1], {sha: ((names[i - 1],) if i else ("c0",)) for i, sha in enumerate(names)})


def reachable(parents: dict[str, tuple[str, ...]], start: str, within: set[str]) -> set[str]:
    """Commits reachable from ``start`` inside ``within`` (itself included), by plain DFS."""
    seen, todo = set(), [start]
    while todo:
        sha = todo.pop()
        if sha in seen or sha not in within:
            continue
        seen.add(sha)
        todo.extend(parents.get(sha, ()))
    return seen


def git_best(suspect: SuspectRange, candidates: set[str], skip: set[str], bad: str) -> str | None:
    """git's rule written out directly: max min(w, total - w), first in rev-list order on ties."""
    best, best_distance = None, 0
    for sha in suspect.order:
        if sha not in candidates or sha in skip or sha == bad:
            continue
        weight = len(reachable(dict(suspect.parents), sha, candidates))
        distance = min(weight, len(candidates) - weight)
        if distance > best_distance:
            best, best_distance = sha, distance
    return best


def test_linear_range_splits_in_the_middle() -> None:
    suspect = linear(10)
    graph = CommitGraph(suspect)
    split = graph.best_bisection(graph.everything, 0, suspect.bad)
    assert split is not None
    assert (split.commit, split.weight, split.total) == ("c5", 5, 10)
    assert split.reason == "bisect: 5 of 10 candidates below"


def test_ties_go_to_the_newer_commit_like_git() -> None:
    graph = CommitGraph(linear(9))
    split = graph.best_bisection(graph.everything, 0, "c9")
    assert split is not None
    assert split.commit == "c5"


def test_roll_up_merges_count_side_branch_commits() -> None:
    # m1 merges side branch a1-a2-a3 (forked from the good end); m2 merges b1-b2 forked from m1.
    parents = {
        "a1": ("good",),
        "a2": ("a1",),
        "a3": ("a2",),
        "m1": ("good", "a3"),
        "b1": ("m1",),
        "b2": ("b1",),
        "m2": ("m1", "b2"),
    }
    suspect = SuspectRange("good", "m2", parents)
    graph = CommitGraph(suspect)
    split = graph.best_bisection(graph.everything, 0, "m2")
    assert split is not None
    assert split.commit == git_best(suspect, set(parents), set(), "m2")
    assert split.commit == "m1"  # 4 of 7 below: a1, a2, a3, m1
    assert set(graph.members(graph.ancestors_of("b2"))) == {"a1", "a2", "a3", "m1", "b1", "b2"}


def test_side_branch_forked_from_an_older_merge_is_not_an_ancestor_of_the_newer_one() -> None:
    parents = {"m1": ("s1",), "s1": (), "s2": (), "m2": ("m1", "s2"), "s3": ("m1",), "m3": ("m2", "s3")}
    suspect = SuspectRange("good", "m3", parents)
    graph = CommitGraph(suspect)
    assert set(graph.members(graph.ancestors_of("s3"))) == {"s1", "m1", "s3"}  # not s2 nor m2


def test_skipped_commits_are_never_chosen_and_a_neighbour_is() -> None:
    suspect = linear(10)
    graph = CommitGraph(suspect)
    split = graph.best_bisection(graph.everything, graph.bit("c5"), "c10")
    assert split is not None
    assert split.commit in {"c4", "c6"}


def test_nothing_left_to_test() -> None:
    graph = CommitGraph(linear(3))
    assert graph.best_bisection(graph.bit("c3"), 0, "c3") is None
    assert graph.best_bisection(graph.mask(["c2", "c3"]), graph.bit("c2"), "c3") is None


@pytest.mark.parametrize(
    ("good", "bad", "parents", "message"),
    [
        ("g", "x", {"a": ()}, "bad end"),
        ("a", "a", {"a": ()}, "good end"),
        ("g", "b", {"a": ("b",), "b": ("a",)}, "cycle"),
        ("g", "b", {"a": (), "b": ()}, "not ancestors"),
    ],
)
def test_invalid_ranges_are_rejected(good: str, bad: str, parents: dict[str, tuple[str, ...]], message: str) -> None:
    with pytest.raises(InputError, match=message):
        SuspectRange(good, bad, parents)


def test_parents_outside_the_range_are_dropped() -> None:
    suspect = SuspectRange("g", "b", {"a": ("g", "older"), "b": ("a",)})
    assert suspect.parents["a"] == ()
    assert suspect.order == ("b", "a")
    assert "a" in suspect
    assert len(suspect) == 2


@st.composite
def dags(draw: st.DrawFn) -> SuspectRange:
    """Random DAGs: commit i picks one or two parents among earlier commits; the last reaches all."""
    n = draw(st.integers(2, 14))
    parents: dict[str, tuple[str, ...]] = {"k0": ()}
    for i in range(1, n):
        picks = draw(st.lists(st.integers(0, i - 1), min_size=1, max_size=2, unique=True))
        parents[f"k{i}"] = tuple(f"k{j}" for j in picks)
    tips = [sha for sha in parents if not any(sha in ps for ps in parents.values())]
    parents["bad"] = tuple(tips)
    return SuspectRange("good", "bad", parents)


@settings(max_examples=150, deadline=None)
@given(dags(), st.data())
def test_best_bisection_matches_gits_rule(suspect: SuspectRange, data: st.DataObject) -> None:
    graph = CommitGraph(suspect)
    bad = data.draw(st.sampled_from(suspect.order))
    candidates = reachable(dict(suspect.parents), bad, set(suspect.order))
    skip = set(data.draw(st.lists(st.sampled_from(sorted(candidates)), max_size=3)))
    split = graph.best_bisection(graph.mask(candidates), graph.mask(skip), bad)
    expected = git_best(suspect, candidates, skip, bad)
    assert (split.commit if split else None) == expected
