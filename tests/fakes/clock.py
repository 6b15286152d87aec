"""A clock that only moves when the test says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from application.common.ports import Clock

DEFAULT_START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


class FixedClock(Clock):
    def __init__(self, start: datetime = DEFAULT_START) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move forward by `delta` or by `timedelta(**parts)`; return the new time."""
        self._now += delta if delta is not None else timedelta(**parts)
        return self._now
