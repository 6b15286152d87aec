"""The SSE framing of a turn (contract §6): data lines, pings, message_end, error, abort."""

from __future__ import annotations

import asyncio
import json

from application.chat.turn import AnswerDelta, ChatTurn, TurnFailed, TurnFinished, TurnUsage
from domain.chat.models import MessageStatus
from domain.errors import AstraError, Unavailable
from entrypoints.http.chat.sse import PING, turn_frames
from tests.fakes.clock import DEFAULT_START

EVERY_EVENT = {"event", "task_id", "id", "message_id", "conversation_id", "created_at"}


def new_turn() -> ChatTurn:
    return ChatTurn(task_id="t", message_id="m", conversation_id="c", created_at=DEFAULT_START)


def data(frame: bytes) -> dict[str, object]:
    assert frame.startswith(b"data: ")
    assert frame.endswith(b"\n\n")
    parsed: dict[str, object] = json.loads(frame[len(b"data: ") : -2])
    assert set(parsed) >= EVERY_EVENT
    return parsed


def events_of(chunks: list[bytes]) -> list[bytes]:
    """The events of written chunks (one chunk may carry several), each with its blank line."""
    events = b"".join(chunks).split(b"\n\n")
    assert events[-1] == b""  # every chunk ends on an event boundary
    return [event + b"\n\n" for event in events[:-1]]


async def test_deltas_then_message_end_with_usage_and_credits() -> None:
    turn = new_turn()
    turn.emit(AnswerDelta("Hi"))
    usage = TurnUsage(prompt_tokens=3, completion_tokens=1, latency=0.25)
    turn.emit(TurnFinished("Hi", MessageStatus.COMPLETED, usage, debited=1, balance=9))
    turn.close()
    frames = [frame async for frame in turn_frames(turn, 10)]
    message, end = (data(event) for event in events_of(frames))
    assert (message["event"], message["answer"], message["created_at"]) == (
        "message",
        "Hi",
        int(DEFAULT_START.timestamp()),
    )
    assert end["event"] == "message_end"
    assert end["metadata"] == {
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4, "latency": 0.25},
        "credits": {"debited": "1", "balance": "9"},
    }


async def test_silence_is_filled_with_pings() -> None:
    turn = new_turn()
    frames = turn_frames(turn, 0.01)
    assert await anext(frames) == PING
    turn.emit(TurnFailed(Unavailable("model down", retry_after=1)))
    turn.close()
    error = data(await anext(frames))
    assert (error["event"], error["status"], error["code"], error["message"]) == (
        "error",
        503,
        14,
        "model down",
    )


async def test_internal_errors_say_nothing_of_their_cause() -> None:
    turn = new_turn()
    turn.emit(TurnFailed(AstraError("KeyError: secret detail")))
    turn.close()
    [frame] = [frame async for frame in turn_frames(turn, 1)]
    assert (data(frame)["code"], data(frame)["message"]) == (13, "internal error")


async def test_closing_the_stream_early_aborts_the_turn() -> None:
    turn = new_turn()
    turn.emit(AnswerDelta("Hi"))
    frames = turn_frames(turn, 10)
    await anext(frames)
    closing = asyncio.create_task(frames.aclose())
    await asyncio.sleep(0)
    assert turn.abort_requested.is_set()
    turn.close()  # the producer finished settling
    await closing


async def test_queued_events_are_written_together_each_its_own_event() -> None:
    turn = new_turn()
    for text in ("a", "b", "c"):
        turn.emit(AnswerDelta(text))
    frames = turn_frames(turn, 10)
    chunk = await anext(frames)
    assert [data(event)["answer"] for event in events_of([chunk])] == ["a", "b", "c"]
    turn.emit(AnswerDelta("d"))
    turn.emit(TurnFinished("abcd", MessageStatus.COMPLETED, TurnUsage(), debited=1, balance=0))
    turn.emit(AnswerDelta("never sent"))  # nothing follows the end of a turn
    turn.close()
    rest = [frame async for frame in frames]
    assert [data(event)["event"] for event in events_of(rest)] == ["message", "message_end"]
