"""The answer of ``GET /api/v1/stats``: how well the sheriffing works, per project and broken down."""

from __future__ import annotations

from pydantic import Field

from perfsheriff.wire.values import Answer, Timestamp


class Figures(Answer):
    """What a group of alerts says about the sheriffing (``docs/triage.md``, *How well the sheriffing works*)."""

    alerts: int = Field(description="alerts raised in the period (candidates still being confirmed left out)")
    kinds: dict[str, int] = Field(description="alerts by kind: regression, improvement, drift")
    not_reproduced: int = Field(description="candidates confirmation closed as not reproduced (never shown)")
    states: dict[str, int] = Field(description="shown alerts by the triage state of their summary")
    valid: int = Field(description="alerts in a summary judged a real change")
    invalid: int = Field(description="alerts in a summary judged invalid")
    precision: float | None = Field(description="valid / (valid + invalid); null: nothing judged")
    median_hours_to_triage: float | None = Field(description="alert created -> first state change by a sheriff")
    median_hours_to_culprit: float | None = Field(description="alert created -> bisection named a culprit")
    confirmation_runs: int
    bisection_runs: int
    runs_per_alert: float | None


class NamedFigures(Figures):
    name: str = Field(description="the suite, benchmark or machine class")


class NoisyBenchmark(Answer):
    benchmark: str
    invalid: int


class ProjectStats(Answer):
    project: str
    overall: Figures
    by_suite: list[NamedFigures]
    by_benchmark: list[NamedFigures]
    by_machine_class: list[NamedFigures]
    notifications: dict[str, int] = Field(description="notification log rows by outcome: sent, failed, suppressed")
    noisiest: list[NoisyBenchmark] = Field(description="the 10 benchmarks with the most invalid alerts")


class SheriffingStats(Answer):
    since: Timestamp
    until: Timestamp
    projects: list[ProjectStats]
