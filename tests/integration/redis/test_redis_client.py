"""The shared Redis client: timeouts that need no task per command."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Coroutine, Generator
from typing import Any

import pytest
from redis.asyncio import Redis

pytestmark = pytest.mark.integration


async def test_commands_start_no_task_of_their_own(client: Redis, redis_prefix: str) -> None:
    """redis-py's send timeout (`asyncio.wait_for`) started a task per command on 3.11."""
    loop = asyncio.get_running_loop()
    started: list[str] = []
    previous = loop.get_task_factory()

    def counting(
        loop: asyncio.AbstractEventLoop,
        coro: Coroutine[Any, Any, Any] | Generator[Any, None, Any],
        **kwargs: Any,
    ) -> asyncio.Future[Any]:
        started.append(getattr(coro, "__qualname__", repr(coro)))
        return asyncio.Task(coro, loop=loop, **kwargs)

    key = f"{redis_prefix}client-test:{secrets.token_hex(4)}"
    try:
        await client.ping()  # connect outside the count
        loop.set_task_factory(counting)
        for n in range(50):
            await client.set(key, str(n), ex=60)
            assert await client.get(key) == str(n)
        loop.set_task_factory(previous)
        assert started == []
    finally:
        loop.set_task_factory(previous)
        await client.delete(key)
