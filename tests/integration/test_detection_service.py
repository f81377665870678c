"""The detection pass and comparisons over a real database and a real git history."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import BenchmarkResult, Configuration, Machine, ResultSet
from perfsheriff.service.analysis import compare as compare_service
from perfsheriff.service.analysis.detection import DetectionPolicy, detect_stored, drift_reference
from perfsheriff.service.intake import ingest
from perfsheriff.service.views import dashboard
from perfsheriff.stats.changepoints import DetectionSettings
from perfsheriff.stats.compare import ComparisonVerdict
from perfsheriff.store import alerts as alert_store
from support.gitfixtures import Repo

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def build(engine: Engine, repo: Repo, levels: list[float], *, noise: float = 0.01, seed: int = 3) -> list[str]:
    """Commit once per level and store five samples around it at that commit."""
    rng = np.random.default_rng(seed)
    shas = []
    for index, level in enumerate(levels):
        sha = repo.commit(f"change {index}")
        shas.append(sha)
        store(engine, repo, sha, level * np.exp(noise * rng.standard_normal(5)))
    return shas


def store(engine: Engine, repo: Repo, sha: str, values: np.ndarray, run: str = "") -> None:
    target = ingest.prepare_target(
        engine,
        GitRepo(repo.path),
        revision=sha,
        machine=Machine("box"),
        configuration=Configuration.of({"os": "linux"}),
    )
    results = ResultSet("perfsheriff", (BenchmarkResult("parse", "ms", tuple(float(v) for v in values)),))
    with engine.begin() as conn:
        ingest.store_result_set(conn, target, results, source="test", content_hash=sha + run, now=NOW)


def all_alerts(engine: Engine) -> list[alert_store.AlertRow]:
    with engine.connect() as conn:
        return alert_store.list_alerts(conn)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo.init(tmp_path / "project")


def test_a_step_becomes_one_alert_with_its_suspect_range(engine: Engine, repo: Repo) -> None:
    shas = build(engine, repo, [10.0] * 30 + [12.0] * 30)
    report = detect_stored(engine, DetectionPolicy(), now=NOW)
    (alert,) = all_alerts(engine)
    assert report.new_alert_ids == [alert.id]
    assert alert.kind == "regression"
    assert (alert.last_good, alert.first_bad) == (shas[29], shas[30])
    assert alert.relative_change == pytest.approx(0.2, abs=0.02)
    assert alert.confidence > 0.999


def test_a_slow_creep_is_one_drift_alert_not_a_staircase_of_regressions(engine: Engine, repo: Repo) -> None:
    """60 empty commits that each add 0.5 % (1 % noise): one drift over the ramp, no commit blamed for a step."""
    shas = build(engine, repo, [100.0] * 40 + [100.0 * 1.005**i for i in range(60)])
    detect_stored(engine, DetectionPolicy(), now=NOW)
    (alert,) = all_alerts(engine)
    assert alert.kind == "drift"
    assert shas.index(alert.last_good) in range(34, 47)
    assert shas.index(alert.first_bad) >= 90
    assert alert.relative_change == pytest.approx(0.34, abs=0.06)
    assert 0.9 < alert.confidence <= 1.0
    assert detect_stored(engine, DetectionPolicy(), now=NOW).new_alert_ids == []


def test_an_alerts_suspect_range_is_where_its_change_may_be(engine: Engine, repo: Repo) -> None:
    """A small step in heavy noise: the suspect range widens to the credible interval around the estimate."""
    shas = build(engine, repo, [10.0] * 40 + [10.4] * 40, noise=0.02, seed=5)
    detect_stored(engine, DetectionPolicy(), now=NOW)
    (alert,) = all_alerts(engine)
    good, bad = shas.index(alert.last_good), shas.index(alert.first_bad)
    assert good < 40 <= bad
    assert 0.0 < alert.confidence < 1.0
    build(engine, repo, [10.4] * 20, noise=0.02, seed=6)
    assert detect_stored(engine, DetectionPolicy(), now=NOW).new_alert_ids == []


def test_detection_is_idempotent_and_stable_as_points_arrive(engine: Engine, repo: Repo) -> None:
    build(engine, repo, [10.0] * 30 + [12.0] * 30)
    detect_stored(engine, DetectionPolicy(), now=NOW)
    before = all_alerts(engine)
    assert detect_stored(engine, DetectionPolicy(), now=NOW).new_alert_ids == []
    build(engine, repo, [12.0] * 15, seed=9)
    assert detect_stored(engine, DetectionPolicy(), now=NOW).new_alert_ids == []
    assert all_alerts(engine) == before


def test_a_flat_series_raises_nothing(engine: Engine, repo: Repo) -> None:
    build(engine, repo, [10.0] * 40)
    report = detect_stored(engine, DetectionPolicy(), now=NOW)
    assert (report.series, report.new_alert_ids) == (1, [])


def test_slow_drift_raises_a_drift_alert_where_no_step_does(engine: Engine, repo: Repo) -> None:
    """A team alerting on steps of 5% or more still hears of 8% lost a little at a time."""
    levels = [10.0 * (1.002**i) for i in range(40)]  # +8% over 40 commits, 0.2% a commit
    build(engine, repo, levels)
    policy = DetectionPolicy(default=DetectionSettings(min_relative_change=0.05))
    detect_stored(engine, policy, now=NOW)
    (drift,) = all_alerts(engine)
    assert drift.kind == "drift"
    assert 0.05 < drift.relative_change < 0.11
    assert drift.details["ci_low"] > 1.0
    assert detect_stored(engine, policy, now=NOW).new_alert_ids == []


def test_compare_two_revisions(engine: Engine, repo: Repo) -> None:
    base = repo.commit("base")
    head = repo.commit("head")
    rng = np.random.default_rng(5)
    store(engine, repo, base, 10.0 * np.exp(0.01 * rng.standard_normal(10)))
    store(engine, repo, head, 11.0 * np.exp(0.01 * rng.standard_normal(10)))
    with engine.connect() as conn:
        result = compare_service.compare_revisions(conn, base[:8], head)
        swapped = compare_service.compare_revisions(conn, head, base)
    (row,) = result.rows
    assert row.comparison.verdict is ComparisonVerdict.REGRESSION
    assert row.comparison.ratio == pytest.approx(1.1, abs=0.02)
    assert swapped.rows[0].comparison.verdict is ComparisonVerdict.IMPROVEMENT


def test_drift_since_a_tag_or_a_date(engine: Engine, repo: Repo) -> None:
    """'T9872 has regressed by 10% since 9.0': drift measured from a named revision or a date."""
    levels = [10.0] * 20 + [10.0 * (1.003**i) for i in range(40)]  # flat, then +12% in 0.3% steps
    shas = build(engine, repo, levels)
    quiet = DetectionSettings(min_relative_change=0.2)  # no step alert: only drift can speak
    with engine.connect() as conn:
        by_sha = drift_reference(conn, shas[20][:10], None)
        by_date = drift_reference(conn, "2024-01-01T12:21:00+00:00", None)  # the 21st commit's minute
    assert by_sha == by_date == {("project", "main"): 20}
    detect_stored(engine, DetectionPolicy(default=quiet, drift_since=by_sha), now=NOW)
    (alert,) = all_alerts(engine)
    assert (alert.kind, alert.last_good) == ("drift", shas[20])
    assert 0.08 < alert.relative_change < 0.16
    assert detect_stored(engine, DetectionPolicy(default=quiet, drift_since=by_sha), now=NOW).new_alert_ids == []


def release_drift(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return dashboard.release_drifts(conn)


@pytest.mark.parametrize("horizon", [400, 12], ids=["tail-reaches-the-tag", "tag-before-the-tail"])
def test_drift_since_the_newest_release_tag_is_kept_per_series(engine: Engine, repo: Repo, horizon: int) -> None:
    """The overview's "+12 % since v1.1": steps included, measured from the newest tag that names a version."""
    build(engine, repo, [10.0] * 15)
    repo.tag("v1.0", message="release 1.0")  # annotated
    build(engine, repo, [9.0] * 5, seed=4)
    repo.tag("v1.1")  # lightweight, and newer: drift counts from here
    build(engine, repo, [9.0] * 12 + [10.1] * 20, seed=5)  # +12 % since v1.1, in one step
    repo.tag("nightly")  # not a release: no version in its name
    shas = build(engine, repo, [10.1] * 3, seed=6)
    policy = DetectionPolicy(horizon=horizon)
    detect_stored(engine, policy, now=NOW)
    (entry,) = release_drift(engine)
    assert (entry["tag"], entry["project"], entry["branch"]) == ("v1.1", "project", "main")
    assert entry["verdicts"] == {"regression": 1}
    (series,) = entry["drifted"]
    assert isinstance(series, dict)
    assert 0.10 < series["relative_change"] < 0.14
    assert series["ci_low"] > 0.05
    assert series["points"] == 36  # the tagged commit and the 35 after it
    # A later pass replaces the figure rather than adding one; a release tag on a newer commit moves the reference.
    repo.tag("v1.2", shas[0])
    build(engine, repo, [10.1] * 12, seed=7)
    detect_stored(engine, policy, now=NOW)
    (entry,) = release_drift(engine)
    assert entry["tag"] == "v1.2"
    assert entry["verdicts"] == {"no_change": 1}
    assert entry["drifted"] == []


