"""Settings: every one documented, environment overrides, bad values refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

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
