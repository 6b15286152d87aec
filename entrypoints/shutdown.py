"""Bounded graceful shutdown of one serving process (`astra serve`, each worker).

On SIGTERM (or SIGINT) the process starts draining at once: readiness answers `14`, so load
balancers stop sending work, while uvicorn stops accepting connections and waits for the open
ones. Requests and streams in flight get `ASTRA_SHUTDOWN_GRACE_SECONDS`; then every chat turn
still running is ended with `14` (a stream gets its `error` event; what was streamed is
settled, the rest released) so the process can exit before Kubernetes' SIGKILL.

uvicorn owns the signal handlers (it restores the previous ones when it exits), so the drain
is chained in front of its handler for as long as the application's lifespan runs.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

logger = logging.getLogger("astra.shutdown")

DRAIN_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Drain:
    """Whether this process is shutting down, and what to do when its grace period ends."""

    def __init__(self, grace_seconds: float, end_in_flight: Callable[[], int]) -> None:
        self.grace_seconds = grace_seconds
        self._end_in_flight = end_in_flight
        self._draining = False
        self._deadline: asyncio.TimerHandle | None = None

    @property
    def draining(self) -> bool:
        return self._draining

    def begin(self) -> None:
        """Start draining (idempotent); in-flight work is ended once the grace period is over."""
        if self._draining:
            return
        self._draining = True
        logger.info("shutting down: draining for up to %.0f s", self.grace_seconds)
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self.grace_seconds, self._grace_over)

    def _grace_over(self) -> None:
        ended = self._end_in_flight()
        if ended:
            logger.warning("shutdown grace period over: ended %d running chat turn(s)", ended)

    def cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


@contextmanager
def drain_on_signals(drain: Drain, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Chain `drain.begin` in front of the current SIGTERM/SIGINT handlers while inside."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach only the main thread; nothing to chain here
        return
    previous: dict[int, Any] = {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # A signal handler runs between bytecodes: hand the work to the loop, then let the
        # server's own handler stop accepting connections.
        # In a context of its own, not that of whatever request the signal interrupted.
        loop.call_soon_threadsafe(drain.begin, context=contextvars.Context())
        handler = previous.get(signum)
        if callable(handler):
            handler(signum, frame)
        elif handler == signal.SIG_DFL:
            # Nobody else handles it: what the signal would have done without us.
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    for signum in DRAIN_SIGNALS:
        previous[signum] = signal.signal(signum, on_signal)
    try:
        yield
    finally:
        for restored, handler in previous.items():
            signal.signal(restored, handler)
        drain.cancel()
