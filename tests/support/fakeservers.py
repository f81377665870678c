"""Local HTTP servers standing in for GitHub, GitLab and chat webhooks, recording what they receive.

A :class:`FakeService` answers the routes a test scripts (``on``) and records
every request; a request nobody scripted is answered 404 and kept in
``unexpected``, so a test can insist that a sender asked for nothing else.

    with FakeService() as github:
        github.on("GET", "/repos/o/r/commits/abc/pulls", Reply(200, []))
        ...  # point the sender at github.url
        assert github.unexpected == []
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from perfsheriff.notify import Change, CulpritCommit, Evidence, Message, compose


@dataclass(frozen=True)
class Reply:
    """A scripted answer: status, JSON body (``None``: empty), and a pause before answering (a hung service)."""

    status: int = 200
    body: Any = None
    delay: float = 0.0


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any


@dataclass
class FakeService:
    """A threaded HTTP server on 127.0.0.1; scripted replies per (method, path) are used in order, the last repeats."""

    routes: dict[tuple[str, str], list[Reply]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    unexpected: list[Recorded] = field(default_factory=list)

    def on(self, method: str, path: str, *replies: Reply) -> None:
        self.routes[(method, path)] = list(replies)

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if (r.method, r.path) == (method, path)]

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _answer(self, record: Recorded) -> Reply:
        self.requests.append(record)
        replies = self.routes.get((record.method, record.path))
        if not replies:
            self.unexpected.append(record)
            return Reply(404, {"message": "Not Found"})
        return replies.pop(0) if len(replies) > 1 else replies[0]


def _handler_for(service: FakeService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            record = Recorded(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                json.loads(raw) if raw else None,
            )
            reply = service._answer(record)
            if reply.delay:
                time.sleep(reply.delay)
            data = json.dumps(reply.body).encode() if reply.body is not None else b""
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = _handle

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the recorded requests are what tests look at."""

    return Handler


def culprit_message(email: str = "ada@example.org") -> Message:
    """The message for a typical summary: one commit that slowed two benchmarks down."""
    culprit = CulpritCommit("c" * 40, "Ada Lovelace", email, "Speed up the parser", 0.97, parent="b" * 40)
    changes = (
        Change("parse", "linux", "python=3.12", "regression", 0.18, 0.99, series_id="3fa2"),
        Change("render", "mac", "", "regression", 0.05, 0.9),
    )
    return compose(Evidence(42, "demo", "main", culprit, "a" * 40, "d" * 40, changes), base_url="https://perf.example")
