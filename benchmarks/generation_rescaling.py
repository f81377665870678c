"""Machine generations on synthetic series: is the scale factor's interval right, and what alerts at the boundary?

Usage: ``.venv/bin/python benchmarks/generation_rescaling.py [--seeds N] [--series N] [--seed S]``
(``--seeds 0`` or ``--series 0`` leaves that table out; the defaults take about 90 s.)

A benchmark machine is replaced by one 30 % faster (true factor new/old 0.7). A *baseline* of ``n``
revisions (3, 5, 6, 10, 20) is measured three times on each machine, with lognormal noise of sigma
0.5 %, 2 % or 5 % per sample, each revision at a level of its own (±50 %). With outliers, ``max(1,
n // 5)`` of them were measured during a busy spell: every sample of one side (old or new, at random)
15-50 % slower. ``perfsheriff.stats.generations.estimate_scale`` (95 %, tolerance ±2 %) gives a factor
and its interval, or refuses (too uncertain). The first table, over ``--seeds`` baselines per row:
the share of intervals that hold the true factor (of those that exist: fewer than 6 revisions give
none), the share of factors applied (not refused), of those the share whose interval holds the true
factor and the share further from it than the tolerance (the step rescaling leaves at the boundary),
the median relative half-width, and for the refusals the median number of further revisions the
estimate asks for.

The second table puts the factor to work. A series of 120 revisions, one value each with the same
noise, is measured on the old machine up to the boundary (position 60) and on the new one after;
with a step, the code gets 10 % slower 5 revisions after the boundary. The factor comes from a
baseline as above: 10 clean revisions, or 20 with 4 outliers. The detector
(``stats.changepoints.detect``, default settings, lower is better) runs on the raw series and, when
the factor was applied, on the series rescaled by it (``rescale``). An alert *at the boundary* is a
change point within 2 revisions of it; *unexplained* leaves out those ``explained_by_rescaling``
attributes to the factor's error (what every view will do). The real step is *found* when a
regression lies within 2 revisions of it, and *kept* when found and not explained away. Shares of
the series whose factor was applied (``--series`` per row). Pure and seeded: the same arguments
print the same tables; the figures of the defaults are quoted in ``docs/dashboard.md``.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from perfsheriff.model import Direction
from perfsheriff.stats.changepoints import ChangePoint, detect
from perfsheriff.stats.generations import (
    ScaleEstimate,
    ScaleSettings,
    TooUncertain,
    estimate_scale,
    explained_by_rescaling,
    rescale,
)

FACTOR = 0.7
NOISES = (0.005, 0.02, 0.05)
BASELINES = (3, 5, 6, 10, 20)
SAMPLES = 3  # per revision and machine in the baseline
LENGTH, BOUNDARY, STEP_AT, STEP = 120, 60, 65, 0.10
NEAR = 2  # revisions either side that count as "at" a place
TOLERANCE = ScaleSettings().tolerance


def baseline(rng: np.random.Generator, n: int, noise: float, outliers: int) -> ScaleEstimate | TooUncertain:
    """The estimate from ``n`` revisions measured on both machines, ``outliers`` of them on a busy side."""
    levels = 100.0 * np.exp(rng.uniform(-0.4, 0.4, n))
    old = levels[:, None] * np.exp(noise * rng.standard_normal((n, SAMPLES)))
    new = FACTOR * levels[:, None] * np.exp(noise * rng.standard_normal((n, SAMPLES)))
    for row in range(outliers):
        side = old if rng.random() < 0.5 else new
        side[row] *= 1.0 + rng.uniform(0.15, 0.5)
    names = [f"r{i}" for i in range(n)]
    return estimate_scale(dict(zip(names, old.tolist(), strict=True)), dict(zip(names, new.tolist(), strict=True)))


def outlier_count(n: int, with_outliers: bool) -> int:
    return max(1, n // 5) if with_outliers else 0


def factor_table(seeds: int, seed: int) -> None:
    print(f"### The factor: {seeds} baselines per row, seed {seed}, true factor {FACTOR}\n")
    print(
        "| revisions | noise | outlier revisions | coverage | applied | coverage when applied "
        "| applied, off by more than ±2 % | half-width | more asked |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for n in BASELINES:
        for noise in NOISES:
            for with_outliers in (False, True):
                outliers = outlier_count(n, with_outliers)
                rng = np.random.default_rng([seed, n, int(noise * 1000), outliers])
                results = [baseline(rng, n, noise, outliers) for _ in range(seeds)]
                finite = [r for r in results if r.high < np.inf]
                applied = [r for r in results if isinstance(r, ScaleEstimate)]
                asked = [r.more_revisions for r in results if isinstance(r, TooUncertain)]
                print(
                    f"| {n} | {noise:.1%} | {outliers} | {_coverage(finite)} "
                    f"| {len(applied) / seeds:.1%} | {_coverage(applied)} | {_off(applied)} "
                    f"| {_median([r.relative_half_width for r in finite], percent=True)} "
                    f"| {_median(asked)} |"
                )
    print()


def covers(result: ScaleEstimate | TooUncertain) -> bool:
    return result.low <= FACTOR <= result.high


def _coverage(results: list[ScaleEstimate] | list[ScaleEstimate | TooUncertain]) -> str:
    if not results:
        return "-"
    return f"{np.mean([covers(r) for r in results]):.1%}"


def _off(applied: list[ScaleEstimate]) -> str:
    """Share of the applied factors further from the true one than the tolerance: the step left at the boundary."""
    if not applied:
        return "-"
    band = math.log1p(TOLERANCE)
    return f"{np.mean([abs(math.log(r.factor / FACTOR)) > band for r in applied]):.1%}"


def _median(values: list[float] | list[int], *, percent: bool = False) -> str:
    if not values:
        return "-"
    middle = float(np.median(values))
    return f"±{middle:.2%}" if percent else f"{middle:.0f}"


def series(rng: np.random.Generator, noise: float, *, step: bool) -> np.ndarray:
    """One value per revision: the old machine before the boundary, the new one (``FACTOR`` faster) after."""
    level = np.full(LENGTH, 100.0)
    if step:
        level[STEP_AT:] *= 1.0 + STEP
    level[BOUNDARY:] *= FACTOR
    values: np.ndarray = level * np.exp(noise * rng.standard_normal(LENGTH))
    return values


def at(points: tuple[ChangePoint, ...], place: int) -> list[ChangePoint]:
    return [cp for cp in points if abs(cp.index - place) <= NEAR]


def detection_table(count: int, seed: int) -> None:
    print(f"### Alerts at the boundary: {count} series per row, seed {seed}, boundary at {BOUNDARY} of {LENGTH}\n")
    print(
        "| noise | baseline (outliers) | real step | applied | raw: alert at boundary | rescaled: alert at boundary "
        "| rescaled: unexplained | raw: step found | rescaled: step found | rescaled: step kept |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    lower = Direction.LOWER_IS_BETTER
    for noise in NOISES:
        for n, outliers in ((10, 0), (20, outlier_count(20, True))):
            for step in (False, True):
                rng = np.random.default_rng([seed, n, int(noise * 1000), int(step)])
                counts = dict.fromkeys(("applied", "raw", "resc", "unexpl", "raw_found", "found", "kept"), 0)
                for _ in range(count):
                    values = series(rng, noise, step=step)
                    scale = baseline(rng, n, noise, outliers)
                    if not isinstance(scale, ScaleEstimate):
                        continue
                    counts["applied"] += 1
                    raw = detect(values, direction=lower).change_points
                    rescaled = detect(rescale(values, BOUNDARY, scale.factor), direction=lower).change_points
                    near = at(rescaled, BOUNDARY)
                    counts["raw"] += bool(at(raw, BOUNDARY))
                    counts["resc"] += bool(near)
                    counts["unexpl"] += any(not explained_by_rescaling(cp, BOUNDARY, scale) for cp in near)
                    counts["raw_found"] += any(cp.is_regression for cp in at(raw, STEP_AT))
                    found = [cp for cp in at(rescaled, STEP_AT) if cp.is_regression]
                    counts["found"] += bool(found)
                    counts["kept"] += any(not explained_by_rescaling(cp, BOUNDARY, scale) for cp in found)
                applied = counts["applied"]
                shares = {key: f"{value / applied:.1%}" if applied else "-" for key, value in counts.items()}
                if not step:
                    shares.update(raw_found="-", found="-", kept="-")
                print(
                    f"| {noise:.1%} | {n} ({outliers}) | {'+10 %' if step else 'none'} | {applied / count:.1%} "
                    f"| {shares['raw']} | {shares['resc']} | {shares['unexpl']} "
                    f"| {shares['raw_found']} | {shares['found']} | {shares['kept']} |"
                )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1000, help="baselines per row of the factor table (1000)")
    parser.add_argument("--series", type=int, default=200, help="series per row of the detection table (200)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.seeds > 0:
        factor_table(args.seeds, args.seed)
    if args.series > 0:
        detection_table(args.series, args.seed)


if __name__ == "__main__":
    main()
