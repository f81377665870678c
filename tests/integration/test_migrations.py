"""Migrations on both databases: data of before carried over, ``alembic check`` clean, and back down again."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import Engine

from perfsheriff.alerts import Bisection, BisectionProbe, BisectionState
from perfsheriff.service.views.alert_json import alert_json
from perfsheriff.store import alerts as alert_store
from perfsheriff.store import bisections as bisection_store
from perfsheriff.store import database

POSTGRES_ADMIN_URL = os.environ.get("PERFSHERIFF_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# A project with a branch of three revisions, one series, an alert between positions 0 and 2 in a summary,
# and a note: what a 0002 database could hold.
LEGACY_ROWS = [
    "INSERT INTO projects (id, name, repository) VALUES (1, 'p', '')",
    "INSERT INTO branches (id, project_id, name) VALUES (1, 1, 'main')",
    *(
        f"INSERT INTO revisions (id, project_id, sha, parents, author, author_email, time, message) "
        f"VALUES ({i}, 1, '{str(i) * 40}', '', 'a', 'a@x', '2026-01-0{i} 00:00:00+00:00', 'm')"
        for i in (1, 2, 3)
    ),
    "INSERT INTO pushes (id, branch_id, tip_revision_id, position) VALUES (1, 1, 3, 0)",
    *(
        f"INSERT INTO branch_revisions (branch_id, revision_id, push_id, position, first_parent) "
        f"VALUES (1, {i}, 1, {i - 1}, true)"
        for i in (1, 2, 3)
    ),
    "INSERT INTO configurations (id, canonical, items) VALUES (1, '', '{}')",
    "INSERT INTO benchmarks (id, project_id, name, suite, weight, tags) VALUES (1, 1, 'b', '', 1.0, '[]')",
    "INSERT INTO series (id, project_id, branch_id, benchmark_id, metric, unit, direction, machine_class, "
    "configuration_id) VALUES ('s1', 1, 1, 1, 'time', 'ms', 'lower_is_better', 'c', 1)",
    "INSERT INTO alert_summaries (id, project_id, branch_id, state, created_at) "
    "VALUES (1, 1, 1, 'untriaged', '2026-01-04 00:00:00+00:00')",
    "INSERT INTO alerts (id, series_id, summary_id, last_good_revision_id, first_bad_revision_id, kind, "
    "relative_change, confidence, details, created_at) "
    "VALUES (1, 's1', 1, 1, 3, 'regression', 0.1, 0.99, '{}', '2026-01-04 00:00:00+00:00')",
    "INSERT INTO notes (id, summary_id, author, created_at, text, details) "
    "VALUES (1, 1, 'ada', '2026-01-04 00:00:00+00:00', 'looking', '{}')",
]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def blank(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of its own (the shared test databases are at head already)."""
    if request.param == "sqlite":
        engine = database.create_engine(f"sqlite:///{tmp_path / 'migrate.db'}")
        yield engine
        engine.dispose()
        return
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"perfsheriff_migrate_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and unreachable: {exc.orig}")
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}")
    engine = database.create_engine(admin.url.set(database=name).render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def downgrade(engine: Engine, revision: str) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(database.MIGRATIONS))
    config.attributes["engine"] = engine
    command.downgrade(config, revision)


def with_legacy_rows(blank: Engine) -> None:
    """Migrate to 0002 and store :data:`LEGACY_ROWS`."""
    database.upgrade(blank, "0002")
    with blank.begin() as conn:
        for statement in LEGACY_ROWS:
            conn.exec_driver_sql(statement)


