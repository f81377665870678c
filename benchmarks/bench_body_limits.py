"""Measure what an anonymous (or unauthorised) request can make a real server allocate.

Goal (issue: hardening): anonymous requests cannot make the server allocate more than twice the
configured body limit. The script starts ``perfsheriff serve`` on an SQLite file with the default
``max_request_bytes`` (64 MiB), sends 60 MiB bodies of ``{"x":[{},{},...]}`` (each three bytes a
dict once parsed) as chunked requests, and prints each answer's status and the growth of the server's
peak resident memory (VmHWM). An agent's upload is read (it may be as large as the limit) but refused
before it is parsed, since it holds millions of JSON objects outside its strings.

    .venv/bin/python benchmarks/bench_body_limits.py
    .venv/bin/python benchmarks/bench_body_limits.py --mib 20
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx

from perfsheriff.config import Settings
from perfsheriff.model import Machine
from perfsheriff.roles import Role
from perfsheriff.service.access import tokens
from perfsheriff.store import database

SERVE = "from perfsheriff.cli.main import main; main()"
MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc")


def objects(total: int) -> Iterator[bytes]:
    yield b'{"x":['
    chunk = b"{}," * (MIB // 3)
    for _ in range(total // len(chunk)):
        yield chunk
    yield b"{}]}"


def send_chunked(port: int, path: str, total: int, headers: dict[str, str]) -> int:
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Transfer-Encoding: chunked"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        try:
            for chunk in objects(total):
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=60, help="the body's size in MiB (default 60)")
    args = parser.parse_args()
    limit = Settings().max_request_bytes
    with tempfile.TemporaryDirectory(prefix="perfsheriff-bench-limits-") as folder:
        url = f"sqlite:///{Path(folder) / 'perfsheriff.db'}"
        engine = database.create_engine(url)
        database.upgrade(engine)
        reader = tokens.create_token(engine, Role.READ, now=datetime.now(UTC)).secret
        agent = tokens.create_token(
            engine, Role.AGENT, now=datetime.now(UTC), machine=Machine("bench-1", "bench-class")
        ).secret
        engine.dispose()
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-c", SERVE, "serve", "--port", str(port), "--db", url, "--log-level", "warning"],
            cwd=folder,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            goal = 2 * limit / MIB
            print(f"body limit {limit / MIB:.0f} MiB; each body {args.mib} MiB, chunked; goal: growth < {goal:.0f} MiB")
            json_type = {"Content-Type": "application/json"}
            cases = [
                ("anonymous POST /api/v1/runs", "/api/v1/runs", json_type),
                ("anonymous POST /api/v1/tokens", "/api/v1/tokens", json_type),
                ("read token POST /api/v1/runs", "/api/v1/runs", json_type | {"Authorization": f"Bearer {reader}"}),
                ("anonymous POST /login (form)", "/login", {"Content-Type": "application/x-www-form-urlencoded"}),
                ("agent token POST /api/v1/runs", "/api/v1/runs", json_type | {"Authorization": f"Bearer {agent}"}),
            ]
            for label, path, headers in cases:
                before = peak_rss(server.pid)
                started = time.perf_counter()
                status = send_chunked(port, path, args.mib * MIB, headers)
                elapsed = time.perf_counter() - started
                grown = peak_rss(server.pid) - before
                print(f"{label:32} -> {status}  peak RSS +{grown / MIB:7.1f} MiB  ({elapsed:.2f} s)")
            print(f"server peak RSS at the end: {peak_rss(server.pid) / MIB:.0f} MiB")
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
