"""The bisect planner as a state machine: confirmation, splitting, skips, two steps, budgets, invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsheriff.bisect import (
    BisectOutcome,
    BisectPlanner,
    BisectSettings,
    Observation,
    OutcomeKind,
    ProbeVerdict,
    RunRequest,
    SuspectRange,
)
from perfsheriff.bisect.evidence import Pool, assess, threshold
from perfsheriff.bisect.simulate import run_planner
from perfsheriff.bisect.synthetic import GOOD, Bench, Case, NoiseKind, Shape, linear_range, merge_range
from perfsheriff.errors import ConfigError, InputError
from perfsheriff.model import Direction

LOWER = Direction.LOWER_IS_BETTER


def case(
    suspect: SuspectRange,
    steps: dict[str, float],
    *,
    broken: frozenset[str] = frozenset(),
    noise: NoiseKind = NoiseKind.GAUSSIAN,
) -> Case:
    """A case with the given culprit steps (in noise standard deviations)."""
    from perfsheriff.bisect.dag import CommitGraph

    graph = CommitGraph(suspect)
    levels = {GOOD: 0.0}
    for sha in suspect.order:
        levels[sha] = sum(step for c, step in steps.items() if graph.ancestors_of(sha) & graph.bit(c))
    return Case(suspect, Shape.LINEAR, steps, levels, broken, noise)


def drive(bench: Bench, planner: BisectPlanner, limit: int = 500) -> tuple[list[RunRequest], BisectOutcome]:
    requests: list[RunRequest] = []
    for _ in range(limit):
        step = planner.next_step(bench.observations)
        if isinstance(step, BisectOutcome):
            return requests, step
        requests.append(step)
        for sha in step.runs:  # in the order asked
            bench.run(sha, 1)
    raise AssertionError("the planner did not finish")


def test_thin_ends_are_confirmed_first() -> None:
    bench = Bench(case(linear_range(8), {"c004": 5.0}), np.random.default_rng(1), initial=1)
    planner = BisectPlanner(bench.case.suspect, LOWER)
    first = planner.next_step(bench.observations)
    assert isinstance(first, RunRequest)
    assert (first.commit, first.reason) == (GOOD, "confirm good end: 1 of 6 samples")
    # the good end's five runs with the bad end between them, so that neighbours can be compared
    assert first.runs == (GOOD, "c008", GOOD, GOOD, "c008", GOOD, GOOD, "c008")
    for sha in first.runs:
        bench.run(sha, 1)
    second = planner.next_step(bench.observations)
    assert isinstance(second, RunRequest)
    assert (second.commit, second.reason) == ("c008", "confirm bad end: 4 of 6 samples")


def test_no_change_between_the_ends_is_not_reproduced() -> None:
    bench = Bench(case(linear_range(8), {}), np.random.default_rng(3))
    requests, outcome = drive(bench, BisectPlanner(bench.case.suspect, LOWER))
    assert outcome.kind is OutcomeKind.NOT_REPRODUCED
    assert outcome.reason.startswith("not reproduced")
    assert outcome.probes == ()
    assert outcome.culprits == ()
    assert {r.commit for r in requests} <= {GOOD, "c008"}


def test_an_improvement_is_not_a_reproduced_regression() -> None:
    bench = Bench(case(linear_range(8), {"c003": -8.0}), np.random.default_rng(3))
    _, outcome = drive(bench, BisectPlanner(bench.case.suspect, LOWER))
    assert outcome.kind is OutcomeKind.NOT_REPRODUCED
    assert "improvement" in outcome.reason


def test_higher_is_better_reverses_the_sign() -> None:
    bench = Bench(case(linear_range(8), {"c003": -8.0}), np.random.default_rng(3))
    _, outcome = drive(bench, BisectPlanner(bench.case.suspect, Direction.HIGHER_IS_BETTER))
    assert outcome.kind is OutcomeKind.CULPRIT
    assert outcome.culprits == ("c003",)


@pytest.mark.parametrize("culprit", ["c001", "c005", "c016", "c031"])
def test_linear_culprit_is_found_with_the_git_split_sequence(culprit: str) -> None:
    bench = Bench(case(linear_range(31), {culprit: 8.0}), np.random.default_rng(4))
    requests, outcome = drive(bench, BisectPlanner(bench.case.suspect, LOWER))
    assert outcome.kind is OutcomeKind.CULPRIT
    assert outcome.culprits == (culprit,)
    assert outcome.confidence is not None
    assert outcome.confidence > 0.9
    assert any(r.reason.startswith("bisect: 16 of 31 candidates below") for r in requests)
    assert len(outcome.probes) <= math.ceil(math.log2(31))


def test_culprit_inside_a_roll_up_side_branch() -> None:
    suspect = merge_range(40, np.random.default_rng(5))
    side = [sha for sha in suspect.order if sha.startswith("s")]
    culprit = side[len(side) // 2]
    bench = Bench(case(suspect, {culprit: 6.0}), np.random.default_rng(6))
    _, outcome = drive(bench, BisectPlanner(suspect, LOWER))
    assert outcome.culprits == (culprit,)


def test_unbuildable_probe_is_skipped_and_a_neighbour_probed() -> None:
    bench = Bench(case(linear_range(10), {"c008": 8.0}, broken=frozenset({"c005"})), np.random.default_rng(7))
    requests, outcome = drive(bench, BisectPlanner(bench.case.suspect, LOWER))
    assert outcome.culprits == ("c008",)
    skipped = [p for p in outcome.probes if p.verdict is ProbeVerdict.SKIPPED]
    assert [p.commit for p in skipped] == ["c005"]
    after = [r.commit for r in requests[[r.commit for r in requests].index("c005") + 1 :]]
    assert after[0] in {"c004", "c006"}


def test_only_unbuildable_candidates_left_is_undecided_with_the_candidates() -> None:
    broken = frozenset({"c003", "c004"})
    bench = Bench(case(linear_range(8), {"c004": 8.0}, broken=broken), np.random.default_rng(8))
    _, outcome = drive(bench, BisectPlanner(bench.case.suspect, LOWER))
    assert outcome.kind is OutcomeKind.UNDECIDED
    assert "unbuildable" in outcome.reason
    assert set(outcome.candidates) == {"c003", "c004", "c005"}


def test_two_steps_give_two_culprits_oldest_first() -> None:
    bench = Bench(case(linear_range(40), {"c010": 8.0, "c030": 8.0}), np.random.default_rng(9))
    _, outcome = drive(bench, BisectPlanner(bench.case.suspect, LOWER))
    assert outcome.kind is OutcomeKind.TWO_CULPRITS
    assert outcome.culprits == ("c010", "c030")
    assert any(p.verdict is ProbeVerdict.INTERMEDIATE for p in outcome.probes)


def test_two_step_detection_can_be_turned_off() -> None:
    bench = Bench(case(linear_range(40), {"c010": 8.0, "c030": 8.0}), np.random.default_rng(9))
    _, outcome = drive(bench, BisectPlanner(bench.case.suspect, LOWER, BisectSettings(two_step_prior=0.0)))
    assert not any(p.verdict is ProbeVerdict.INTERMEDIATE for p in outcome.probes)


def test_budget_exhaustion_is_undecided_and_within_budget() -> None:
    bench = Bench(case(linear_range(64), {"c020": 1.0}), np.random.default_rng(10))
    settings_ = BisectSettings(max_runs=40)
    requests, outcome = drive(bench, BisectPlanner(bench.case.suspect, LOWER, settings_))
    assert outcome.kind is OutcomeKind.UNDECIDED
    assert outcome.reason.startswith("budget exhausted")
    assert outcome.runs_spent == sum(r.repetitions for r in requests) <= 40
    assert outcome.candidates


def test_the_outcome_is_repeated_once_reached() -> None:
    bench = Bench(case(linear_range(4), {"c002": 8.0}), np.random.default_rng(11))
    planner = BisectPlanner(bench.case.suspect, LOWER)
    _, outcome = drive(bench, planner)
    assert planner.next_step(bench.observations) is outcome


@pytest.mark.parametrize("least", [1, 2, 3])
def test_clear_evidence_takes_the_fewest_samples_per_probe(least: int) -> None:
    bench = Bench(case(linear_range(32), {"c011": 40.0}), np.random.default_rng(12))
    _, outcome = drive(bench, BisectPlanner(bench.case.suspect, LOWER, BisectSettings(min_probe_samples=least)))
    assert outcome.culprits == ("c011",)
    assert all(p.n_samples == least for p in outcome.probes)


def test_one_disturbed_run_does_not_name_a_culprit() -> None:
    """The first run of the commit just before the culprit lands at the bad level by accident."""
    suspect = linear_range(8)  # c001..c008; c005 is the culprit, c008 the bad end
    rng = np.random.default_rng(14)

    def run(commit: str, count: int, first: bool) -> tuple[float, ...]:
        bad = commit != GOOD and int(commit[1:]) >= 5
        values = (1.1 if bad else 1.0) * np.exp(0.005 * rng.standard_normal(count))
        if commit == "c004" and first:
            values[0] = 1.1  # the disturbed run
        return tuple(float(v) for v in values)

    observations = {GOOD: Observation(run(GOOD, 6, False)), "c008": Observation(run("c008", 6, False))}
    planner = BisectPlanner(suspect, LOWER)
    step = planner.next_step(observations)
    while isinstance(step, RunRequest):
        for sha in step.runs:
            known = observations.get(sha, Observation())
            observations[sha] = Observation(known.samples + run(sha, 1, not known.samples))
        step = planner.next_step(observations)
    assert step.culprits == ("c005",)


def test_ambiguous_evidence_asks_for_more_samples() -> None:
    bench = Bench(case(linear_range(32), {"c011": 1.5}), np.random.default_rng(13))
    requests, outcome = drive(bench, BisectPlanner(bench.case.suspect, LOWER))
    assert any(r.reason.startswith("more samples: evidence ambiguous (LLR") for r in requests)
    assert max(p.n_samples for p in outcome.probes) > 1


def test_sequential_test_decides_only_past_walds_boundary() -> None:
    low, high = Pool(0.0, 50), Pool(1.0, 50)
    bound = threshold(0.005)
    clear = assess(np.full(3, 1.0), low, high, 0.2, bound=bound, mid_prior=0.0)
    assert clear.verdict is ProbeVerdict.BAD
    assert clear.llr > bound
    middle = assess(np.array([0.45, 0.55]), low, high, 0.5, bound=bound, mid_prior=0.0)
    assert middle.verdict is None
    assert abs(middle.llr) < bound
    between = assess(np.full(20, 0.5), low, high, 0.2, bound=bound, mid_prior=0.1)
    assert between.verdict is ProbeVerdict.INTERMEDIATE


def test_settings_and_observations_are_validated() -> None:
    with pytest.raises(ConfigError):
        BisectSettings(confirm_samples=1)
    with pytest.raises(ConfigError):
        BisectSettings(error_rate=0.2, cap_error_rate=0.1)
    with pytest.raises(InputError):
        Observation((1.0, -2.0))
    with pytest.raises(InputError):
        Observation((1.0, math.nan))


cases = st.builds(
    lambda n, culprit, effect, seed, merges: (n, culprit % n, effect, seed, merges),
    st.integers(2, 24),
    st.integers(0, 1000),
    st.sampled_from([3.0, 10.0]),
    st.integers(0, 10_000),
    st.booleans(),
)


def sample_case(n: int, culprit: int, effect: float, seed: int, merges: bool) -> Case:
    suspect = merge_range(n, np.random.default_rng(seed)) if merges else linear_range(n)
    plain = [sha for sha in suspect.order if not sha.startswith("m")]
    return case(suspect, {plain[culprit % len(plain)]: effect}, noise=NoiseKind.HEAVY_TAILED)


@settings(max_examples=30, deadline=None)
@given(cases, st.integers(20, 200))
def test_requests_stay_in_the_range_and_within_budget(params: tuple[int, int, float, int, bool], budget: int) -> None:
    c = sample_case(*params)
    bench = Bench(c, np.random.default_rng(params[3]))
    requests, outcome = drive(bench, BisectPlanner(c.suspect, LOWER, BisectSettings(max_runs=budget)))
    assert all(r.commit in c.suspect or r.commit == GOOD for r in requests)
    assert all(r.repetitions >= 1 for r in requests)
    assert outcome.runs_spent <= budget


class Shuffled(Bench):
    """A machine that reports the samples found before the bisection in a shuffled order (those measured
    during it come in the order they were taken, which matters: neighbours are compared)."""

    def __init__(self, c: Case, seed: int) -> None:
        super().__init__(c, np.random.default_rng(seed))
        order_rng = np.random.default_rng(seed + 1)
        self.orders = {sha: order_rng.permutation(len(seen.samples)) for sha, seen in self.observations.items()}

    def shuffled(self) -> dict[str, Observation]:
        out = {}
        for sha, seen in self.observations.items():
            order = [int(i) for i in self.orders.get(sha, [])]
            samples = tuple(seen.samples[i] for i in order) + seen.samples[len(order) :]
            out[sha] = Observation(samples, seen.failed)
        return out


@settings(max_examples=15, deadline=None)
@given(cases)
def test_the_order_of_the_samples_found_before_does_not_matter(params: tuple[int, int, float, int, bool]) -> None:
    c = sample_case(*params)
    plain, shuffled = Bench(c, np.random.default_rng(params[3])), Shuffled(c, params[3])
    first, second = BisectPlanner(c.suspect, LOWER), BisectPlanner(c.suspect, LOWER)
    while True:
        a, b = first.next_step(plain.observations), second.next_step(shuffled.shuffled())
        if isinstance(a, BisectOutcome):
            assert isinstance(b, BisectOutcome)
            assert (a.kind, a.culprits, a.runs_spent) == (b.kind, b.culprits, b.runs_spent)
            assert [(p.commit, p.verdict, p.n_samples) for p in a.probes] == [
                (p.commit, p.verdict, p.n_samples) for p in b.probes
            ]
            break
        assert a == b
        for sha in a.runs:
            plain.run(sha, 1)
            shuffled.run(sha, 1)


@settings(max_examples=15, deadline=None)
@given(cases, st.sampled_from([1e-3, 0.37, 7.0, 2.5e4]))
def test_scaling_every_sample_does_not_change_the_culprit(params: tuple[int, int, float, int, bool], c: float) -> None:
    base = sample_case(*params)
    plain = run_planner(Bench(base, np.random.default_rng(params[3])))
    scaled = run_planner(Bench(base, np.random.default_rng(params[3]), scale=c))
    assert (scaled.kind, scaled.culprits, scaled.runs_spent) == (plain.kind, plain.culprits, plain.runs_spent)


def test_the_alerts_level_samples_spare_the_confirmation_runs() -> None:
    bench = Bench(case(linear_range(16), {"c009": 6.0}), np.random.default_rng(21), window=5)
    requests, outcome = drive(bench, BisectPlanner(bench.suspect, LOWER))
    assert outcome.culprits == ("c009",)
    # no end is topped up: one block of the ends interleaved (G B B G) confirms the step the alert shows
    assert [r.reason.split(":")[0] for r in requests[:1]] == ["confirm the step with the ends interleaved"]
    assert requests[0].runs == (GOOD, "c016", "c016", GOOD)
    assert requests[1].reason.startswith("bisect: 8 of 16 candidates below")


def test_level_samples_must_be_positive() -> None:
    with pytest.raises(InputError):
        SuspectRange(GOOD, "c001", {"c001": ()}, good_level=(1.0, 0.0))


def test_posterior_uses_every_earlier_sample() -> None:
    from perfsheriff.bisect.posterior import culprit_log_posterior, moments

    rng = np.random.default_rng(22)
    low, high = (np.array(moments([rng.normal(m, 1.0, 8)], 0.0))[:, 0] for m in (0.0, 1.0))
    bad_if = np.array([[True, True], [False, True], [False, False]])  # candidates c1..c3 over probes c1, c2
    few = culprit_log_posterior(bad_if, moments([rng.normal(0, 1, 1), rng.normal(1, 1, 1)], 0.0), low, high)
    many = culprit_log_posterior(bad_if, moments([rng.normal(0, 1, 40), rng.normal(1, 1, 40)], 0.0), low, high)
    assert math.isclose(float(np.exp(many).sum()), 1.0)
    assert np.exp(many)[1] > 0.95 > np.exp(few)[1]


def test_a_well_measured_probe_tops_up_the_level_it_is_told_from() -> None:
    bench = Bench(case(linear_range(3), {"c001": 1.0}), np.random.default_rng(24), window=5)
    requests, outcome = drive(bench, BisectPlanner(bench.suspect, LOWER))
    assert any(r.reason.startswith("more samples at the good reference") for r in requests)
    assert outcome.runs_spent <= 250


def test_the_one_step_likelihoods_match_the_one_step_posterior() -> None:
    from perfsheriff.bisect.posterior import culprit_log_posterior, moments, step_log_likelihoods

    rng = np.random.default_rng(25)
    low, high = (np.array(moments([rng.normal(m, 1.0, 8)], 0.0))[:, 0] for m in (0.0, 2.0))
    bad_if = np.array([[True, True, True], [False, True, True], [False, False, True]])
    n, s, q = moments([rng.normal(0, 1, 5), rng.normal(1, 1, 5), rng.normal(2, 1, 5)], 0.0)
    weights = bad_if.astype(float)
    pairs = (np.array([0, 0, 1]), np.array([1, 2, 2]))
    single, double = step_log_likelihoods(
        (weights @ n, weights @ s, weights @ q), (n.sum(), s.sum(), q.sum()), low, high, pairs
    )
    expected = culprit_log_posterior(bad_if, (n, s, q), low, high)
    assert np.allclose(single - np.logaddexp.reduce(single), expected)
    assert double.shape == (3, 5)


def test_a_level_half_way_between_the_ends_favours_two_steps() -> None:
    from perfsheriff.bisect.posterior import INTERMEDIATE_SHARES, moments, step_log_likelihoods

    rng = np.random.default_rng(26)
    low, high = (np.array(moments([rng.normal(m, 0.1, 10)], 0.0))[:, 0] for m in (0.0, 1.0))
    # probes c1, c2, c3 at the good, half-way and bad levels: steps at c2 then c3
    bad_if = np.array([[True, True, True], [False, True, True], [False, False, True]], dtype=float)
    n, s, q = moments([rng.normal(m, 0.1, 6) for m in (0.0, 0.5, 1.0)], 0.0)
    pairs = (np.array([0, 0, 1]), np.array([1, 2, 2]))
    single, double = step_log_likelihoods(
        (bad_if @ n, bad_if @ s, bad_if @ q), (n.sum(), s.sum(), q.sum()), low, high, pairs
    )
    best_pair, best_share = np.unravel_index(int(np.argmax(double)), double.shape)
    assert (int(best_pair), float(INTERMEDIATE_SHARES[best_share])) == (2, 0.5)
    assert double.max() > single.max() + 10


def test_a_faint_step_opens_no_two_step_hypothesis() -> None:
    """With ends one noise sigma apart, no second step of at least MIN_STEP sigmas fits between them."""
    bench = Bench(case(linear_range(12), {"c006": 1.0}), np.random.default_rng(27), window=5)
    _, outcome = drive(bench, BisectPlanner(bench.suspect, LOWER))
    assert outcome.kind is not OutcomeKind.TWO_CULPRITS
    assert not any(p.verdict is ProbeVerdict.INTERMEDIATE for p in outcome.probes)