def test_0003_to_0005_carry_0002_data_over_and_go_back_down(blank: Engine) -> None:
    with_legacy_rows(blank)
    database.upgrade(blank, "0003")
    assert database.current_revision(blank) == "0003"
    with blank.connect() as conn:
        summary = conn.exec_driver_sql(
            "SELECT last_good_position, first_bad_position, drift, updated_at IS NOT NULL, culprit_sha "
            "FROM alert_summaries"
        ).one()
        note = conn.exec_driver_sql("SELECT kind, from_state, to_state FROM notes").one()
        alert = conn.exec_driver_sql("SELECT summary_id, culprit_revision_id, culprit_confidence FROM alerts").one()
    assert tuple(summary) == (0, 2, False, True, None)  # the hull of its alert's range
    # SQLite rebuilds altered tables: nothing referring to them may cascade away meanwhile.
    assert tuple(note) == ("comment", None, None)
    assert tuple(alert) == (1, None, None)

    database.upgrade(blank, "0005")
    assert database.current_revision(blank) == "0005"
    with blank.connect() as conn:  # 0005: an alert of before was never subject to confirmation
        assert conn.exec_driver_sql("SELECT confirmation FROM alerts").scalar() is None
    downgrade(blank, "0004")
    with blank.connect() as conn:
        assert "confirmation" not in {c["name"] for c in sa.inspect(conn).get_columns("alerts")}
        assert conn.exec_driver_sql("SELECT summary_id FROM alerts").scalar() == 1
    with blank.begin() as conn:  # 0004 adds tags and the drift since a release tag, empty
        conn.exec_driver_sql("INSERT INTO tags (id, project_id, name, revision_id) VALUES (1, 1, 'v1.0', 1)")
        conn.exec_driver_sql(
            "INSERT INTO release_drifts (series_id, tag_id, verdict, points, computed_at) "
            "VALUES ('s1', 1, 'insufficient_data', 3, '2026-01-05 00:00:00+00:00')"
        )
    downgrade(blank, "0003")
    with blank.connect() as conn:
        assert not {"tags", "release_drifts"} & set(sa.inspect(conn).get_table_names())

    downgrade(blank, "0002")
    assert database.current_revision(blank) == "0002"
    with blank.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("alert_summaries")}
        assert "drift" not in columns
        assert "notifications" not in sa.inspect(conn).get_table_names()
        assert conn.exec_driver_sql("SELECT count(*) FROM notes").scalar() == 1
        assert conn.exec_driver_sql("SELECT summary_id FROM alerts").scalar() == 1
    database.upgrade(blank)
    database.check_models(blank)


def test_0006_adds_dashboard_sessions_and_goes_back_down(blank: Engine) -> None:
    database.upgrade(blank, "0006")
    assert database.current_revision(blank) == "0006"
    with blank.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO tokens (id, name, role, hash, created_at) VALUES (1, '', 'sheriff', 'h', '2026-01-05')"
        )
        conn.exec_driver_sql(
            "INSERT INTO sessions (token_id, hash, created_at, expires_at) VALUES (1, 's', '2026-01-05', '2026-01-12')"
        )
    downgrade(blank, "0005")
    with blank.connect() as conn:
        assert "sessions" not in sa.inspect(conn).get_table_names()
        assert conn.exec_driver_sql("SELECT count(*) FROM tokens").scalar() == 1
    database.upgrade(blank)
    database.check_models(blank)


def test_0007_records_who_made_an_alert_by_hand_and_goes_back_down(blank: Engine) -> None:
    with_legacy_rows(blank)
    database.upgrade(blank, "0007")
    assert database.current_revision(blank) == "0007"
    with blank.begin() as conn:  # an alert of before was found by perfsheriff: nobody made it by hand
        assert conn.exec_driver_sql("SELECT created_by FROM alerts").scalar() is None
        conn.exec_driver_sql(
            "INSERT INTO alerts (id, series_id, last_good_revision_id, first_bad_revision_id, kind, "
            "relative_change, confidence, details, created_at, created_by) "
            "VALUES (2, 's1', 1, 2, 'improvement', -0.1, 0.9, '{}', '2026-01-05 00:00:00+00:00', 'ada')"
        )
    downgrade(blank, "0006")
    with blank.connect() as conn:
        assert "created_by" not in {c["name"] for c in sa.inspect(conn).get_columns("alerts")}
        assert conn.exec_driver_sql("SELECT count(*) FROM alerts").scalar() == 2
        assert conn.exec_driver_sql("SELECT count(*) FROM notes").scalar() == 1  # nothing cascaded away
    database.upgrade(blank)
    database.check_models(blank)


# What a 0007 database holds after bisections: alert 1 bisected (a culprit), alert 2 sharing its bisection.
OLD_BISECTION = {
    "kind": "culprit",
    "culprits": ["2" * 40],
    "confidence": 0.97,
    "runs_spent": 14,
    "range_size": 2,
    "reason": "",
    "probes": [{"commit": "2" * 40, "verdict": "bad", "n_samples": 6, "reason": "like the bad end"}],
}


