"""The API's short memory of valid tokens never outlives a token's own expiry or a revocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from perfsheriff.api import auth
from perfsheriff.roles import Role
from perfsheriff.service.access.tokens import TokenInfo

NOW = datetime.now(UTC)


def token(expires_at: datetime | None = None) -> TokenInfo:
    return TokenInfo(1, "ci", Role.AGENT, "box", NOW - timedelta(days=1), expires_at, None)


def test_a_remembered_token_is_returned_until_cleared() -> None:
    cache = auth.TokenCache()
    cache.put("k", token())
    assert cache.get("k") == token()
    cache.clear()
    assert cache.get("k") is None


def test_an_expired_token_is_not_returned_from_memory() -> None:
    cache = auth.TokenCache()
    cache.put("k", token(expires_at=NOW - timedelta(seconds=1)))
    assert cache.get("k") is None


def test_memory_lasts_only_the_configured_seconds() -> None:
    clock = [1000.0]
    cache = auth.TokenCache(clock=lambda: clock[0])
    cache.put("k", token())
    clock[0] += auth.TOKEN_CACHE_S - 0.1
    assert cache.get("k") is not None
    clock[0] += 0.2
    assert cache.get("k") is None
