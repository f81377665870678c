"""SQLAlchemy tables of perfsheriff. Plain tables: no logic, no formatting.

(Past 400 lines on purpose: the whole schema, each table with what its columns mean, reads as one page.)

Volume design: a project like Firefox has tens of thousands of series and
millions of samples a month. Samples are therefore stored as one row per
(run, series) in ``samples``, holding every repetition as a packed
little-endian float64 array plus the aggregates most views need (n, median,
min, max). Reading one series' whole history is one index range scan on
``(series_id, revision_id)`` returning one short row per run, not one row per
repetition. Revisions are ordered along a branch by ``branch_revisions.position``.

Schema history (each step is an Alembic migration under ``migrations/versions``):
1. ``0001`` initial schema.
2. ``0002`` job queue with leases, API tokens, idempotency keys of uploads.
3. ``0003`` triage: summaries with a range, drift flag and upstream; notes with their states and kind;
   culprits on alerts; patch ids of revisions; the notification log.
4. ``0004`` tags of tracked branches; each series' drift since its newest release tag.
5. ``0005`` alerts' confirmation status (candidates perfsheriff re-measures before anyone sees them).
6. ``0006`` dashboard sessions (a server-side session per login, revocable).
7. ``0007`` who created an alert by hand (``alerts.created_by``; NULL for alerts perfsheriff found).
8. ``0008`` bisections in a table of their own (one per alert, resumable), moved out of ``alerts.details``.
9. ``0009`` routine runs first: queued jobs take their reason's new priority (no schema change).
10. ``0010`` machine generations: where a machine class was upgraded, and the baseline it asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so that migrations can refer to them on every database.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """A moment, stored as ``TIMESTAMP WITH TIME ZONE`` and always read back aware, in UTC.

    PostgreSQL keeps the moment and returns it in the session's time zone; SQLite keeps the text of the
    wall-clock time it is given and returns it naive. Written in UTC and read as UTC, both give the same
    value, so no caller has to repair naive datetimes. A naive datetime written is taken to be UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# BigInteger ids on PostgreSQL; SQLite needs INTEGER for its rowid alias.
Id = BigInteger().with_variant(Integer(), "sqlite")


def _id() -> Column[int]:
    return Column("id", Id, primary_key=True, autoincrement=True)


projects = Table(
    "projects",
    metadata,
    _id(),
    Column("name", String(200), nullable=False, unique=True),
    Column("repository", Text, nullable=False, default=""),
)

revisions = Table(
    "revisions",
    metadata,
    _id(),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("sha", String(40), nullable=False),
    Column("parents", Text, nullable=False),  # space-separated full shas, first parent first
    Column("author", Text, nullable=False),
    Column("author_email", Text, nullable=False),
    Column("time", UtcDateTime(), nullable=False),
    Column("message", Text, nullable=False),
    # ``git patch-id --stable`` (migration 0003), filled when triage first needs it: NULL not computed
    # yet, "" none (a merge or an empty commit). Recognises a culprit cherry-picked onto another branch.
    Column("patch_id", String(40), nullable=True),
    UniqueConstraint("project_id", "sha"),
)

branches = Table(
    "branches",
    metadata,
    _id(),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("tip_sha", String(40), nullable=True),  # last imported first-parent tip
    UniqueConstraint("project_id", "name"),
)

pushes = Table(
    "pushes",
    metadata,
    _id(),
    Column("branch_id", ForeignKey("branches.id", ondelete="CASCADE"), nullable=False),
    Column("tip_revision_id", ForeignKey("revisions.id", ondelete="CASCADE"), nullable=False),
    Column("base_sha", String(40), nullable=True),
    Column("position", Integer, nullable=False),  # order of the push on the branch
    UniqueConstraint("branch_id", "position"),
    UniqueConstraint("branch_id", "tip_revision_id"),
)

