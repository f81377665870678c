"""Bisect planning over the commit DAG: which commit to run next, how many times, and when to stop.

Pure code (no I/O, no git, no clock): the service layer drives a
:class:`BisectPlanner` with the samples it collects. See ``docs/bisection.md``.
"""

from perfsheriff.bisect.dag import CommitGraph, Split, SuspectRange
from perfsheriff.bisect.evidence import ProbeVerdict
from perfsheriff.bisect.planner import BisectPlanner
from perfsheriff.bisect.policy import AlertDescriptor, BisectionPlan, plan_bisections
from perfsheriff.bisect.protocol import (
    BisectOutcome,
    BisectSettings,
    Observation,
    OutcomeKind,
    ProbeRecord,
    RunRequest,
)

__all__ = [
    "AlertDescriptor",
    "BisectOutcome",
    "BisectPlanner",
    "BisectSettings",
    "BisectionPlan",
    "CommitGraph",
    "Observation",
    "OutcomeKind",
    "ProbeRecord",
    "ProbeVerdict",
    "RunRequest",
    "Split",
    "SuspectRange",
    "plan_bisections",
]
