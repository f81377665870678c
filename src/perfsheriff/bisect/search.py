"""One bisection over a candidate set: git's split rule driven by the sequential test.

A :class:`Search` holds the candidate set, the known-bad tip and two
*references*: the commits whose samples define the low (good) and the high
(bad) level, the range's ends (or, after a split at an intermediate commit,
that commit). It picks the next commit by git's best-bisection rule
(:mod:`.dag`), asks for samples in batches sized by the expected evidence per
sample, tops a reference up when its precision limits the probe's evidence,
and applies each verdict of :func:`.evidence.assess` the way ``git bisect
good|bad|skip`` does. Classified probes do not join the references: a
sequential test stops early on samples that happen to lie far out, so their
means are biased away from the middle.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from perfsheriff.bisect.dag import CommitGraph, Split
from perfsheriff.bisect.evidence import Assessment, FloatArray, NoiseModel, Pool, ProbeVerdict, assess, threshold
from perfsheriff.bisect.protocol import BisectSettings, ProbeRecord, RunRequest

#: The first batch at a probe asks for this share of the samples expected to reach a verdict.
FIRST_BATCH_SHARE = 0.6
#: A reference (an end) is topped up while it has fewer than this many times the probe's samples:
#: its samples serve every probe, and the probe's evidence is limited by the reference's precision.
REFERENCE_SHARE = 2


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything observed, prepared once per step: log samples, failed attempts, noise model."""

    logs: Mapping[str, FloatArray]
    failed: Mapping[str, int]
    noise: NoiseModel

    def clipped(self, sha: str) -> FloatArray:
        return self.noise.clip(self.logs.get(sha, np.empty(0)))


class Search:
    """The state of one bisection; :meth:`step` advances it as far as the evidence allows."""

    def __init__(
        self,
        graph: CommitGraph,
        candidates: int,
        bad_tip: str,
        references: tuple[str, str],
        settings: BisectSettings,
        *,
        mid_prior: float = 0.0,
    ) -> None:
        self.graph = graph
        self.candidates = candidates
        self.bad_tip = bad_tip
        self.references = references
        self.settings = settings
        self.mid_prior = mid_prior
        self.excluded = 0
        self.records: list[ProbeRecord] = []
        self._probe: Split | None = None

    @property
    def culprit(self) -> str | None:
        """The first bad commit, once it is the only candidate left."""
        return self.bad_tip if self.candidates == self.graph.bit(self.bad_tip) else None

    @property
    def remaining(self) -> tuple[str, ...]:
        return self.graph.members(self.candidates)

    def step(self, evidence: Evidence) -> RunRequest | ProbeRecord | None:
        """Run the search until it needs a run (``RunRequest``), finds an intermediate commit
        (its ``ProbeRecord``; the caller splits the problem), or ends (``None``)."""
        while True:
            if self._probe is None:
                self._probe = self.graph.best_bisection(self.candidates, self.excluded, self.bad_tip)
                if self._probe is None:
                    return None
            outcome = self._probe_step(evidence, self._probe)
            if isinstance(outcome, RunRequest):
                return outcome
            self._apply(outcome)
            self._probe = None
            if outcome.verdict is ProbeVerdict.INTERMEDIATE:
                return outcome

    def pools(self, evidence: Evidence) -> tuple[Pool, Pool]:
        low, high = (Pool.of(evidence.clipped(sha)) for sha in self.references)
        return low, high

    def _probe_step(self, evidence: Evidence, split: Split) -> RunRequest | ProbeRecord:
        commit = split.commit
        clipped = evidence.clipped(commit)
        low, high = self.pools(evidence)
        if clipped.size == 0:
            if evidence.failed.get(commit, 0) > 0:
                return ProbeRecord(commit, ProbeVerdict.SKIPPED, 0, None, "skip: could not be built or run")
            drift = (high.mean - low.mean) ** 2 / (2 * evidence.noise.sigma**2)
            return RunRequest(commit, self._batch(drift, 0.0, 0), split.reason)
        bound = threshold(self.settings.error_rate)
        result = assess(clipped, low, high, evidence.noise.sigma, bound=bound, mid_prior=self.mid_prior)
        if result.verdict is not None:
            return _record(commit, clipped.size, result, f"LLR {result.llr:+.1f}")
        if clipped.size >= self.settings.max_probe_samples:
            return self._at_cap(commit, clipped, low, high, evidence.noise.sigma)
        n_pool, reference = min((low.n, 0), (high.n, 1))
        if REFERENCE_SHARE * clipped.size > n_pool:
            anchor = self.references[reference]
            side = ("good", "bad")[reference]
            reason = (
                f"more samples at the {side} reference: the probe's evidence is limited by it (LLR {result.llr:.1f})"
            )
            return RunRequest(anchor, self._batch(result.drift, result.llr, 0), reason)
        reason = f"more samples: evidence ambiguous (LLR {result.llr:.1f})"
        return RunRequest(commit, self._batch(result.drift, result.llr, clipped.size), reason)

    def _at_cap(self, commit: str, clipped: FloatArray, low: Pool, high: Pool, sigma: float) -> ProbeRecord:
        """At the cap on samples, accept a verdict at the looser error rate, or give up on the commit."""
        bound = threshold(self.settings.cap_error_rate)
        result = assess(clipped, low, high, sigma, bound=bound, mid_prior=self.mid_prior)
        if result.verdict is not None:
            return _record(commit, clipped.size, result, f"at the sample cap, LLR {result.llr:+.1f}")
        reason = f"ambiguous after {clipped.size} samples (LLR {result.llr:+.1f}): excluded like a skipped commit"
        return ProbeRecord(commit, ProbeVerdict.AMBIGUOUS, clipped.size, None, reason)

    def _batch(self, drift: float, llr: float, have: int) -> int:
        """Samples to ask for: a share of those expected to reach Wald's boundary at ``drift`` per sample."""
        room = self.settings.max_probe_samples - have
        if drift <= 0 or not math.isfinite(drift):
            return max(1, min(self.settings.max_batch, room))
        expected = max(threshold(self.settings.error_rate) - abs(llr), 0.0) / drift
        share = FIRST_BATCH_SHARE if have == 0 else 0.5
        return max(1, min(math.ceil(share * expected), self.settings.max_batch, room))

    def _apply(self, record: ProbeRecord) -> None:
        """Update the candidate set like ``git bisect good|bad|skip``."""
        self.records.append(record)
        if record.verdict is ProbeVerdict.GOOD:
            self.candidates &= ~self.graph.ancestors_of(record.commit)
        elif record.verdict is ProbeVerdict.BAD:
            self.candidates &= self.graph.ancestors_of(record.commit)
            self.bad_tip = record.commit
        elif record.verdict in (ProbeVerdict.SKIPPED, ProbeVerdict.AMBIGUOUS):
            self.excluded |= self.graph.bit(record.commit)

    def leftover_reason(self) -> str:
        """Why the search ended without a single culprit."""
        left = self.remaining
        ambiguous = {r.commit for r in self.records if r.verdict is ProbeVerdict.AMBIGUOUS} & set(left)
        what = "ambiguous" if ambiguous else "only unbuildable candidates left"
        shown = ", ".join(sha[:12] for sha in left[:8])
        return f"{what}: the culprit is one of {len(left)} commits ({shown})"


def _record(commit: str, n: int, result: Assessment, how: str) -> ProbeRecord:
    assert result.verdict is not None
    return ProbeRecord(commit, result.verdict, n, result.confidence, f"{result.verdict.value}: {how}")
