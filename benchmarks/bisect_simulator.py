"""Play the bisect planner against synthetic suspect ranges, next to two baselines.

Usage: ``.venv/bin/python benchmarks/bisect_simulator.py [--quick] [--cases N] [--seed S] [--jobs J] [--drifting]``

Conditions: range sizes 2-4, 5-16, 17-64 and 65-128 commits (even cases linear,
odd cases roll-up merges), step size / noise 0.5, 1, 2, 5, 10, Gaussian,
Student-t (df = 3) and bimodal noise, one or two steps, no or 10 % unbuildable
commits, and ranges where nothing changed (the alert's data of the bad end came from a slow
machine: right is naming no culprit); with ``--drifting``, on a machine that drifts while bisection runs (a slow
trend, busy spells 30-50 % slow, wild samples: ``bisect.synthetic.drifting_machine``;
the data the alert came with was measured before, on the steady machine).
For each condition it prints culprit accuracy (the named culprit set
equals the truth) and mean runs per bisection (one run = one benchmark
execution: a sample, or a failed build) of the planner, Mozilla's manual recipe
(four samples on every commit) and plain binary search (one sample per probe),
then the information bound (the fewest runs any method needs on average to be
95 % right, ``bisect.bounds``) and the planner's runs over it; then summary rows.
Pure and seeded: the same arguments print the same table.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from functools import partial

from perfsheriff.bisect.simulate import (
    METHODS,
    WINDOW,
    ConditionResult,
    Tally,
    conditions,
    pooled,
    pooled_bound,
    simulate_condition,
)
from perfsheriff.bisect.synthetic import Condition


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="8 cases per condition instead of 40")
    parser.add_argument("--cases", type=int, default=None, help="cases per condition (overrides --quick)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--window", type=int, default=WINDOW, help=f"level samples per side that come with the alert ({WINDOW})"
    )
    parser.add_argument("--jobs", type=int, default=1, help="processes playing conditions in parallel (same table)")
    parser.add_argument(
        "--drifting", action="store_true", help="a machine that drifts while bisection runs (bisect.synthetic)"
    )
    args = parser.parse_args()
    cases = args.cases or (8 if args.quick else 40)
    grid = conditions(drifting=args.drifting, unchanged=True)
    play = partial(_play, cases=cases, seed=args.seed, window=args.window)
    with ProcessPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        results = list(pool.map(play, grid, range(len(grid)), chunksize=4))
    print(f"{cases} cases per condition, seed {args.seed}, window {args.window}; accuracy / mean runs per bisection")
    print(_header())
    for result in results:
        c = result.condition
        label = (
            f"{c.size_min:>3}-{c.size_max:<3} {c.effect:>4g} {c.noise.value:<8} "
            f"{'yes' if c.two_steps else 'no':<4} {c.unbuildable:>4.0%}"
        )
        print(_row(label, result.tallies) + _bound(result.tallies, result.bound))
    print()
    _summaries(results)


def _play(condition: Condition, index: int, *, cases: int, seed: int, window: int) -> ConditionResult:
    return simulate_condition(condition, index, cases, seed, window=window)


def _header() -> str:
    cells = "".join(f"{name:>17}" for name in METHODS)
    return f"{'size':<7} {'e/n':>4} {'noise':<8} {'2nd':<4} {'unb':>4}{cells}{'bound':>8}{'planner/bound':>15}"


def _bound(tallies: dict[str, Tally], bound: float) -> str:
    """The mean information bound per case, and the planner's runs over it."""
    cases = tallies["planner"].cases
    ratio = tallies["planner"].runs / bound if bound > 0 else float("nan")
    return f"{bound / cases if cases else float('nan'):>8.1f}{ratio:>14.1f}x"


def _row(label: str, tallies: dict[str, Tally]) -> str:
    return label + "".join(f"{t.accuracy:>9.1%} {t.mean_runs:>7.1f}" for t in (tallies[m] for m in METHODS))


def _summaries(results: list[ConditionResult]) -> None:
    def where(keep: Iterable[ConditionResult]) -> tuple[dict[str, Tally], float]:
        kept = list(keep)
        return pooled(kept), pooled_bound(kept)

    rows = {
        "all, e/n >= 1": where(r for r in results if r.condition.effect >= 1),
        "one step, e/n >= 1": where(r for r in results if r.condition.effect >= 1 and not r.condition.two_steps),
        "two steps, e/n >= 1": where(r for r in results if r.condition.effect >= 1 and r.condition.two_steps),
        "all, e/n >= 2": where(r for r in results if r.condition.effect >= 2),
    }
    for effect in sorted({r.condition.effect for r in results}):
        label = "nothing changed (e/n = 0)" if effect == 0 else f"e/n = {effect:g}"
        rows[label] = where(r for r in results if r.condition.effect == effect)
    print(
        f"{'summary':<30}"
        + "".join(f"{name:>17}" for name in METHODS)
        + f"{'bound':>8}{'planner/bound':>15}{'planner/recipe runs':>22}"
    )
    for label, (tallies, bound) in rows.items():
        ratio = tallies["planner"].runs / tallies["recipe"].runs
        print(_row(f"{label:<30}", tallies) + _bound(tallies, bound) + f"{ratio:>21.1%}")


if __name__ == "__main__":
    main()
