"""A background loop that repeats one job, woken early on demand (email relay, recovery)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


class RepeatingJob:
    """Runs `job` in a loop: after each round it sleeps until `wake()` or `poll_interval`.

    A round that did something (returned > 0) is followed at once by another (there may be
    more than one batch). A failing round is logged on `logger` and retried at the next
    wake-up or poll; it never ends the loop.
    """

    def __init__(
        self,
        job: Callable[[], Awaitable[int]],
        poll_interval: float,
        *,
        name: str,
        logger: logging.Logger,
    ) -> None:
        self._job = job
        self._poll_interval = poll_interval
        self._name = name
        self._logger = logger
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Spawn the loop on the running event loop; a second call does nothing."""
        if self.running:
            return
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name=self._name)

    def wake(self) -> None:
        """Ask for a delivery round soon. Cheap; callable from any coroutine or thread."""
        loop = self._loop
        if loop is None or _running_loop() is loop:
            self._wakeup.set()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._wakeup.set)

    async def stop(self) -> None:
        """Cancel the loop and wait for it; a round cut short is done again by a later one."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while True:
            # Cleared before the round: a wake() during a round triggers one more.
            self._wakeup.clear()
            try:
                done = await self._job()
            except Exception:
                self._logger.exception("%s round failed", self._name)
                done = 0
            if done > 0:
                await asyncio.sleep(0)  # let other tasks run even if the job never suspended
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._poll_interval)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
