"""The values a caller exchanges with :class:`~perfsheriff.bisect.planner.BisectPlanner`.

The caller passes every :class:`Observation` so far and gets back either a
:class:`RunRequest` (run this commit that many times) or the final
:class:`BisectOutcome`. Every request and probe verdict carries a reason string
for the alert's journal.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from perfsheriff.bisect.evidence import ProbeVerdict
from perfsheriff.errors import ConfigError, InputError
from perfsheriff.stats.compare import CompareSettings


@dataclass(frozen=True, slots=True)
class Observation:
    """What is known about one commit: its samples (one per run) and its failed attempts.

    A failed attempt (build or benchmark error) with no sample marks the
    commit unbuildable: it is skipped like ``git bisect skip``. Samples must be
    finite and > 0, since the planner compares them as ratios.
    """

    samples: tuple[float, ...] = ()
    failed: int = 0

    def __post_init__(self) -> None:
        values = tuple(float(v) for v in self.samples)
        if not all(math.isfinite(v) and v > 0 for v in values):
            raise InputError("samples must be finite numbers > 0")
        if self.failed < 0:
            raise InputError("failed must be >= 0")
        object.__setattr__(self, "samples", values)

    @property
    def runs(self) -> int:
        """Executions reported: samples plus failed attempts."""
        return len(self.samples) + self.failed


@dataclass(frozen=True, slots=True)
class RunRequest:
    """Run ``commit`` ``repetitions`` more times (each run yields one sample), because of ``reason``.

    ``sequence``, when given, is every run to make, in this order: the probe interleaved with the ends
    (``G P P B B P P G``), so that neighbouring runs can be compared and a drifting machine cancels.
    ``repetitions`` then counts the runs of the whole sequence.
    """

    commit: str
    repetitions: int
    reason: str
    sequence: tuple[str, ...] = ()

    @property
    def runs(self) -> tuple[str, ...]:
        """The commits to run, one per run, in the order to run them."""
        return self.sequence[: self.repetitions] if self.sequence else (self.commit,) * self.repetitions


@dataclass(frozen=True, slots=True)
class ProbeRecord:
    """One decided probe: the commit, its verdict, the samples it took, the verdict's posterior probability."""

    commit: str
    verdict: ProbeVerdict
    n_samples: int
    confidence: float | None
    reason: str


class OutcomeKind(enum.StrEnum):
    CULPRIT = "culprit"
    TWO_CULPRITS = "two_culprits"
    NOT_REPRODUCED = "not_reproduced"  # the caller marks the alert invalid, with the reason as a note
    UNDECIDED = "undecided"  # budget exhausted, only unbuildable or ambiguous candidates left


@dataclass(frozen=True, slots=True)
class BisectOutcome:
    """The end of a bisection.

    ``culprits``: one commit (``culprit``), two, oldest step first
    (``two_culprits``), or those found before giving up (``undecided``).
    ``confidence``: the posterior probability of the named culprit set (one
    step at that commit, or two steps at those two), given every sample.
    ``candidates``: for ``undecided``, the commits that may still be the culprit.
    """

    kind: OutcomeKind
    culprits: tuple[str, ...]
    confidence: float | None
    runs_spent: int
    probes: tuple[ProbeRecord, ...]
    reason: str
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BisectSettings:
    """Budgets and error rates of a bisection.

    ``max_runs``: the run budget per alert (one run = one sample or failed attempt).
    ``confirm_samples`` / ``max_confirm_samples``: samples per end before the
    first / at the last confirmation test; ``confirm_batch``: samples added per
    ambiguous confirmation; ``confirm``: the two-sample comparison used to confirm.
    ``error_rate`` / ``cap_error_rate``: error rates of the single-probe sequential
    test (:func:`perfsheriff.bisect.evidence.assess`); the planner itself decides on
    the joint posterior and no longer reads them (kept so that settings stay valid).
    ``culprit_error``: the bisection stops once the most likely hypothesis (one
    culprit, or two) reaches posterior probability ``1 - culprit_error`` (the joint
    posterior given every sample, see :mod:`perfsheriff.bisect.posterior`).
    ``two_step_prior``: prior probability that the range holds two steps
    (0 disables two-culprit detection). ``max_batch``: the largest single request.
    ``min_probe_samples``: the fewest samples a probe is asked for, so that no verdict rests on one
    run: a single disturbed run (a busy machine, a cold cache) must not name a culprit.
    ``learn_noise_shape``: learn the noise's shape (a mixture of two normals: bimodal or heavy-tailed noise)
    from the samples and use it when it clearly fits better than one normal
    (:mod:`perfsheriff.bisect.noise_shape`); off keeps the normal model.
    """

    max_runs: int = 250
    confirm_samples: int = 6
    max_confirm_samples: int = 40
    confirm_batch: int = 4
    confirm: CompareSettings = field(
        default_factory=lambda: CompareSettings(alpha=0.05, equivalence_margin=0.01, min_magnitude=0.0)
    )
    error_rate: float = 0.005
    cap_error_rate: float = 0.05
    max_probe_samples: int = 30
    two_step_prior: float = 0.1
    max_batch: int = 8
    culprit_error: float = 0.02
    min_probe_samples: int = 2
    learn_noise_shape: bool = True

    def __post_init__(self) -> None:
        checks = (
            (self.max_runs >= 1, "max_runs must be at least 1"),
            (2 <= self.confirm_samples <= self.max_confirm_samples, "need 2 <= confirm_samples <= max_confirm_samples"),
            (self.confirm_batch >= 1, "confirm_batch must be at least 1"),
            (0 < self.error_rate <= self.cap_error_rate < 0.5, "need 0 < error_rate <= cap_error_rate < 0.5"),
            (self.max_probe_samples >= 1, "max_probe_samples must be at least 1"),
            (0 <= self.two_step_prior < 1, "two_step_prior must be in [0, 1)"),
            (self.max_batch >= 1, "max_batch must be at least 1"),
            (0 < self.culprit_error < 0.5, "culprit_error must be in (0, 0.5)"),
            (1 <= self.min_probe_samples <= self.max_probe_samples, "need 1 <= min_probe_samples <= max_probe_samples"),
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
