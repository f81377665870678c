"""Settings: every one documented, environment overrides, bad values refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from perfsheriff import database_location
from perfsheriff.config import Settings, load_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_every_setting_is_documented_with_its_variable() -> None:
    text = DOCS.read_text()
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"
        assert f"`{name}`" in text, f"setting {name} missing from docs/settings.md"
        assert f"`PERFSHERIFF_{name.upper()}`" in text


def test_environment_overrides_and_explicit_values_win(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PERFSHERIFF_DATABASE_URL", "sqlite:///from-env.db")
    assert load_settings().database_url == "sqlite:///from-env.db"
    assert load_settings(database_url="sqlite:///explicit.db").database_url == "sqlite:///explicit.db"
    monkeypatch.delenv("PERFSHERIFF_DATABASE_URL")
    assert load_settings().resolved_database_url(tmp_path).endswith("/.perfsheriff/perfsheriff.db")


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERFSHERIFF_MAX_RESULT_BYTES", "0")
    with pytest.raises(ValidationError):
        load_settings()


def test_the_list_of_settings_beside_the_database_url_is_complete() -> None:
    assert set(Settings.model_fields) == database_location.SETTINGS


@pytest.mark.parametrize(
    ("given", "environment"),
    [
        (None, {}),
        ("sqlite:///given.db", {}),
        ("", {}),
        (None, {"PERFSHERIFF_DATABASE_URL": "sqlite:///from-env.db"}),
        (None, {"perfsheriff_Database_URL": "sqlite:///any-case.db"}),
        (None, {"PERFSHERIFF_DATABASE_URL": ""}),
        ("sqlite:///given.db", {"PERFSHERIFF_DATABASE_URL": "sqlite:///from-env.db"}),
        (None, {"PERFSHERIFF_TOKEN": "not a setting", "PERFSHERIFF_DATABASE_URLS": "nor this"}),
    ],
)
def test_the_database_url_is_read_as_the_settings_read_it(
    given: str | None, environment: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key in [key for key in os.environ if key.upper().startswith("PERFSHERIFF_")]:
        monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    expected = load_settings(database_url=given).resolved_database_url(tmp_path)
    assert database_location.database_url(given, tmp_path, os.environ) == expected


@pytest.mark.parametrize(
    "environment",
    [
        {"PERFSHERIFF_MAX_RESULT_BYTES": "0"},  # Settings refuses it: the caller must build them to say so
        {"perfsheriff_public_read": "true", "PERFSHERIFF_DATABASE_URL": "sqlite:///x.db"},
        {"PERFSHERIFF_DATABASE_URL": "sqlite:///a.db", "perfsheriff_database_url": "sqlite:///b.db"},
    ],
)
def test_the_settings_decide_when_the_environment_sets_more(environment: dict[str, str], tmp_path: Path) -> None:
    assert database_location.database_url(None, tmp_path, environment) is None
