"""One bisection over a region of the DAG: probabilistic bisection on the posterior over culprit hypotheses.

A :class:`Search` holds a *region* (the commits that may be the culprit) and
two *references*: the commits whose samples define the low (good) and the high
(bad) level, plus any level samples that came with the alert. The hypotheses
are *one step* at any commit of the region and, with two-step detection on
(``two_step_prior > 0``), *two steps* at commits ``a`` then ``b`` (``a`` an
ancestor of ``b``) with the commits in between at an intermediate level. At
every step the search computes their posterior from *every* sample measured in
the region (:mod:`.posterior`) and

* stops when the most likely hypothesis reaches ``1 - culprit_error``: one
  culprit, or two (oldest first);
* otherwise probes the testable commit whose next sample is expected to tell
  most about the hypothesis (the mutual information between its level and the
  hypothesis: the posterior median while only one step is in play, as in
  Horstein's scheme and git's best bisection), asking for a batch sized by the
  evidence a sample is expected to add;
* skips a commit that could not be built or run, like ``git bisect skip``, and
  sets aside one that reached ``max_probe_samples`` (*ambiguous*);
* stops *undecided* when no testable commit's level is still uncertain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from perfsheriff.bisect.channel import LEVEL_SHARES, Channel
from perfsheriff.bisect.dag import CommitGraph
from perfsheriff.bisect.evidence import FloatArray, NoiseModel, Pool, ProbeVerdict, threshold
from perfsheriff.bisect.noise_shape import NoiseShape, level_nodes, locate, robust_logpdf
from perfsheriff.bisect.posterior import INTERMEDIATE_SHARES, moments, shape_log_likelihoods, step_log_likelihoods
from perfsheriff.bisect.protocol import BisectSettings, ProbeRecord, RunRequest

#: The first batch at a probe asks for this share of the samples expected to reach a verdict.
FIRST_BATCH_SHARE = 0.6
#: A reference is topped up while its level has fewer than this many times the probe's samples (under the
#: likeliest hypothesis, so that every commit found at that level counts): the probe's evidence is limited by it.
REFERENCE_SHARE = 2
#: A probe's level must be uncertain by at least this share of ``culprit_error`` to be worth running.
USEFUL_SPLIT = 0.25
#: Two-step hypotheses are dropped on ranges with more candidate pairs than this (the posterior's cost).
MAX_PAIRS = 100_000
#: Probes whose information is within this relative margin of the best count as tied (the newer one wins).
TIE = 1e-9
GOOD_CLASS, MID_CLASS, BAD_CLASS = 0, 1, 2
_NODES, _LOG_WEIGHTS = level_nodes()
#: Gauss-Hermite nodes over the two end levels' errors (in standard errors), and their log weights.
_NODE_LOW, _NODE_HIGH = (grid.ravel() for grid in np.meshgrid(_NODES, _NODES, indexing="ij"))
_NODE_LOG_WEIGHTS = (_LOG_WEIGHTS[:, None] + _LOG_WEIGHTS[None, :]).ravel()


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything observed, prepared once per step: log samples, failed attempts, noise model,
    and ``levels``: extra log samples of a reference's level (the alert's windows), by reference."""

    logs: dict[str, FloatArray]
    failed: dict[str, int]
    noise: NoiseModel
    levels: dict[str, FloatArray]
    center: float
    shape: NoiseShape | None = None

    def clipped(self, sha: str) -> FloatArray:
        return self.noise.clip(self.logs.get(sha, np.empty(0)))

    def level(self, reference: str) -> FloatArray:
        """The clipped samples that define a reference's level: its own and the alert's for it."""
        extra = self.noise.clip(self.levels.get(reference, np.empty(0)))
        return np.concatenate([self.clipped(reference), extra])

    def raw_level(self, reference: str) -> FloatArray:
        """The same samples unclipped (a learnt noise shape bounds their influence itself)."""
        return np.concatenate([self.logs.get(reference, np.empty(0)), self.levels.get(reference, np.empty(0))])


