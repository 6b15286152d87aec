"""In-memory chat repositories: what only interleaved transactions in one process can show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory.uow import InMemoryUnitOfWorkFactory
from domain.chat.models import Conversation, Message, MessageRole, MessageStatus
from domain.errors import AlreadyExists, NotFound
from domain.tenancy.models import Tenant

NOW = datetime(2030, 1, 1, tzinfo=UTC)


async def seeded() -> tuple[InMemoryUnitOfWorkFactory, Conversation]:
    uows = InMemoryUnitOfWorkFactory()
    conversation = Conversation("c1", "t1", "a1", "u1", "web", 0, NOW, NOW)
    async with uows() as uow:
        await uow.tenants.add(Tenant(id="t1", name="Team", created_at=NOW, updated_at=NOW))
        await uow.conversations.add(conversation)
        await uow.commit()
    return uows, conversation


def message(message_id: str, key: str = "") -> Message:
    return Message(
        id=message_id,
        tenant_id="t1",
        conversation_id="c1",
        agent_id="a1",
        role=MessageRole.USER,
        content="hi",
        status=MessageStatus.COMPLETED,
        credits=0,
        created_at=NOW,
        idempotency_key=key,
    )


async def test_interleaved_transactions_both_count_their_messages() -> None:
    uows, _ = await seeded()
    first, second = uows(), uows()
    async with first, second:
        await first.conversations.record_messages("t1", "c1", 2, NOW + timedelta(seconds=1))
        await second.conversations.record_messages("t1", "c1", 2, NOW + timedelta(seconds=2))
        stored = await first.conversations.get("t1", "c1")
        assert stored is not None
        assert stored.message_count == 2  # its own increment, not the other's
        await first.commit()
        await second.commit()
    async with uows() as uow:
        stored = await uow.conversations.get("t1", "c1")
    assert stored is not None
    assert (stored.message_count, stored.updated_at) == (4, NOW + timedelta(seconds=2))


async def test_a_key_committed_meanwhile_refuses_the_later_commit_whole() -> None:
    uows, _ = await seeded()
    first, second = uows(), uows()
    async with first, second:
        await first.messages.add(message("m1", key="k"))
        await second.messages.add(message("m2", key="k"))
        await second.conversations.record_messages("t1", "c1", 1, NOW)
        await first.commit()
        with pytest.raises(AlreadyExists):
            await second.commit()
    async with uows() as uow:
        assert await uow.messages.get("t1", "m2") is None
        stored = await uow.conversations.get("t1", "c1")
    assert stored is not None
    assert stored.message_count == 0


async def test_a_message_needs_its_conversation() -> None:
    uows, _ = await seeded()
    orphan = message("m1")
    orphan.conversation_id = "missing"
    async with uows() as uow:
        with pytest.raises(NotFound):
            await uow.messages.add(orphan)


async def test_a_stored_message_does_not_change_with_the_callers_object() -> None:
    uows, _ = await seeded()
    original = message("m1")
    async with uows() as uow:
        await uow.messages.add(original)
        await uow.commit()
    original.content = "changed without update"
    async with uows() as uow:
        stored = await uow.messages.get("t1", "m1")
    assert stored is not None
    assert stored.content == "hi"
