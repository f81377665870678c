"""Telling a culprit's author: triage's summaries in, the ``[notify]`` channels out, the outcome logged.

When bisection records its outcome for an alert (``Tracker._record``),
:func:`notify_culprit` looks at the alert's summary: if it names a culprit
at least ``[notify] min_confidence`` surely, the message is composed from the
summary (:func:`perfsheriff.notify.compose`) and sent through every configured
channel (:func:`perfsheriff.notify.dispatch`) whose key the summary's
notification log does not hold as sent yet, so each summary reaches each
channel once. Every outcome goes into that log (``store.notifications``):
``sent``, ``failed`` with its reason, or ``suppressed`` when the rate limit
postponed it, which keeps failures visible beside the summary.

Postponed and failed deliveries of the project are tried again whenever
this runs, until a channel has failed ``GIVE_UP_AFTER`` times the configured
attempts for a summary. The rate limit is replayed from the log, so it holds
across passes and processes without a table of its own.

Nothing here raises into the caller: the culprit is committed before this
runs, and neither a dead channel nor a bug in composing may stop a track pass
(the one broad ``except`` below logs the traceback). Secrets are read from
the environment variables the configuration names, only when sending, and
never appear in the log or in a recorded reason.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.alerts import AlertKind
from perfsheriff.errors import PerfsheriffError
from perfsheriff.notify import (
    Change,
    Channel,
    ChannelResult,
    CulpritCommit,
    EmailChannel,
    Evidence,
    GitHubChannel,
    GitLabChannel,
    Message,
    Outcome,
    RateLimit,
    RetryPolicy,
    TokenBucket,
    WebhookChannel,
    compose,
    dedup_key,
    dispatch,
)
from perfsheriff.projectfile import Notify, ProjectFile
from perfsheriff.store import notifications as log
from perfsheriff.store import revisions, runsinfo, seriesinfo
from perfsheriff.store import triage as triage_store

logger = logging.getLogger(__name__)

#: A channel that failed this many times ``[notify] retries`` attempts for a summary is not tried again.
GIVE_UP_AFTER = 3
# A summary in one of these states needs no message: noise, the same change told on its original branch,
# or a summary merged into another.
_QUIET_STATES = frozenset({"invalid", "downstream", "reassigned"})


def notify_culprit(
    engine: Engine,
    summary_id: int,
    project_file: ProjectFile,
    *,
    now: datetime,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[ChannelResult]:
    """Tell the author of ``summary_id``'s culprit, and retry the project's pending deliveries; never raises.

    Returns what happened on each channel for each summary tried (duplicates included).
    ``environ`` holds the secrets the configuration names (default: the process environment).
    """
    if not project_file.notify.enabled:
        return []
    try:
        secrets = os.environ if environ is None else environ
        return _notify(engine, summary_id, project_file, now=now, environ=secrets, sleep=sleep)
    except Exception:  # the culprit is stored; notifying must never break detection or triage
        logger.exception("notify: telling the author of summary %s's culprit failed", summary_id)
        return []


def retry_pending(
    engine: Engine,
    project_id: int,
    project_file: ProjectFile,
    *,
    now: datetime,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[ChannelResult]:
    """Try again the project's deliveries that failed or were postponed (each track pass); never raises."""
    if not project_file.notify.enabled:
        return []
    try:
        with engine.connect() as conn:
            targets = pending(conn, project_id)
        secrets = os.environ if environ is None else environ
        return _send_all(engine, project_file, project_id, targets, now=now, environ=secrets, sleep=sleep)
    except Exception:  # a pass must go on whatever the channels do
        logger.exception("notify: retrying pending deliveries of project %s failed", project_id)
        return []


def _notify(
    engine: Engine,
    summary_id: int,
    project_file: ProjectFile,
    *,
    now: datetime,
    environ: Mapping[str, str],
    sleep: Callable[[float], None],
) -> list[ChannelResult]:
    with engine.connect() as conn:
        found = triage_store.summaries(conn, ids=[summary_id])
        if not found:
            return []
        project_id = found[0].project_id
        targets = [summary_id, *(s for s in pending(conn, project_id) if s != summary_id)]
    return _send_all(engine, project_file, project_id, targets, now=now, environ=environ, sleep=sleep)


def _send_all(
    engine: Engine,
    project_file: ProjectFile,
    project_id: int,
    targets: list[int],
    *,
    now: datetime,
    environ: Mapping[str, str],
    sleep: Callable[[float], None],
) -> list[ChannelResult]:
    sender = _Sender(engine, project_file, project_id, environ, sleep)
    results: list[ChannelResult] = []
    for target in targets:
        try:
            results += sender.send(target, now)
        except Exception:  # one summary's trouble must not keep the others' authors uninformed
            logger.exception("notify: telling the author of summary %s's culprit failed", target)
    return results


