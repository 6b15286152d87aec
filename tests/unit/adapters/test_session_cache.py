"""CachedSessionDirectory: one read per session per TTL, either answer."""

from __future__ import annotations

from adapters.memory.session_cache import CachedSessionDirectory
from application.identity.ports import SessionDirectory


class CountingDirectory(SessionDirectory):
    def __init__(self, open_ids: set[str]) -> None:
        self.open_ids = open_ids
        self.reads: list[str] = []

    async def is_open(self, session_id: str) -> bool:
        self.reads.append(session_id)
        return session_id in self.open_ids


async def test_answers_are_remembered_for_the_ttl() -> None:
    now = [0.0]
    inner = CountingDirectory({"s-1"})
    cache = CachedSessionDirectory(inner, ttl_seconds=60, monotonic=lambda: now[0])
    assert await cache.is_open("s-1") is True
    assert await cache.is_open("s-1") is True
    assert await cache.is_open("ghost") is False
    assert await cache.is_open("ghost") is False
    assert inner.reads == ["s-1", "ghost"]
    now[0] = 61.0
    inner.open_ids.clear()
    assert await cache.is_open("s-1") is False
    assert inner.reads == ["s-1", "ghost", "s-1"]
