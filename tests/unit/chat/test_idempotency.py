"""Idempotency-Key: a retry replays the stored reply and is charged once."""

from __future__ import annotations

import asyncio

import pytest

from application.chat.turn import AnswerDelta, TurnFinished
from domain.errors import InvalidArgument, ResourceExhausted, Unavailable
from tests.fakes.chat import ScriptedBackend
from tests.unit.chat.kit import ChatKit


async def test_a_retry_with_the_same_key_replays_the_reply_and_is_charged_once() -> None:
    kit = ChatKit()
    agent = kit.agent()
    await kit.give_credits(10)
    first, answered = await kit.finished(agent, "hello", idempotency_key="k-1")
    retry = await kit.turn(agent, "hello", idempotency_key="k-1", response_mode="streaming")
    assert retry.replayed
    assert (retry.message_id, retry.task_id, retry.conversation_id) == (
        first.message_id,
        first.task_id,
        first.conversation_id,
    )
    assert await retry.next_event() == AnswerDelta("Hello there")
    replayed = await retry.next_event()
    assert isinstance(replayed, TurnFinished)
    assert (replayed.answer, replayed.debited, replayed.balance) == ("Hello there", 1, 9)
    assert len(kit.backend.requests) == 1
    assert await kit.balance() == 9
    assert answered.debited == 1


async def test_the_same_key_with_another_request_is_refused() -> None:
    kit = ChatKit()
    agent = kit.agent()
    await kit.give_credits(10)
    await kit.finished(agent, "hello", idempotency_key="k-1")
    with pytest.raises(InvalidArgument) as refused:
        await kit.turn(agent, "something else", idempotency_key="k-1")
    assert refused.value.field == "Idempotency-Key"


async def test_a_retry_while_the_first_attempt_runs_is_asked_to_come_back() -> None:
    gate = asyncio.Event()
    kit = ChatKit(backend=ScriptedBackend(gate=gate))
    agent = kit.agent()
    await kit.give_credits(10)
    running = await kit.turn(agent, "hello", idempotency_key="k-1")
    with pytest.raises(ResourceExhausted) as refused:
        await kit.turn(agent, "hello", idempotency_key="k-1")
    assert refused.value.retry_after == 1
    gate.set()
    await running.result()


async def test_a_retry_after_a_passing_failure_runs_again_and_is_charged_once() -> None:
    kit = ChatKit(backend=ScriptedBackend(error=Unavailable("down")))
    agent = kit.agent()
    await kit.give_credits(10)
    await kit.failed(await kit.turn(agent, "hello", idempotency_key="k-1"))
    assert await kit.balance() == 10
    kit.backend.error = None
    retry, answered = await kit.finished(agent, "hello", idempotency_key="k-1")
    assert answered.debited == 1
    assert len(kit.backend.requests) == 2
    replay, again = await kit.finished(agent, "hello", idempotency_key="k-1")
    assert replay.replayed
    assert replay.message_id == retry.message_id
    assert again.answer == answered.answer
    assert len(kit.backend.requests) == 2
    assert await kit.balance() == 9


async def test_a_failure_the_same_request_would_repeat_is_replayed() -> None:
    overflow = InvalidArgument("message_content", "too long for the model's context")
    kit = ChatKit(backend=ScriptedBackend(error=overflow))
    agent = kit.agent()
    await kit.give_credits(10)
    await kit.failed(await kit.turn(agent, "hello", idempotency_key="k-1"))
    kit.backend.error = None
    replay = await kit.failed(await kit.turn(agent, "hello", idempotency_key="k-1"))
    assert isinstance(replay.error, InvalidArgument)
    assert len(kit.backend.requests) == 1
    assert await kit.balance() == 10


async def test_keys_are_per_tenant_and_without_a_key_every_send_is_new() -> None:
    kit = ChatKit()
    agent = kit.agent()
    await kit.give_credits(10)
    first, _ = await kit.finished(agent, "hello")
    second, _ = await kit.finished(agent, "hello")
    assert first.message_id != second.message_id
    assert await kit.balance() == 8