# Every commit that reached the branch, in push order: a roll-up's side commits sit
# just before its tip, so bisection results inside a push slot into the timeline.
branch_revisions = Table(
    "branch_revisions",
    metadata,
    Column("branch_id", ForeignKey("branches.id", ondelete="CASCADE"), primary_key=True),
    Column("revision_id", ForeignKey("revisions.id", ondelete="CASCADE"), primary_key=True),
    Column("push_id", ForeignKey("pushes.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("first_parent", Boolean, nullable=False),
    UniqueConstraint("branch_id", "position"),
)

machines = Table(
    "machines",
    metadata,
    _id(),
    Column("name", String(200), nullable=False, unique=True),
    Column("machine_class", String(200), nullable=False),
    Column("fingerprint", Text, nullable=False, default=""),
    Column("generation", Integer, nullable=False, default=1),
)

configurations = Table(
    "configurations",
    metadata,
    _id(),
    Column("canonical", Text, nullable=False, unique=True),  # "k=v,k=v" sorted by key
    Column("items", JSON, nullable=False),
)

benchmarks = Table(
    "benchmarks",
    metadata,
    _id(),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("suite", Text, nullable=False, default=""),
    Column("weight", Float, nullable=False, default=1.0),
    Column("tags", JSON, nullable=False, default=list),
    UniqueConstraint("project_id", "name"),
)

series = Table(
    "series",
    metadata,
    Column("id", String(16), primary_key=True),  # SeriesKey.id, a stable hash
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("branch_id", ForeignKey("branches.id", ondelete="CASCADE"), nullable=False),
    Column("benchmark_id", ForeignKey("benchmarks.id", ondelete="CASCADE"), nullable=False),
    Column("metric", String(200), nullable=False),
    Column("unit", String(100), nullable=False),
    Column("direction", String(20), nullable=False),
    Column("machine_class", String(200), nullable=False),
    Column("configuration_id", ForeignKey("configurations.id"), nullable=False),
    Index(None, "project_id", "benchmark_id"),
)

runs = Table(
    "runs",
    metadata,
    _id(),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("branch_id", ForeignKey("branches.id", ondelete="CASCADE"), nullable=False),
    Column("revision_id", ForeignKey("revisions.id", ondelete="CASCADE"), nullable=False),
    Column("machine_id", ForeignKey("machines.id"), nullable=False),
    Column("configuration_id", ForeignKey("configurations.id"), nullable=False),
    Column("status", String(10), nullable=False),  # RunStatus
    Column("format", String(40), nullable=True),
    Column("source", Text, nullable=False, default=""),  # file name or job reference
    Column("content_hash", String(64), nullable=True),  # sha256 of the uploaded bytes
    # An upload's Idempotency-Key (migration 0002): a retried upload finds its run instead of adding one.
    Column("idempotency_key", String(200), nullable=True, unique=True),
    Column("environment", JSON, nullable=False, default=dict),
    Column("error", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("revision_id", "machine_id", "configuration_id", "content_hash"),
    Index(None, "revision_id", "machine_id"),
)

samples = Table(
    "samples",
    metadata,
    _id(),
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("series_id", ForeignKey("series.id", ondelete="CASCADE"), nullable=False),
    Column("revision_id", ForeignKey("revisions.id", ondelete="CASCADE"), nullable=False, index=True),
    # The revision's place on the series' branch (branch_revisions.position), copied here so that
    # reading a series is one index range scan with no join and no sort.
    Column("position", Integer, nullable=False),
    # A run's repetitions are split into parts of at most VALUES_PER_PART values, so that a part fits
    # in an index entry; n, median, min and max describe the whole run and repeat on each part.
    Column("part", Integer, nullable=False, default=0),
    Column("n", Integer, nullable=False),
    Column("median", Float, nullable=False),
    Column("min", Float, nullable=False),
    Column("max", Float, nullable=False),
    Column("values", LargeBinary, nullable=False),  # this part's values, little-endian float64
    # Reading a series walks this index in order and finds every column it needs in the index itself,
    # so it never visits the table (a third of the time for a 10,000-revision series on PostgreSQL).
    # PostgreSQL limits an index entry to about 2.7 kB, hence the parts.
    Index("ix_samples_series_read", "series_id", "position", "id", "revision_id", "part", "values").ddl_if(
        dialect="sqlite"
    ),
    Index(
        "ix_samples_series_order", "series_id", "position", "id", postgresql_include=["revision_id", "part", "values"]
    ).ddl_if(dialect="postgresql"),
)

VALUES_PER_PART = 256

# Alert summaries (extended by migration 0003): alerts a sheriff looks at together, on one branch. The
# range is the hull of the alerts' suspect ranges in ``branch_revisions`` positions, ``(last_good,
# first_bad]``; ``state`` is the triage state (``perfsheriff.triage.State``), changed only through a
# compare-and-set that also appends a transition note.
alert_summaries = Table(
    "alert_summaries",
    metadata,
    _id(),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("branch_id", ForeignKey("branches.id", ondelete="CASCADE"), nullable=False),
    Column("state", String(20), nullable=False, default="untriaged"),
    Column("owner", Text, nullable=True),
    Column("bug_url", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("drift", Boolean, nullable=False, default=False),  # drift alerts group apart from steps
    Column("last_good_position", Integer, nullable=False),
    Column("first_bad_position", Integer, nullable=False),
    Column("culprit_sha", String(40), nullable=True),  # the culprit most of its alerts name, if any
    # The summary this one repeats on another branch (a merged or cherry-picked culprit).
    Column("upstream_summary_id", ForeignKey("alert_summaries.id", ondelete="SET NULL"), nullable=True),
    Index(None, "branch_id", "state"),
)

alerts = Table(
    "alerts",
    metadata,
    _id(),
    Column("series_id", ForeignKey("series.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("summary_id", ForeignKey("alert_summaries.id", ondelete="SET NULL"), nullable=True, index=True),
    Column("last_good_revision_id", ForeignKey("revisions.id"), nullable=False),
    Column("first_bad_revision_id", ForeignKey("revisions.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # regression | improvement | drift
    Column("relative_change", Float, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("details", JSON, nullable=False, default=dict),
    Column("created_at", UtcDateTime(), nullable=False),
    # What bisection named (migration 0003); the full record is the alert's row in ``bisections``.
    Column("culprit_revision_id", ForeignKey("revisions.id", ondelete="SET NULL"), nullable=True),
    Column("culprit_confidence", Float, nullable=True),
    # Confirmation (migration 0005): NULL for alerts nobody re-measures (uploads, ingest); else
    # ``confirming`` (a candidate, in no summary, seen by no one yet), ``confirmed`` or ``not-reproduced``.
    Column("confirmation", String(20), nullable=True),
    # Hand-made alerts (migration 0007): who created the alert for a change the detector did not report;
    # NULL for every alert perfsheriff found itself.
    Column("created_by", Text, nullable=True),
    UniqueConstraint("series_id", "first_bad_revision_id", "kind"),
)

# The search for an alert's culprit (migration 0008; ``perfsheriff.alerts.Bisection``): one row per alert,
# written ``running`` when it starts and updated after every step, so that a bisection a killed process
# left ``running`` is resumed by the next track pass. ``culprits`` and ``probes`` are JSON lists (shas, and
# {commit, verdict, n_samples, reason}); ``reused_from_alert_id``: the alert whose bisection this one shares.
bisections = Table(
    "bisections",
    metadata,
    Column("alert_id", ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True),
    Column("good", String(40), nullable=False),
    Column("bad", String(40), nullable=False),
    Column("state", String(20), nullable=False),  # running | culprit | two_culprits | not_reproduced | ...
    Column("range_size", Integer, nullable=False),
    Column("runs_spent", Integer, nullable=False),
    Column("culprits", JSON, nullable=False),
    Column("confidence", Float, nullable=True),
    Column("reason", Text, nullable=False),
    Column("probes", JSON, nullable=False),
    Column("reused_from_alert_id", ForeignKey("alerts.id", ondelete="SET NULL"), nullable=True),
    Column("started_at", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=True),
    Index(None, "state"),
)

# A summary's journal, append-only: every change of state (from_state -> to_state), comment, round of
# data collection and alert moved between summaries. Notes of 0002 and before have no states.
notes = Table(
    "notes",
    metadata,
    _id(),
    Column("summary_id", ForeignKey("alert_summaries.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("author", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("text", Text, nullable=False),
    Column("details", JSON, nullable=False, default=dict),
    Column("kind", String(20), nullable=False, default="comment"),  # transition | comment | data | reassign
    Column("from_state", String(20), nullable=True),
    Column("to_state", String(20), nullable=True),
)

# What was sent to a culprit's author (migration 0003): one row per de-duplication key (a summary and a
# channel), so a message goes out once per summary and channel and a failure stays visible.
notifications = Table(
    "notifications",
    metadata,
    _id(),
    Column("summary_id", ForeignKey("alert_summaries.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("channel", String(40), nullable=False),
    Column("key", String(200), nullable=False, unique=True),
    Column("outcome", String(20), nullable=False),  # sent | failed | suppressed
    Column("attempts", Integer, nullable=False, default=0),
    Column("reason", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

# The job queue (migration 0002): one benchmark at one revision on a machine class. Agents claim the
# highest-priority queued job of their class; a claim is a lease (an opaque token with an expiry) that
# the agent renews; a lease that expires puts the job back in the queue until ``max_attempts``.
_job_priority = Column("priority", Integer, nullable=False, default=0)  # JobReason's priority: routine first
jobs = Table(
    "jobs",
    metadata,
    _id(),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("branch_id", ForeignKey("branches.id", ondelete="CASCADE"), nullable=False),
    Column("revision_id", ForeignKey("revisions.id", ondelete="CASCADE"), nullable=False),
    Column("benchmark", Text, nullable=False),
    Column("spec", JSON, nullable=False),  # the benchmark's command, setup, format, timeout... when queued
    Column("machine_class", String(200), nullable=False),
    Column("configuration_id", ForeignKey("configurations.id"), nullable=False),
    Column("repetitions", Integer, nullable=False, default=1),
    Column("reason", String(20), nullable=False),  # JobReason
    _job_priority,
    Column("state", String(20), nullable=False, default="queued"),  # JobState
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False, default=3),
    Column("lease", String(64), nullable=True),
    Column("lease_expires_at", UtcDateTime(), nullable=True),
    Column("machine_id", ForeignKey("machines.id"), nullable=True),  # the machine of the latest claim
    Column("run_id", ForeignKey("runs.id", ondelete="SET NULL"), nullable=True),  # the run that answered it
    Column("error", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("claimed_at", UtcDateTime(), nullable=True),
    Column("finished_at", UtcDateTime(), nullable=True),
    # Claiming walks this index: queued jobs of one class, highest priority first, oldest first.
    Index("ix_jobs_claim", "machine_class", "state", _job_priority.desc(), "id"),
)

# API tokens (migration 0002). Only a SHA-256 of each token is stored: tokens are 256-bit random
# strings, so a fast hash is enough, and a stolen database yields no usable token.
tokens = Table(
    "tokens",
    metadata,
    _id(),
    Column("name", Text, nullable=False, default=""),
    Column("role", String(20), nullable=False),  # read | agent | sheriff | admin
    Column("machine_id", ForeignKey("machines.id", ondelete="CASCADE"), nullable=True),
    Column("hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("revoked_at", UtcDateTime(), nullable=True),
)

# Dashboard sessions (migration 0006): a login keeps a random session secret in its cookie, never the
# token itself; only its SHA-256 is stored. Logging out revokes the session; revoking the token ends it too.
sessions = Table(
    "sessions",
    metadata,
    _id(),
    Column("token_id", ForeignKey("tokens.id", ondelete="CASCADE"), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
)

# Tags of a project (migration 0004): read from git with the history, the tags merged into a tracked
# branch. A tag moved to another commit is updated in place.
tags = Table(
    "tags",
    metadata,
    _id(),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("revision_id", ForeignKey("revisions.id", ondelete="CASCADE"), nullable=False),
    UniqueConstraint("project_id", "name"),
)

# Each series' cumulative change since its branch's newest release tag (migration 0004), written by the
# detection pass and read by the overview ("T9872: +10 % since 9.0"). ``verdict`` is a stats.compare
# Verdict; the numbers are NULL when the data cannot tell (too few points since the tag).
release_drifts = Table(
    "release_drifts",
    metadata,
    Column("series_id", ForeignKey("series.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("verdict", String(20), nullable=False),
    Column("relative_change", Float, nullable=True),
    Column("ci_low", Float, nullable=True),
    Column("ci_high", Float, nullable=True),
    Column("points", Integer, nullable=False),  # revisions measured since the tag
    Column("computed_at", UtcDateTime(), nullable=False),
)

# Machine generations (migration 0010): a machine class's setups over time. The first generation of a class is
# implicit (no row); each upgrade adds a row, ``ordinal`` 2, 3, ... Runs of the class recorded (``runs.created_at``)
# at or after ``starts_at`` belong to that generation, earlier ones to the one before (``previous_label``).
# ``baseline_revisions``: how many revisions were queued to be measured again on the new generation.
machine_generations = Table(
    "machine_generations",
    metadata,
    _id(),
    Column("machine_class", String(200), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("label", String(200), nullable=False),
    Column("previous_label", String(200), nullable=False),
    Column("starts_at", UtcDateTime(), nullable=False),
    Column("baseline_revisions", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("machine_class", "ordinal"),
)
