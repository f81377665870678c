"""The app for ``perfsheriff serve --workers N``: each uvicorn worker process builds its own.

uvicorn starts workers by importing an app factory, so what ``serve`` was told
travels in the environment: the database URL as ``PERFSHERIFF_DATABASE_URL``
(a normal setting) and the project configuration's path as
``PERFSHERIFF_SERVE_CONFIG``. The parent process has migrated the database and
registered the project before the workers start.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from perfsheriff import projectfile
from perfsheriff.api.app import create_app
from perfsheriff.config import load_settings
from perfsheriff.service.database import open_engine

CONFIG_VARIABLE = "PERFSHERIFF_SERVE_CONFIG"


def app_from_environment() -> FastAPI:
    settings = load_settings()
    config = os.environ.get(CONFIG_VARIABLE)
    project_file = projectfile.load(Path(config)) if config else None
    return create_app(open_engine(settings.resolved_database_url(Path.cwd())), settings, project_file)
