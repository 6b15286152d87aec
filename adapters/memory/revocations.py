"""Revoked session ids kept in process memory (embedded mode, one replica)."""

from __future__ import annotations

from application.common.ports import Clock
from application.identity.ports import SessionRevocations

SWEEP_EVERY = 1024


class MemorySessionRevocations(SessionRevocations):
    """Each revocation is remembered until its TTL (the longest a token of it could live)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._revokes_since_sweep = 0

    async def revoke(self, session_ids: list[str], ttl_seconds: int) -> None:
        now = self._now()
        until = now + max(1, ttl_seconds)
        for session_id in session_ids:
            self._expiry[session_id] = max(until, self._expiry.get(session_id, until))
        self._revokes_since_sweep += len(session_ids)
        if self._revokes_since_sweep >= SWEEP_EVERY:
            self._revokes_since_sweep = 0
            self._expiry = {sid: end for sid, end in self._expiry.items() if end > now}

    async def is_revoked(self, session_id: str) -> bool:
        until = self._expiry.get(session_id)
        if until is None:
            return False
        if self._now() >= until:
            del self._expiry[session_id]
            return False
        return True

    def _now(self) -> float:
        return self._clock.now().timestamp()
