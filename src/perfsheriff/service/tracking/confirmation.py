"""Confirming candidate alerts: re-measure around the change, re-test it, then publish or close it.

Where perfsheriff runs the benchmarks itself (``track``, and ``track --queue``
through agents), a new step alert is stored as ``confirming``: it joins no
summary, so no queue, dashboard page or notification shows it. Then, within
the alert's run budget (:data:`BUDGET_SHARE` of ``runs_per_alert``; bisection
spends the rest):

1. the ends of its suspect range are retriggered to four runs each and the up
   to two push tips either side that were never measured are backfilled
   (:func:`perfsheriff.triage.confirmation.plan_confirmation`); with the job
   queue these are ``confirm`` jobs, and the pass waits for the agents' uploads;
2. the change is re-tested on the runs at the two ends (:func:`~perfsheriff.triage.confirmation.judge`);
   when that does not confirm it, a second round doubles the runs per end, or
   retriggers the ends of the place a push or two off where the window's runs
   show the change (:class:`~perfsheriff.triage.confirmation.ConfirmationPlanner`),
   and a change confirmed there moves the alert's range;
3. a **confirmed** alert (or an **unconfirmed** one, whose runs failed) joins a
   summary and goes on as every alert does: bisection, culprit, notification; a
   candidate that is **not reproduced** gets a summary of its own, closed as
   ``invalid`` at once, whose journal holds the data and the reason, and nobody
   is told. Either way the round of data collection is a note in the journal.

A pass interrupted meanwhile leaves the alert ``confirming``; the next pass
takes it up again, waits for the jobs still queued, and asks only for the runs
still missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from perfsheriff.alerts import AlertConfirmation, AlertKind
from perfsheriff.errors import InputError
from perfsheriff.model import Direction
from perfsheriff.projectfile import BenchmarkSpec
from perfsheriff.service.intake.ingest import Target
from perfsheriff.service.queue.jobs import JobReason
from perfsheriff.service.sheriffing.triage import SYSTEM, describe, summarize, system_transition
from perfsheriff.service.tracking.execute import Executor
from perfsheriff.store import alerts as alert_store
from perfsheriff.store import queries, records, runsinfo
from perfsheriff.store import triage as triage_store
from perfsheriff.triage import State
from perfsheriff.triage.confirmation import DEFAULT_POINTS, NEIGHBOURS, ConfirmationPlanner, Decision, Outcome, Prior
from perfsheriff.triage.confirmation import describe as describe_judgement

#: The share of an alert's run budget (``[budgets] runs_per_alert``) confirmation may spend; bisection has the rest.
BUDGET_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class ConfirmationReport:
    """What confirming one candidate did: its outcome, the runs it cost, the summary it is in now."""

    alert_id: int
    outcome: Outcome
    runs: int
    reason: str
    summary_id: int | None
    evidence: str

    def line(self) -> str:
        """``alert 3: 6 confirmation runs, confirmed: the new data shows the regression (+29.9 % ...)``."""
        shown = f" ({self.evidence})" if self.evidence else ""
        outcome = self.outcome.value.replace("-", " ")
        return f"alert {self.alert_id}: {self.runs} confirmation runs, {outcome}: {self.reason}{shown}"


@dataclass(frozen=True, slots=True)
class _Window:
    """The push tips around a candidate, oldest first: up to two before its last good revision, its two
    ends, up to two after its first bad one; ``split`` is the first bad one's index."""

    shas: tuple[str, ...]
    ids: tuple[int, ...]
    split: int


def confirmation_budget(runs_per_alert: int) -> int:
    """The runs confirmation may spend on one alert."""
    return max(1, int(runs_per_alert * BUDGET_SHARE))


