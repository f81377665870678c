"""A real ``perfsheriff serve`` (uvicorn) in a child process on 127.0.0.1, for API tests.

``start_server`` picks a free port, starts the server against the given database
URL and waits until ``/health`` answers. Tokens are created with the same
service code the ``token create`` command uses, against the same database.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from perfsheriff.model import Machine
from perfsheriff.roles import Role
from perfsheriff.service.access import tokens
from perfsheriff.store import database

SERVE = "from perfsheriff.cli.main import main; main()"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    db_url: str
    port: int
    workdir: Path
    log: Path
    args: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    created: list[str] = field(default_factory=list)

    def token(self, role: str, machine: str | None = None, machine_class: str | None = None) -> str:
        engine = database.create_engine(self.db_url)
        try:
            made = tokens.create_token(
                engine,
                Role(role),
                now=datetime.now(UTC),
                machine=Machine(machine, machine_class or "") if machine else None,
            )
        finally:
            engine.dispose()
        return made.secret

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", SERVE, *self.args],
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not answer within 30 s:\n{self.log.read_text()}")

    def peak_rss_bytes(self) -> int:
        """The server process's peak resident memory so far (VmHWM)."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024

    def send_chunked(self, method: str, path: str, chunks: Iterable[bytes], headers: dict[str, str]) -> int:
        """Send a chunked body (no Content-Length) over a raw socket and return the answer's status.

        The server may answer before it has read the body; a connection it closes meanwhile is no error.
        """
        head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", "Transfer-Encoding: chunked"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as sock:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            try:
                for chunk in chunks:
                    sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sock.sendall(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            answer = b""
            while b"\r\n" not in answer:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        return int(answer.split(b" ", 2)[1])

    def kill(self) -> None:
        """SIGKILL: the server dies at once, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def start_server(
    db_url: str,
    workdir: Path,
    *,
    config: Path | None = None,
    env: dict[str, str] | None = None,
    port: int | None = None,
    extra_args: tuple[str, ...] = (),
) -> LiveServer:
    """Start a server (the database must be migrated; SQLite files are migrated on first use)."""
    port = port or free_port()
    args = ["serve", "--port", str(port), "--db", db_url, "--log-level", "warning"]
    if config is not None:
        args += ["--config", str(config)]
    args += extra_args
    server = LiveServer(
        url=f"http://127.0.0.1:{port}",
        db_url=db_url,
        port=port,
        workdir=workdir,
        log=workdir / f"server-{port}.log",
        args=args,
        env={**os.environ, **(env or {})},
    )
    server.start()
    return server
