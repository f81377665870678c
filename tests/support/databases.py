"""Where the tests' PostgreSQL server is: set PERFSHERIFF_TEST_POSTGRES to use another."""

from __future__ import annotations

import os

POSTGRES_ADMIN_URL = os.environ.get("PERFSHERIFF_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
