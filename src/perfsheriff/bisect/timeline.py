"""When each run was made, and the machine's drift read off the two ends measured between the probes.

A shared benchmark machine drifts: it warms up, a neighbour's job slows it by
30-50 % for a few minutes, a run now and then is wild. A commit measured at one
moment is then not comparable with one measured minutes later. The cure is the
one of paired designs: run the probe and the ends interleaved (``G P P B B P P G``,
each probe run next to an end) and compare neighbours, so that whatever the
machine does slowly cancels.

:class:`Timeline` keeps the order of the runs: the planner asks for an
interleaved sequence, the caller runs it in that order, and each new sample is
given its slot. :func:`drift_offsets` reads the machine's offset at each timed
sample from the ends' samples nearest to it in time (their residuals from the
ends' levels, the median of the nearest few, so that one wild run or the edge of
a busy spell does not carry it), and keeps it only where it is clearly more than
that estimate's own noise: on a steady machine almost nothing is corrected.
Samples taken before the bisection (the alert's data) are untimed and never corrected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from perfsheriff.bisect.evidence import FloatArray
from perfsheriff.bisect.protocol import Observation
from perfsheriff.stats.summary import MAD_TO_SIGMA

#: The ends' samples nearest in time whose median says whether the machine is in a busy spell.
NEAR = 3
#: The ends' samples nearest in time through which a line gives the machine's slow drift.
WIDE = 16
#: Residuals this many noise sigmas from their neighbours' median are a busy spell or a wild run.
OUTLIER = 4.0
#: A drift's slope must be this many standard errors from 0 to be corrected.
TREND = 3.0
#: Residuals spread this many times more than neighbouring differences say: the machine wanders.
WANDER = 1.5
#: Rounds of the joint estimate of the ends' levels and the machine's offsets.
ROUNDS = 2


class Timeline:
    """The slot (runs since the bisection started) of every sample; ``None`` for samples found before it."""

    def __init__(self) -> None:
        self._known: dict[str, int] = {}
        self._times: dict[str, list[int | None]] = {}
        self._pending: tuple[str, ...] = ()
        self._clock = 0
        self._started = False

    def expect(self, sequence: Sequence[str]) -> None:
        """The runs just asked for, in the order they are to be made."""
        self._pending = tuple(sequence)

    def record(self, observations: Mapping[str, Observation]) -> None:
        """Give each sample that is new since the last call its slot in the sequence asked for.

        A commit's k-th new sample takes its k-th slot (a failed run leaves its slot unused and the
        later samples shift by one: a neighbour's time, close enough); samples beyond its slots
        (runs the caller made unasked) are placed at the end of the sequence.
        """
        end = self._clock + len(self._pending)
        for sha, seen in observations.items():
            have, known = len(seen.samples), self._known.get(sha, 0)
            if have <= known:
                continue
            times = self._times.setdefault(sha, [])
            new = have - known
            if not self._started:
                times += [None] * new
            else:
                slots = [self._clock + i for i, s in enumerate(self._pending) if s == sha][:new]
                times.extend([*slots, *[end] * (new - len(slots))])
            self._known[sha] = have
        self._clock, self._pending, self._started = end, (), True

    def times(self, sha: str) -> list[int | None]:
        return self._times.get(sha, [])

    def untimed(self, samples: Sequence[float], sha: str) -> tuple[float, ...]:
        """The samples of ``sha`` taken before the bisection."""
        stamps = self.times(sha)
        return tuple(v for i, v in enumerate(samples) if i >= len(stamps) or stamps[i] is None)

    def pairs(self, observations: Mapping[str, Observation], ends: tuple[str, str]) -> FloatArray:
        """Log differences second end - first end of neighbouring runs of the two ends (``A B B A``: two pairs)."""
        runs = []
        for side, end in enumerate(ends):
            samples = observations.get(end, Observation()).samples
            stamps = self.times(end)
            runs += [
                (t, side, math.log(samples[i])) for i, t in enumerate(stamps) if t is not None and i < len(samples)
            ]
        runs.sort()
        out, k = [], 0
        while k + 1 < len(runs):
            (t1, a, x), (t2, b, y) = runs[k], runs[k + 1]
            if a != b and t2 - t1 <= 2:
                out.append(y - x if b == 1 else x - y)
                k += 2
            else:
                k += 1
        return np.array(out, float)


def fresh_log_odds(pairs: FloatArray, gap: float, sigma: float) -> float:
    """Log odds that neighbouring pairs' differences come from a step of ``gap`` rather than none (normal
    noise of ``sigma`` per run, each difference clipped to 3 of its sds beyond either: a wild run counts little)."""
    if pairs.size == 0 or sigma <= 0 or gap == 0:
        return 0.0
    spread = math.sqrt(2) * sigma
    d = np.clip(pairs, min(0.0, gap) - 3 * spread, max(0.0, gap) + 3 * spread)
    return float(np.sum(gap * d - gap**2 / 2)) / spread**2


def drift_offsets(logs: Mapping[str, FloatArray], timeline: Timeline, ends: tuple[str, str]) -> dict[str, FloatArray]:
    """The machine's log offset at each sample of each commit (0 where untimed, or on a steady machine).

    The ends' levels and the machine's offsets are estimated together: each end's level is the median of its
    samples less their offsets (untimed ones as they are), the offsets are read off the ends' residuals from
    those levels; two rounds, so that an error in one end's level is not taken for drift.
    """
    out = {sha: np.zeros(values.size) for sha, values in logs.items()}
    timed = {end: _timed(logs, timeline, end) for end in ends}
    if any(logs.get(end, np.empty(0)).size == 0 for end in ends) or sum(t.size for t, _ in timed.values()) < 2:
        return out
    sigma = _sigma(logs, timeline, ends, timed)
    if sigma is None:
        return out
    levels = {end: float(np.median(logs[end])) for end in ends}
    for _ in range(ROUNDS):
        anchors = _residuals(timed, levels)
        for end in ends:
            t, values = timed[end]
            shifts = np.array([_offset(float(u), _owner(end, k), anchors, sigma) for k, u in enumerate(t)])
            untimed = _untimed(logs, timeline, end)
            levels[end] = float(np.median(np.concatenate([untimed, values - shifts])))
    anchors = _residuals(timed, levels)
    if not drifting(anchors[0], anchors[1], sigma):
        return out
    for sha, values in logs.items():
        stamps = timeline.times(sha)
        for i in range(values.size):
            slot = stamps[i] if i < len(stamps) else None
            if slot is not None:
                out[sha][i] = _offset(float(slot), _owner(sha, _rank(stamps, i)), anchors, sigma)
    return out


def _offset(t: float, owner: str, anchors: tuple[FloatArray, FloatArray, np.ndarray], sigma: float) -> float:
    """The offset at ``t`` from every anchor but the sample's own."""
    times, residuals, owners = anchors
    keep = owners != owner
    return offset_at(t, times[keep], residuals[keep], sigma) if keep.sum() >= 2 else 0.0