@dataclass(frozen=True, slots=True)
class Confirmer:
    """Confirms the candidates of one branch measured on ``target``'s machine class and configuration."""

    engine: Engine
    executor: Executor
    target: Target
    specs: Mapping[str, BenchmarkSpec]  # run source ("benchmark NAME") -> the benchmark that gives it
    runs_per_alert: int
    points: int = DEFAULT_POINTS
    min_magnitude: float = 0.01

    def pending(self) -> list[alert_store.AlertRow]:
        """The candidates still waiting for confirmation here."""
        with self.engine.connect() as conn:
            waiting = AlertConfirmation.CONFIRMING
            found = alert_store.list_alerts(conn, confirmation=waiting, branch_id=self.target.branch_id)
        place = (self.target.machine.machine_class, str(self.target.configuration))
        return [a for a in found if (a.machine_class, a.configuration) == place]

    def confirm(self, alert: alert_store.AlertRow, now: datetime) -> ConfirmationReport:
        """Measure what the candidate lacks, round by round, re-test it, and publish or close it."""
        with self.engine.connect() as conn:
            spec = self.specs.get(runsinfo.source_of_series(conn, alert.series_id) or "")
        if spec is None:
            return self._conclude(alert, None, None, now)
        window = self._window(alert)
        regression = alert.kind is AlertKind.REGRESSION
        # The series' direction, read off the alert: a regression that raised the values means lower is better.
        raised = alert.relative_change > 0
        planner = ConfirmationPlanner(
            window.shas,
            window.split,
            budget=confirmation_budget(self.runs_per_alert),
            direction=Direction.LOWER_IS_BETTER if raised == regression else Direction.HIGHER_IS_BETTER,
            regression=regression,
            min_magnitude=self.min_magnitude,
            points=self.points,
            prior=prior_of(alert),
        )
        while not isinstance(step := planner.next_step(self._runs(alert.series_id, window)), Decision):
            self.executor.measure(self.target, spec, step.plan.revisions, reason=JobReason.CONFIRM)
        return self._conclude(alert, window, step, now)

    def _window(self, alert: alert_store.AlertRow) -> _Window:
        branch = self.target.branch_id
        with self.engine.connect() as conn:
            before = alert_store.first_parent_neighbours(
                conn, branch, alert.last_good_position, NEIGHBOURS, after=False
            )
            after = alert_store.first_parent_neighbours(conn, branch, alert.first_bad_position, NEIGHBOURS, after=True)
            ends = records.revision_ids(conn, self.target.project_id, [alert.last_good, alert.first_bad])
        tips = [
            *before[::-1],
            (ends[alert.last_good], alert.last_good),
            (ends[alert.first_bad], alert.first_bad),
            *after,
        ]
        return _Window(tuple(sha for _, sha in tips), tuple(rid for rid, _ in tips), len(before) + 1)

    def _runs(self, series_id: str, window: _Window) -> dict[str, list[float]]:
        """Each window revision's runs of the series (their medians)."""
        with self.engine.connect() as conn:
            runs = queries.run_medians(conn, series_id, list(window.ids))
        return {sha: runs.get(rid, []) for sha, rid in zip(window.shas, window.ids, strict=True)}

    def _conclude(
        self, alert: alert_store.AlertRow, window: _Window | None, decision: Decision | None, now: datetime
    ) -> ConfirmationReport:
        if window is None or decision is None:
            outcome, reason, evidence = Outcome.UNCONFIRMED, "its benchmark is no longer configured", ""
            record = _record(None, outcome, reason)
        else:
            judgement = decision.judgement
            outcome, reason, evidence = judgement.outcome, judgement.reason, describe_judgement(judgement)
            if decision.moved and outcome is Outcome.CONFIRMED:
                reason += self._move(alert, window, decision.split)
            record = _record(decision, outcome, reason)
        text = _note_text(record, outcome, reason, evidence)
        summary_id = (
            self._close(alert, record, text, now)
            if outcome is Outcome.NOT_REPRODUCED
            else self._publish(alert, record, text, outcome, now)
        )
        return ConfirmationReport(alert.id, outcome, int(record["runs"]), reason, summary_id, evidence)

    def _move(self, alert: alert_store.AlertRow, window: _Window, split: int) -> str:
        """Put the alert's range where the runs show the change; returns what the journal says of it."""
        good, bad = window.shas[split - 1], window.shas[split]
        with self.engine.begin() as conn:
            moved = alert_store.move_range(conn, alert.id, window.ids[split - 1], window.ids[split])
        if not moved:
            return f", between {good[:10]} and {bad[:10]} (another alert holds that range already)"
        was = f"{alert.last_good[:10]}..{alert.first_bad[:10]}"
        return f", between {good[:10]} and {bad[:10]}: the range moved there from {was}"

    def _publish(
        self, alert: alert_store.AlertRow, record: dict[str, Any], text: str, outcome: Outcome, now: datetime
    ) -> int | None:
        """The alert goes on as alerts do: into a summary (the queues see it now), then bisection."""
        with self.engine.begin() as conn:
            alert_store.set_confirmation(conn, alert.id, outcome.value, record, confidence=record.get("probability"))
        summarize(self.engine, [alert.id], now)
        with self.engine.begin() as conn:
            (fact,) = triage_store.alert_facts(conn, ids=[alert.id])
            if fact.summary_id is not None:
                details = {"alert": alert.id, "confirmation": record}
                note = f"confirmation of {describe(fact)}: {text}"
                triage_store.insert_note(
                    conn, fact.summary_id, who=SYSTEM, when=now, kind="data", text=note, details=details
                )
            return fact.summary_id

    def _close(self, alert: alert_store.AlertRow, record: dict[str, Any], text: str, now: datetime) -> int:
        """A summary of its own, closed at once, so the journal keeps the data and the reason; nobody is told."""
        with self.engine.begin() as conn:
            alert_store.set_confirmation(
                conn, alert.id, Outcome.NOT_REPRODUCED.value, record, confidence=record.get("probability")
            )
            (fact,) = triage_store.alert_facts(conn, ids=[alert.id])
            summary_id = triage_store.insert_summary(
                conn,
                project_id=fact.project_id,
                branch_id=fact.branch_id,
                drift=False,
                last_good=fact.last_good_position,
                first_bad=fact.first_bad_position,
                now=now,
            )
            triage_store.move_alerts(conn, to_summary=summary_id, alert_ids=[alert.id])
            details = {"alert": alert.id, "confirmation": record}
            note = f"confirmation of candidate {describe(fact)}: {text}"
            triage_store.insert_note(conn, summary_id, who=SYSTEM, when=now, kind="data", text=note, details=details)
            system_transition(
                conn, summary_id, State.INVALID, f"not reproduced: {record['reason']}", now=now, details=details
            )
        return summary_id


