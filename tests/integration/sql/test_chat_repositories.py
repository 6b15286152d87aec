"""Conversation and message repositories on PostgreSQL, SQLite and in memory: same answers."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from adapters.memory.uow import InMemoryUnitOfWorkFactory
from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.uow import SqlUnitOfWorkFactory
from application.chat.ports import FinalReply
from application.common.ports import UnitOfWorkFactory
from domain.chat.models import Conversation, Message, MessageRole, MessageStatus
from domain.errors import AlreadyExists, NotFound
from domain.tenancy.models import Tenant
from tests.integration.sql.factories import make_tenant, new_id, utc_now


@pytest.fixture(scope="module", params=["postgresql", "sqlite", "memory"])
async def uows(
    request: pytest.FixtureRequest, migrated_database_url: str, migrated_sqlite_url: str
) -> AsyncIterator[UnitOfWorkFactory]:
    """A unit-of-work factory per backend; tests isolate their data with random ids."""
    if request.param == "memory":
        yield InMemoryUnitOfWorkFactory()
        return
    url = migrated_database_url if request.param == "postgresql" else migrated_sqlite_url
    engine = create_engine(url, pool_size=5)
    try:
        yield SqlUnitOfWorkFactory(create_sessionmaker(engine))
    finally:
        await engine.dispose()


def make_conversation(tenant_id: str, **overrides: Any) -> Conversation:
    now = utc_now()
    values: dict[str, Any] = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "agent_id": new_id(),
        "external_user_id": f"user-{new_id()}",
        "source": "web",
        "message_count": 0,
        "created_at": now,
        "updated_at": now,
    }
    return Conversation(**(values | overrides))


def make_message(conversation: Conversation, **overrides: Any) -> Message:
    values: dict[str, Any] = {
        "id": new_id(),
        "tenant_id": conversation.tenant_id,
        "conversation_id": conversation.id,
        "agent_id": conversation.agent_id,
        "role": MessageRole.USER,
        "content": "Hello there",
        "status": MessageStatus.COMPLETED,
        "credits": 0,
        "created_at": utc_now(),
    }
    return Message(**(values | overrides))


async def add_tenant(uows: UnitOfWorkFactory) -> Tenant:
    tenant = make_tenant()
    async with uows() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    return tenant


async def add_conversation(uows: UnitOfWorkFactory, **overrides: Any) -> Conversation:
    tenant_id = overrides.pop("tenant_id", None) or (await add_tenant(uows)).id
    conversation = make_conversation(tenant_id, **overrides)
    async with uows() as uow:
        await uow.conversations.add(conversation)
        await uow.commit()
    return conversation


async def add_messages(uows: UnitOfWorkFactory, *messages: Message) -> None:
    async with uows() as uow:
        for message in messages:
            await uow.messages.add(message)
        await uow.commit()


# ---------------------------------------------------------------- conversations


async def test_a_conversation_round_trips_within_its_tenant_only(
    uows: UnitOfWorkFactory,
) -> None:
    conversation = await add_conversation(uows, source="widget")
    other = await add_tenant(uows)
    async with uows() as uow:
        assert await uow.conversations.get(conversation.tenant_id, conversation.id) == conversation
        assert await uow.conversations.get(other.id, conversation.id) is None
        assert await uow.conversations.get(conversation.tenant_id, "no-such-id") is None


async def test_adding_a_conversation_twice_is_refused(uows: UnitOfWorkFactory) -> None:
    conversation = await add_conversation(uows)
    async with uows() as uow:
        with pytest.raises(AlreadyExists):
            await uow.conversations.add(conversation)


async def test_conversations_are_listed_newest_activity_first_with_filters(
    uows: UnitOfWorkFactory,
) -> None:
    tenant = await add_tenant(uows)
    agent, other_agent = new_id(), new_id()
    start = utc_now()

    def at(minutes: int) -> datetime:
        return start + timedelta(minutes=minutes)

    oldest = await add_conversation(
        uows, tenant_id=tenant.id, agent_id=agent, external_user_id="ann", updated_at=at(1)
    )
    newest = await add_conversation(
        uows, tenant_id=tenant.id, agent_id=agent, external_user_id="bob", updated_at=at(3)
    )
    middle = await add_conversation(
        uows, tenant_id=tenant.id, agent_id=other_agent, external_user_id="ann", updated_at=at(2)
    )
    await add_conversation(uows, agent_id=agent, external_user_id="ann")  # another tenant

    async with uows() as uow:
        everything = await uow.conversations.list(tenant.id, "", "", 0, 10)
        of_agent = await uow.conversations.list(tenant.id, agent, "", 0, 10)
        of_ann = await uow.conversations.list(tenant.id, "", "ann", 0, 10)
        of_both = await uow.conversations.list(tenant.id, agent, "ann", 0, 10)
        second_page = await uow.conversations.list(tenant.id, "", "", 1, 1)

    assert everything == ([newest, middle, oldest], 3)
    assert of_agent == ([newest, oldest], 2)
    assert of_ann == ([middle, oldest], 2)
    assert of_both == ([oldest], 1)
    assert second_page == ([middle], 3)


async def test_record_messages_adds_to_the_count_and_moves_updated_at(
    uows: UnitOfWorkFactory,
) -> None:
    conversation = await add_conversation(uows)
    later = conversation.updated_at + timedelta(seconds=30)
    async with uows() as uow:
        await uow.conversations.record_messages(conversation.tenant_id, conversation.id, 2, later)
        await uow.commit()
    async with uows() as uow:
        stored = await uow.conversations.get(conversation.tenant_id, conversation.id)
    assert stored is not None
    assert (stored.message_count, stored.updated_at) == (2, later)
    assert stored.created_at == conversation.created_at


async def test_concurrent_turns_never_lose_a_count(uows: UnitOfWorkFactory) -> None:
    conversation = await add_conversation(uows)

    async def one_turn() -> None:
        async with uows() as uow:
            await uow.conversations.record_messages(
                conversation.tenant_id, conversation.id, 2, utc_now()
            )
            await uow.commit()

    await asyncio.gather(*(one_turn() for _ in range(8)))
    async with uows() as uow:
        stored = await uow.conversations.get(conversation.tenant_id, conversation.id)
    assert stored is not None
    assert stored.message_count == 16


async def test_record_messages_on_another_tenants_conversation_is_not_found(
    uows: UnitOfWorkFactory,
) -> None:
    conversation = await add_conversation(uows)
    other = await add_tenant(uows)
    async with uows() as uow:
        with pytest.raises(NotFound):
            await uow.conversations.record_messages(other.id, conversation.id, 1, utc_now())
    async with uows() as uow:
        stored = await uow.conversations.get(conversation.tenant_id, conversation.id)
    assert stored is not None
    assert stored.message_count == 0


# ---------------------------------------------------------------- messages


async def test_a_message_round_trips_with_every_field(uows: UnitOfWorkFactory) -> None:
    conversation = await add_conversation(uows)
    message = make_message(
        conversation,
        role=MessageRole.ASSISTANT,
        content="Sure — ünïcode and\nnew lines " + "x" * 5000,
        status=MessageStatus.PENDING,
        credits=9_000_000_000,
        task_id=new_id(),
        prompt_tokens=120,
        completion_tokens=45,
        idempotency_key=f"key-{new_id()}",
        request_hash=secrets.token_hex(32),
        error_code=14,
    )
    await add_messages(uows, message)
    other = await add_tenant(uows)
    async with uows() as uow:
        assert await uow.messages.get(conversation.tenant_id, message.id) == message
        assert await uow.messages.get(other.id, message.id) is None


async def test_an_idempotency_key_is_unique_per_tenant_and_a_refusal_keeps_the_transaction(
    uows: UnitOfWorkFactory,
) -> None:
    conversation = await add_conversation(uows)
    key = f"key-{new_id()}"
    first = make_message(conversation, idempotency_key=key, request_hash="h1")
    async with uows() as uow:
        await uow.messages.add(first)
        with pytest.raises(AlreadyExists):
            await uow.messages.add(make_message(conversation, idempotency_key=key))
        # The refusal leaves the transaction usable: it still reads and commits.
        assert await uow.messages.get_by_idempotency_key(conversation.tenant_id, key) == first
        await uow.commit()

    elsewhere = await add_conversation(uows)
    same_key_other_tenant = make_message(elsewhere, idempotency_key=key)
    await add_messages(uows, same_key_other_tenant)

    async with uows() as uow:
        assert await uow.messages.get_by_idempotency_key(conversation.tenant_id, key) == first
        assert (
            await uow.messages.get_by_idempotency_key(elsewhere.tenant_id, key)
            == same_key_other_tenant
        )
        assert await uow.messages.get_by_idempotency_key(conversation.tenant_id, "nope") is None
        with pytest.raises(AlreadyExists):
            await uow.messages.add(make_message(conversation, idempotency_key=key))


async def test_messages_without_a_key_do_not_collide(uows: UnitOfWorkFactory) -> None:
    conversation = await add_conversation(uows)
    await add_messages(uows, *(make_message(conversation) for _ in range(3)))
    async with uows() as uow:
        assert await uow.messages.get_by_idempotency_key(conversation.tenant_id, "") is None
        _, total = await uow.messages.list(conversation.tenant_id, conversation.id, 0, 10)
    assert total == 3


async def test_two_requests_racing_with_one_key_store_one_message(
    uows: UnitOfWorkFactory,
) -> None:
    conversation = await add_conversation(uows)
    key = f"key-{new_id()}"

    async def attempt() -> bool:
        try:
            async with uows() as uow:
                await uow.messages.add(make_message(conversation, idempotency_key=key))
                await uow.commit()
        except AlreadyExists:
            return False
        return True

    outcomes = await asyncio.gather(*(attempt() for _ in range(4)))
    assert sorted(outcomes) == [False, False, False, True]
    async with uows() as uow:
        _, total = await uow.messages.list(conversation.tenant_id, conversation.id, 0, 10)
    assert total == 1


async def test_finish_writes_the_outcome_and_nothing_else(uows: UnitOfWorkFactory) -> None:
    conversation = await add_conversation(uows)
    pending = make_message(
        conversation,
        role=MessageRole.ASSISTANT,
        content="",
        status=MessageStatus.PENDING,
        task_id=new_id(),
        idempotency_key=f"key-{new_id()}",
        request_hash="hash",
    )
    await add_messages(uows, pending)
    # Cleared when a failed turn may be retried under its key.
    done = FinalReply("The answer", MessageStatus.COMPLETED, 3, 10, 4, frees_idempotency_key=True)
    async with uows() as uow:
        await uow.messages.finish(conversation.tenant_id, pending.id, done)
        # Read-your-writes within the transaction.
        seen = await uow.messages.get(conversation.tenant_id, pending.id)
        await uow.commit()
    expected = replace(
        pending,
        content="The answer",
        status=MessageStatus.COMPLETED,
        credits=3,
        prompt_tokens=10,
        completion_tokens=4,
        idempotency_key="",
    )
    assert seen == expected
    async with uows() as uow:
        assert await uow.messages.get(conversation.tenant_id, pending.id) == expected


async def test_finish_keeps_the_idempotency_key_unless_told(uows: UnitOfWorkFactory) -> None:
    conversation = await add_conversation(uows)
    key = f"key-{new_id()}"
    pending = make_message(
        conversation, role=MessageRole.ASSISTANT, status=MessageStatus.PENDING, idempotency_key=key
    )
    await add_messages(uows, pending)
    failed = FinalReply("", MessageStatus.FAILED, 0, 0, 0, error_code=3)
    async with uows() as uow:
        await uow.messages.finish(conversation.tenant_id, pending.id, failed)
        await uow.commit()
    async with uows() as uow:
        stored = await uow.messages.get_by_idempotency_key(conversation.tenant_id, key)
    assert stored is not None
    assert (stored.id, stored.status, stored.error_code) == (pending.id, MessageStatus.FAILED, 3)


async def test_only_a_pending_reply_of_the_tenant_is_finished_once(
    uows: UnitOfWorkFactory,
) -> None:
    conversation = await add_conversation(uows)
    final = make_message(conversation)
    pending = make_message(
        conversation, role=MessageRole.ASSISTANT, content="", status=MessageStatus.PENDING
    )
    await add_messages(uows, final, pending)
    other = await add_tenant(uows)
    hijack = FinalReply("hijack", MessageStatus.COMPLETED, 0, 0, 0)
    first = FinalReply("first", MessageStatus.COMPLETED, 1, 0, 0)
    async with uows() as uow:
        assert not await uow.messages.finish(conversation.tenant_id, new_id(), hijack)
        assert not await uow.messages.finish(other.id, pending.id, hijack)
        assert not await uow.messages.finish(conversation.tenant_id, final.id, hijack)
        assert await uow.messages.finish(conversation.tenant_id, pending.id, first)
        assert not await uow.messages.finish(conversation.tenant_id, pending.id, hijack)
        await uow.commit()
    async with uows() as uow:
        stored_final = await uow.messages.get(conversation.tenant_id, final.id)
        stored_reply = await uow.messages.get(conversation.tenant_id, pending.id)
    assert stored_final is not None
    assert stored_final.content == final.content
    assert stored_reply is not None
    assert (stored_reply.content, stored_reply.status) == ("first", MessageStatus.COMPLETED)


async def test_stale_pending_lists_old_pending_replies_of_every_tenant_oldest_first(
    uows: UnitOfWorkFactory,
) -> None:
    conversation = await add_conversation(uows)
    elsewhere = await add_conversation(uows)
    cutoff = utc_now() + timedelta(days=400)  # after every other test's rows
    old = [
        make_message(
            c,
            role=MessageRole.ASSISTANT,
            content="",
            status=MessageStatus.PENDING,
            created_at=cutoff - timedelta(seconds=seconds),
        )
        for c, seconds in ((conversation, 5), (elsewhere, 9))
    ]
    fresh = make_message(
        conversation,
        role=MessageRole.ASSISTANT,
        content="",
        status=MessageStatus.PENDING,
        created_at=cutoff + timedelta(seconds=1),
    )
    done = make_message(conversation, created_at=cutoff - timedelta(seconds=7))
    await add_messages(uows, *old, fresh, done)
    async with uows() as uow:
        found = await uow.messages.stale_pending(cutoff, 10_000)
    ours = [m.id for m in found if m.id in {old[0].id, old[1].id, fresh.id, done.id}]
    assert ours == [old[1].id, old[0].id]


async def test_messages_list_oldest_first_with_the_question_before_its_answer(
    uows: UnitOfWorkFactory,
) -> None:
    conversation = await add_conversation(uows)
    start = utc_now()
    turn = start + timedelta(seconds=1)
    # One turn's two messages share a timestamp; the answer's id sorts before the question's.
    answer = make_message(
        conversation, id="a" + new_id(), role=MessageRole.ASSISTANT, created_at=turn
    )
    question = make_message(conversation, id="z" + new_id(), created_at=turn)
    first = make_message(conversation, created_at=start)
    last = make_message(
        conversation, role=MessageRole.ASSISTANT, created_at=turn + timedelta(seconds=1)
    )
    twin_a = make_message(conversation, id="b" + new_id(), created_at=turn + timedelta(seconds=2))
    twin_b = make_message(conversation, id="c" + new_id(), created_at=turn + timedelta(seconds=2))
    foreign = make_message(await add_conversation(uows), created_at=start)
    await add_messages(uows, twin_b, last, answer, question, first, twin_a)
    await add_messages(uows, foreign)

    async with uows() as uow:
        listed = await uow.messages.list(conversation.tenant_id, conversation.id, 0, 10)
        page = await uow.messages.list(conversation.tenant_id, conversation.id, 1, 2)
        recent = await uow.messages.recent(conversation.tenant_id, conversation.id, 3)
        everything = await uow.messages.recent(conversation.tenant_id, conversation.id, 50)
        wrong_tenant = await uow.messages.list(foreign.tenant_id, conversation.id, 0, 10)

    in_order = [first, question, answer, last, twin_a, twin_b]
    assert listed == (in_order, 6)
    assert page == ([question, answer], 6)
    assert recent == [last, twin_a, twin_b]
    assert everything == in_order
    assert wrong_tenant == ([], 0)


async def test_deleting_a_tenant_deletes_its_conversations_and_messages(
    uows: UnitOfWorkFactory,
) -> None:
    conversation = await add_conversation(uows)
    message = make_message(conversation, idempotency_key=f"key-{new_id()}")
    await add_messages(uows, message)
    async with uows() as uow:
        await uow.tenants.delete(conversation.tenant_id)
        await uow.commit()
    async with uows() as uow:
        assert await uow.conversations.get(conversation.tenant_id, conversation.id) is None
        assert await uow.messages.get(conversation.tenant_id, message.id) is None
        assert (
            await uow.messages.get_by_idempotency_key(
                conversation.tenant_id, message.idempotency_key
            )
            is None
        )


async def test_nothing_is_kept_unless_committed(uows: UnitOfWorkFactory) -> None:
    conversation = await add_conversation(uows)
    message = make_message(conversation)
    async with uows() as uow:
        await uow.messages.add(message)
        await uow.conversations.record_messages(
            conversation.tenant_id, conversation.id, 1, utc_now()
        )
    async with uows() as uow:
        assert await uow.messages.get(conversation.tenant_id, message.id) is None
        stored = await uow.conversations.get(conversation.tenant_id, conversation.id)
    assert stored is not None
    assert stored.message_count == 0