def drifting(times: FloatArray, residuals: FloatArray, sigma: float) -> bool:
    """Whether the ends' residuals (in time order) show the machine moving: a busy spell (two neighbours far
    off their median on the same side), a trend (a line's slope at over 3 standard errors), or levels that
    wander more than neighbouring runs differ. A steady machine's samples are then left as they are."""
    centre = float(np.median(residuals))
    off = np.sign(residuals - centre) * (np.abs(residuals - centre) > OUTLIER * sigma)
    if np.any((off[1:] != 0) & (off[1:] == off[:-1])):
        return True
    calm = off == 0
    if calm.sum() < 6 or np.ptp(times[calm]) == 0:
        return False
    t, r = times[calm], residuals[calm]
    slope, intercept = np.polyfit(t, r, 1)
    rest = r - (intercept + slope * t)
    error = math.sqrt(float(np.sum(rest**2)) / (r.size - 2) / float(np.sum((t - t.mean()) ** 2)))
    if abs(slope) > TREND * error:
        return True
    spread = MAD_TO_SIGMA * float(np.median(np.abs(rest - np.median(rest))))
    return r.size >= 12 and spread > WANDER * sigma


def offset_at(t: float, times: FloatArray, residuals: FloatArray, sigma: float) -> float:
    """The machine's offset at ``t``: a robust local line through the ends' residuals nearest in time,
    or, where the nearest few say the machine is in a busy spell, their median."""
    order = np.argsort(np.abs(times - t), kind="stable")
    near = float(np.median(residuals[order[:NEAR]]))
    wide_t, wide_r = times[order[:WIDE]], residuals[order[:WIDE]]
    centre = float(np.median(wide_r))
    calm = np.abs(wide_r - centre) <= OUTLIER * sigma  # busy spells and wild runs out of the line
    wide_t, wide_r = wide_t[calm], wide_r[calm]
    if wide_r.size >= 4 and np.ptp(wide_t) > 0:
        _, intercept = np.polyfit(wide_t - t, wide_r, 1)
        wide = float(intercept)
    else:
        wide = centre
    return near if abs(near - wide) > OUTLIER * sigma else wide


