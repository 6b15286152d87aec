"""Server-sent events of a streaming chat turn, in Dify's framing (contract §6)."""

from __future__ import annotations

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


async def turn_frames(turn: ChatTurn, ping_seconds: float) -> AsyncGenerator[bytes, None]:
    """The frames of `turn` until its end; a ping after each `ping_seconds` of silence.

    When the client goes away (Litestar cancels the stream on `http.disconnect`, or the
    generator is closed), the turn is aborted: the model call closes and what was produced
    is settled by the producer task, which keeps running on its own.
    """
    created_at = unix_seconds(turn)
    try:
        while True:
            event = await turn.next_event(ping_seconds)
            if event is None:
                yield PING
            elif isinstance(event, AnswerDelta):
                yield frame(
                    MessageEvent(
                        event="message",
                        task_id=turn.task_id,
                        id=turn.message_id,
                        message_id=turn.message_id,
                        conversation_id=turn.conversation_id,
                        answer=event.text,
                        created_at=created_at,
                    )
                )
            elif isinstance(event, TurnFinished):
                yield frame(
                    MessageEndEvent(
                        event="message_end",
                        task_id=turn.task_id,
                        id=turn.message_id,
                        message_id=turn.message_id,
                        conversation_id=turn.conversation_id,
                        metadata=MetadataBody.of(event.usage, event.debited, event.balance),
                        created_at=created_at,
                    )
                )
                return
            else:
                yield frame(error_event(turn, event))
                return
    finally:
        if not turn.finished:
            turn.request_abort()
            # The request's cancel scope is cancelled already: wait shielded, bounded by abort.
            with anyio.CancelScope(shield=True):
                await turn.abort()


async def abort_unfinished(turn: ChatTurn) -> None:
    """After the response: a client that left before the first frame was even asked for
    never ran the generator's cleanup, so the turn is aborted here too."""
    if not turn.finished:
        await turn.abort()


def sse_response(turn: ChatTurn, ping_seconds: float) -> Stream:
    return Stream(
        turn_frames(turn, ping_seconds),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
        # Litestar runs this after the body, including when `http.disconnect` ended it.
        background=BackgroundTask(abort_unfinished, turn),
    )