class Search:
    """The state of one bisection; :meth:`step` advances it as far as the evidence allows."""

    def __init__(
        self,
        graph: CommitGraph,
        region: int,
        references: tuple[str, str],
        settings: BisectSettings,
        *,
        mid_prior: float = 0.0,
    ) -> None:
        self.graph = graph
        self.region = region
        self.references = references
        self.settings = settings
        self.excluded = 0
        self._candidates = np.array([i for i in range(len(graph.order)) if region >> i & 1], dtype=int)
        self._pairs = _pairs(graph, self._candidates) if mid_prior > 0 else (np.empty(0, int), np.empty(0, int))
        self.mid_prior = mid_prior if self._pairs[0].size else 0.0
        self._single = np.full(self._candidates.size, 1.0)
        self._double = np.zeros((self._pairs[0].size, INTERMEDIATE_SHARES.size))
        self._prior = self._log_prior(np.ones(INTERMEDIATE_SHARES.size, dtype=bool))
        self._normalise(np.zeros(self._candidates.size), np.zeros_like(self._double))
        self._classes: dict[str, FloatArray] = {}
        self._samples: dict[str, int] = {}
        self._probed: list[str] = []
        self._special: dict[str, ProbeRecord] = {}
        self._done = False
        self._reference_samples = (0, 0)
        self._sides: dict[str, int] = {}
        self._shape_levels: tuple[tuple[float, float], ...] = ()

    # --- results -----------------------------------------------------------------------------------

    @property
    def top(self) -> tuple[tuple[str, ...], float]:
        """The most likely hypothesis (one culprit, or two, oldest first) and its posterior probability."""
        order = self.graph.order
        one = int(np.argmax(self._single))
        best: tuple[tuple[str, ...], float] = ((order[int(self._candidates[one])],), float(self._single[one]))
        if self._double.size:
            pair_mass = self._double.sum(axis=1)
            two = int(np.argmax(pair_mass))
            if pair_mass[two] > best[1]:
                a, b = (order[int(self._candidates[p[two]])] for p in self._pairs)
                best = ((a, b), float(pair_mass[two]))
        return best

    @property
    def culprits(self) -> tuple[str, ...] | None:
        """The culprit(s), once the likeliest hypothesis reaches ``1 - culprit_error``."""
        shas, p = self.top
        return shas if p >= 1 - self.settings.culprit_error else None

    @property
    def culprit(self) -> str | None:
        """The single culprit, if that is the settled hypothesis."""
        found = self.culprits
        return found[0] if found is not None and len(found) == 1 else None

    @property
    def confidence(self) -> float:
        return self.top[1]

    @property
    def remaining(self) -> tuple[str, ...]:
        """The commits of the fewest likeliest hypotheses holding ``1 - culprit_error`` of the posterior."""
        masses = np.concatenate([self._single, self._double.sum(axis=1)])
        ranked = np.argsort(-masses, kind="stable")
        keep = ranked[: int(np.searchsorted(np.cumsum(masses[ranked]), 1 - self.settings.culprit_error)) + 1]
        n = self._single.size
        positions = [int(k) for k in keep if k < n]
        for k in keep[keep >= n]:
            positions += [int(self._pairs[0][k - n]), int(self._pairs[1][k - n])]
        return self.graph.members(sum(1 << int(self._candidates[p]) for p in set(positions)))

    @property
    def records(self) -> list[ProbeRecord]:
        """Every probed commit, first probed first, with its verdict under the current posterior."""
        out = []
        for sha in self._probed:
            if sha in self._special:
                out.append(self._special[sha])
            elif self._samples.get(sha, 0):
                classes = self._classes[sha]
                side = int(np.argmax(classes))
                verdict = (ProbeVerdict.GOOD, ProbeVerdict.INTERMEDIATE, ProbeVerdict.BAD)[side]
                words = ("good", "between the levels", "bad")[side]
                reason = f"{verdict.value}: posterior {classes[side]:.3f} that it is {words}"
                out.append(ProbeRecord(sha, verdict, self._samples[sha], float(classes[side]), reason))
        return out

    def leftover_reason(self) -> str:
        """Why the search ended without naming its culprit(s)."""
        left = self.remaining
        ambiguous = {s for s, r in self._special.items() if r.verdict is ProbeVerdict.AMBIGUOUS} & set(left)
        what = "ambiguous" if ambiguous else "only unbuildable candidates left"
        shown = ", ".join(sha[:12] for sha in left[:8])
        return f"{what}: the culprit is one of {len(left)} commits ({shown})"

    # --- the step ----------------------------------------------------------------------------------

    def step(self, evidence: Evidence) -> RunRequest | None:
        """Run the search until it needs a run (``RunRequest``) or ends (``None``)."""
        if self._done:
            return None
        channel = self._channel(evidence)
        # both steps of a two-step hypothesis must be locatable: at least MIN_STEP noise sigmas' worth each
        self._prior = self._log_prior(channel.locatable(INTERMEDIATE_SHARES))
        self._update(evidence)
        while True:
            probe = None if self.culprits is not None else self._best_probe(channel)
            if probe is None:
                self._done = True
                return None
            commit, classes = probe
            have = evidence.clipped(commit).size
            if commit not in self._probed:
                self._probed.append(commit)
            if have == 0 and evidence.failed.get(commit, 0) > 0:
                self._set_aside(commit, ProbeVerdict.SKIPPED, 0, "skip: could not be built or run")
                continue
            if have >= self.settings.max_probe_samples:
                reason = f"ambiguous after {have} samples (posterior {classes[BAD_CLASS]:.2f} bad): excluded"
                self._set_aside(commit, ProbeVerdict.AMBIGUOUS, have, reason)
                continue
            llr = _log_odds(classes[BAD_CLASS], classes[GOOD_CLASS])
            levels = self._level_samples(commit)
            if have and REFERENCE_SHARE * have > min(levels):
                # the probe is as well measured as the level it must be told from: measure that level instead
                side = int(levels[1] < levels[0])
                reason = (
                    f"more samples at the {('good', 'bad')[side]} reference: "
                    f"the probe's evidence is limited by it (LLR {llr:.1f})"
                )
                return RunRequest(self.references[side], self._batch(channel, classes, 0), reason)
            if have == 0:
                weight = (self.graph.ancestors_of(commit) & self.region).bit_count()
                reason = (
                    f"bisect: {weight} of {self.region.bit_count()} candidates below "
                    f"(posterior {classes[BAD_CLASS]:.2f} bad)"
                )
            elif classes[MID_CLASS] > min(classes[GOOD_CLASS], classes[BAD_CLASS]):
                reason = f"more samples: level may lie between the ends (posterior {classes[MID_CLASS]:.2f})"
            else:
                reason = f"more samples: evidence ambiguous (LLR {llr:.1f})"
            return RunRequest(commit, self._batch(channel, classes, have), reason)

    def _channel(self, evidence: Evidence) -> Channel:
        """The gap between the references' levels and the noise around them (normal, or the learnt shape)."""
        if evidence.shape is not None:
            self._shape_levels = tuple(locate(evidence.shape, evidence.raw_level(ref)) for ref in self.references)
            (good, _), (bad, _) = self._shape_levels
            return Channel(abs(bad - good) / evidence.shape.sd, evidence.shape.sd, evidence.shape)
        low, high = (Pool.of(evidence.level(ref)) for ref in self.references)
        sigma = evidence.noise.sigma
        return Channel(abs(high.mean - low.mean) / sigma if math.isfinite(high.mean - low.mean) else 0.0, sigma)

    def _log_prior(self, shares: NDArray[np.bool_]) -> tuple[float, FloatArray]:
        """Log prior of each one-step and of each two-step hypothesis (by share: ``shares`` says which are open)."""
        mid_prior = self.mid_prior if shares.any() else 0.0
        singles = math.log(1 - mid_prior) - math.log(self._candidates.size)
        doubles = np.full(shares.size, -math.inf)
        if mid_prior:
            doubles[shares] = math.log(mid_prior) - math.log(self._pairs[0].size * int(shares.sum()))
        return singles, doubles

    def _normalise(self, single: FloatArray, double: FloatArray) -> None:
        one, two = single + self._prior[0], double + self._prior[1][None, :]
        top = max(float(np.max(one)), float(np.max(two)) if two.size else -math.inf)
        ones, twos = np.exp(one - top), np.exp(two - top) if two.size else two
        total = float(ones.sum() + twos.sum())
        self._single, self._double = ones / total, twos / total

    def _update(self, evidence: Evidence) -> None:
        """Recompute the posterior over the hypotheses from every sample in the region."""
        graph = self.graph
        low_ref, high_ref = self.references
        probes = [
            sha for sha in graph.members(self.region) if sha not in self.references and evidence.clipped(sha).size
        ]
        self._samples = {sha: evidence.clipped(sha).size for sha in probes}
        self._reference_samples = (evidence.level(low_ref).size, evidence.level(high_ref).size)
        self._sides, self._classes = {}, {}
        if not probes:
            return
        rows = np.array([graph.index[sha] for sha in probes], dtype=int)
        bad_if = graph.reach[np.ix_(rows, self._candidates)].T.astype(float)
        if evidence.shape is not None:
            per_level = self._per_level(evidence.shape, [evidence.logs[sha] for sha in probes])
            single, double = shape_log_likelihoods(bad_if, per_level, _NODE_LOG_WEIGHTS, self._pairs)
        else:
            n, s, q = moments([evidence.clipped(sha) for sha in probes], evidence.center)
            low = np.array(moments([evidence.level(low_ref)], evidence.center))[:, 0]
            high = np.array(moments([evidence.level(high_ref)], evidence.center))[:, 0]
            below = (bad_if @ n, bad_if @ s, bad_if @ q)
            total = (float(n.sum()), float(s.sum()), float(q.sum()))
            single, double = step_log_likelihoods(below, total, low, high, self._pairs)
        self._normalise(single, double)
        classes = self._class_masses(rows)
        self._classes = dict(zip(probes, classes, strict=True))
        likeliest = self._likeliest_sides(rows)
        self._sides = dict(zip(probes, likeliest, strict=True))

    def _per_level(self, shape: NoiseShape, samples: list[FloatArray]) -> FloatArray:
        """Log likelihood of each probe's samples at each level, per integration node of the two end levels."""
        (low, low_error), (high, high_error) = self._shape_levels
        lows, highs = low + _NODE_LOW * low_error, high + _NODE_HIGH * high_error
        centres = lows[:, None] + LEVEL_SHARES[None, :] * (highs - lows)[:, None]  # (nodes, levels)
        logs = robust_logpdf(shape, np.concatenate(samples)[None, None, :] - centres[:, :, None])
        starts = np.cumsum([0] + [v.size for v in samples[:-1]])
        per_level: FloatArray = np.moveaxis(np.add.reduceat(logs, starts, axis=2), 2, 1)  # (nodes, probes, levels)
        return per_level

    def _class_masses(self, rows: NDArray[np.int_]) -> FloatArray:
        """Posterior mass of each commit (rows) being at the good, an intermediate, and the bad level."""
        return _collapse(self._level_masses(rows))

    def _level_masses(self, rows: NDArray[np.int_]) -> FloatArray:
        """Posterior mass of each commit being at level 0 (good), at each intermediate share, and at 1 (bad)."""
        reach = self.graph.reach[np.ix_(rows, self._candidates)].astype(float)
        size = self._candidates.size
        first, second = self._pairs
        at_a = np.zeros((size, INTERMEDIATE_SHARES.size))
        at_b = np.zeros_like(at_a)
        if first.size:
            np.add.at(at_a, first, self._double)
            np.add.at(at_b, second, self._double)
        mid = reach @ (at_a - at_b)
        bad = reach @ (self._single + at_b.sum(axis=1))
        good = 1 - bad - mid.sum(axis=1)
        masses: FloatArray = np.clip(np.column_stack([good, mid, bad]), 0.0, 1.0)
        return masses

    def _likeliest_sides(self, rows: NDArray[np.int_]) -> list[int]:
        shas, _ = self.top
        reach = self.graph.reach
        first = reach[rows, self.graph.index[shas[0]]]
        last = reach[rows, self.graph.index[shas[-1]]]
        return [BAD_CLASS if b else MID_CLASS if a else GOOD_CLASS for a, b in zip(first, last, strict=True)]

    def _level_samples(self, commit: str) -> tuple[int, int]:
        """Samples at the good and the bad level under the likeliest hypothesis, ``commit``'s own left out."""
        low, high = self._reference_samples
        for sha, side in self._sides.items():
            if sha != commit:
                low += self._samples[sha] if side == GOOD_CLASS else 0
                high += self._samples[sha] if side == BAD_CLASS else 0
        return low, high

    def _best_probe(self, channel: Channel) -> tuple[str, FloatArray] | None:
        """The testable commit whose next sample tells most about the hypothesis, and its class masses."""
        graph = self.graph
        testable = self.region & ~self.excluded
        for ref in self.references:
            if ref in graph.index:
                testable &= ~graph.bit(ref)
        rows = np.array([i for i in range(len(graph.order)) if testable >> i & 1], dtype=int)
        if rows.size == 0:
            return None
        levels = self._level_masses(rows)
        classes = _collapse(levels)
        useful = 1 - classes.max(axis=1) >= USEFUL_SPLIT * self.settings.culprit_error
        if not useful.any():
            return None
        information = np.where(useful, channel.information(levels), -math.inf)
        best = int(np.flatnonzero(information >= information.max() - TIE * abs(information.max()))[0])
        return graph.order[int(rows[best])], classes[best]

    def _set_aside(self, commit: str, verdict: ProbeVerdict, n: int, reason: str) -> None:
        self._special[commit] = ProbeRecord(commit, verdict, n, None, reason)
        self.excluded |= self.graph.bit(commit)

    def _batch(self, channel: Channel, classes: FloatArray, have: int) -> int:
        """Samples to ask for: a share of those expected to settle the probe's level between its two likeliest."""
        if not channel.usable:
            return self._sized(math.inf, have)
        first, second = np.argsort(-classes, kind="stable")[:2]
        distance = abs(int(first) - int(second)) / 2  # in gaps: an intermediate level lies about half-way
        drift = channel.divergence(distance)
        odds = _log_odds(classes[first], classes[second])
        expected = max(threshold(self.settings.culprit_error) - odds, 0.0) / drift
        return self._sized((FIRST_BATCH_SHARE if have == 0 else 0.5) * expected, have)

    def _sized(self, wanted: float, have: int) -> int:
        room = self.settings.max_probe_samples - have
        wanted = min(wanted, float(self.settings.max_batch))
        floor = max(1, self.settings.min_probe_samples - have)
        return max(floor, min(math.ceil(wanted), self.settings.max_batch, room))


def _pairs(graph: CommitGraph, candidates: NDArray[np.int_]) -> tuple[NDArray[np.int_], NDArray[np.int_]]:
    """Candidate positions ``(a, b)``, ``a`` a proper ancestor of ``b``: the two-step hypotheses."""
    reach = graph.reach[np.ix_(candidates, candidates)].copy()
    np.fill_diagonal(reach, False)
    second, first = np.nonzero(reach)
    if first.size > MAX_PAIRS:
        return np.empty(0, int), np.empty(0, int)
    return first.astype(int), second.astype(int)


def _collapse(levels: FloatArray) -> FloatArray:
    """Masses at (good, any intermediate level, bad)."""
    return np.column_stack([levels[:, 0], levels[:, 1:-1].sum(axis=1), levels[:, -1]])


def _log_odds(p: float, q: float) -> float:
    return math.log(max(p, 1e-12) / max(q, 1e-12))
