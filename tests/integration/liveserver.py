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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from perfsheriff.model import Machine
from perfsheriff.service import tokens
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
                tokens.Role(role),
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