def test_0008_moves_bisections_out_of_alert_details_and_back(blank: Engine) -> None:
    with_legacy_rows(blank)
    database.upgrade(blank, "0007")
    shared = {**OLD_BISECTION, "runs_spent": 0, "reused_from_alert": 1}
    with blank.begin() as conn:
        alerts = sa.table("alerts", sa.column("id"), sa.column("details", sa.JSON))
        details = {"noise": 0.5, "confirmation": {"runs": 6}, "bisection": OLD_BISECTION}
        conn.execute(sa.update(alerts).where(alerts.c.id == 1).values(details=details))
        conn.exec_driver_sql(
            "INSERT INTO alerts (id, series_id, last_good_revision_id, first_bad_revision_id, kind, "
            "relative_change, confidence, details, created_at) "
            "VALUES (2, 's1', 1, 2, 'regression', 0.1, 0.9, '{}', '2026-01-05 00:00:00+00:00')"
        )
        conn.execute(sa.update(alerts).where(alerts.c.id == 2).values(details={"bisection": shared}))
        conn.exec_driver_sql(  # never bisected
            "INSERT INTO alerts (id, series_id, last_good_revision_id, first_bad_revision_id, kind, "
            "relative_change, confidence, details, created_at) "
            "VALUES (3, 's1', 2, 3, 'improvement', -0.1, 0.9, '{\"noise\": 1}', '2026-01-05 00:00:00+00:00')"
        )
    before = _alerts_json(blank)

    database.upgrade(blank)  # 0008, then 0009, which changes no table
    database.check_models(blank)
    with blank.connect() as conn:
        found = bisection_store.load(conn)
        rows = alert_store.list_alerts(conn)
    assert sorted(found) == [1, 2]
    assert found[1] == Bisection(
        1,
        "1" * 40,
        "3" * 40,
        BisectionState.CULPRIT,
        range_size=2,
        runs_spent=14,
        culprits=("2" * 40,),
        confidence=0.97,
        probes=(BisectionProbe("2" * 40, "bad", 6, "like the bad end"),),
    )
    assert (found[2].state, found[2].runs_spent, found[2].reused_from, found[2].bad) == ("culprit", 0, 1, "2" * 40)
    assert [r.details for r in rows] == [{"noise": 0.5, "confirmation": {"runs": 6}}, {}, {"noise": 1}]
    # What the CLI and the API show of each alert is what they showed before.
    assert _alerts_json(blank) == before

    downgrade(blank, "0007")
    with blank.connect() as conn:
        assert "bisections" not in sa.inspect(conn).get_table_names()
        moved_back = dict(conn.execute(sa.select(alerts.c.id, alerts.c.details)).all())
    assert moved_back[1] == {"noise": 0.5, "confirmation": {"runs": 6}, "bisection": OLD_BISECTION}
    assert moved_back[2] == {"bisection": shared}
    assert moved_back[3] == {"noise": 1}
    database.upgrade(blank)
    database.check_models(blank)


def _alerts_json(engine: Engine) -> list[dict[str, Any]]:
    """The stored alerts as ``perfsheriff alerts --json`` prints them; before 0008 the record was in the details."""
    with engine.connect() as conn:
        if "bisections" in sa.inspect(conn).get_table_names():
            return [{"id": j["id"], "details": j["details"]} for j in map(alert_json, alert_store.list_alerts(conn))]
        query = sa.text("SELECT id, details FROM alerts ORDER BY id")
        return [{"id": i, "details": json.loads(d) if isinstance(d, str) else d} for i, d in conn.execute(query)]


def test_0009_puts_queued_routine_runs_first_and_back(blank: Engine) -> None:
    with_legacy_rows(blank)
    database.upgrade(blank, "0008")
    with blank.begin() as conn:
        for i, (reason, priority) in enumerate((("bisect", 30), ("confirm", 25), ("backfill", 20), ("routine", 10))):
            conn.exec_driver_sql(
                "INSERT INTO jobs (id, project_id, branch_id, revision_id, benchmark, spec, machine_class, "
                "configuration_id, repetitions, reason, priority, state, attempts, max_attempts, created_at) "
                f"VALUES ({i + 1}, 1, 1, 1, 'b', '{{}}', 'c', 1, 1, '{reason}', {priority}, 'queued', 0, 3, "
                "'2026-01-05 00:00:00+00:00')"
            )
    jobs = sa.table("jobs", sa.column("reason"), sa.column("priority"))
    database.upgrade(blank, "0009")
    with blank.connect() as conn:
        assert dict(conn.execute(sa.select(jobs.c.reason, jobs.c.priority)).all()) == {
            "routine": 40,
            "confirm": 30,
            "backfill": 20,
            "bisect": 10,
        }
    downgrade(blank, "0008")
    with blank.connect() as conn:
        assert dict(conn.execute(sa.select(jobs.c.reason, jobs.c.priority)).all())["bisect"] == 30
    database.upgrade(blank)


def test_0010_adds_machine_generations_and_goes_back_down(blank: Engine) -> None:
    database.upgrade(blank, "0010")
    with blank.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO machine_generations (machine_class, ordinal, label, previous_label, starts_at, "
            "baseline_revisions, created_at) VALUES ('c', 2, 'new', 'old', '2026-01-05 00:00:00+00:00', 20, "
            "'2026-01-05 00:00:00+00:00')"
        )
        with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():  # one generation per ordinal and class
            conn.exec_driver_sql(
                "INSERT INTO machine_generations (machine_class, ordinal, label, previous_label, starts_at, "
                "baseline_revisions, created_at) VALUES ('c', 2, 'x', 'y', '2026-01-06', 20, '2026-01-06')"
            )
    downgrade(blank, "0009")
    with blank.connect() as conn:
        assert "machine_generations" not in sa.inspect(conn).get_table_names()
    database.upgrade(blank)
    database.check_models(blank)