def _owner(sha: str, index: int) -> str:
    """A name for the ``index``-th timed sample of ``sha`` (a sample is not its own neighbour)."""
    return f"{index}:{sha}"


def _rank(stamps: list[int | None], i: int) -> int:
    """The rank of sample ``i`` among its commit's timed samples."""
    return sum(1 for s in stamps[:i] if s is not None)


def _timed(logs: Mapping[str, FloatArray], timeline: Timeline, sha: str) -> tuple[FloatArray, FloatArray]:
    """The slots and log values of ``sha``'s timed samples."""
    values, stamps = logs.get(sha, np.empty(0)), timeline.times(sha)
    pairs = [(float(t), float(values[i])) for i, t in enumerate(stamps) if t is not None and i < values.size]
    return np.array([t for t, _ in pairs], float), np.array([v for _, v in pairs], float)


def _untimed(logs: Mapping[str, FloatArray], timeline: Timeline, sha: str) -> FloatArray:
    values, stamps = logs.get(sha, np.empty(0)), timeline.times(sha)
    return np.array([v for i, v in enumerate(values) if i >= len(stamps) or stamps[i] is None], float)


def _residuals(
    timed: Mapping[str, tuple[FloatArray, FloatArray]], levels: Mapping[str, float]
) -> tuple[FloatArray, FloatArray, np.ndarray]:
    """The ends' timed samples less their levels, in time order, with their owners."""
    times = np.concatenate([timed[end][0] for end in timed])
    residuals = np.concatenate([timed[end][1] - levels[end] for end in timed])
    owners = np.array([_owner(end, k) for end in timed for k in range(timed[end][0].size)])
    order = np.argsort(times, kind="stable")
    return times[order], residuals[order], owners[order]


def _sigma(
    logs: Mapping[str, FloatArray],
    timeline: Timeline,
    ends: tuple[str, str],
    timed: Mapping[str, tuple[FloatArray, FloatArray]],
) -> float | None:
    """The noise of one sample: from differences of an end's successive timed samples (which a slow drift
    does not inflate), or from the spread of the untimed ones."""
    steps = [np.diff(values) for _, values in timed.values() if values.size >= 2]
    diffs = np.concatenate(steps) if steps else np.empty(0)
    if diffs.size >= 3:
        return max(MAD_TO_SIGMA * float(np.median(np.abs(diffs))) / math.sqrt(2), 1e-12)
    spread = [u - np.median(u) for u in (_untimed(logs, timeline, end) for end in ends) if u.size >= 2]
    if not spread:
        return None
    return max(MAD_TO_SIGMA * float(np.median(np.abs(np.concatenate(spread)))), 1e-12)
