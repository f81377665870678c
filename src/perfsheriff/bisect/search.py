"""One bisection over a region of the DAG: probabilistic bisection on the culprit posterior.

A :class:`Search` holds a *region* (the commits that may be the culprit, a
priori uniformly) and two *references*: the commits whose samples define the
low (good) and the high (bad) level, the range's ends (or, after a split at an
intermediate commit, that commit), plus any level samples that came with the
alert. At every step it computes the posterior over the culprit from *every*
sample measured in the region (:mod:`.posterior`) and

* stops when the most likely commit's posterior reaches ``1 - culprit_error``;
* otherwise probes the testable commit that splits the posterior mass most
  evenly (its ancestors hold as close to half of it as possible: git's best
  bisection when nothing is known yet, the posterior median after), asking for
  a batch sized by the evidence a sample is expected to add;
* skips a commit that could not be built or run, like ``git bisect skip``, and
  sets aside one that reached ``max_probe_samples`` (*ambiguous*);
* stops *undecided* when no testable commit splits the remaining suspects.

With two-step detection on (``mid_prior > 0``), the probe just sampled is also
scored by the three-hypothesis test of :func:`.evidence.assess` against the
references; it is not left while an intermediate level is plausible, and a
probe whose level is clearly in between is returned to the caller, who splits
the problem in two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perfsheriff.bisect.dag import CommitGraph
from perfsheriff.bisect.evidence import MID_GUARD, FloatArray, NoiseModel, Pool, ProbeVerdict, assess, threshold
from perfsheriff.bisect.posterior import culprit_log_posterior, moments
from perfsheriff.bisect.protocol import BisectSettings, ProbeRecord, RunRequest

#: The first batch at a probe asks for this share of the samples expected to reach a verdict.
FIRST_BATCH_SHARE = 0.6
#: A reference is topped up while its level has fewer than this many times the probe's samples (under the
#: likeliest culprit, so that every commit found at that level counts): the probe's evidence is limited by it.
REFERENCE_SHARE = 2
#: A probe must split off at least this share of ``culprit_error`` of the posterior mass to be worth running.
USEFUL_SPLIT = 0.25


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything observed, prepared once per step: log samples, failed attempts, noise model,
    and ``levels``: extra log samples of a reference's level (the alert's windows), by reference."""

    logs: dict[str, FloatArray]
    failed: dict[str, int]
    noise: NoiseModel
    levels: dict[str, FloatArray]
    center: float

    def clipped(self, sha: str) -> FloatArray:
        return self.noise.clip(self.logs.get(sha, np.empty(0)))

    def level(self, reference: str) -> FloatArray:
        """The clipped samples that define a reference's level: its own and the alert's for it."""
        extra = self.noise.clip(self.levels.get(reference, np.empty(0)))
        return np.concatenate([self.clipped(reference), extra])


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
        self.mid_prior = mid_prior
        self.excluded = 0
        self._candidates = np.array([i for i in range(len(graph.order)) if region >> i & 1], dtype=int)
        self._posterior = np.full(self._candidates.size, 1 / self._candidates.size)
        self._mass: dict[str, float] = {}
        self._samples: dict[str, int] = {}
        self._probed: list[str] = []
        self._special: dict[str, ProbeRecord] = {}
        self._current: str | None = None
        self._done = False
        self._reference_samples = (0, 0)
        self._sides: dict[str, bool] = {}

    # --- results -----------------------------------------------------------------------------------

    @property
    def top(self) -> tuple[str, float]:
        """The most likely culprit and its posterior probability."""
        best = int(np.argmax(self._posterior))
        return self.graph.order[int(self._candidates[best])], float(self._posterior[best])

    @property
    def culprit(self) -> str | None:
        """The culprit, once its posterior probability reaches ``1 - culprit_error``."""
        sha, p = self.top
        return sha if p >= 1 - self.settings.culprit_error else None

    @property
    def confidence(self) -> float:
        return self.top[1]

    @property
    def remaining(self) -> tuple[str, ...]:
        """The smallest set of most likely culprits holding ``1 - culprit_error`` of the posterior (rev-list order)."""
        ranked = np.argsort(-self._posterior, kind="stable")
        cumulative = np.cumsum(self._posterior[ranked])
        keep = ranked[: int(np.searchsorted(cumulative, 1 - self.settings.culprit_error)) + 1]
        return self.graph.members(sum(1 << int(self._candidates[i]) for i in keep))

    @property
    def records(self) -> list[ProbeRecord]:
        """Every probed commit, first probed first, with its verdict under the current posterior."""
        out = []
        for sha in self._probed:
            if sha in self._special:
                out.append(self._special[sha])
            elif self._samples.get(sha, 0):
                bad = self._mass[sha]
                verdict = ProbeVerdict.BAD if bad >= 0.5 else ProbeVerdict.GOOD
                reason = f"{verdict.value}: posterior {bad:.3f} that it is bad"
                out.append(ProbeRecord(sha, verdict, self._samples[sha], max(bad, 1 - bad), reason))
        return out

    def leftover_reason(self) -> str:
        """Why the search ended without a single culprit."""
        left = self.remaining
        ambiguous = {s for s, r in self._special.items() if r.verdict is ProbeVerdict.AMBIGUOUS} & set(left)
        what = "ambiguous" if ambiguous else "only unbuildable candidates left"
        shown = ", ".join(sha[:12] for sha in left[:8])
        return f"{what}: the culprit is one of {len(left)} commits ({shown})"

    # --- the step ----------------------------------------------------------------------------------

    def step(self, evidence: Evidence) -> RunRequest | ProbeRecord | None:
        """Run the search until it needs a run (``RunRequest``), finds an intermediate commit
        (its ``ProbeRecord``; the caller splits the problem), or ends (``None``)."""
        if self._done:
            return None
        self._update(evidence)
        low, high = (Pool.of(evidence.level(ref)) for ref in self.references)
        sigma = evidence.noise.sigma
        drift = (high.mean - low.mean) ** 2 / (2 * sigma * sigma)
        if self._current is not None and self.mid_prior > 0:
            found = self._check_intermediate(evidence, self._current, low, high)
            if found is not None:
                return found
        while True:
            split = None if self.culprit is not None else self._best_split()
            if split is None:
                self._done, self._current = True, None
                return None
            commit, bad = split
            have = evidence.clipped(commit).size
            if commit not in self._probed:
                self._probed.append(commit)
            if have == 0 and evidence.failed.get(commit, 0) > 0:
                self._set_aside(commit, ProbeVerdict.SKIPPED, 0, "skip: could not be built or run")
                continue
            if have >= self.settings.max_probe_samples:
                reason = f"ambiguous after {have} samples (posterior {bad:.2f}): excluded like a skipped commit"
                self._set_aside(commit, ProbeVerdict.AMBIGUOUS, have, reason)
                continue
            self._current = commit
            llr = _logit(bad)
            levels = self._level_samples(commit)
            if have and REFERENCE_SHARE * have > min(levels):
                # the probe is as well measured as the level it must be told from: measure that level instead
                side = int(levels[1] < levels[0])
                reason = (
                    f"more samples at the {('good', 'bad')[side]} reference: "
                    f"the probe's evidence is limited by it (LLR {llr:.1f})"
                )
                return RunRequest(self.references[side], self._batch(drift, llr, 0), reason)
            if have == 0:
                weight = (self.graph.ancestors_of(commit) & self.region).bit_count()
                reason = f"bisect: {weight} of {self.region.bit_count()} candidates below (posterior {bad:.2f} bad)"
            else:
                reason = f"more samples: evidence ambiguous (LLR {llr:.1f})"
            return RunRequest(commit, self._batch(drift, llr, have), reason)

    def _update(self, evidence: Evidence) -> None:
        """Recompute the culprit posterior from every sample in the region."""
        graph = self.graph
        low_ref, high_ref = self.references
        probes = [
            sha for sha in graph.members(self.region) if sha not in self.references and evidence.clipped(sha).size
        ]
        self._samples = {sha: evidence.clipped(sha).size for sha in probes}
        self._reference_samples = (evidence.level(self.references[0]).size, evidence.level(self.references[1]).size)
        self._sides = {}
        if not probes:
            return
        rows = np.array([graph.index[sha] for sha in probes], dtype=int)
        bad_if = graph.reach[np.ix_(rows, self._candidates)].T
        stats = moments([evidence.clipped(sha) for sha in probes], evidence.center)
        low = np.array(moments([evidence.level(low_ref)], evidence.center))[:, 0]
        high = np.array(moments([evidence.level(high_ref)], evidence.center))[:, 0]
        self._posterior = np.exp(culprit_log_posterior(bad_if, stats, low, high))
        masses = self._posterior @ bad_if
        self._mass = {sha: float(m) for sha, m in zip(probes, masses, strict=True)}
        likeliest = bad_if[int(np.argmax(self._posterior))]
        self._sides = {sha: bool(side) for sha, side in zip(probes, likeliest, strict=True)}

    def _level_samples(self, commit: str) -> tuple[int, int]:
        """Samples at the good and the bad level under the likeliest culprit, ``commit``'s own left out."""
        low, high = self._reference_samples
        for sha, bad in self._sides.items():
            if sha != commit:
                low, high = (low, high + self._samples[sha]) if bad else (low + self._samples[sha], high)
        return low, high

    def _best_split(self) -> tuple[str, float] | None:
        """The testable commit whose ancestors hold posterior mass closest to one half, and that mass."""
        graph = self.graph
        testable = self.region & ~self.excluded
        for ref in self.references:
            if ref in graph.index:
                testable &= ~graph.bit(ref)
        rows = np.array([i for i in range(len(graph.order)) if testable >> i & 1], dtype=int)
        if rows.size == 0:
            return None
        masses = graph.reach[np.ix_(rows, self._candidates)] @ self._posterior
        score = np.minimum(masses, 1 - masses)
        best = int(np.argmax(score))  # the first in rev-list order (the newer commit) on a tie, as in git
        if score[best] < USEFUL_SPLIT * self.settings.culprit_error:
            return None
        return graph.order[int(rows[best])], float(masses[best])

    def _check_intermediate(
        self, evidence: Evidence, commit: str, low: Pool, high: Pool
    ) -> RunRequest | ProbeRecord | None:
        """Score the probe just sampled against an intermediate level; keep at it while that is plausible."""
        clipped = evidence.clipped(commit)
        if clipped.size == 0:
            return None
        sigma = evidence.noise.sigma
        bound = threshold(self.settings.error_rate)
        result = assess(clipped, low, high, sigma, bound=bound, mid_prior=self.mid_prior)
        if result.verdict is ProbeVerdict.INTERMEDIATE:
            record = ProbeRecord(commit, result.verdict, clipped.size, result.confidence, "intermediate level")
            self._special[commit] = record
            self._current = None
            self._done = True
            return record
        if result.mid_odds <= -MID_GUARD:
            return None
        if clipped.size >= self.settings.max_probe_samples:
            bound = threshold(self.settings.cap_error_rate)
            capped = assess(clipped, low, high, sigma, bound=bound, mid_prior=self.mid_prior)
            if capped.verdict is ProbeVerdict.INTERMEDIATE:
                reason = "intermediate level at the sample cap"
                record = ProbeRecord(commit, capped.verdict, clipped.size, capped.confidence, reason)
                self._special[commit] = record
                self._current = None
                self._done = True
                return record
            return None
        # an intermediate level lies about half the gap from either end: a quarter of the drift per sample
        expected = (result.mid_odds + MID_GUARD) / max(result.drift / 4, 1e-12)
        batch = self._sized(0.5 * expected, clipped.size)
        reason = f"more samples: level may lie between the ends (log-odds {result.mid_odds:+.1f})"
        return RunRequest(commit, batch, reason)

    def _set_aside(self, commit: str, verdict: ProbeVerdict, n: int, reason: str) -> None:
        self._special[commit] = ProbeRecord(commit, verdict, n, None, reason)
        self.excluded |= self.graph.bit(commit)
        if self._current == commit:
            self._current = None

    def _batch(self, drift: float, llr: float, have: int) -> int:
        """Samples to ask for: a share of those expected to settle the probe at ``drift`` nats per sample."""
        if drift <= 0 or not math.isfinite(drift):
            return self._sized(math.inf, have)
        expected = max(threshold(self.settings.culprit_error) - abs(llr), 0.0) / drift
        return self._sized((FIRST_BATCH_SHARE if have == 0 else 0.5) * expected, have)

    def _sized(self, wanted: float, have: int) -> int:
        room = self.settings.max_probe_samples - have
        wanted = min(wanted, float(self.settings.max_batch))
        floor = max(1, self.settings.min_probe_samples - have)
        return max(floor, min(math.ceil(wanted), self.settings.max_batch, room))


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))
