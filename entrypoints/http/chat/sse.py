"""Server-sent events of a streaming chat turn, in Dify's framing (contract §6)."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator

import anyio
import msgspec
from litestar.background_tasks import BackgroundTask
from litestar.response import Stream

from application.chat.turn import AnswerDelta, ChatTurn, TurnFailed, TurnFinished
from domain.errors import ErrorCode
from entrypoints.http.chat.schemas import (
    ErrorEvent,
    MessageEndEvent,
    MessageEvent,
    MetadataBody,
    unix_seconds,
)
from entrypoints.http.errors import HTTP_STATUS
from entrypoints.metrics import CHAT_FIRST_EVENT, STREAMS_ABORTED

PING = b"event: ping\n\n"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_encode = msgspec.json.Encoder().encode


def frame(event: msgspec.Struct) -> bytes:
    """One `data: <json>` line and the blank line that ends the event."""
    return b"data: " + _encode(event) + b"\n\n"


def error_event(turn: ChatTurn, failed: TurnFailed) -> ErrorEvent:
    error = failed.error
    internal = error.code is ErrorCode.INTERNAL
    return ErrorEvent(
        event="error",
        task_id=turn.task_id,
        id=turn.message_id,
        message_id=turn.message_id,
        conversation_id=turn.conversation_id,
        created_at=unix_seconds(turn),
        status=HTTP_STATUS[error.code],
        code=int(error.code),
        # Internal failures say nothing about their cause (the log has it).
        message="internal error" if internal else error.message,
    )


def _message(turn: ChatTurn, delta: AnswerDelta, created_at: int) -> bytes:
    return frame(
        MessageEvent(
            event="message",
            task_id=turn.task_id,
            id=turn.message_id,
            message_id=turn.message_id,
            conversation_id=turn.conversation_id,
            answer=delta.text,
            created_at=created_at,
        )
    )


def _message_end(turn: ChatTurn, finished: TurnFinished, created_at: int) -> bytes:
    return frame(
        MessageEndEvent(
            event="message_end",
            task_id=turn.task_id,
            id=turn.message_id,
            message_id=turn.message_id,
            conversation_id=turn.conversation_id,
            metadata=MetadataBody.of(finished.usage, finished.debited, finished.balance),
            created_at=created_at,
        )
    )


async def turn_frames(
    turn: ChatTurn, ping_seconds: float, started_at: float | None = None
) -> AsyncGenerator[bytes, None]:
    """The frames of `turn` until its end; a ping after each `ping_seconds` of silence.

    Events already queued are written in one chunk (each still its own `data:` event): a fast
    model delivers many deltas at once, and one write per batch instead of per delta saves a
    trip through the ASGI stack and a socket write each.

    When the client goes away (Litestar cancels the stream on `http.disconnect`, or the
    generator is closed), the turn is aborted: the model call closes and what was produced
    is settled by the producer task, which keeps running on its own.
    """
    created_at = unix_seconds(turn)
    try:
        while True:
            events = await turn.next_events(ping_seconds)
            if not events:
                yield PING
                continue
            frames: list[bytes] = []
            ended = False
            for event in events:
                if isinstance(event, AnswerDelta):
                    if started_at is not None:
                        CHAT_FIRST_EVENT.observe(time.perf_counter() - started_at)
                        started_at = None
                    frames.append(_message(turn, event, created_at))
                    continue
                if isinstance(event, TurnFinished):
                    frames.append(_message_end(turn, event, created_at))
                else:
                    frames.append(frame(error_event(turn, event)))
                ended = True  # the last event of a turn: anything after it is not sent
                break
            yield frames[0] if len(frames) == 1 else b"".join(frames)
            if ended:
                return
    finally:
        if not turn.finished:
            STREAMS_ABORTED.inc()
            turn.request_abort()
            # The request's cancel scope is cancelled already: wait shielded, bounded by abort.
            with anyio.CancelScope(shield=True):
                await turn.abort()


async def abort_unfinished(turn: ChatTurn) -> None:
    """After the response: a client that left before the first frame was even asked for
    never ran the generator's cleanup, so the turn is aborted here too."""
    if not turn.finished:
        await turn.abort()


def sse_response(turn: ChatTurn, ping_seconds: float, started_at: float | None = None) -> Stream:
    """`started_at`: when the request arrived (`time.perf_counter()`), for the
    time-to-first-event metric."""
    return Stream(
        turn_frames(turn, ping_seconds, started_at),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
        # Litestar runs this after the body, including when `http.disconnect` ended it.
        background=BackgroundTask(abort_unfinished, turn),
    )
