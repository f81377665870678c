"""Write the server's OpenAPI description to ``docs/openapi.json``, the reviewed snapshot of the HTTP API.

    .venv/bin/python scripts/write_openapi.py           # after changing a route or a model of perfsheriff.wire

``tests/unit/test_openapi.py`` fails while the snapshot differs from what the server
serves; review the diff of ``docs/openapi.json`` like code: a removed or changed
field breaks clients of ``/api/v1``.
"""

from __future__ import annotations

import json
from pathlib import Path

from perfsheriff.server import openapi_description

SNAPSHOT = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


def render(description: dict[str, object]) -> str:
    return json.dumps(description, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    SNAPSHOT.write_text(render(openapi_description()))
    print(f"wrote {SNAPSHOT}")
