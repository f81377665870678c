"""A real repository whose every commit is measured and stored as ingest stores it, found by the real detection pass."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import BenchmarkResult, Configuration, Machine, ResultSet
from perfsheriff.service.analysis.detection import DetectionPolicy, detect_stored
from perfsheriff.service.intake import ingest
from perfsheriff.service.sheriffing import sensitivity, summaries
from perfsheriff.service.sheriffing import triage as triage_service
from perfsheriff.stats.changepoints import DetectionSettings
from perfsheriff.store import alerts as alert_store
from perfsheriff.store import schema as t
from perfsheriff.triage.sensitivity import Sensitivity
from support.gitfixtures import Repo

NOW = datetime(2026, 3, 1, tzinfo=UTC)
# A team alerting on changes of 5 % or more; drift is left out (it has its own test and threshold).
POLICY = DetectionPolicy(default=DetectionSettings(min_relative_change=0.05), drift=None)


class Project:
    """A real repository whose every commit is measured for ``parse`` and ``render`` (5 samples, 1 % noise)."""

    def __init__(self, engine: Engine, path: Path) -> None:
        self.engine, self.repo = engine, Repo.init(path)
        self.rng = np.random.default_rng(11)

    def measure(self, count: int, *, parse: float, render: float) -> list[str]:
        """Commit and measure ``count`` revisions at these levels; returns their shas."""
        shas = []
        for _ in range(count):
            sha = self.repo.commit(f"change {self.rng.integers(1 << 30)}")
            shas.append(sha)
            target = ingest.prepare_target(
                self.engine,
                GitRepo(self.repo.path),
                revision=sha,
                machine=Machine("box"),
                configuration=Configuration.of({}),
            )
            results = tuple(
                BenchmarkResult(name, "ms", tuple(float(v) for v in level * np.exp(0.01 * self.rng.standard_normal(5))))
                for name, level in (("parse", parse), ("render", render))
            )
            with self.engine.begin() as conn:
                ingest.store_result_set(
                    conn, target, ResultSet("perfsheriff", results), source="t", content_hash=sha, now=NOW
                )
        return shas

    def detect(self, policy: DetectionPolicy = POLICY) -> list[alert_store.AlertRow]:
        new = detect_stored(self.engine, policy, now=NOW).new_alert_ids
        with self.engine.connect() as conn:
            return alert_store.list_alerts(conn, ids=new) if new else []

    def decide(self, alert: alert_store.AlertRow, state: str) -> dict[str, object]:
        with self.engine.connect() as conn:
            summary_id = conn.execute(sa.select(t.alerts.c.summary_id).where(t.alerts.c.id == alert.id)).scalar_one()
        triage_service.transition(self.engine, summary_id, state, who="sheriff", text="looked at it", now=NOW)
        with self.engine.connect() as conn:
            return summaries.summary_detail(conn, summary_id)

    def learnt(self, series_id: str) -> Sensitivity:
        with self.engine.connect() as conn:
            return sensitivity.learnt(conn).get(series_id, Sensitivity())
