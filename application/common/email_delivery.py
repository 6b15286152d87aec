"""Delivering the outbox's due emails, with retries that back off and finally give up."""

from __future__ import annotations

import logging
from datetime import timedelta

from application.common.ports import Clock, EmailSender, PendingEmail, PendingEmailQueue

logger = logging.getLogger("astra.email")

BACKOFF_BASE = timedelta(seconds=5)
BACKOFF_CAP = timedelta(hours=1)
MAX_ERROR_CHARS = 200


class DeliverPendingEmails:
    """Send one batch of due emails from the outbox; return how many were sent.

    - Emails are claimed (leased) first, so concurrent workers never send the same one twice.
    - A sent email is marked sent at the time of sending.
    - A failure is recorded with a retry time of `min(2**attempts * 5 s, 1 h)` from now, where
      `attempts` counts the earlier failed tries; after `max_attempts` tries the email is given up
      (`retry_at=None`).
    - The stored error holds the exception class and a short first line of its message only,
      never the email body (which carries codes and links).
    - One email failing never stops the rest of the batch.
    """

    def __init__(
        self,
        queue: PendingEmailQueue,
        sender: EmailSender,
        clock: Clock,
        max_attempts: int = 8,
        batch_size: int = 20,
    ) -> None:
        if max_attempts < 1 or batch_size < 1:
            raise ValueError("max_attempts and batch_size must be positive")
        self._queue = queue
        self._sender = sender
        self._clock = clock
        self._max_attempts = max_attempts
        self.batch_size = batch_size

    async def __call__(self) -> int:
        batch = await self._queue.claim_due(self._clock.now(), self.batch_size)
        sent = 0
        for pending in batch:
            try:
                await self._sender.send(pending.email)
            except Exception as exc:
                await self._record_failure(pending, exc)
            else:
                await self._queue.mark_sent(pending.id, self._clock.now())
                sent += 1
        return sent

    async def _record_failure(self, pending: PendingEmail, exc: Exception) -> None:
        tries = pending.attempts + 1
        if tries >= self._max_attempts:
            retry_at = None
        else:
            delay = min(BACKOFF_BASE * 2**pending.attempts, BACKOFF_CAP)
            retry_at = self._clock.now() + delay
        error = describe_error(exc)
        logger.warning(
            "email %s failed (try %d of %d): %s", pending.id, tries, self._max_attempts, error
        )
        await self._queue.mark_failed(pending.id, retry_at, error)


def describe_error(exc: BaseException) -> str:
    """The exception class and the first line of its message, cut short."""
    lines = str(exc).strip().splitlines()
    first_line = lines[0] if lines else ""
    text = f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
    return text[:MAX_ERROR_CHARS]
