"""Waiting for a condition instead of sleeping for a window.

A fixed sleep is both too long (every run pays it) and too short (on two busy cores the thing
waited for can take longer). These poll the condition and return as soon as it holds; the
deadline only bounds how long a broken run waits, so it is generous.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

# How long a test waits for something that normally takes milliseconds; only a broken run
# (or a starved machine) waits this long.
DEADLINE_SECONDS = 30.0
POLL_SECONDS = 0.02


def wait_until(
    condition: Callable[[], bool],
    what: str,
    within: float = DEADLINE_SECONDS,
    *,
    every: float = POLL_SECONDS,
) -> None:
    """Poll `condition` until it holds; AssertionError naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {within:g}s")
        time.sleep(every)


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]],
    what: str,
    within: float = DEADLINE_SECONDS,
    *,
    every: float = POLL_SECONDS,
) -> None:
    """`wait_until` for the event loop: `condition` may be a plain or an async predicate."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() >= deadline:
            raise AssertionError(f"{what}: not within {within:g}s")
        await asyncio.sleep(every)