def prior_of(alert: alert_store.AlertRow) -> Prior | None:
    """What detection said of the candidate (its calibrated probability, change and the series' noise),
    or None for an alert that lacks it (then the rank test alone judges the runs)."""
    details = alert.details
    if details.get("method") != "changepoints":
        return None
    noise, before = details.get("noise"), details.get("before")
    if not isinstance(noise, int | float) or not isinstance(before, int | float) or before == 0:
        return None
    try:
        return Prior(float(alert.confidence), float(alert.relative_change), float(noise) / abs(float(before)))
    except InputError:
        return None


def _record(decision: Decision | None, outcome: Outcome, reason: str) -> dict[str, Any]:
    """What is kept on the alert (``details["confirmation"]``) and in the journal note's details."""
    plans = decision.plans if decision is not None else ()
    retriggered: dict[str, int] = {}
    for plan in plans:
        for sha, n in plan.retrigger:
            retriggered[sha] = retriggered.get(sha, 0) + n
    record: dict[str, Any] = {
        "outcome": outcome.value,
        "reason": reason,
        "runs": decision.runs if decision is not None else 0,
        "rounds": len(plans),
        "retriggered": retriggered,
        "backfilled": [sha for plan in plans for sha in plan.backfill],
        "trimmed_by_budget": plans[-1].trimmed if plans else 0,
        "method": "Hodges-Lehmann shift and Mann-Whitney test of the runs at the two ends (stats.compare)",
    }
    if decision is not None and decision.judgement.posterior is not None:
        record["method"] = (
            "Bayes factor of the runs' Hodges-Lehmann shift at the two ends, from the detector's probability"
            " (triage.confirmation.posterior)"
        )
        record |= {"probability_before": decision.judgement.prior, "probability": decision.judgement.posterior}
    if decision is not None:
        c = decision.judgement.comparison
        record |= {
            "verdict": c.verdict.value,
            "runs_before": c.n_base,
            "runs_after": c.n_head,
            "relative_change": c.relative_change,
            "ci_low": None if c.ci_low is None else c.ci_low - 1,
            "ci_high": None if c.ci_high is None else c.ci_high - 1,
            "p_value": c.p_value,
            "moved": decision.moved,
        }
    return record


def _note_text(record: Mapping[str, Any], outcome: Outcome, reason: str, evidence: str) -> str:
    """``6 runs in 1 round (retriggered 3 at abc, 3 at def; backfilled none); confirmed: ... (evidence)``."""
    asked = ", ".join(f"{n} at {sha[:10]}" for sha, n in record["retriggered"].items()) or "none"
    filled = ", ".join(sha[:10] for sha in record["backfilled"]) or "none"
    rounds = record["rounds"]
    ran = f"{record['runs']} runs in {rounds} round{'s' if rounds != 1 else ''}"
    ran += f" (retriggered {asked}; backfilled {filled})"
    if record["trimmed_by_budget"]:
        ran += f", {record['trimmed_by_budget']} more wanted beyond the budget"
    shown = f" ({evidence})" if evidence else ""
    return f"{ran}; {outcome.value.replace('-', ' ')}: {reason}{shown}"
