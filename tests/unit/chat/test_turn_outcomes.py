"""How a started turn ends: model failures, StopChat, client aborts, and its accounting."""

from __future__ import annotations

import asyncio

import pytest

from application.chat.commands import StopChatCommand
from application.chat.turn import TurnFailed, TurnFinished
from domain.chat.models import MessageStatus
from domain.errors import ErrorCode, InvalidArgument, NotFound, Unavailable
from tests.fakes.chat import ScriptedBackend
from tests.unit.chat.kit import USER, ChatKit, key_caller


@pytest.mark.parametrize("after", [0, 1])
async def test_a_model_failure_releases_the_credits_and_stores_a_failed_reply(after: int) -> None:
    kit = ChatKit(backend=ScriptedBackend(error=Unavailable("model down"), error_after=after))
    agent = kit.agent()
    await kit.give_credits(10)
    turn = await kit.turn(agent)
    failed = await kit.failed(turn)
    assert isinstance(failed.error, Unavailable)
    assert await kit.balance() == 10
    reply = kit.stored(turn.message_id)
    assert (reply.status, reply.credits, reply.error_code) == (MessageStatus.FAILED, 0, 14)
    assert kit.store.chat.conversations[turn.conversation_id].message_count == 2


async def test_context_overflow_surfaces_as_invalid_argument() -> None:
    overflow = InvalidArgument("message_content", "does not fit the model's context")
    kit = ChatKit(backend=ScriptedBackend(error=overflow))
    agent = kit.agent()
    await kit.give_credits(10)
    failed = await kit.failed(await kit.turn(agent))
    assert isinstance(failed.error, InvalidArgument)


async def test_stop_chat_aborts_the_turn_and_charges_what_was_produced() -> None:
    gate = asyncio.Event()
    kit = ChatKit(backend=ScriptedBackend(["Hel", "lo"], gate=gate, gate_after=1))
    agent = kit.agent()
    await kit.give_credits(10)
    turn = await kit.turn(agent)
    assert await turn.next_event() is not None  # "Hel" was produced
    await kit.stop(StopChatCommand(key_caller(), turn.task_id, USER))
    result = await asyncio.wait_for(turn.result(), 1)
    assert isinstance(result, TurnFinished)
    assert (result.status, result.answer, result.debited) == (MessageStatus.ABORTED, "Hel", 1)
    assert kit.backend.closed == 1
    assert kit.stored(turn.message_id).status is MessageStatus.ABORTED
    assert await kit.balance() == 9


@pytest.mark.parametrize(
    "command",
    [
        StopChatCommand(key_caller(), "no-such-task", USER),
        StopChatCommand(key_caller(), "TASK", "another-user"),
        StopChatCommand(key_caller("tenant-2"), "TASK", USER),
    ],
)
async def test_stop_chat_of_an_unknown_or_foreign_task_is_not_found(
    command: StopChatCommand,
) -> None:
    gate = asyncio.Event()
    kit = ChatKit(backend=ScriptedBackend(gate=gate))
    agent = kit.agent()
    await kit.give_credits(10)
    turn = await kit.turn(agent)
    task_id = turn.task_id if command.task_id == "TASK" else command.task_id
    with pytest.raises(NotFound):
        await kit.stop(StopChatCommand(command.caller, task_id, command.external_user_id))
    gate.set()
    assert (await turn.result()).status is MessageStatus.COMPLETED  # type: ignore[union-attr]


async def test_a_client_abort_closes_the_model_call_within_a_second() -> None:
    gate = asyncio.Event()  # never set: the model hangs after its first delta
    kit = ChatKit(backend=ScriptedBackend(gate=gate))
    agent = kit.agent()
    await kit.give_credits(10)
    turn = await kit.turn(agent)
    await turn.next_event()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await turn.abort()
    assert loop.time() - started < 1
    assert turn.finished
    assert kit.backend.closed == 1
    reply = kit.stored(turn.message_id)
    assert (reply.status, reply.content, reply.credits) == (MessageStatus.ABORTED, "Hello", 1)


async def test_an_abort_before_any_output_releases_the_credits() -> None:
    gate = asyncio.Event()
    kit = ChatKit(backend=ScriptedBackend(gate=gate, gate_after=0))
    agent = kit.agent()
    await kit.give_credits(10)
    turn = await kit.turn(agent)
    await kit.backend.started.wait()
    await turn.abort()
    assert await kit.balance() == 10
    reply = kit.stored(turn.message_id)
    assert (reply.status, reply.credits) == (MessageStatus.ABORTED, 0)


async def test_waiting_for_an_event_times_out_without_disturbing_the_turn() -> None:
    gate = asyncio.Event()
    kit = ChatKit(backend=ScriptedBackend(gate=gate))
    agent = kit.agent()
    await kit.give_credits(10)
    turn = await kit.turn(agent)
    await turn.next_event()
    assert await turn.next_event(0.05) is None
    gate.set()
    assert (await turn.result()).answer == "Hello there"  # type: ignore[union-attr]


async def test_shutdown_ends_a_streaming_turn_with_14_and_charges_what_was_streamed() -> None:
    gate = asyncio.Event()
    kit = ChatKit(backend=ScriptedBackend(gate=gate))
    agent = kit.agent()
    await kit.give_credits(10)
    turn = await kit.turn(agent)
    await turn.next_event()
    await kit.send.aclose()
    result = await asyncio.wait_for(turn.result(), 1)
    # The client still reading learns why the reply stopped, and may send it again.
    assert isinstance(result, TurnFailed)
    assert isinstance(result.error, Unavailable)
    reply = kit.stored(turn.message_id)
    assert (reply.status, reply.content, reply.credits) == (MessageStatus.ABORTED, "Hello", 1)
    assert reply.error_code == 14
    assert await kit.balance() == 9


async def test_shutdown_before_any_output_fails_the_turn_and_releases_the_credits() -> None:
    gate = asyncio.Event()
    kit = ChatKit(backend=ScriptedBackend(gate=gate, gate_after=0))
    agent = kit.agent()
    await kit.give_credits(10)
    turn = await kit.turn(agent)
    await kit.backend.started.wait()
    assert kit.send.end_running() == 1
    result = await asyncio.wait_for(turn.result(), 1)
    assert isinstance(result, TurnFailed)
    assert result.error.code == ErrorCode.UNAVAILABLE
    reply = kit.stored(turn.message_id)
    assert (reply.status, reply.credits, reply.error_code) == (MessageStatus.FAILED, 0, 14)
    assert await kit.balance() == 10
