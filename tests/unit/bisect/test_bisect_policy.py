"""Which alerts of a summary are bisected, and which reuse a representative's culprit."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsheriff.bisect import AlertDescriptor, plan_bisections
from perfsheriff.errors import InputError


def alert(alert_id: str, benchmark: str = "tp5", effect: float = 0.1, noise: float = 0.02) -> AlertDescriptor:
    return AlertDescriptor(alert_id, benchmark, "good", "bad", effect, noise)


def test_one_benchmark_on_many_machines_bisects_its_clearest_alert() -> None:
    alerts = [alert("linux", effect=0.10, noise=0.05), alert("mac", effect=0.08, noise=0.01), alert("win")]
    plan = plan_bisections(alerts)
    assert plan.bisect == ("mac",)  # 8 noise sds beats 5 and 2
    assert plan.reuse == {"linux": "mac", "win": "mac"}
    assert plan.deferred == ()


def test_at_most_five_bisections_per_summary_strongest_first() -> None:
    alerts = [alert(f"a{i}", benchmark=f"b{i}", effect=0.01 * (i + 1)) for i in range(8)]
    plan = plan_bisections(alerts)
    assert plan.bisect == ("a7", "a6", "a5", "a4", "a3")
    assert plan.deferred == ("a2", "a1", "a0")


def test_the_limit_holds_per_suspect_range_not_per_pass() -> None:
    # A first pass over a long history: eight benchmarks step at one commit, and a ninth elsewhere.
    alerts = [alert(f"a{i}", benchmark=f"b{i}", effect=0.01 * (i + 1)) for i in range(8)]
    elsewhere = AlertDescriptor("x", "b0", "good", "elsewhere", 0.005, 0.02)  # the weakest of all
    plan = plan_bisections([*alerts, elsewhere])
    assert plan.bisect == ("a7", "a6", "a5", "a4", "a3", "x")
    assert plan.deferred == ("a2", "a1", "a0")


def test_different_ranges_are_not_merged() -> None:
    other = AlertDescriptor("x", "tp5", "good", "elsewhere", 0.5, 0.01)
    plan = plan_bisections([alert("a"), other])
    assert set(plan.bisect) == {"a", "x"}
    assert plan.reuse == {}


def test_noise_free_series_are_the_strongest_and_ties_go_to_the_smallest_id() -> None:
    assert math.isinf(alert("z", noise=0.0).signal)
    assert plan_bisections([alert("b"), alert("z", noise=0.0), alert("a")]).bisect == ("z",)
    assert plan_bisections([alert("b"), alert("a")]).bisect == ("a",)


def test_invalid_input() -> None:
    with pytest.raises(InputError):
        alert("a", noise=-1.0)
    with pytest.raises(InputError):
        plan_bisections([], max_bisections=-1)


descriptors = st.lists(
    st.builds(
        AlertDescriptor,
        alert_id=st.text("abcdef", min_size=1, max_size=4),
        benchmark=st.sampled_from(["tp5", "ts_paint", "speedometer"]),
        good=st.just("g"),
        bad=st.sampled_from(["b1", "b2"]),
        effect=st.floats(-1, 1),
        noise=st.floats(0, 0.1),
    ),
    max_size=20,
    unique_by=lambda a: a.alert_id,
)


@settings(max_examples=100)
@given(descriptors, st.randoms(), st.integers(0, 6))
def test_every_alert_gets_exactly_one_role_whatever_the_order(
    alerts: list[AlertDescriptor], rnd: random.Random, limit: int
) -> None:
    plan = plan_bisections(alerts, limit)
    shuffled = list(alerts)
    rnd.shuffle(shuffled)
    assert plan_bisections(shuffled, limit) == plan
    roles = list(plan.bisect) + list(plan.reuse) + list(plan.deferred)
    assert sorted(roles) == sorted(a.alert_id for a in alerts)
    by_id = {a.alert_id: a for a in alerts}
    for bad in ("b1", "b2"):  # at most ``limit`` per suspect range, and a range is cut only when it is full
        planned = [i for i in plan.bisect if by_id[i].bad == bad]
        assert len(planned) <= limit
        if any(by_id[i].bad == bad for i in plan.deferred):
            assert len(planned) == limit
    assert set(plan.reuse.values()) <= set(plan.bisect)
