"""A running chat turn as its caller sees it: a queue of events fed by the producer task."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime

from domain.chat.models import MessageStatus
from domain.errors import AstraError

# How long `abort` waits for the producer to close the model call and settle.
ABORT_WAIT_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class TurnUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: float = 0.0  # seconds from the model call to its last token

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    text: str


@dataclass(frozen=True, slots=True)
class TurnFinished:
    """The reply is stored and its credits settled (`debited`) or released (0)."""

    answer: str
    status: MessageStatus  # COMPLETED or ABORTED
    usage: TurnUsage
    debited: int
    balance: int


@dataclass(frozen=True, slots=True)
class TurnFailed:
    error: AstraError


TurnEvent = AnswerDelta | TurnFinished | TurnFailed


class ChatTurn:
    """Handle on one turn. The producer runs as its own task; this side only reads events.

    - `next_event(wait_seconds)` returns None when nothing arrived in time (the SSE layer then
      writes a ping); the wait never disturbs the producer. `next_events(wait_seconds)` is the
      same but returns everything queued at once ([] when nothing arrived in time), so a fast
      producer's deltas are written to the client together.
    - `abort()` asks the producer to stop (client gone) and waits up to a second for it to
      close the model call, settle and store the reply.
    - The last event is always a `TurnFinished` or a `TurnFailed`.
    """

    def __init__(
        self,
        *,
        task_id: str,
        message_id: str,
        conversation_id: str,
        created_at: datetime,
        tenant_id: str = "",
        agent_id: str = "",
        replayed: bool = False,
    ) -> None:
        self.task_id = task_id
        self.tenant_id = tenant_id
        self.agent_id = agent_id
        self.message_id = message_id
        self.conversation_id = conversation_id
        self.created_at = created_at
        self.replayed = replayed
        self._events: asyncio.Queue[TurnEvent] = asyncio.Queue()
        self._abort_requested = asyncio.Event()
        self._abort_reason: AstraError | None = None
        self._done = asyncio.Event()

    # ------------------------------------------------------------------ consumer side

    async def next_event(self, wait_seconds: float | None = None) -> TurnEvent | None:
        events = self._events
        if not events.empty():
            return events.get_nowait()  # the common case under load: no timer, no wait
        if wait_seconds is None:
            return await events.get()
        try:
            # `asyncio.timeout`, not `wait_for`: wait_for wraps the get in a task of its own.
            async with asyncio.timeout(wait_seconds):
                return await events.get()
        except TimeoutError:
            return None

    async def next_events(self, wait_seconds: float | None = None) -> list[TurnEvent]:
        first = await self.next_event(wait_seconds)
        if first is None:
            return []
        batch = [first]
        events = self._events
        while not events.empty():
            batch.append(events.get_nowait())
        return batch

    async def result(self) -> TurnFinished | TurnFailed:
        """Wait for the end of the turn (blocking mode), skipping the deltas."""
        while True:
            event = await self.next_event()
            if isinstance(event, TurnFinished | TurnFailed):
                return event

    def request_abort(self, reason: AstraError | None = None) -> None:
        """Ask the producer to stop, without waiting (safe from a cancelled context).

        With a `reason` (the server shutting down) the turn ends with that error, so a client
        still reading learns why its reply was cut short; without one (the client left, a
        stop) it ends as an ordinary aborted reply.
        """
        if reason is not None and self._abort_reason is None:
            self._abort_reason = reason
        self._abort_requested.set()

    async def abort(self, wait_seconds: float = ABORT_WAIT_SECONDS) -> None:
        self.request_abort()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._done.wait()), wait_seconds)

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    # ------------------------------------------------------------------ producer side

    @property
    def abort_requested(self) -> asyncio.Event:
        return self._abort_requested

    @property
    def abort_reason(self) -> AstraError | None:
        return self._abort_reason

    def emit(self, event: TurnEvent) -> None:
        self._events.put_nowait(event)

    def close(self) -> None:
        """The producer is done: no more events, accounting finished."""
        self._done.set()
