"""Triage: alert summaries, their states and journal, downstream and related detection, the sheriffs' queues.

Pure code (no database, network, git or clock: times are passed in); the
service layer loads summaries, calls these functions and stores the outcome.
See ``docs/triage.md``.
"""

from perfsheriff.alerts import AlertKind
from perfsheriff.triage.downstream import (
    Culprit,
    CulpritMatch,
    MatchKind,
    Related,
    RelatedReason,
    SummaryFacts,
    Upstream,
    find_related,
    find_upstream,
)
from perfsheriff.triage.grouping import (
    Alert,
    Grouping,
    NewSummary,
    OpenSummary,
    SuspectRange,
    group,
    partition,
)
from perfsheriff.triage.queues import Bisection, Queue, QueueEntry, code_queue, perf_queue, queue_of, sheriff_queue
from perfsheriff.triage.severity import alert_severity, doublings, severity, summary_severity
from perfsheriff.triage.states import (
    TRANSITIONS,
    InvalidTransition,
    Journal,
    Note,
    NoteKind,
    State,
    allowed_targets,
    append,
    comment,
    current_state,
    parse_state,
    transition,
)

__all__ = [
    "TRANSITIONS",
    "Alert",
    "AlertKind",
    "Bisection",
    "Culprit",
    "CulpritMatch",
    "Grouping",
    "InvalidTransition",
    "Journal",
    "MatchKind",
    "NewSummary",
    "Note",
    "NoteKind",
    "OpenSummary",
    "Queue",
    "QueueEntry",
    "Related",
    "RelatedReason",
    "State",
    "SummaryFacts",
    "SuspectRange",
    "Upstream",
    "alert_severity",
    "allowed_targets",
    "append",
    "code_queue",
    "comment",
    "current_state",
    "doublings",
    "find_related",
    "find_upstream",
    "group",
    "parse_state",
    "partition",
    "perf_queue",
    "queue_of",
    "severity",
    "sheriff_queue",
    "summary_severity",
    "transition",
]
