"""An HTTP/1.1 relay on 127.0.0.1 between a client and a live server that can stall or cut one kind of request.

Every request is relayed unchanged over a connection of its own to the
server, and every answer back, until a test arms a fault for requests whose
line starts with ``match`` (say ``POST /api/v1/runs``):

- ``hold``: the request is read whole and never forwarded (the client waits
  for an answer: "during the upload");
- ``answer-held``: forwarded, answered by the server, and the answer withheld
  from the client ("after the commit, before the acknowledgement");
- ``cut-after-answer``: forwarded and answered, then the client's connection
  is closed without the answer (a network cut after the commit);
- ``cut-mid-body``: the head and half the body are forwarded, then the relay
  waits for ``release`` and closes both connections (the test kills the
  server meanwhile: the server dies during the upload).

``seen`` is set when a matching request arrived, ``answered`` when the
server answered one (``answers`` keeps the statuses). A fault applies to
the next matching request only; later ones pass. Only what the API speaks
is understood: bodies with ``Content-Length``, no chunked encoding.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field
from typing import BinaryIO

_FAULTS = frozenset({"hold", "answer-held", "cut-after-answer", "cut-mid-body"})


@dataclass
class FaultProxy:
    upstream_port: int
    match: bytes = b"POST /api/v1/runs"
    fault: str | None = None
    seen: threading.Event = field(default_factory=threading.Event)
    answered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    answers: list[int] = field(default_factory=list)
    _listener: socket.socket = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def arm(self, fault: str) -> None:
        assert fault in _FAULTS, fault
        with self._lock:
            self.fault = fault
            self.seen.clear()
            self.answered.clear()
            self.release.clear()

    def close(self) -> None:
        self.release.set()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, contextlib.suppress(OSError):
            reader = client.makefile("rb")
            while (request := _read_message(reader)) is not None:
                fault = None
                if request.startswith(self.match):
                    with self._lock:
                        fault, self.fault = self.fault, None
                    self.seen.set()
                if not self._relay(client, request, fault):
                    return

    def _relay(self, client: socket.socket, request: bytes, fault: str | None) -> bool:
        """Forward one request and its answer; False when the client's connection is to be closed."""
        if fault == "hold":
            self.release.wait(120)
            return False
        with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=60) as upstream:
            if fault == "cut-mid-body":
                head, _, body = request.partition(b"\r\n\r\n")
                upstream.sendall(head + b"\r\n\r\n" + body[: len(body) // 2])
                self.release.wait(120)
                return False
            upstream.sendall(request)
            answer = _read_message(upstream.makefile("rb"))
        if answer is None:
            return False
        if request.startswith(self.match):
            self.answers.append(int(answer.split(b" ", 2)[1]))
            self.answered.set()
        if fault == "answer-held":
            self.release.wait(120)
            return False
        if fault == "cut-after-answer":
            return False
        client.sendall(answer)
        return True


def _read_message(reader: BinaryIO) -> bytes | None:
    """One HTTP message (head and body) from a buffered socket reader, or None at the end of the stream."""
    lines = []
    while True:
        line = reader.readline(65536)
        if not line:
            return None
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            break
    head = b"".join(lines)
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        assert name.strip().lower() != b"transfer-encoding", "chunked messages are not relayed"
    body = reader.read(length) if length else b""
    if length and len(body) < length:
        return None
    return head + body
