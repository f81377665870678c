"""Data for dashboard tests: a project's history uploaded over the API, detection run, and markup in the data.

``populate`` uploads one run per push tip (the ``work`` benchmark steps up at the
roll-up, as in ``test_api_triage``) plus a benchmark whose *name* is markup, then
appends a commit whose *subject* is markup and uploads a run for it, and runs
detection so that one alert and one summary exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from perfsheriff.service.analysis.detection import DetectionPolicy, detect_stored
from support.benchrepo import BASE_LEVEL, SLOW_LEVEL, BenchProject
from support.liveserver import LiveServer

EVIL_SUBJECT = '<script>window.pwned = "subject"</script><img src=x onerror="window.pwned=1"> tidy up'
EVIL_BENCHMARK = '<script>window.pwned = "benchmark"</script>parse'


@dataclass(frozen=True, slots=True)
class Populated:
    evil_commit: str
    alert_id: int
    tips: list[str]  # every revision with a run, oldest first


def run_body(revision: str, level: float, index: int) -> dict[str, object]:
    samples = [level * (1 + 0.002 * ((index + k) % 5 - 2)) for k in range(5)]
    results = [
        {"name": "work", "unit": "ms", "samples": samples},
        {"name": EVIL_BENCHMARK, "unit": "ms", "samples": [10.0 + 0.01 * ((index + k) % 3) for k in range(5)]},
    ]
    text = json.dumps({"format": "perfsheriff", "version": 1, "results": results})
    return {"project": "bench-project", "revision": revision, "machine": "box", "files": {"r.json": text}}


def populate(server: LiveServer, project: BenchProject, engine: Engine) -> Populated:
    evil = project.repo.commit(EVIL_SUBJECT + "\n\nA body with <b>markup</b> & more.", files={"late.txt": "x\n"})
    tips = [*project.tips, evil]
    agent = server.token("agent", machine="box", machine_class="test-class")
    with server.client(agent) as http:
        for index, tip in enumerate(tips):
            level = SLOW_LEVEL if index >= project.tips.index(project.rollup) else BASE_LEVEL
            answer = http.post("/api/v1/runs", json=run_body(tip, level, index))
            assert answer.status_code == 201, answer.text
    found = detect_stored(engine, DetectionPolicy(drift=None), now=datetime.now(UTC))
    (alert_id,) = found.new_alert_ids
    return Populated(evil, alert_id, tips)
