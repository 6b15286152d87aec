"""The background task that drains the email outbox, woken on commit or by a poll timer."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from adapters.jobs import RepeatingJob

logger = logging.getLogger("astra.email")


class EmailRelay(RepeatingJob):
    """Runs `deliver` (normally a `DeliverPendingEmails`) after each commit that queued an
    email (`wake()`) and every `poll_interval`; a failing round is retried later."""

    def __init__(self, deliver: Callable[[], Awaitable[int]], poll_interval: float = 5.0) -> None:
        super().__init__(deliver, poll_interval, name="email delivery", logger=logger)
