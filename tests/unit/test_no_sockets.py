"""The unit tests' guard: a socket connected or bound inside a unit test fails it (tests/unit/conftest.py)."""

from __future__ import annotations

import socket

import httpx
import pytest

# These tests reach for the network on purpose, to see the guard refuse; the marker spares them the failure.
pytestmark = pytest.mark.reaches_for_sockets


@pytest.mark.parametrize("method", ["connect", "bind"])
def test_a_socket_in_a_unit_test_is_refused_and_recorded(method: str, no_sockets: list[str]) -> None:
    refused = pytest.raises(OSError, match="move it to tests/integration")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, refused:
        getattr(sock, method)(("127.0.0.1", 0))
    assert no_sockets == ["('127.0.0.1', 0)"]


def test_an_http_client_that_swallows_the_refusal_is_still_caught(no_sockets: list[str]) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get("http://127.0.0.1:9/", timeout=1)
    assert no_sockets, "the guard must record the attempt, so the test fails at teardown"
