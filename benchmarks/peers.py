"""Peer change-point detectors that ``eval_detection.py`` runs beside perfsheriff's.

Each takes one value per revision and the better direction and returns the
indices of the first points at a new level. Optional packages (asv, ruptures)
are skipped when not installed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import numpy as np

from perfsheriff.model import Direction
from perfsheriff.stats.robust import noise_scale, running_median

Detector = Callable[[np.ndarray, Direction], list[int]]


def perfherder(values: np.ndarray, direction: Direction, *, window: int = 12, t_min: float = 7.0) -> list[int]:
    """Perfherder's rule: Welch-type t over 12 points back and forward, t > 7 and a change >= 2 %.

    Re-implemented after ``treeherder/perf/alerts.py`` (``analyze``): for each
    point the t statistic of the windows either side; a point alerts where t
    passes and is the largest within its window.
    """
    n = len(values)
    ts = np.zeros(n)
    for i in range(window // 2, n - window // 2 + 1):
        back, fore = values[max(0, i - window) : i], values[i : i + window]
        if len(back) < 2 or len(fore) < 2:
            continue
        mb, mf = back.mean(), fore.mean()
        spread = np.sqrt(back.var(ddof=1) / len(back) + fore.var(ddof=1) / len(fore))
        if mb != 0 and abs(mf - mb) / abs(mb) >= 0.02:
            ts[i] = abs(mf - mb) / spread if spread > 0 else np.inf
    found = []
    for i in np.flatnonzero(ts > t_min):
        lo, hi = max(0, i - window), min(n, i + window + 1)
        if ts[i] == ts[lo:hi].max() and not any(abs(i - j) <= window for j in found):
            found.append(int(i))
    return found


def perfherder_weighted(values: np.ndarray, direction: Direction, *, t_min: float = 7.0) -> list[int]:
    """Perfherder's algorithm closer to the letter: linearly weighted windows, data needed on both sides.

    After ``treeherder/perf/alerts.py`` (``detect_changes``): the back window
    holds 12 revisions (growing to 24 while no change is seen), the forward
    window 12; each side's mean weights revisions towards the change
    (``linear_weights``); a revision alerts where t > 7, t is not below either
    neighbour's, both windows are full, and the change is at least 2 %.
    """
    from perfsheriff.stats.alert_probability import local_t

    n = len(values)
    ts = np.zeros(n)
    quiet = 0
    for i in range(1, n):
        back = min(max(quiet, 12), 24)
        ts[i] = local_t(values, i, back, fore=12)
        quiet = 0 if ts[i] > t_min else quiet + 1
    found = []
    for i in range(12, n - 11):
        if ts[i] <= t_min or ts[i - 1] > ts[i] or (i + 1 < n and ts[i + 1] > ts[i]):
            continue
        before, after = values[i - 12 : i].mean(), values[i : i + 12].mean()
        if before and abs(after - before) / abs(before) >= 0.02:
            found.append(i)
    return found


def asv_steps(values: np.ndarray, direction: Direction) -> list[int]:
    """asv's ``detect_steps`` (its L1 piecewise-constant fit with a BIC-like penalty)."""
    from asv import step_detect

    steps = step_detect.detect_steps(list(values))
    return [int(left) for left, *_ in steps[1:]]


def pelt(values: np.ndarray, direction: Direction, *, winsorize: bool = False, beta: float = 3.0) -> list[int]:
    """ruptures PELT, L2 cost, penalty ``beta * sigma^2 * log(n)`` with sigma from the MAD of differences.

    With ``winsorize`` the series is first clipped to 2 sigma around a running median of 9 points.
    """
    import ruptures

    x = np.asarray(values, dtype=np.float64)
    sigma = noise_scale(x) or 1.0
    if winsorize:
        centre = running_median(x, 9)
        x = centre + np.clip(x - centre, -2 * sigma, 2 * sigma)
    penalty = beta * sigma**2 * np.log(len(x))
    bkps = ruptures.Pelt(model="l2", min_size=5, jump=1).fit(x.reshape(-1, 1)).predict(pen=penalty)
    return [int(b) for b in bkps[:-1]]


def _energy_split(x: np.ndarray, min_size: int) -> tuple[int, float]:
    """Best split of ``x`` by the E-Divisive energy statistic (alpha = 1), kappa fixed at the end."""
    n = len(x)
    d = np.abs(x[:, None] - x[None, :])
    p = np.zeros((n + 1, n + 1))
    p[1:, 1:] = d.cumsum(0).cumsum(1)
    taus = np.arange(min_size, n - min_size + 1)
    within_left = p[taus, taus] / 2
    within_right = (p[n, n] - 2 * p[taus, n] + p[taus, taus]) / 2
    cross = p[taus, n] - p[taus, taus]
    m, k = taus.astype(float), (n - taus).astype(float)
    q = m * k / n * (2 * cross / (m * k) - within_left / (m * (m - 1) / 2) - within_right / (k * (k - 1) / 2))
    best = int(np.argmax(q))
    return int(taus[best]), float(q[best])


def edivisive(
    values: np.ndarray, direction: Direction, *, permutations: int = 49, alpha: float = 0.05, seed: int = 0
) -> list[int]:
    """E-Divisive (Matteson & James 2014) with a permutation test, as MongoDB's signal-processing-algorithms.

    Recursive: split the segment with the largest energy statistic while its
    permutation p-value is below ``alpha``. Quadratic per segment.
    """
    rng = np.random.default_rng(seed)
    found: list[int] = []
    segments = [(0, len(values))]
    while segments:
        a, b = segments.pop()
        if b - a < 10:
            continue
        tau, q = _energy_split(values[a:b], 5)
        exceed = sum(_energy_split(rng.permutation(values[a:b]), 5)[1] >= q for _ in range(permutations))
        if (exceed + 1) / (permutations + 1) > alpha:
            continue
        found.append(a + tau)
        segments += [(a, a + tau), (a + tau, b)]
    return sorted(found)


def available() -> dict[str, Detector]:
    peers: dict[str, Detector] = {
        "Perfherder rule (t>7, w=12, >=2%)": perfherder,
        "Perfherder's algorithm (weighted windows)": perfherder_weighted,
    }
    if importlib.util.find_spec("asv"):
        peers["asv detect_steps"] = asv_steps
    if importlib.util.find_spec("ruptures"):
        peers["ruptures PELT (L2)"] = pelt
        peers["ruptures PELT + running-median winsorization"] = lambda v, d: pelt(v, d, winsorize=True)
    peers["E-Divisive (49 permutations)"] = edivisive
    return peers


PEERS = available()
