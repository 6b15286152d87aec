"""The background task that drains the email outbox, woken on commit or by a poll timer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger("astra.email")


class EmailRelay:
    """Runs `deliver` in a loop: after each round it sleeps until `wake()` or `poll_interval`.

    A round that sent something is followed at once by another (the outbox may hold more than
    one batch). A failing round is logged and retried at the next wake-up or poll; it never
    ends the loop. `deliver` is normally a `DeliverPendingEmails`.
    """

    def __init__(self, deliver: Callable[[], Awaitable[int]], poll_interval: float = 5.0) -> None:
        self._deliver = deliver
        self._poll_interval = poll_interval
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
        self._task = self._loop.create_task(self._run(), name="astra-email-relay")

    def wake(self) -> None:
        """Ask for a delivery round soon. Cheap; callable from any coroutine or thread."""
        loop = self._loop
        if loop is None or _running_loop() is loop:
            self._wakeup.set()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._wakeup.set)

    async def stop(self) -> None:
        """Cancel the loop and wait for it; an email being sent is abandoned and retried later."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while True:
            # Cleared before the round: a wake() during delivery triggers one more round.
            self._wakeup.clear()
            try:
                sent = await self._deliver()
            except Exception:
                logger.exception("email delivery round failed")
                sent = 0
            if sent > 0:
                await asyncio.sleep(0)  # let other tasks run even if deliver never suspended
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._poll_interval)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
