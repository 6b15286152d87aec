"""A chat turn's start and end as one statement each on PostgreSQL: all or nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from adapters.sql.billing.books import read_books
from adapters.sql.chat.turn_statements import PostgresTurnStatements
from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.uow import SqlUnitOfWorkFactory
from application.billing.ledger import CreditLedger
from application.chat.ports import FinalReply
from domain.billing.ledger import ReservationStatus
from domain.chat.models import Conversation, Message, MessageRole, MessageStatus
from domain.errors import AlreadyExists, NotFound
from tests.fakes.ids import SequentialIds
from tests.integration.sql.factories import new_id, utc_now
from tests.integration.sql.test_chat_repositories import make_conversation, make_message
from tests.integration.sql.test_ledger_concurrency import (
    give_two_grants,
    ledger_totals,
    new_tenant,
)

TURNS = 32


def hold(now: datetime) -> datetime:
    return now + timedelta(minutes=5)


@pytest.fixture(scope="module")
async def pg_uows(migrated_database_url: str) -> AsyncIterator[SqlUnitOfWorkFactory]:
    # A connection per concurrent turn, so all of them really overlap.
    engine = create_engine(migrated_database_url, pool_size=TURNS)
    try:
        yield SqlUnitOfWorkFactory(create_sessionmaker(engine))
    finally:
        await engine.dispose()


async def statements(uows: SqlUnitOfWorkFactory) -> PostgresTurnStatements:
    async with uows() as uow:
        turns = uow.messages.atomic_turns()
    assert turns is not None
    return turns


def turn_messages(conversation: Conversation, key: str = "") -> tuple[Message, Message]:
    user = make_message(conversation)
    reply = make_message(
        conversation,
        role=MessageRole.ASSISTANT,
        content="",
        status=MessageStatus.PENDING,
        task_id=new_id(),
        idempotency_key=key,
        request_hash="hash",
    )
    return user, reply


async def funded_tenant(uows: SqlUnitOfWorkFactory, first: int, second: int) -> str:
    tenant_id = await new_tenant(uows)
    ledger = CreditLedger(uows, SequentialIds(f"grant-{new_id()}"))
    await give_two_grants(ledger, tenant_id, utc_now(), first, second)
    return tenant_id


async def stored(uows: SqlUnitOfWorkFactory, conversation: Conversation) -> tuple[int, int]:
    """(messages stored, the conversation's count; -1 when it does not exist)."""
    async with uows() as uow:
        found = await uow.conversations.get(conversation.tenant_id, conversation.id)
        _, total = await uow.messages.list(conversation.tenant_id, conversation.id, 0, 10)
    return total, -1 if found is None else found.message_count


async def test_a_turn_starts_and_settles_in_one_statement_each(
    pg_uows: SqlUnitOfWorkFactory,
) -> None:
    tenant_id = await funded_tenant(pg_uows, 2, 10)
    turns = await statements(pg_uows)
    now = utc_now()
    conversation = make_conversation(tenant_id, message_count=1)
    user, reply = turn_messages(conversation, key=new_id())
    # Crosses from the first grant into the second.
    assert await turns.start(conversation, user, reply, 3, now, hold(now))
    assert await ledger_totals(pg_uows, tenant_id) == (9, 3)
    assert await stored(pg_uows, conversation) == (2, 1)

    final = FinalReply("Hi", MessageStatus.COMPLETED, 3, 5, 1)
    balance = await turns.finish(tenant_id, conversation.id, reply.id, final, now)
    assert balance == 9
    assert await ledger_totals(pg_uows, tenant_id) == (9, 0)
    assert await stored(pg_uows, conversation) == (2, 2)
    async with pg_uows() as uow:
        message = await uow.messages.get(tenant_id, reply.id)
        reservation = await uow.ledger.get_reservation(reply.id)
    assert message is not None
    assert reservation is not None
    assert (message.status, message.content, message.credits) == (MessageStatus.COMPLETED, "Hi", 3)
    assert (reservation.status, reservation.settled_amount) == (ReservationStatus.SETTLED, 3)
    # Resolved already: nothing changes, the caller's generic steps answer.
    assert await turns.finish(tenant_id, conversation.id, reply.id, final, now) is None
    assert await stored(pg_uows, conversation) == (2, 2)

    # An existing conversation: the user message is counted at once.
    user, reply = turn_messages(conversation, key=new_id())
    assert await turns.start(None, user, reply, 3, now, hold(now))
    assert await stored(pg_uows, conversation) == (4, 3)
    # A failure a retry may cure: everything goes back, latest expiry first.
    failed = FinalReply("", MessageStatus.FAILED, 0, 0, 0, 14, frees_idempotency_key=True)
    assert await turns.finish(tenant_id, conversation.id, reply.id, failed, now) == 9
    assert await ledger_totals(pg_uows, tenant_id) == (9, 0)
    assert await stored(pg_uows, conversation) == (4, 4)
    async with pg_uows() as uow:
        message = await uow.messages.get(tenant_id, reply.id)
    assert message is not None
    assert (message.status, message.error_code) == (MessageStatus.FAILED, 14)
    assert message.idempotency_key == ""  # a retry runs the turn again


async def test_short_of_credits_nothing_is_written(pg_uows: SqlUnitOfWorkFactory) -> None:
    tenant_id = await funded_tenant(pg_uows, 1, 1)
    turns = await statements(pg_uows)
    conversation = make_conversation(tenant_id, message_count=1)
    user, reply = turn_messages(conversation)
    assert not await turns.start(conversation, user, reply, 3, utc_now(), hold(utc_now()))
    assert await ledger_totals(pg_uows, tenant_id) == (2, 0)
    assert await stored(pg_uows, conversation) == (0, -1)


async def test_a_used_idempotency_key_charges_nothing(pg_uows: SqlUnitOfWorkFactory) -> None:
    tenant_id = await funded_tenant(pg_uows, 5, 5)
    turns = await statements(pg_uows)
    now = utc_now()
    key = new_id()
    first = make_conversation(tenant_id, message_count=1)
    assert await turns.start(first, *turn_messages(first, key=key), 1, now, hold(now))
    second = make_conversation(tenant_id, message_count=1)
    with pytest.raises(AlreadyExists):
        await turns.start(second, *turn_messages(second, key=key), 1, now, hold(now))
    assert await ledger_totals(pg_uows, tenant_id) == (9, 1)
    assert await stored(pg_uows, second) == (0, -1)


async def test_a_vanished_conversation_charges_nothing(pg_uows: SqlUnitOfWorkFactory) -> None:
    tenant_id = await funded_tenant(pg_uows, 5, 5)
    turns = await statements(pg_uows)
    gone = make_conversation(tenant_id)
    user, reply = turn_messages(gone)
    with pytest.raises(NotFound):
        await turns.start(None, user, replace(reply), 1, utc_now(), hold(utc_now()))
    assert await ledger_totals(pg_uows, tenant_id) == (10, 0)


async def test_concurrent_turns_of_one_conversation_neither_overdraw_nor_deadlock(
    pg_uows: SqlUnitOfWorkFactory,
) -> None:
    # 20 credits over two grants for 32 turns of 1: starts and ends of one conversation
    # overlap, each locking grants and the conversation row.
    tenant_id = await funded_tenant(pg_uows, 5, 15)
    turns = await statements(pg_uows)
    now = utc_now()
    conversation = make_conversation(tenant_id, message_count=1)
    first_user, first_reply = turn_messages(conversation)
    assert await turns.start(conversation, first_user, first_reply, 1, now, hold(now))

    async def one_turn(index: int) -> int | None:
        """Credits spent, None when it could not start."""
        user, reply = turn_messages(conversation)
        if not await turns.start(None, user, reply, 1, now, hold(now)):
            return None
        spent = index % 2  # half settle, half release
        final = FinalReply("x" * spent, MessageStatus.COMPLETED, spent, 1, spent)
        assert await turns.finish(tenant_id, conversation.id, reply.id, final, now) is not None
        return spent

    outcomes = await asyncio.gather(*(one_turn(i) for i in range(TURNS)))
    finished = [spent for spent in outcomes if spent is not None]
    assert len(finished) >= 19  # at least the credits there were at the start
    remaining, held = await ledger_totals(pg_uows, tenant_id)
    # Not a credit lost or made: only the first turn still holds one.
    assert (remaining, held) == (20 - 1 - sum(finished), 1)
    # Every start that could not reserve wrote nothing; every finished turn counted both.
    assert await stored(pg_uows, conversation) == (2 + 2 * len(finished), 1 + 2 * len(finished))


async def test_turns_of_a_busy_tenant_write_only_their_own_rows_and_count_exactly(
    pg_uows: SqlUnitOfWorkFactory, migrated_database_url: str
) -> None:
    # Credits to spare: the turns spend from an allowance (adapters/sql/billing/allowances.py).
    granted = 1_000_000
    tenant_id = await funded_tenant(pg_uows, granted // 2, granted // 2)
    turns = await statements(pg_uows)
    ledger = CreditLedger(pg_uows, SequentialIds(f"grant-{new_id()}"))
    now = utc_now()
    conversation = make_conversation(tenant_id, message_count=1)
    used_key = new_id()
    assert await turns.start(conversation, *turn_messages(conversation, used_key), 4, now, now)

    async def one_turn(index: int) -> int:
        user, reply = turn_messages(conversation)
        assert await turns.start(None, user, reply, 4, now, hold(now))
        spent = index % 5
        status = MessageStatus.COMPLETED if spent else MessageStatus.FAILED
        final = FinalReply("x" * spent, status, spent, 1, spent)
        assert await turns.finish(tenant_id, conversation.id, reply.id, final, now) is not None
        return spent

    spent = sum(await asyncio.gather(*(one_turn(i) for i in range(TURNS))))
    # A used idempotency key writes nothing and takes nothing, from the allowance either.
    with pytest.raises(AlreadyExists):
        await turns.start(None, *turn_messages(conversation, used_key), 4, now, hold(now))

    audit = create_engine(migrated_database_url, pool_size=1)
    try:
        books = await read_books(audit, tenant_id)
    finally:
        await audit.dispose()
    assert books.balanced, books
    assert books.overspent == 0
    assert books.charges_from_allowances == TURNS + 1
    # The first turn still holds its 4; the balance counts exactly what is left.
    assert await ledger.balance(tenant_id, now) == granted - spent - 4
    assert await stored(pg_uows, conversation) == (2 + 2 * TURNS, 1 + 2 * TURNS)