class _Sender:
    """Sends one project's messages: its channels, rate limit and retries, built once per call."""

    def __init__(
        self,
        engine: Engine,
        project_file: ProjectFile,
        project_id: int,
        environ: Mapping[str, str],
        sleep: Callable[[float], None],
    ) -> None:
        settings = project_file.notify
        self.engine, self.project_file, self.project_id, self.sleep = engine, project_file, project_id, sleep
        self.channels, self.broken = build_channels(settings, environ)
        self.limit = RateLimit(settings.burst, settings.per_hour)
        self.retry = RetryPolicy(attempts=settings.retries)

    def send(self, summary_id: int, now: datetime) -> list[ChannelResult]:
        """Tell the author of ``summary_id``'s culprit through every channel not yet done; log the outcomes."""
        problem = None
        with self.engine.connect() as conn:
            sent_before = log.sent_keys(conn, summary_id)
            history = log.attempts(conn, summary_id)
            buckets = _buckets(conn, self.project_id, self.limit, now)
            try:
                message = self.message(conn, summary_id)
            except PerfsheriffError as err:  # data no message can be made of: a failure to show, not to raise
                message, problem = None, f"the message could not be composed: {err}"
        if message is None and problem is None:
            return []
        give_up = GIVE_UP_AFTER * self.retry.attempts
        done = sent_before | {k for k, (outcome, n) in history.items() if outcome == "failed" and n >= give_up}
        results: list[ChannelResult] = []
        failures = self.broken
        if message is not None:
            results += self._dispatch(message, done, buckets, now)
        else:
            failures = [
                (name, str(problem)) for name in [*(c.name for c in self.channels), *(n for n, _ in self.broken)]
            ]
        results += [
            ChannelResult(name, dedup_key(summary_id, name), Outcome.FAILED, 0, reason)
            for name, reason in failures
            if dedup_key(summary_id, name) not in done
        ]
        _record(self.engine, summary_id, results, history, now)
        return results

    def _dispatch(
        self, message: Message, done: set[str], buckets: dict[str, TokenBucket], now: datetime
    ) -> tuple[ChannelResult, ...]:
        sent = dispatch(
            message,
            self.channels,
            now=now,
            already_sent=done,
            buckets=buckets,
            limit=self.limit,
            retry=self.retry,
            sleep=self.sleep,
        )
        return sent.results

    def message(self, conn: sa.Connection, summary_id: int) -> Message | None:
        """The message for the summary, or None when it has nothing to tell."""
        evidence = gather_evidence(conn, summary_id, self.project_file)
        return compose(evidence, base_url=self.project_file.notify.base_url) if evidence is not None else None


def build_channels(settings: Notify, environ: Mapping[str, str]) -> tuple[list[Channel], list[tuple[str, str]]]:
    """The configured senders, and (name, reason) for those that cannot send: a secret's variable is not set.

    Reasons name the variable, never its value.
    """
    channels: list[Channel] = []
    broken: list[tuple[str, str]] = []

    def secret(name: str, variable: str) -> str | None:
        value = environ.get(variable, "").strip()
        if not value:
            broken.append((name, f"{name}: the environment variable {variable} is not set"))
            return None
        return value

    if settings.github is not None and (token := secret("github", settings.github.token_env)):
        github = settings.github
        channels.append(GitHubChannel(token=token, owner=github.owner, repo=github.repo, base_url=github.api_url))
    if settings.gitlab is not None and (token := secret("gitlab", settings.gitlab.token_env)):
        channels.append(GitLabChannel(token=token, project=settings.gitlab.project, base_url=settings.gitlab.url))
    for hook in settings.webhooks:
        url = hook.url if hook.url is not None else secret(hook.name, hook.url_env or "")
        bearer = secret(hook.name, hook.token_env) if hook.token_env else None
        if url and (bearer or not hook.token_env):
            channels.append(WebhookChannel(url=url, token=bearer, name=hook.name))
    if settings.email is not None:
        mail = settings.email
        password = secret("email", mail.password_env) if mail.username is not None else None
        if mail.username is None or password:
            channels.append(
                EmailChannel(
                    host=mail.host,
                    port=mail.port,
                    sender=mail.sender,
                    username=mail.username,
                    password=password,
                    starttls=mail.starttls,
                    recipients=mail.recipients,
                )
            )
    return channels, broken


