"""One typed settings object, built once at start-up (environment overrides defaults).

Every setting has a default and a description; ``perfsheriff settings`` lists
them, and a test checks that each one is documented in ``docs/settings.md``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, PositiveInt
from pydantic_settings import BaseSettings, SettingsConfigDict

from perfsheriff.database_location import default_url


class Settings(BaseSettings):
    """perfsheriff's settings; each can be set as ``PERFSHERIFF_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="PERFSHERIFF_", frozen=True, extra="forbid")

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database; default: an SQLite file .perfsheriff/perfsheriff.db "
        "under the current folder. PostgreSQL: postgresql+psycopg://user@host/db.",
    )
    max_result_bytes: int = Field(
        default=256 * 1024 * 1024,
        gt=0,
        description="Largest result file (or directory of files) accepted by ingest, in bytes.",
    )
    max_request_bytes: int = Field(
        default=64 * 1024 * 1024,
        gt=0,
        description="Largest request body the server accepts, in bytes; larger uploads get 413.",
    )
    public_read: bool = Field(
        default=True,
        description="Whether the server answers read requests without a token; false: every request needs one.",
    )

    run_budgets: dict[str, PositiveInt] = Field(
        default_factory=dict,
        description="Runs a day that automation (confirmation retriggers, backfills, bisections) may take per "
        'machine class, as JSON: {"linux-perf": 200, "*": 1000}; "*" covers every class not named. Routine runs '
        "of new pushes are never held back; other work waits while a class's budget is spent. Default: no limit.",
    )

    api_docs: bool = Field(
        default=False,
        description="Whether the server serves Swagger UI at /docs. Its script and style come from the jsDelivr "
        "CDN (a pinned version, without an integrity hash), so it is off by default; /openapi.json is always "
        "served.",
    )

    def resolved_database_url(self, cwd: Path) -> str:
        """The configured URL, or the embedded default: an SQLite file under ``cwd/.perfsheriff``."""
        return self.database_url or default_url(cwd)


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment; explicit ``overrides`` (CLI options) win."""
    given = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**given)  # type: ignore[arg-type]