def test_no_release_drift_without_a_release_tag_or_when_switched_off(engine: Engine, repo: Repo) -> None:
    build(engine, repo, [10.0] * 20)
    repo.tag("nightly")
    build(engine, repo, [10.0] * 5, seed=4)
    detect_stored(engine, DetectionPolicy(), now=NOW)
    assert release_drift(engine) == []
    repo.tag("2.0")
    build(engine, repo, [10.0] * 5, seed=5)
    detect_stored(engine, DetectionPolicy(release_tags=None), now=NOW)
    assert release_drift(engine) == []
    detect_stored(engine, DetectionPolicy(release_tags="^2"), now=NOW)
    assert [e["tag"] for e in release_drift(engine)] == ["2.0"]


def test_the_compare_page_sees_new_samples_at_either_revision(engine: Engine, repo: Repo) -> None:
    """The dashboard keeps recent comparisons; a run added at base or head makes it compare again."""
    base, head = repo.commit("base"), repo.commit("head")
    rng = np.random.default_rng(8)
    store(engine, repo, base, 10.0 * np.exp(0.01 * rng.standard_normal(6)))
    store(engine, repo, head, 10.0 * np.exp(0.01 * rng.standard_normal(6)))
    with engine.connect() as conn:
        first = dashboard.compare_view(conn, base, head)
        assert dashboard.compare_view(conn, base, head) is first  # nothing changed: the kept view
    store(engine, repo, head, 12.0 * np.exp(0.01 * rng.standard_normal(6)), run="-again")
    with engine.connect() as conn:
        again = dashboard.compare_view(conn, base, head)
    assert [row["n_head"] for row in first["series"]] == [6]
    assert [row["n_head"] for row in again["series"]] == [12]
