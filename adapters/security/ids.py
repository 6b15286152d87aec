"""Time-ordered UUIDv7 identifiers."""

from __future__ import annotations

import secrets
import time
import uuid

from application.common.ports import IdGenerator


class UuidGenerator(IdGenerator):
    """Canonical 36-character UUIDv7 strings (RFC 9562).

    Version 7 ids start with the creation time in milliseconds, so new rows land at the end of
    B-tree indexes and ids sort roughly by age, while 74 random bits keep them unguessable.
    """

    def new_id(self) -> str:
        return str(uuid7())


def uuid7() -> uuid.UUID:
    """A UUIDv7; Python gains `uuid.uuid7` only in 3.14."""
    unix_ms = time.time_ns() // 1_000_000
    rand_a = secrets.randbits(12)
    rand_b = secrets.randbits(62)
    value = (unix_ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version
    value |= rand_a << 64
    value |= 0b10 << 62  # RFC 9562 variant
    value |= rand_b
    return uuid.UUID(int=value)
