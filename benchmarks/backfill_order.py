"""Alerts that a drifting machine makes during a backfill, measured in history order or in ``spread_order``.

Usage: ``.venv/bin/python benchmarks/backfill_order.py [--series N] [--seed S]``

``perfsheriff track --backfill 150`` measures 150 commits one after the other on one machine. Each
simulated pass: 150 commits, one run each of 7 samples, ``level · machine(t) · exp(0.01 · run noise +
0.005 · sample noise)``, where ``t`` is the run's place in the order of measurement (not the commit's
place in history) and the machine does one of:

- **steady**: nothing (the baseline);
- **creep**: slows by 4 % over the pass, linearly (warming up, a filling disk);
- **busy spell**: 8-15 consecutive runs at a random time are 30-50 % slow (a neighbour's job);
- **creep + spell**: both.

Two code histories: **no change** (every alert is false), and a **step** of +5 % at commit 100 (found if an
alert of its direction lies within 2 commits of it). The detector is ``stats.changepoints.detect`` with
default settings, as ``track`` runs it after the pass. Columns: passes with any false alert, false
alerts per pass, the step found. Pure and seeded: the same arguments print the same table.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from perfsheriff.model import Direction
from perfsheriff.scheduling import spread_order
from perfsheriff.stats.changepoints import detect

COMMITS = 150
SAMPLES = 7
STEP_AT = 100
STEP = 1.05

Machine = Callable[[np.random.Generator], np.ndarray]


def steady(rng: np.random.Generator) -> np.ndarray:
    return np.ones(COMMITS)


def creep(rng: np.random.Generator) -> np.ndarray:
    return 1.0 + 0.04 * np.arange(COMMITS) / (COMMITS - 1)


def busy_spell(rng: np.random.Generator) -> np.ndarray:
    factor = np.ones(COMMITS)
    length = int(rng.integers(8, 16))
    start = int(rng.integers(0, COMMITS - length))
    factor[start : start + length] = rng.uniform(1.3, 1.5)
    return factor


def creep_and_spell(rng: np.random.Generator) -> np.ndarray:
    return creep(rng) * busy_spell(rng)


MACHINES: dict[str, Machine] = {
    "steady": steady,
    "creep": creep,
    "busy spell": busy_spell,
    "creep + spell": creep_and_spell,
}


def one_pass(rng: np.random.Generator, machine: Machine, order: list[int], step: bool) -> list[list[float]]:
    """Samples per commit (history order) when the commits are measured in ``order``."""
    level = np.where(np.arange(COMMITS) >= STEP_AT, STEP if step else 1.0, 1.0)
    at_time = machine(rng)
    factor = np.empty(COMMITS)
    factor[order] = at_time  # the t-th run measures commit order[t]
    runs = rng.normal(size=COMMITS)
    samples = rng.normal(size=(COMMITS, SAMPLES))
    values = 100.0 * level[:, None] * factor[:, None] * np.exp(0.01 * runs[:, None] + 0.005 * samples)
    return values.tolist()


def judge(points: list[list[float]], step: bool) -> tuple[int, bool]:
    """False alerts, and whether the true step was found."""
    result = detect(points, direction=Direction.LOWER_IS_BETTER)
    found = False
    false = 0
    for cp in result.change_points:
        if step and cp.is_regression and abs(cp.index - STEP_AT) <= 2 and not found:
            found = True
        else:
            false += 1
    return false + len(result.drifts), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=200, help="passes per condition")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    orders = {"history": list(range(COMMITS)), "spread": spread_order(COMMITS)}
    print(f"{args.series} passes of {COMMITS} commits per condition (seed {args.seed})\n")
    print(
        "| machine | order | no change: passes with a false alert | false alerts/pass "
        "| step: found | step: false alerts/pass |"
    )
    print("|---|---|---|---|---|---|")
    for index, (name, machine) in enumerate(MACHINES.items()):
        for order_name, order in orders.items():
            rng = np.random.default_rng([args.seed, index])  # both orders see the same machines and noise
            quiet = [judge(one_pass(rng, machine, order, step=False), step=False)[0] for _ in range(args.series)]
            stepped = [judge(one_pass(rng, machine, order, step=True), step=True) for _ in range(args.series)]
            print(
                f"| {name} | {order_name} | {np.mean([q > 0 for q in quiet]):.1%} | {np.mean(quiet):.2f} "
                f"| {np.mean([f for _, f in stepped]):.1%} | {np.mean([n for n, _ in stepped]):.2f} |"
            )


if __name__ == "__main__":
    main()