def deliveries(conn: sa.Connection, summary_id: int) -> list[dict[str, object]]:
    """The summary's notification log for display: each channel, its outcome, attempts, reason and when."""
    return [
        {"channel": c, "outcome": o, "attempts": a, "reason": r, "when": w.isoformat()}
        for c, o, a, r, w in log.deliveries(conn, summary_id)
    ]


def pending(conn: sa.Connection, project_id: int) -> list[int]:
    """Summaries of the project with a delivery that failed or was postponed: to try again."""
    return log.pending(conn, project_id)


def gather_evidence(conn: sa.Connection, summary_id: int, project_file: ProjectFile) -> Evidence | None:
    """What the message says about a summary, or None when it has nothing to tell (yet).

    Nothing to tell: no culprit, a culprit named less surely than
    ``min_confidence``, or a state that needs no message (invalid, downstream,
    merged away). The changes are the summary's alerts that name this culprit
    or none (bisection budgets leave some alerts unbisected); an alert that
    names another culprit belongs to another author's message.
    """
    found = triage_store.summaries(conn, ids=[summary_id])
    if not found or found[0].culprit_sha is None or found[0].state in _QUIET_STATES:
        return None
    row, sha = found[0], found[0].culprit_sha
    members = triage_store.alert_facts(conn, summary_ids=[summary_id])
    confidence = max((m.culprit_confidence or 0.0 for m in members if m.culprit == sha), default=0.0)
    if confidence < project_file.notify.min_confidence:
        return None
    facts = triage_store.revision_facts(conn, row.project_id, shas=[sha]).get(sha)
    ends = triage_store.shas_at(conn, row.branch_id, [row.last_good_position, row.first_bad_position])
    if facts is None or len(ends) < 2:
        return None
    culprit = CulpritCommit(
        sha,
        facts.author,
        facts.author_email,
        facts.subject,
        min(confidence, 1.0),
        revisions.first_parent(conn, facts.id),
    )
    changes = tuple(_change(conn, m, project_file) for m in members if m.culprit in (None, sha))
    last_good, first_bad = ends[row.last_good_position], ends[row.first_bad_position]
    return Evidence(summary_id, row.project, row.branch, culprit, last_good, first_bad, changes)


def _change(conn: sa.Connection, alert: triage_store.AlertFacts, project_file: ProjectFile) -> Change:
    """One alert as the message lists it; ``configured_as`` is the ``[[benchmarks]]`` entry that measured it."""
    metric = seriesinfo.metric_of(conn, alert.series_id)
    source = runsinfo.source_of_series(conn, alert.series_id) or ""
    configured = {f"benchmark {spec.name}": spec.name for spec in project_file.benchmarks}.get(source)
    return Change(
        alert.benchmark,
        alert.machine_class,
        alert.configuration,
        AlertKind(alert.kind),
        alert.relative_change,
        min(max(alert.confidence, 0.0), 1.0),
        metric=metric or "time",
        series_id=alert.series_id,
        configured_as=configured,
    )


def _buckets(conn: sa.Connection, project_id: int, limit: RateLimit, now: datetime) -> dict[str, TokenBucket]:
    """Each channel's rate-limit bucket, replayed from the deliveries the log holds for the project.

    A bucket refills completely within ``burst / per_hour`` hours, so only
    attempts inside that window matter; the bucket is taken as full at its start.
    A logged delivery made when the bucket was empty (another process) empties it.
    """
    window = timedelta(hours=limit.burst / limit.per_hour)
    start = now - window
    buckets: dict[str, TokenBucket] = {}
    for channel, moment in log.deliveries_since(conn, project_id, start):
        bucket = buckets.get(channel) or TokenBucket.full(limit, start)
        taken = bucket.take(moment)
        buckets[channel] = taken or dataclasses.replace(bucket.refilled(moment), tokens=0.0)
    return buckets


def _record(
    engine: Engine,
    summary_id: int,
    results: Sequence[ChannelResult],
    history: Mapping[str, tuple[str, int]],
    now: datetime,
) -> None:
    """Log every outcome but duplicates; attempts add up over passes, so a dead channel is given up in time."""
    with engine.begin() as conn:
        for r in results:
            if r.outcome is Outcome.DUPLICATE:
                continue
            before = history.get(r.key, ("", 0))[1]
            outcome: log.Outcome = "suppressed"  # rate-limited: postponed to a later pass
            if r.outcome is not Outcome.RATE_LIMITED:
                outcome = "sent" if r.outcome is Outcome.SENT else "failed"
            log.record(conn, summary_id, r.channel, r.key, outcome, before + r.attempts, r.reason or None, now)
