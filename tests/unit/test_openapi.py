"""The HTTP API as reviewed: the OpenAPI snapshot in docs/, and the endpoint table of docs/api.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

from perfsheriff.server import openapi_description

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "docs" / "openapi.json"
API_DOC = ROOT / "docs" / "api.md"


def test_the_openapi_description_is_the_reviewed_snapshot() -> None:
    served = json.loads(json.dumps(openapi_description()))
    assert served == json.loads(SNAPSHOT.read_text()), (
        "the server's OpenAPI description differs from docs/openapi.json: run "
        "`.venv/bin/python scripts/write_openapi.py` and review the diff"
    )


def _normalised(path: str) -> str:
    """A path without its query, each parameter written ``{}`` (the table says ``{id}``, a route ``{job_id}``)."""
    return re.sub(r"\{[^}]*\}", "{}", path.split("?", 1)[0])


def documented_endpoints() -> set[tuple[str, str]]:
    """(method, path) of each code span in the first column of the Endpoints table."""
    section = API_DOC.read_text().split("\n## Endpoints\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    found = set()
    for row in rows:
        first_cell = row.split(" | ", 1)[0]
        for span in re.findall(r"`([^`]+)`", first_cell):
            method, path = span.split(" ", 1)
            found.add((method, _normalised(path)))
    return found


def served_endpoints() -> set[tuple[str, str]]:
    """(method, path) of every route of the API, as the server describes them (the dashboard's pages are not)."""
    paths = openapi_description()["paths"]
    return {(method.upper(), _normalised(path)) for path, operations in paths.items() for method in operations}


def test_the_endpoint_table_lists_every_route_and_only_routes() -> None:
    documented, served = documented_endpoints(), served_endpoints()
    assert len(served) >= 20
    assert served - documented == set(), "routes missing from docs/api.md's Endpoints table"
    assert documented - served == set(), "docs/api.md's Endpoints table names what the server does not serve"


def test_every_json_answer_is_a_model_of_the_wire() -> None:
    description = openapi_description()
    schemas = description["components"]["schemas"]
    untyped = []
    for path, operations in description["paths"].items():
        for method, operation in operations.items():
            success = next(v for k, v in operation["responses"].items() if k.startswith("2"))
            schema = success.get("content", {}).get("application/json", {}).get("schema", {})
            name = schema.get("$ref", "").rsplit("/", 1)[-1]
            if path != "/metrics" and name not in schemas:
                untyped.append(f"{method.upper()} {path}")
    assert untyped == []
