"""Two baselines the simulator plays on the same cases as the planner.

*Mozilla's manual recipe* (Perfherder sheriffing: backfill every commit of the
range and retrigger to four data points each), with a fair reading of the
graph: the culprit is the split that explains the per-commit means best
(least squares over "bad = descendants of the culprit"), which on a clean
graph is the first commit whose mean is closer to the bad level than the good
one; two culprits when a second split lowers the residual sum of squares by
more than a BIC-like penalty (``log N`` for the level, ``2 log n`` for the
location among ``n`` commits).

*Plain binary search*: git's split rule with one sample per probe, classified
by whichever end's mean it is closer to; unbuildable commits skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perfsheriff.bisect.dag import CommitGraph
from perfsheriff.bisect.synthetic import GOOD, Bench, Case

RECIPE_SAMPLES = 4


@dataclass(frozen=True, slots=True)
class Result:
    """What a method named as culprit(s) (empty: no answer) and the runs it spent."""

    culprits: frozenset[str]
    runs: int


def play_recipe(case: Case, rng: np.random.Generator, window: int = 0) -> Result:
    """Backfill and retrigger every commit (and the good end) to four samples, then fit.

    The ``window`` samples of each level that came with the alert join the fit
    as two more rows: one below every commit, one above every commit.
    """
    bench = Bench(case, rng, window=window)
    for sha in (GOOD, *case.suspect.order):
        bench.top_up(sha, RECIPE_SAMPLES)
    rows = [sha for sha in (GOOD, *case.suspect.order) if bench.observations.get(sha, None) is not None]
    rows = [sha for sha in rows if bench.observations[sha].samples]
    logs = [np.log(np.array(bench.observations[sha].samples)) for sha in rows]
    graph = CommitGraph(case.suspect)
    columns = rows[1:]
    above = [[bool(graph.ancestors_of(x) & graph.bit(c)) if x != GOOD else False for c in columns] for x in rows]
    for values, side in ((bench.good_level, False), (bench.bad_level, True)):
        if values:
            logs.append(np.log(np.array(values)))
            above.append([side] * len(columns))
    return Result(frozenset(_fit(np.array(above), logs, columns)), bench.runs)


def _fit(above: np.ndarray, logs: list[np.ndarray], columns: list[str]) -> tuple[str, ...]:
    """Least-squares culprit(s): ``above[x, c]`` says commit row ``x`` descends from column ``c``."""
    weights = np.array([g.size for g in logs], dtype=float)
    means = np.array([g.mean() for g in logs])
    within = float(sum(np.sum((g - g.mean()) ** 2) for g in logs))
    total = int(weights.sum())
    stats = (weights, weights * means, weights * means**2)
    one = _group_ss(above, stats) + _group_ss(~above, stats)
    best_one = int(np.argmin(one))
    pair, pair_ss = _best_pair(above, stats)
    rss_one = within + float(one[best_one])
    rss_two = within + pair_ss
    penalty = math.log(total) + 2 * math.log(max(len(columns), 2))
    if math.isfinite(rss_two) and rss_one > 0 and total * math.log(rss_one / max(rss_two, rss_one * 1e-12)) > penalty:
        return (columns[pair[0]], columns[pair[1]])
    return (columns[best_one],)


def _group_ss(mask: np.ndarray, stats: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Between-commit sum of squares of each column's group (rows where ``mask``) around its mean."""
    w, s, q = (v @ mask for v in stats)
    ss = q - np.divide(s**2, w, out=np.zeros_like(s), where=w > 0)
    return np.maximum(np.where(w > 0, ss, 0.0), 0.0)


def _best_pair(above: np.ndarray, stats: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[tuple[int, int], float]:
    best, best_ss = (0, 0), math.inf
    for first in range(above.shape[1]):
        mine = above[:, first : first + 1]
        groups = (mine & above, mine & ~above, ~mine & above, ~mine & ~above)
        ss = np.sum([_group_ss(group, stats) for group in groups], axis=0)
        ss[first] = math.inf
        second = int(np.argmin(ss))
        if ss[second] < best_ss:
            best, best_ss = (first, second), float(ss[second])
    return best, best_ss


def play_binary_search(case: Case, rng: np.random.Generator, window: int = 0) -> Result:
    """git's split rule, one sample per probe, nearest end level decides; skips unbuildable commits.

    The levels are the means of each end's samples and the alert's ``window`` samples of that level.
    """
    bench = Bench(case, rng, window=window)
    suspect = case.suspect
    good = float(np.mean(np.log((*bench.observations[GOOD].samples, *bench.good_level))))
    bad = float(np.mean(np.log((*bench.observations[suspect.bad].samples, *bench.bad_level))))
    graph = CommitGraph(suspect)
    candidates, excluded, tip = graph.everything, 0, suspect.bad
    while (split := graph.best_bisection(candidates, excluded, tip)) is not None:
        sha = split.commit
        bench.run(sha, 1)
        samples = bench.observations[sha].samples
        if not samples:
            excluded |= graph.bit(sha)
        elif abs(math.log(samples[-1]) - bad) < abs(math.log(samples[-1]) - good):
            candidates, tip = candidates & graph.ancestors_of(sha), sha
        else:
            candidates &= ~graph.ancestors_of(sha)
    found = frozenset({tip}) if candidates == graph.bit(tip) else frozenset()
    return Result(found, bench.runs)
