"""SendChatMessage: the §6 checks in order, credits, limits and the stored turn."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.memory.chat import InMemoryMessageRepository
from application.chat.commands import ChatPolicy
from application.chat.ports import ConcurrencyLimiter, Lease
from application.chat.turn import AnswerDelta, TurnFinished
from domain.agents.models import LeadCapture
from domain.billing.ledger import ReservationStatus
from domain.chat.models import MessageRole, MessageStatus
from domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)
from domain.tenancy.policy import Scope
from tests.fakes.chat import ScriptedBackend
from tests.unit.chat.kit import OTHER_TENANT, TENANT, USER, ChatKit, key_caller


async def test_a_turn_streams_deltas_then_settles_and_stores_both_messages() -> None:
    kit = ChatKit()
    agent = kit.agent()
    await kit.give_credits(10)
    turn = await kit.turn(agent, "Where is my order?")
    events = [await turn.next_event(), await turn.next_event(), await turn.next_event()]
    assert events[:2] == [AnswerDelta("Hello"), AnswerDelta(" there")]
    final = events[2]
    assert isinstance(final, TurnFinished)
    assert (final.answer, final.status, final.debited, final.balance) == (
        "Hello there",
        MessageStatus.COMPLETED,
        1,
        9,
    )
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (7, 2)
    reply = kit.stored(turn.message_id)
    assert (reply.status, reply.content, reply.credits, reply.role) == (
        MessageStatus.COMPLETED,
        "Hello there",
        1,
        MessageRole.ASSISTANT,
    )
    conversation = kit.store.chat.conversations[turn.conversation_id]
    assert (conversation.message_count, conversation.external_user_id) == (2, USER)
    assert kit.stored(turn.message_id).task_id == turn.task_id


async def test_the_prompt_has_instructions_inputs_and_the_message() -> None:
    kit = ChatKit()
    agent = kit.agent(instructions="You sell shoes for {{shop}}.", language="es")
    await kit.give_credits(10)
    await kit.finished(agent, "Do you have boots?", inputs={"shop": "Zapatos", "plan": "gold"})
    messages = kit.backend.requests[0].messages
    assert messages[0].role == "system"
    assert "You sell shoes for Zapatos." in messages[0].content
    assert "es" in messages[0].content
    assert "- plan: gold" in messages[0].content
    assert (messages[-1].role, messages[-1].content) == ("user", "Do you have boots?")
    assert kit.backend.requests[0].profile is agent


async def test_the_prompt_guides_the_model_with_the_matched_intention_and_lead_fields() -> None:
    kit = ChatKit()
    agent = kit.agent(
        intentions=[("Shipping", ["how long does delivery take"]), ("Refunds", ["money back"])],
        lead_capture=LeadCapture(enabled=True, fields=["email", "company"]),
        fallback_message="Let me ask a colleague.",
    )
    await kit.give_credits(10)
    await kit.finished(agent, "How long does delivery take to Spain?", inputs={"company": "Acme"})
    system = kit.backend.requests[0].messages[0].content
    assert "about: Shipping." in system
    assert "Refunds" not in system
    assert "politely ask for: email." in system
    assert "When you cannot help, say: Let me ask a colleague." in system
    await kit.finished(agent, "Tell me a joke", conversation_id="")
    assert "about:" not in kit.backend.requests[1].messages[0].content


async def test_later_turns_carry_the_conversation_history_but_not_failed_replies() -> None:
    kit = ChatKit()
    agent = kit.agent()
    await kit.give_credits(10)
    first, _ = await kit.finished(agent, "first question")
    kit.backend.error = Unavailable("model down")
    failed = await kit.turn(agent, "second question", conversation_id=first.conversation_id)
    await kit.failed(failed)
    kit.backend.error = None
    await kit.finished(agent, "third question", conversation_id=first.conversation_id)
    history = [(m.role, m.content) for m in kit.backend.requests[-1].messages[1:]]
    assert history == [
        ("user", "first question"),
        ("assistant", "Hello there"),
        ("user", "second question"),
        ("user", "third question"),
    ]


async def test_history_is_bounded_by_message_count() -> None:
    kit = ChatKit(policy=ChatPolicy(history_messages=2))
    agent = kit.agent()
    await kit.give_credits(10)
    first, _ = await kit.finished(agent, "one")
    await kit.finished(agent, "two", conversation_id=first.conversation_id)
    await kit.finished(agent, "three", conversation_id=first.conversation_id)
    history = [m.content for m in kit.backend.requests[-1].messages[1:]]
    assert history == ["two", "Hello there", "three"]


async def test_a_body_tenant_other_than_the_callers_is_refused() -> None:
    kit = ChatKit()
    agent = kit.agent()
    with pytest.raises(PermissionDenied):
        await kit.turn(agent, tenant_id=OTHER_TENANT)


async def test_a_key_without_chat_scope_is_refused() -> None:
    kit = ChatKit()
    agent = kit.agent()
    with pytest.raises(PermissionDenied):
        await kit.turn(agent, caller=key_caller(TENANT, Scope.AGENTS_READ))


async def test_an_agent_of_another_tenant_is_not_found() -> None:
    kit = ChatKit()
    foreign = kit.agent(OTHER_TENANT)
    with pytest.raises(NotFound):
        await kit.turn(foreign, caller=key_caller(TENANT))


@pytest.mark.parametrize("mismatch", ["unknown", "other_user", "other_agent"])
async def test_a_conversation_must_exist_for_that_agent_and_user(mismatch: str) -> None:
    kit = ChatKit()
    agent, other_agent = kit.agent(), kit.agent()
    await kit.give_credits(10)
    first, _ = await kit.finished(agent)
    fields: dict[str, Any] = {"conversation_id": first.conversation_id}
    if mismatch == "unknown":
        fields["conversation_id"] = "no-such-conversation"
    elif mismatch == "other_user":
        fields["external_user_id"] = "someone-else"
    else:
        agent = other_agent
    with pytest.raises(NotFound):
        await kit.turn(agent, **fields)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"message_content": "  "}, "message_content"),
        ({"external_user_id": ""}, "external_user_id"),
        ({"agent_id": ""}, "agent_id"),
        ({"response_mode": "chunked"}, "response_mode"),
        ({"idempotency_key": "k" * 256}, "Idempotency-Key"),
    ],
)
async def test_malformed_requests_name_the_field(fields: dict[str, Any], field: str) -> None:
    kit = ChatKit()
    agent = kit.agent()
    with pytest.raises(InvalidArgument) as refused:
        await kit.send.start(kit.request(agent, **fields))
    assert refused.value.field == field


async def test_one_turn_per_end_user_in_flight_and_the_next_is_allowed_at_once() -> None:
    gate = asyncio.Event()
    kit = ChatKit(backend=ScriptedBackend(gate=gate))
    agent = kit.agent()
    await kit.give_credits(10)
    running = await kit.turn(agent)
    with pytest.raises(ResourceExhausted) as refused:
        await kit.turn(agent)
    assert refused.value.retry_after == 1
    other = await kit.turn(agent, external_user_id="another-user")
    gate.set()
    await running.result()
    await other.result()
    _, finished = await kit.finished(agent)  # the slot was freed before the last event
    assert finished.debited == 1


async def test_the_tenant_rate_limit_refuses_and_frees_the_user_slot() -> None:
    kit = ChatKit(policy=ChatPolicy(rate_per_tenant_per_minute=1))
    agent = kit.agent()
    await kit.give_credits(10)
    await kit.finished(agent)
    with pytest.raises(ResourceExhausted) as refused:
        await kit.turn(agent)
    assert refused.value.retry_after is not None
    assert refused.value.retry_after >= 1
    assert await kit.limiter.acquire(f"chat:{TENANT}:{USER}", 1, 60) is not None


async def test_insufficient_credits_refuse_before_anything_is_stored() -> None:
    kit = ChatKit()
    agent = kit.agent()
    with pytest.raises(FailedPrecondition):
        await kit.turn(agent)
    assert kit.store.chat.messages == {}
    assert kit.store.chat.conversations == {}
    assert await kit.registry.get("chat-1") is None  # the registration was undone
    assert kit.backend.requests == []
    assert await kit.limiter.acquire(f"chat:{TENANT}:{USER}", 1, 60) is not None


async def test_a_started_turn_has_its_reservation_messages_and_count_stored_together() -> None:
    gate = asyncio.Event()
    kit = ChatKit(backend=ScriptedBackend(gate=gate))
    agent = kit.agent()
    await kit.give_credits(10)
    turn = await kit.turn(agent, "hi")
    await kit.backend.started.wait()
    # All of it was committed by the start, before the model answered.
    reservation = kit.store.ledger.reservations[turn.message_id]
    assert (reservation.status, reservation.amount) == (ReservationStatus.RESERVED, 1)
    assert kit.stored(turn.message_id).status is MessageStatus.PENDING
    assert kit.store.chat.conversations[turn.conversation_id].message_count == 1
    gate.set()
    final = await turn.result()
    assert isinstance(final, TurnFinished)
    assert kit.store.ledger.reservations[turn.message_id].status is ReservationStatus.SETTLED
    assert kit.store.chat.conversations[turn.conversation_id].message_count == 2


async def test_history_is_read_only_for_an_existing_conversation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[str] = []
    recent = InMemoryMessageRepository.recent

    async def counted(
        self: InMemoryMessageRepository, tenant_id: str, conversation_id: str, limit: int
    ) -> Any:
        reads.append(conversation_id)
        return await recent(self, tenant_id, conversation_id, limit)

    monkeypatch.setattr(InMemoryMessageRepository, "recent", counted)
    kit = ChatKit()
    agent = kit.agent()
    await kit.give_credits(10)
    first, _ = await kit.finished(agent, "one")
    assert reads == []  # a new conversation has no history to read
    await kit.finished(agent, "two", conversation_id=first.conversation_id)
    assert reads == [first.conversation_id]


async def test_free_chat_skips_the_ledger() -> None:
    kit = ChatKit(policy=ChatPolicy(credits_per_message=0))
    agent = kit.agent()
    _, finished = await kit.finished(agent)
    assert (finished.debited, finished.balance) == (0, 0)
    assert kit.store.ledger.reservations == {}


class DownLimiter(ConcurrencyLimiter):
    async def acquire(self, key: str, limit: int, ttl_seconds: int) -> Lease | None:
        raise Unavailable("concurrency limiter unavailable", retry_after=1)

    async def renew(self, lease: Lease, ttl_seconds: int) -> bool:
        raise Unavailable("concurrency limiter unavailable", retry_after=1)

    async def release(self, lease: Lease) -> None:
        raise Unavailable("concurrency limiter unavailable", retry_after=1)


async def test_an_unreachable_limiter_refuses_instead_of_running_unlimited() -> None:
    kit = ChatKit(limiter_override=DownLimiter())
    agent = kit.agent()
    await kit.give_credits(10)
    with pytest.raises(Unavailable):
        await kit.turn(agent)
    assert kit.backend.requests == []
