"""The run's Redis, through the client the service builds."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from adapters.redis import create_redis


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    redis_client = create_redis(redis_url)
    try:
        yield redis_client
    finally:
        await redis_client.aclose()
