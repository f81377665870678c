"""Unit tests run without the network: a socket connected or bound in a unit test fails that test.

The refusal is an ``OSError`` (so the code under test closes its socket as it would for a dead
server), and the test fails at teardown even when that code swallows the error. Integration and
end-to-end tests (``tests/integration``, ``tests/e2e``) use real servers; a unit test that needs one
belongs there.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest


class SocketUsedInUnitTest(OSError):
    """A unit test reached for the network."""


@pytest.fixture(autouse=True)
def no_sockets(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    reached: list[str] = []

    def refuse(sock: socket.socket, address: Any, *_: Any) -> NoReturn:
        reached.append(repr(address))
        raise SocketUsedInUnitTest(f"a unit test opened a socket to {address!r}: move it to tests/integration")

    for method in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, method, refuse)
    yield reached
    if reached and not request.node.get_closest_marker("reaches_for_sockets"):
        pytest.fail(f"a unit test opened sockets to {', '.join(reached)}: move it to tests/integration")
