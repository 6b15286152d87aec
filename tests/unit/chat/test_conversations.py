"""ListConversations and ListConversationMessages: paged, tenant-scoped, pending hidden."""

from __future__ import annotations

import asyncio

import pytest

from application.chat.commands import ListConversationsQuery, ListMessagesQuery
from domain.chat.models import MessageRole, MessageStatus
from domain.errors import InvalidArgument, NotFound
from tests.unit.chat.kit import ChatKit, key_caller


async def test_conversations_are_listed_newest_first_and_filtered() -> None:
    kit = ChatKit()
    agent, other_agent = kit.agent(), kit.agent()
    await kit.give_credits(10)
    older, _ = await kit.finished(agent, external_user_id="alice")
    newer, _ = await kit.finished(agent, external_user_id="bob")
    await kit.finished(other_agent, external_user_id="alice")
    page = await kit.conversations(
        ListConversationsQuery(key_caller(), agent_id=agent.agent.id, limit=1)
    )
    assert ([c.id for c in page.conversations], page.total) == ([newer.conversation_id], 2)
    second = await kit.conversations(
        ListConversationsQuery(key_caller(), agent_id=agent.agent.id, page=2, limit=1)
    )
    assert [c.id for c in second.conversations] == [older.conversation_id]
    alice = await kit.conversations(ListConversationsQuery(key_caller(), external_user_id="alice"))
    assert alice.total == 2
    foreign = await kit.conversations(ListConversationsQuery(key_caller("tenant-2")))
    assert foreign.total == 0


async def test_messages_are_paged_oldest_first_without_pending_replies() -> None:
    gate = asyncio.Event()
    kit = ChatKit()
    agent = kit.agent()
    await kit.give_credits(10)
    first, _ = await kit.finished(agent, "one")
    kit.backend.gate = gate
    running = await kit.turn(agent, "two", conversation_id=first.conversation_id)
    query = ListMessagesQuery(key_caller(), first.conversation_id, page=1, limit=2)
    page = await kit.messages(query)
    assert [(m.role, m.content) for m in page.messages] == [
        (MessageRole.USER, "one"),
        (MessageRole.ASSISTANT, "Hello there"),
    ]
    last = await kit.messages(ListMessagesQuery(key_caller(), first.conversation_id, 2, 2))
    assert [m.content for m in last.messages] == ["two"]  # the reply is still pending
    assert last.total == 3
    gate.set()
    await running.result()
    done = await kit.messages(ListMessagesQuery(key_caller(), first.conversation_id, 2, 2))
    assert [m.status for m in done.messages] == [MessageStatus.COMPLETED] * 2
    assert done.total == 4


async def test_messages_of_a_foreign_or_unknown_conversation_are_not_found() -> None:
    kit = ChatKit()
    agent = kit.agent()
    await kit.give_credits(10)
    first, _ = await kit.finished(agent)
    with pytest.raises(NotFound):
        await kit.messages(ListMessagesQuery(key_caller("tenant-2"), first.conversation_id))
    with pytest.raises(NotFound):
        await kit.messages(ListMessagesQuery(key_caller(), "nope"))


@pytest.mark.parametrize(("page", "limit", "field"), [(0, 20, "page"), (1, 101, "limit")])
async def test_paging_is_validated(page: int, limit: int, field: str) -> None:
    kit = ChatKit()
    with pytest.raises(InvalidArgument) as refused:
        await kit.conversations(ListConversationsQuery(key_caller(), page=page, limit=limit))
    assert refused.value.field == field
